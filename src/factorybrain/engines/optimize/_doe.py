"""A small design of experiments: a few confirmation runs around a candidate setpoint.

When the history points to better setpoints but cannot say by how much with confidence, the
honest next step is a handful of planned runs, not a jump. :func:`confirmation_runs` lays them
out around the candidate:

* one to two parameters changed: a **face-centred** design, the candidate and one run at each
  face (each parameter alone a step down and a step up), 3 or 5 runs;
* three or more: a **Latin hypercube** of the candidate's box (each parameter takes as many
  distinct levels as there are runs, so every parameter's effect shows), plus the candidate;
* and one **control** run at the current setpoints, run beside them so that a drift of the plant
  between the history and the experiment does not pass for the effect of the change.

Every run is clipped to the limits it must respect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import qmc

from factorybrain.exceptions import ParameterError

#: Fewest and most runs of a confirmation design (control run included).
MIN_RUNS, MAX_RUNS = 3, 12


@dataclass(frozen=True)
class DesignRun:
    """One planned run: its setpoints and why it is in the design.

    Attributes:
        setpoints: Value of every parameter, in the order of the design's names.
        role: ``candidate`` (the proposed setpoints), ``face`` (one parameter a step away),
            ``space_filling`` (a Latin-hypercube point) or ``control`` (the current setpoints).
    """

    setpoints: tuple[float, ...]
    role: str


def confirmation_runs(
    candidate: ArrayLike,
    current: ArrayLike,
    step: ArrayLike,
    *,
    lower: ArrayLike | None = None,
    upper: ArrayLike | None = None,
    max_runs: int = 6,
    random_state: int | None = 0,
) -> list[DesignRun]:
    """Lay out confirmation runs around ``candidate`` (see the module's description).

    Only the parameters whose candidate differs from ``current`` are varied; the others stay at
    their current value in every run.

    Args:
        candidate: The proposed setpoints.
        current: The setpoints in use (the control run).
        step: How far a face run moves each parameter from the candidate.
        lower: Lowest allowed value of each parameter.
        upper: Highest allowed value of each parameter.
        max_runs: Most runs, the control included (3 to 12).
        random_state: Seed of the Latin hypercube.

    Returns:
        The runs, the candidate first and the control last; runs that clipping made identical
        appear once.

    Raises:
        ParameterError: Lengths that differ, or ``max_runs`` outside 3 to 12.
    """
    centre = np.asarray(candidate, dtype=float)
    base = np.asarray(current, dtype=float)
    width = np.abs(np.asarray(step, dtype=float))
    if not (centre.shape == base.shape == width.shape) or centre.ndim != 1:
        raise ParameterError(
            f"candidate, current and step must have one value per parameter; got lengths "
            f"{centre.size}, {base.size} and {width.size}"
        )
    if not MIN_RUNS <= max_runs <= MAX_RUNS:
        raise ParameterError(
            f"max_runs must be an int in [{MIN_RUNS}, {MAX_RUNS}]; got {max_runs!r}"
        )
    low = np.full(len(centre), -np.inf) if lower is None else np.asarray(lower, dtype=float)
    high = np.full(len(centre), np.inf) if upper is None else np.asarray(upper, dtype=float)
    varied = [j for j in range(len(centre)) if not np.isclose(centre[j], base[j])]
    points: list[tuple[np.ndarray, str]] = [(centre.copy(), "candidate")]
    budget = max_runs - 2  # the candidate and the control are always there
    if len(varied) <= 2 and 2 * len(varied) <= budget:
        for j in varied:
            for sign in (-1.0, 1.0):
                point = centre.copy()
                point[j] += sign * width[j]
                points.append((point, "face"))
    elif varied and budget > 0:
        sampler = qmc.LatinHypercube(d=len(varied), seed=random_state)
        unit = sampler.random(budget)
        for row in unit:
            point = centre.copy()
            point[varied] = centre[varied] + (2.0 * row - 1.0) * width[varied]
            points.append((point, "space_filling"))
    points.append((base.copy(), "control"))
    runs: list[DesignRun] = []
    seen: set[tuple[float, ...]] = set()
    for point, role in points:
        # the control run is where the plant runs now, limits or not
        kept = point if role == "control" else np.clip(point, low, high)
        clipped = tuple(float(v) for v in kept)
        key = tuple(round(v, 9) for v in clipped)
        if key in seen:
            continue
        seen.add(key)
        runs.append(DesignRun(clipped, role))
    return runs


__all__ = ["MAX_RUNS", "MIN_RUNS", "DesignRun", "confirmation_runs"]
