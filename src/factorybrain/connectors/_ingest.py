"""File ingestion: read, map, validate, quarantine and upsert one file in one transaction.

Rules every ingest keeps:

* a batch is one transaction: all of it lands or none of it (a killed process included);
* every row read is accounted for, counted by the reader itself (not from the outcomes):
  ``rows_read == inserted + updated + unchanged + merged + filtered + quarantined`` is checked
  at the end of every load, and a load whose counts do not add up fails and changes nothing;
* a rejected row lands in ``quarantine`` with its file, row number, raw content and reason;
* ingesting the same file again changes nothing (natural keys, upserts), a corrected file
  replaces what it corrects, and the file's quarantine is replaced, never duplicated;
* every ingest ends with a report, kept in ``ingest_report``;
* a disk that fills up (or a file size limit reached) mid-ingest is one clear
  :class:`~factorybrain.exceptions.IngestError` naming the store: the transaction is rolled
  back, so nothing of the file is loaded and the store holds what it held before.
"""

from __future__ import annotations

import errno
import hashlib
import json
import queue
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from factorybrain.connectors._compile import (
    FIRST_OF_RECORD,
    cells_relation,
    compile_mapping,
    resolve_roles,
)
from factorybrain.connectors._databases import (
    is_database_url,
    read_database_source,
    source_label,
)
from factorybrain.connectors._mapping import Mapping, load_mapping
from factorybrain.connectors._readers import (
    INTERNAL_COLUMNS,
    ORDINAL,
    ROW,
    Rejected,
    SourceRows,
    csv_rejects,
    read_source,
)
from factorybrain.connectors._units import UnitConversionError, affine
from factorybrain.connectors._unpivot import SeriesFacts, TagColumn, plan_units
from factorybrain.exceptions import IngestError
from factorybrain.secrets import redact
from factorybrain.store._duckdb import DuckDBStore, reason_key
from factorybrain.store._postgres import ServerGone

#: Rows handed from the reader to the store at a time; bounds memory on large files.
BATCH_ROWS = 1_000_000
_INTERNAL = (ROW, ORDINAL, "__skip", "__reason", "__field", "__raw")
#: Why a row that a later row of the same key replaced is not loaded under ``duplicates: merge``.
MERGED = "merged: a later row has the same key"
#: Between a file and the part of it a load read, in the name of the source: the sheet of a
#: workbook that has several (``Pruefplan.xlsx#Audits``), as a database's table is ``url#table``.
PART_SEPARATOR = "#"
_WORKBOOK_PART = re.compile(r"^(.+?\.xlsx|.+?\.xlsm)#(.+)$", re.IGNORECASE)


def split_source_label(label: str) -> tuple[str, str | None]:
    """The file a report's ``source_file`` names, and the sheet of it where it names one.

    >>> split_source_label("qms/plan.xlsx#Audits")
    ('qms/plan.xlsx', 'Audits')
    >>> split_source_label("erp/MARA.csv")
    ('erp/MARA.csv', None)
    """
    found = _WORKBOOK_PART.match(label)
    if found is None:
        return label, None
    return found.group(1), found.group(2)


Progress = Callable[[int], None]


@dataclass
class IngestReport:
    """What one ingest did."""

    ingest_id: str
    source_file: str
    mapping_file: str
    entity_type: str
    file_sha256: str
    started_at: datetime
    finished_at: datetime | None = None
    seconds: float = 0.0
    #: Rows the reader read (each item of an exploded list is a row), counted by the reader.
    rows_read: int = 0
    #: Records of the source those rows came from (lines, sheet rows, JSON records).
    records_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: Rows a later row with the same key replaced, under ``duplicates: merge``.
    merged: int = 0
    #: Rows that are not this entity's: row filters, ``skip_rows_without``, empty lists.
    filtered: int = 0
    filtered_by_reason: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    quarantine_by_reason: dict[str, int] = field(default_factory=dict)
    #: ``merged + filtered`` (the one count reports had before they were told apart).
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    status: str = "running"
    actor: str = "system"

    @property
    def loaded(self) -> int:
        """Rows that are in the model after the ingest (new, changed or already there)."""
        return self.inserted + self.updated + self.unchanged

    @property
    def accounted(self) -> int:
        """What became of the rows read, summed: it must equal ``rows_read``."""
        return self.loaded + self.merged + self.filtered + self.quarantined

    def as_dict(self) -> dict[str, object]:
        """The report as plain values (for JSON and the store)."""
        return asdict(self)


def file_sha256(path: Path) -> str:
    """Return the SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def ingest(
    store: DuckDBStore,
    source: str | Path,
    mapping: str | Path | Mapping,
    *,
    progress: Progress | None = None,
    actor: str = "system",
) -> IngestReport:
    """Load one source file into the factory model through a mapping.

    Args:
        store: The store to load into (its schema must be current).
        source: The file to read (CSV, Parquet, Excel, JSON lines, JSON, XML or SQLite), or a
            database URL (``postgresql://...``, ``mysql://...``, ``mariadb://...``) whose table
            or query the mapping names.
        mapping: A mapping file path, or a loaded :class:`Mapping`.
        progress: Called with the number of rows handled so far, for progress bars.
        actor: Who loads it (``os:<login>``, a token's holder), kept in the report.

    Returns:
        The report, also kept in the store.

    Raises:
        MappingError: If the mapping file has a mistake.
        IngestError: If the file cannot be read at all (missing, empty, wrong format, missing
            columns), or the disk holding the store fills up (or the file size limit is
            reached) while it is written; nothing is loaded then, and a failed report is kept
            where there is room for it.
    """
    mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)
    database = is_database_url(source)
    path = Path(source)
    name = source_label(str(source), mapping) if database else str(path)
    store._require_schema()
    started = time.perf_counter()
    report = IngestReport(
        ingest_id=uuid.uuid4().hex[:16],
        source_file=name,
        mapping_file=mapping.path,
        entity_type=mapping.edge and f"edge:{mapping.edge}" or mapping.target,
        file_sha256="",
        started_at=_now(),
        actor=actor,
    )
    reader_con = store.scratch_connection(_stored_tables(mapping))
    rows: SourceRows | None = None
    try:
        try:
            rows = (
                read_database_source(str(source), mapping, reader_con)
                if database
                else read_source(path, mapping, reader_con)
            )
            if not database and path.is_file():
                report.file_sha256 = rows.sha256 or file_sha256(path)
            if rows.part is not None:
                # Each sheet of a workbook is a source of its own: its report, and its
                # quarantine, which a load of another sheet through the same mapping keeps.
                name = report.source_file = f"{name}{PART_SEPARATOR}{rows.part}"
            _load(store, mapping, rows, reader_con, report, name, progress, started)
        except (duckdb.Error, OSError) as error:
            room = no_room(error, store.path)
            if room is not None:
                raise IngestError(
                    f"{name}: not loaded: {room.what} ({room.detail}). Nothing of {name} was "
                    "loaded: its transaction was rolled back, and the store holds what it held "
                    f"before. To load it, {room.remedy}, then ingest it again."
                ) from error
            if not isinstance(error, duckdb.Error):
                raise
            raise IngestError(f"{name}: cannot be read: {_first_cause(error)}") from error
        except ServerGone as error:
            raise IngestError(
                f"{name}: not loaded: the database stopped answering ({error}). Nothing of "
                f"{name} was loaded: its transaction was rolled back. Ingest it again once the "
                "database answers."
            ) from error
    except IngestError as error:
        report.status = "failed: " + redact(str(error))
        try:
            _finish(store, report, started, report.status)
        except ServerGone:
            pass  # the database is gone: the failed report cannot be kept; the error says why
        except (duckdb.Error, OSError) as recording:
            if no_room(recording, store.path) is None:
                raise
            # Still no room: the failed report cannot be kept either; the error says why.
        raise
    finally:
        if rows is not None:
            rows.close()
        reader_con.close()
    return report


def _stored_tables(mapping: Mapping) -> list[str]:
    """The model's tables the mapping reads while it maps (lookups, items of headers)."""
    tables = [rule.lookup.entity for rule in mapping.fields.values() if rule.lookup is not None]
    if mapping.items is not None:
        tables.append(mapping.target)
    return tables


def _load(
    store: DuckDBStore,
    mapping: Mapping,
    rows: SourceRows,
    reader_con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    name: str,
    progress: Progress | None,
    started: float,
) -> None:
    """Map, check and write the rows of one source in one transaction, then account for them."""
    csv = _CsvRows(rows, reader_con, mapping)
    relation = rows.relation
    if rows.lines is not None and (mapping.target != "datapoint" or mapping.uses_row_number):
        # Entity files are read whole first, so that every row has its line before the mapping
        # runs (row numbers in keys, in "superseded by row N", in the quarantine).
        relation = csv.materialise()
    if not rows.rows_in_relation and set(relation.columns) <= set(INTERNAL_COLUMNS):
        # No row to map (an empty JSON-lines export, records that are all rejected or hold
        # nothing to explode): what the reader counted is still accounted for.
        with store.transaction():
            store.forget_quarantine(name, report.entity_type, mapping.path)
            _quarantine_rejected(store, report, rows.rejected)
            _account(report, rows, csv, 0, name)
            _finish(store, report, started, "ok")
        return
    relation, roles = resolve_roles(mapping, relation, name)
    read = {roles.get(column, column) for column in mapping.columns_read}
    tags: list[TagColumn] = []
    facts: dict[str, SeriesFacts] | None = None
    cells = 1
    if mapping.unpivot is not None and mapping.target == "datapoint":
        tags, facts = _tag_columns(store, mapping, relation, name, read)
        cells = len(tags)
    elif mapping.unpivot is not None:
        columns = [c for c in relation.columns if c not in INTERNAL_COLUMNS]
        measured = [t.column for t in mapping.unpivot.tags(columns, name, mapping.path, read)]
        relation = cells_relation(
            mapping.unpivot, relation, reader_con, measured, mapping.source.decimal or "."
        )
        cells = len(measured)
    source_name = f"_rows_{report.ingest_id}"
    reader_con.register(source_name, relation)
    compiled = compile_mapping(
        mapping,
        relation,
        reader_con,
        source_name,
        name,
        raw_always=mapping.target != "datapoint",
        tags=tags,
        roles=roles,
    )
    stream = reader_con.sql(compiled.sql).to_arrow_reader(BATCH_ROWS)
    with store.transaction():
        store.forget_quarantine(name, report.entity_type, mapping.path)
        fanned = 0
        if mapping.target == "datapoint":
            streamed = _load_datapoints(
                store, mapping, stream, report, progress, csv.renumber, facts
            )
        else:
            streamed, fanned = _load_records(store, mapping, stream, report, progress)
        _quarantine_rejected(store, report, rows.rejected + csv.rejects())
        _account(report, rows, csv, streamed, name, cells, fanned)
        _finish(store, report, started, "ok")


def _tag_columns(
    store: DuckDBStore,
    mapping: Mapping,
    relation: duckdb.DuckDBPyRelation,
    name: str,
    read: set[str],
) -> tuple[list[TagColumn], dict[str, SeriesFacts]]:
    """The tag columns of a wide table, converted to their series' units, and the series facts.

    ``read`` are the columns the mapping's fields read, which are no tags.
    """
    assert mapping.unpivot is not None
    columns = [c for c in relation.columns if c not in INTERNAL_COLUMNS]
    tags = mapping.unpivot.tags(columns, name, mapping.path, read)
    found = store.series_by_external_id(mapping.space, sorted({tag.series for tag in tags}))
    stored = {
        series: (unit, source_unit)
        for series, unit, source_unit in zip(
            found.column("external_id").to_pylist(),
            found.column("unit").to_pylist(),
            found.column("source_unit").to_pylist(),
            strict=True,
        )
    }
    return plan_units(tags, stored, name)


class _CsvRows:
    """The rows DuckDB read from a CSV file: its rejects, and the lines of its rows."""

    def __init__(self, rows: SourceRows, con: duckdb.DuckDBPyConnection, mapping: Mapping) -> None:
        self.rows = rows
        self.con = con
        self.mapping = mapping
        self._rejects: list[Rejected] | None = None

    def rejects(self) -> list[Rejected]:
        """The lines DuckDB rejected, numbered as lines of the original file (read once)."""
        lines = self.rows.lines
        if lines is None:
            return []
        if self._rejects is None:
            found = csv_rejects(self.con, self.mapping)
            if lines.copied:
                numbers = lines.original([r.row_number or 0 for r in found])
                for rejected, number in zip(found, numbers, strict=True):
                    rejected.row_number = number
            lines.rejected = [r.row_number for r in found if r.row_number is not None]
            self._rejects = found
        return self._rejects

    def renumber(self, ordinals: np.ndarray) -> np.ndarray | None:
        """The lines of rows DuckDB returned as ``ordinals`` (None: the numbers are right)."""
        if self.rows.lines is None:
            return None
        self.rejects()
        return self.rows.lines.rows(ordinals)

    def materialise(self) -> duckdb.DuckDBPyRelation:
        """Read the whole file, then give every row the line it is on."""
        table = self.rows.relation.to_arrow_table()
        lines = self.renumber(table.column(ORDINAL).to_numpy())
        if lines is not None:
            position = table.column_names.index(ROW)
            table = table.set_column(position, ROW, pa.array(lines, pa.int64()))
        name = f"_csv_{uuid.uuid4().hex[:12]}"
        self.con.register(name, table)
        return self.con.table(name)


def _account(
    report: IngestReport,
    rows: SourceRows,
    csv: _CsvRows,
    streamed: int,
    name: str,
    cells: int = 1,
    fanned: int = 0,
) -> None:
    """Count the rows read from the reader's own numbers, and check they are all accounted for.

    Each record the reader read yields ``cells`` rows (a wide table's line: one per tag or
    measurement column), a header's record one row per item it is written to (``fanned`` rows
    beyond the first); a record it could not read is one row.

    Raises:
        IngestError: The counts do not add up (in the load's transaction, which then rolls
            back): the message names them.
    """
    if rows.rows_in_relation is not None and streamed - fanned != rows.rows_in_relation * cells:
        raise IngestError(
            f"{name}: not loaded: the reader counted {rows.rows_in_relation * cells:,} rows, but "
            f"{streamed - fanned:,} reached the mapping. Nothing of {name} was loaded (its "
            "transaction was rolled back). This is a bug in factorybrain: please report it."
        )
    filtered_by_reader = sum(rows.filtered.values())
    if filtered_by_reader:
        _filter(report, rows.filtered)
    unread = len(rows.rejected) + len(csv.rejects()) + filtered_by_reader
    report.rows_read = streamed + unread
    report.records_read = (
        rows.records if rows.records is not None else (streamed - fanned) // cells + unread
    )
    report.skipped = report.merged + report.filtered
    report.skipped_by_reason = dict(
        Counter(report.filtered_by_reason) + Counter({MERGED: report.merged})
    )
    if report.rows_read != report.accounted:
        raise IngestError(
            f"{name}: not loaded: the counts do not add up: {report.rows_read:,} rows read, "
            f"but inserted {report.inserted:,} + updated {report.updated:,} + unchanged "
            f"{report.unchanged:,} + merged {report.merged:,} + filtered {report.filtered:,} + "
            f"quarantined {report.quarantined:,} = {report.accounted:,}. Nothing of {name} was "
            "loaded (its transaction was rolled back). This is a bug in factorybrain: please "
            "report it with the mapping."
        )


#: Why a write fails for want of room: the errno, the words of the operating system (and of
#: DuckDB, which reports only those), what happened and what to do.
_NO_ROOM: dict[int, tuple[tuple[str, ...], str, str]] = {
    errno.ENOSPC: (
        ("No space left on device", "not enough space on the disk"),
        "the disk holding the store {store} is full",
        "free space on that disk (or move the store to a disk with room)",
    ),
    errno.EFBIG: (
        ("File too large",),
        "the store {store} reached the file size limit of this process",
        "raise the limit ('ulimit -f unlimited' in the shell that runs factorybrain)",
    ),
}
if hasattr(errno, "EDQUOT"):  # not on Windows
    _NO_ROOM[errno.EDQUOT] = (
        ("Disk quota exceeded",),
        "the disk quota of the store {store} is used up",
        "free space within the quota, or have it raised",
    )


@dataclass(frozen=True)
class NoRoom:
    """A write that failed for want of room: a full disk, a used-up quota, a size limit."""

    #: ``ENOSPC``, ``EFBIG`` or ``EDQUOT``.
    errno: int
    #: The first line of the error that says so.
    detail: str
    #: What happened, naming the store ("the disk holding the store f.duckdb is full").
    what: str
    #: What to do about it ("free space on that disk ...").
    remedy: str


def no_room(error: BaseException, store: str) -> NoRoom | None:
    """Whether ``error`` (or an error it arose from) is a write that failed for want of room.

    DuckDB reports a full disk as an IO error with the operating system's words, and an
    aborted transaction may hide it (the IO error is then the one it arose from), so the whole
    chain of causes is searched.

    Args:
        error: What a write raised.
        store: The store's path, for the message.

    Returns:
        What happened and what to do; None when no write in the chain failed for want of room.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = current.errno if isinstance(current, OSError) else None
        if code not in _NO_ROOM and isinstance(current, (duckdb.Error, OSError)):
            text = str(current).lower()
            code = next(
                (
                    c
                    for c, (words, _, _) in _NO_ROOM.items()
                    if any(w.lower() in text for w in words)
                ),
                None,
            )
        if code is not None and code in _NO_ROOM:
            _, what, remedy = _NO_ROOM[code]
            return NoRoom(code, _line(current), what.format(store=store), remedy)
        current = current.__cause__ if current.__cause__ is not None else current.__context__
    return None


def _line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _first_cause(error: BaseException) -> str:
    """The first line of the error that aborted the transaction, rather than of the abort."""
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if "transaction is aborted" not in str(current):
            return _line(current)
        current = current.__cause__ if current.__cause__ is not None else current.__context__
    return _line(error)


def _finish(store: DuckDBStore, report: IngestReport, started: float, status: str) -> None:
    report.finished_at = _now()
    report.seconds = round(time.perf_counter() - started, 3)
    report.status = status
    store.record_ingest(report.as_dict())


def _quarantine_rows(
    store: DuckDBStore,
    report: IngestReport,
    numbers: list[int | None],
    fields: list[str | None],
    reasons: list[str],
    raws: list[str | None],
) -> None:
    if not reasons:
        return
    table = pa.table(
        {
            "ingest_id": pa.array([report.ingest_id] * len(reasons), pa.string()),
            "source_file": pa.array([report.source_file] * len(reasons), pa.string()),
            "row_number": pa.array(numbers, pa.int64()),
            "entity_type": pa.array([report.entity_type] * len(reasons), pa.string()),
            "field": pa.array(fields, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "raw": pa.array(raws, pa.string()),
        }
    )
    store.quarantine(table)
    report.quarantined += len(reasons)
    report.quarantine_by_reason.update(
        Counter(report.quarantine_by_reason) + Counter(reason_key(r) for r in reasons)
    )


def _quarantine_rejected(
    store: DuckDBStore, report: IngestReport, rejected: list[Rejected]
) -> None:
    _quarantine_rows(
        store,
        report,
        [r.row_number for r in rejected],
        [None] * len(rejected),
        [r.reason for r in rejected],
        [r.raw for r in rejected],
    )


def _filter(report: IngestReport, reasons: Counter[str]) -> None:
    """Count filtered rows: reason -> how many rows it filtered."""
    report.filtered += sum(reasons.values())
    report.filtered_by_reason.update(Counter(report.filtered_by_reason) + reasons)


def _split(
    batch: pa.RecordBatch, report: IngestReport, keep: tuple[str, ...] | None = None
) -> tuple[pa.RecordBatch, pa.RecordBatch | None]:
    """Separate the valid rows of a batch from the rejected ones; count the filtered ones.

    ``keep`` names the columns the valid rows need (default: all of them).
    """
    skips, reasons = batch.column("__skip"), batch.column("__reason")
    valid = None
    if skips.null_count != batch.num_rows:
        # Counted in Arrow: a wide table filters an empty cell per row, millions in a file.
        counts = pc.value_counts(skips)
        reasons_found = counts.field("values").to_pylist()
        found = zip(reasons_found, counts.field("counts").to_pylist(), strict=True)
        _filter(report, Counter({reason: n for reason, n in found if reason is not None}))
        valid = pc.is_null(skips)
    bad = None
    if reasons.null_count != batch.num_rows:
        wrong = pc.is_valid(reasons)
        if valid is not None:
            wrong = pc.and_(wrong, valid)
        bad = batch.filter(wrong)
        valid = pc.and_not(valid, wrong) if valid is not None else pc.invert(wrong)
    good = batch if keep is None else batch.select(list(keep))
    return (good if valid is None else good.filter(valid)), bad


def _quarantine_batch(
    store: DuckDBStore,
    report: IngestReport,
    bad: pa.RecordBatch,
    renumber: Callable[[np.ndarray], np.ndarray | None] | None = None,
) -> None:
    numbers = bad.column(ROW).to_pylist()
    if renumber is not None and bad.num_rows:
        lines = renumber(bad.column(ORDINAL).to_numpy())
        if lines is not None:
            numbers = [int(n) for n in lines]
    _quarantine_rows(
        store,
        report,
        numbers,
        bad.column("__field").to_pylist(),
        bad.column("__reason").to_pylist(),
        bad.column("__raw").to_pylist(),
    )


# -- entities and edges ------------------------------------------------------------------------
def _load_records(
    store: DuckDBStore,
    mapping: Mapping,
    stream: pa.RecordBatchReader,
    report: IngestReport,
    progress: Progress | None,
) -> tuple[int, int]:
    """Load entities or edges.

    Returns how many rows the mapping read, and how many of them are a header's record written
    to its second and further items (``items``).
    """
    good_batches = []
    seen = fanned = 0
    for batch in stream:
        if FIRST_OF_RECORD in batch.schema.names:
            first = batch.column(FIRST_OF_RECORD)
            fanned += batch.num_rows - pc.sum(pc.cast(first, pa.int64())).as_py()
            batch = batch.drop_columns([FIRST_OF_RECORD])
        good, bad = _split(batch, report)
        if bad is not None:
            _quarantine_batch(store, report, bad)
        good_batches.append(good)
        seen += batch.num_rows
        if progress:
            progress(seen)
    if not good_batches:
        return seen, fanned
    table = pa.Table.from_batches(good_batches)
    table = _drop_duplicate_keys(store, report, mapping, table)
    data = table.drop_columns([c for c in _INTERNAL if c in table.column_names])
    if mapping.target == "edge":
        data = data.append_column(
            "edge_type", pa.array([mapping.edge] * data.num_rows, pa.string())
        )
        counts = store.upsert_edges(data, report.ingest_id)
    else:
        data = _keep_stored(store, mapping, data)
        counts = store.upsert_entities(mapping.target, data, report.ingest_id)
    report.inserted += counts.inserted
    report.updated += counts.updated
    report.unchanged += counts.unchanged
    return seen, fanned


def _keep_stored(store: DuckDBStore, mapping: Mapping, data: pa.Table) -> pa.Table:
    """Fields with ``overwrite: never`` or ``unless_empty`` take the value the store holds.

    ``never``: the stored value stays, the field only fills an empty one (a series' unit from an
    asset model stays second to the point list's, whichever file loads first); ``unless_empty``:
    an empty value keeps the stored one (a point list's empty cell keeps the asset model's unit).
    """
    kept = {
        name: rule.overwrite
        for name, rule in mapping.fields.items()
        if rule.overwrite != "always" and name in data.column_names
    }
    if not kept or data.num_rows == 0:
        return data
    selected = ", ".join(f'"{name}"' for name in kept)
    stored = store.query_rows(
        f'SELECT space, external_id, {selected} FROM "{mapping.target}" '
        "WHERE list_contains(?, external_id)",
        [sorted(set(data.column("external_id").to_pylist()))],
    )
    held = {(row["space"], row["external_id"]): row for row in stored}
    spaces, ids = data.column("space").to_pylist(), data.column("external_id").to_pylist()
    rows = [held.get(key) for key in zip(spaces, ids, strict=True)]
    for name, overwrite in kept.items():
        index = data.schema.get_field_index(name)
        column = data.schema.field(index)
        values = []
        for row, value in zip(rows, data.column(name).to_pylist(), strict=True):
            held_value = None if row is None else row[name]
            keep = held_value not in (None, [], "") and (
                overwrite == "never" or value in (None, [], "")
            )
            values.append(held_value if keep else value)
        data = data.set_column(index, column, pa.array(values, column.type))
    return data


def _drop_duplicate_keys(
    store: DuckDBStore, report: IngestReport, mapping: Mapping, table: pa.Table
) -> pa.Table:
    """Keep the last row of each key; earlier rows go to quarantine naming the row that won.

    Rows are told apart by their ordinal, never by their row number: the items of an exploded
    JSON list share their record's number, and each is a row of its own.
    """
    if table.num_rows < 2:
        return table
    con = store.scratch_connection()
    try:
        con.register("_records", table)
        key = ", ".join(f'"{k}"' for k in mapping.key)
        key_text = ", ".join(f"'{k}=' || coalesce(\"{k}\"::VARCHAR, '')" for k in mapping.key)
        ranked = con.sql(
            f"""
            SELECT {ORDINAL} AS ordinal, {ROW} AS row_number, __raw AS raw, winner,
                   concat_ws(', ', {key_text}) AS key_text
            FROM (
                SELECT *,
                       row_number() OVER (PARTITION BY {key} ORDER BY {ORDINAL} DESC) AS newest,
                       arg_max({ROW}, {ORDINAL}) OVER (PARTITION BY {key}) AS winner
                FROM _records
            ) WHERE newest > 1 ORDER BY ordinal
            """
        ).fetchall()
        if not ranked:
            return table
        losers = pa.array([row[0] for row in ranked], pa.int64())
        keep = pc.invert(pc.is_in(table.column(ORDINAL), losers))
        if mapping.duplicates == "merge":
            report.merged += len(ranked)
            return table.filter(keep)
        _quarantine_rows(
            store,
            report,
            [row[1] for row in ranked],
            [mapping.key[-1]] * len(ranked),
            [
                f"duplicate key ({row[4]}) in the same file: superseded by row {row[3]}"
                for row in ranked
            ],
            [row[2] for row in ranked],
        )
        return table.filter(keep)
    finally:
        con.close()


# -- datapoints ----------------------------------------------------------------------------------
@dataclass
class _SeriesIndex:
    """Historian tag -> (series id, unit factor, unit offset), growing as new tags appear.

    Lookups go through a reader handle because the store's own connection is busy with the
    streaming insert; new series get their ids here and are created after the insert, in the
    same transaction.
    """

    reader: DuckDBStore
    space: str
    next_id: int
    #: Whether to convert from each series' source unit (a wide table's SQL already did).
    convert: bool = True
    tags: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    factors: list[float] = field(default_factory=list)
    offsets: list[float] = field(default_factory=list)
    position: dict[str, int] = field(default_factory=dict)
    created: list[tuple[str, int]] = field(default_factory=list)

    def resolve(self, unknown: list[str]) -> list[int]:
        """Add ``unknown`` tags (existing series or new ones); return their series ids."""
        found = self.reader.series_by_external_id(self.space, unknown)
        for tag, series_id, unit, source_unit in zip(
            found.column("external_id").to_pylist(),
            found.column("series_id").to_pylist(),
            found.column("unit").to_pylist(),
            found.column("source_unit").to_pylist(),
            strict=True,
        ):
            self._add(tag, int(series_id), unit, source_unit)
        for tag in unknown:
            if tag not in self.position:
                self._add(tag, self.next_id, None, None)
                self.created.append((tag, self.next_id))
                self.next_id += 1
        return [self.ids[self.position[tag]] for tag in unknown]

    @property
    def converts(self) -> bool:
        """Whether a series of the index converts its values (a factor or offset not 1, 0)."""
        return any(f != 1.0 for f in self.factors) or any(o != 0.0 for o in self.offsets)

    def _add(self, tag: str, series_id: int, unit: str | None, source_unit: str | None) -> None:
        factor, offset = 1.0, 0.0
        if self.convert and unit and source_unit and unit != source_unit:
            try:
                factor, offset = affine(source_unit, unit)
            except UnitConversionError as error:
                raise IngestError(
                    f"time series {tag!r}: cannot convert its source unit to its unit: {error}"
                ) from error
        self.position[tag] = len(self.tags)
        self.tags.append(tag)
        self.ids.append(series_id)
        self.factors.append(factor)
        self.offsets.append(offset)


def _load_datapoints(
    store: DuckDBStore,
    mapping: Mapping,
    stream: pa.RecordBatchReader,
    report: IngestReport,
    progress: Progress | None,
    renumber: Callable[[np.ndarray], np.ndarray | None] | None = None,
    facts: dict[str, SeriesFacts] | None = None,
) -> int:
    """Load historian points; return how many rows the mapping read.

    ``renumber`` gives the rows the lines they are on once the file is read (CSV files);
    ``facts`` are what a wide table's column names say about its series (its values are then
    in their series' units already).
    """
    reader = store.reader()
    index = _SeriesIndex(reader, mapping.space, store.next_series_id(), convert=facts is None)
    watermark = store.datapoint_watermark()
    first: dict[int, np.datetime64] = {}
    last: dict[int, np.datetime64] = {}
    existing: dict[int, tuple[np.datetime64, np.datetime64]] = {}
    rejected: list[pa.RecordBatch] = []
    needs_dedup = False
    seen = 0

    def points(batch_stream: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        nonlocal needs_dedup, seen
        for batch in batch_stream:
            seen += batch.num_rows
            good, bad = _split(batch, report, keep=("series", "ts", "value"))
            if bad is not None:
                rejected.append(bad)
            if good.num_rows:
                converted, increasing = _convert(good, index, existing)
                needs_dedup |= not increasing
                needs_dedup |= _track_extents(converted, first, last, existing)
                yield converted
            if progress:
                progress(seen)

    prefetch = _Prefetch(stream)
    try:
        appended = store.append_datapoints(points(prefetch))
    finally:
        prefetch.close()
        reader.close()
    store.create_series(mapping.space, index.created, mapping.source_system or "")
    if facts:
        _describe_series(store, mapping.space, facts, index.tags, report.ingest_id)
    for bad in rejected:
        _quarantine_batch(store, report, bad, renumber)
    series_ids = sorted(first)
    counts_updated = counts_unchanged = superseded = 0
    if needs_dedup and series_ids:
        extents = pa.table(
            {
                "series_id": pa.array(series_ids, pa.int32()),
                "first_ts": pa.array([first[s] for s in series_ids], pa.timestamp("us")),
                "last_ts": pa.array([last[s] for s in series_ids], pa.timestamp("us")),
            }
        )
        outcome = store.deduplicate_datapoints(extents, watermark)
        counts_updated, counts_unchanged = outcome.updated, outcome.unchanged
        superseded = len(outcome.superseded)
        if superseded and mapping.duplicates == "merge":
            report.merged += superseded
        elif superseded:
            names = dict(zip(index.ids, index.tags, strict=True))
            _quarantine_rows(
                store,
                report,
                [None] * superseded,
                ["ts"] * superseded,
                ["duplicate (series, ts) in the same file: superseded by a later row"] * superseded,
                [
                    json.dumps({"series": names.get(s, s), "ts": str(t), "value": v})
                    for s, t, v in outcome.superseded
                ],
            )
    store.refresh_extents(series_ids)
    report.updated += counts_updated
    report.unchanged += counts_unchanged
    report.inserted += appended - counts_updated - counts_unchanged - superseded
    return seen


class _Prefetch:
    """Read the source stream in a thread, a few batches ahead of the insert consuming it.

    The insert is one statement whose input is produced by Python; reading the file in the same
    thread would serialise DuckDB's parallel file scan behind it.
    """

    _DONE = object()

    def __init__(self, stream: pa.RecordBatchReader, depth: int = 3) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: pa.RecordBatchReader) -> None:
        try:
            for batch in stream:
                while not self._stop.is_set():
                    try:
                        self._queue.put(batch, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._queue.put(self._DONE)
        except BaseException as error:  # handed to the consumer, raised there
            self._queue.put(error)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def close(self) -> None:
        """Stop reading (after an error in the consumer) and wait for the thread."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.1)
            except queue.Empty:
                pass
        self._thread.join()


def _convert(
    batch: pa.RecordBatch,
    index: _SeriesIndex,
    existing: dict[int, tuple[np.datetime64, np.datetime64]],
) -> tuple[pa.RecordBatch, bool]:
    """Map tags to series ids, convert units, and lay the batch out by (series, ts).

    Returns the batch and whether each series' timestamps strictly increase in it, in the order
    the file has them: then no two of its points share a series and a timestamp.
    """
    tags = batch.column("series")
    if pa.types.is_dictionary(tags.type):
        # A wide table's series come dictionary-encoded: one lookup per series, not per point.
        names = tags.dictionary.to_pylist()
        codes = tags.indices.to_numpy(zero_copy_only=False)
        used = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        unique = [names[code] for code in used]
    else:
        unique = pc.unique(tags).to_pylist()
    unknown = [t for t in unique if t not in index.position]
    if unknown:
        ids = index.resolve(unknown)
        extents = index.reader.series_extents(ids)
        for sid, first_ts, last_ts in zip(
            extents.column("series_id").to_pylist(),
            extents.column("first_ts").to_numpy(),
            extents.column("last_ts").to_numpy(),
            strict=True,
        ):
            existing[int(sid)] = (first_ts, last_ts)
    if pa.types.is_dictionary(tags.type):
        lookup = np.zeros(len(names), dtype=np.int64)
        lookup[used] = [index.position[name] for name in unique]
        series_id = np.asarray(index.ids, dtype=np.int32)[lookup][codes]
        positions = lookup[codes] if index.converts else None
    else:
        positions = pc.index_in(tags, value_set=pa.array(index.tags, pa.string())).to_numpy()
        series_id = np.asarray(index.ids, dtype=np.int32)[positions]
    values = batch.column("value").to_numpy(zero_copy_only=False)
    if positions is not None and index.converts:
        values = (
            values * np.asarray(index.factors)[positions] + np.asarray(index.offsets)[positions]
        )
    ts = batch.column("ts").cast(pa.timestamp("us"))
    ts_int = ts.to_numpy(zero_copy_only=False).astype("datetime64[us]", copy=False).view(np.int64)
    increasing = _increasing(series_id, ts_int, strict_series=True)
    if not increasing:
        # Lay each batch out by (series, ts) so row-group statistics serve range scans. A
        # stable sort by series keeps each series' points in file order: a wide table's lines
        # (or a long table sorted by time) then need no sort by time.
        order = _by_series(series_id)
        series_id, ts_int, values = series_id[order], ts_int[order], values[order]
        increasing = _increasing(series_id, ts_int, strict_series=False)
        if not increasing:
            order = np.lexsort((ts_int, series_id))
            series_id, ts_int, values = series_id[order], ts_int[order], values[order]
        ts = pa.array(ts_int.view("datetime64[us]"), pa.timestamp("us"))
    out = pa.record_batch(
        {"series_id": pa.array(series_id, pa.int32()), "ts": ts, "value": pa.array(values)}
    )
    return out, increasing


def _increasing(series_id: np.ndarray, ts: np.ndarray, *, strict_series: bool) -> bool:
    """Whether ``ts`` strictly increases within each run of one series id.

    With ``strict_series`` the series ids must also increase from run to run (the batch is then
    ordered by (series, ts)); else the runs are assumed to be one per series.
    """
    same = series_id[1:] == series_id[:-1]
    later = ts[1:] > ts[:-1]
    if strict_series:
        return bool(np.all((series_id[1:] > series_id[:-1]) | (same & later)))
    return bool(np.all(~same | later))


def _by_series(series_id: np.ndarray) -> np.ndarray:
    """The order that sorts points by series and keeps each series' points in their order."""
    low, span = int(series_id.min()), int(series_id.max()) - int(series_id.min())
    if span < 1 << 16:
        # A key of 8 or 16 bits sorts in linear time (numpy's radix sort).
        key = np.uint8 if span < 1 << 8 else np.uint16
        return np.argsort((series_id - low).astype(key), kind="stable")
    return np.argsort(series_id, kind="stable")


def _track_extents(
    batch: pa.RecordBatch,
    first: dict[int, np.datetime64],
    last: dict[int, np.datetime64],
    existing: dict[int, tuple[np.datetime64, np.datetime64]],
) -> bool:
    """Grow the per-series time extents; return whether the batch may repeat a point.

    It may where a series' points overlap stored data, or the file's earlier points of the
    series in time (the batch's own points are in (series, ts) order).
    """
    series_id = batch.column("series_id").to_numpy()
    ts = batch.column("ts").to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(np.r_[True, series_id[1:] != series_id[:-1]])
    ends = np.r_[starts[1:], len(series_id)] - 1
    overlaps = False
    for start, end in zip(starts, ends, strict=True):
        sid = int(series_id[start])
        lo, hi = ts[start], ts[end]
        if sid in last and lo <= last[sid]:
            overlaps = True
        first[sid] = min(first.get(sid, lo), lo)
        last[sid] = max(last.get(sid, hi), hi)
        stored = existing.get(sid)
        if stored is not None and lo <= stored[1] and hi >= stored[0]:
            overlaps = True
    return overlaps


def _describe_series(
    store: DuckDBStore,
    space: str,
    facts: dict[str, SeriesFacts],
    loaded: list[str],
    ingest_id: str,
) -> None:
    """Give the series a wide table loaded the asset and units its column names say they have.

    Only what a series lacks is filled: what a ``time_series`` mapping declared stays.
    """
    wanted = [series for series in loaded if series in facts]
    if not wanted:
        return
    rows = store.query_rows(
        "SELECT external_id, asset, unit, source_unit FROM time_series "
        "WHERE space = ? AND list_contains(?, external_id)",
        [space, wanted],
    )
    changed = []
    for row in rows:
        said = facts[row["external_id"]]
        filled = {
            "asset": row["asset"] or said.asset,
            "unit": row["unit"] or said.unit,
            "source_unit": row["source_unit"] or said.source_unit,
        }
        if any(filled[key] != row[key] for key in filled):
            changed.append({"space": space, "external_id": row["external_id"], **filled})
    if changed:
        text = pa.schema([(key, pa.string()) for key in changed[0]])
        store.upsert_entities("time_series", pa.Table.from_pylist(changed, text), ingest_id)
