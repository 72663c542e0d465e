"""Readers for the standard job-shop text formats (JSPLib and the flexible ``.fjs`` layout)."""

from __future__ import annotations

from pathlib import Path

from factorybrain.engines.schedule._problem import Job, Machine, Operation, Problem
from factorybrain.exceptions import IngestError


def _numbers(path: Path) -> tuple[list[list[int]], str]:
    try:
        text = path.read_text()
    except OSError as error:
        raise IngestError(f"Cannot read scheduling instance {str(path)!r}: {error}.") from error
    rows = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        try:
            rows.append([int(float(token)) for token in stripped.split()])
        except ValueError as error:
            raise IngestError(
                f"{path}: line {line_number} should hold integers; found {line.strip()!r}."
            ) from error
    if not rows:
        raise IngestError(f"{path}: the file holds no instance.")
    return rows, path.stem


def read_jobshop(path: str | Path) -> Problem:
    """Read a job-shop instance in the JSPLib text format.

    First line ``n_jobs n_machines``, then one line per job with pairs ``machine duration`` in
    processing order, machines numbered from 0. Machine ids are those numbers as strings; job ids
    are ``"0"``, ``"1"``, ...; operation ids ``"0"``, ``"1"``, ... within each job.

    Raises:
        IngestError: When the file is missing or malformed (names the file and line).
    """
    path = Path(path)
    rows, name = _numbers(path)
    n_jobs, n_machines = rows[0][:2]
    if len(rows) < n_jobs + 1:
        raise IngestError(f"{path}: header announces {n_jobs} jobs, found {len(rows) - 1} lines.")
    jobs = []
    for j in range(n_jobs):
        values = rows[1 + j]
        if len(values) % 2:
            raise IngestError(
                f"{path}: job {j} has an odd number of values; expected pairs machine duration."
            )
        operations = []
        for position in range(len(values) // 2):
            machine, duration = values[2 * position], values[2 * position + 1]
            if not 0 <= machine < n_machines:
                raise IngestError(
                    f"{path}: job {j} uses machine {machine}; expected 0..{n_machines - 1}."
                )
            operations.append(Operation(id=str(position), durations={str(machine): duration}))
        jobs.append(Job(id=str(j), operations=operations))
    machines = [Machine(id=str(m)) for m in range(n_machines)]
    return Problem(jobs=jobs, machines=machines, name=name)


def read_fjsp(path: str | Path) -> Problem:
    """Read a flexible job-shop instance in the ``.fjs`` layout.

    First line ``n_jobs n_machines [average machines per operation]``; then one line per job: the
    number of operations, and for each operation the number of alternatives ``k`` followed by
    ``k`` pairs ``machine duration`` (machines numbered from 1; ids are those numbers as strings).

    Raises:
        IngestError: When the file is missing or malformed (names the file and job).
    """
    path = Path(path)
    rows, name = _numbers(path)
    n_jobs, n_machines = rows[0][:2]
    if len(rows) < n_jobs + 1:
        raise IngestError(f"{path}: header announces {n_jobs} jobs, found {len(rows) - 1} lines.")
    jobs = []
    for j in range(n_jobs):
        values = rows[1 + j]
        try:
            cursor = 1
            operations = []
            for position in range(values[0]):
                n_alternatives = values[cursor]
                cursor += 1
                durations: dict[str, int] = {}
                for _ in range(n_alternatives):
                    machine, duration = values[cursor], values[cursor + 1]
                    cursor += 2
                    if not 1 <= machine <= n_machines:
                        raise IngestError(
                            f"{path}: job {j} operation {position} uses machine {machine}; "
                            f"expected 1..{n_machines}."
                        )
                    durations[str(machine)] = min(duration, durations.get(str(machine), duration))
                operations.append(Operation(id=str(position), durations=durations))
        except IndexError as error:
            raise IngestError(
                f"{path}: job {j} ends before all its operations are read."
            ) from error
        jobs.append(Job(id=str(j), operations=operations))
    machines = [Machine(id=str(m)) for m in range(1, n_machines + 1)]
    return Problem(jobs=jobs, machines=machines, name=name)
