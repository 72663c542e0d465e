"""The fleet in the field at a moment, and every genealogy cohort of it, screened for claims.

:func:`fleet_at` says which serials were in service at ``as_of``, for how long, and which had
failed (a claim known by then); :func:`screen_fleet` builds one cohort per value of each genealogy
attribute and hands them, with the machines' day windows, to
:class:`~factorybrain.engines.reliability.CohortScreen`.

Attributes (each a cohort per value): ``material_lot``, ``supplier_lot``, ``supplier``,
``work_order`` (the units of one order: an order-level cause such as a process deviation),
``line``, ``build_week`` (per product: the product's units built in one ISO week),
``design_revision``, ``product``; ``process_parameter`` (the units whose value of a process
parameter lies in a tail of its distribution: the lowest or highest 1, 2.5, 5 or 10 % of the units
in the field, a process run outside its window); and ``machine_window`` (the units a machine
processed in a run of days). Cohorts of exactly the same units are one cohort, named by the first
attribute in that order (a material lot and its supplier lot are the same units; the supplier lot
is its alias).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from factorybrain.agents.service._data import FieldData, unit_times_on_machines
from factorybrain.engines.reliability import CohortScreen, WindowBins

#: Attribute order: the first names a cohort that several attributes share exactly.
ATTRIBUTES: tuple[str, ...] = (
    "material_lot",
    "supplier_lot",
    "supplier",
    "machine_window",
    "work_order",
    "design_revision",
    "product",
    "line",
    "build_week",
    "process_parameter",
)
#: Entity type of each attribute's subject.
SUBJECT_TYPES: dict[str, str] = {
    "material_lot": "material_lot",
    "supplier_lot": "supplier_lot",
    "supplier": "supplier",
    "machine_window": "asset",
    "work_order": "work_order",
    "design_revision": "design_revision",
    "product": "product",
    "line": "asset",
    "build_week": "product",
    "process_parameter": "parameter",
}
#: Tails of a process parameter's values screened as cohorts (share of the units in the field).
PARAMETER_TAILS = (0.01, 0.025, 0.05, 0.10)
#: Units with a parameter's value, and distinct values, a parameter needs to be screened: a
#: parameter set per product or per recipe is a product's cohort, not a process running out.
MIN_PARAMETER_UNITS = 100
MIN_PARAMETER_VALUES = 20
DAY = pd.Timedelta(days=1)
_EPOCH = pd.Timestamp("1970-01-01")


@dataclass
class Fleet:
    """Serials in service at ``as_of``.

    Attributes:
        as_of: The moment.
        units: Rows of :attr:`FieldData.units` in service, in that order, plus ``start``,
            ``age_days``, ``failed``, ``claim``, ``failure_at``.
        claims: The claims known at ``as_of`` that count (first per serial, serial in service).
    """

    as_of: datetime
    units: pd.DataFrame
    claims: pd.DataFrame


def fleet_at(
    data: FieldData, as_of: datetime, *, service_lag_days: float = 0.0, censor_lag_days: float = 0.0
) -> Fleet:
    """The serials in service at ``as_of`` with their time in service and failures.

    A serial is in service from its shipment (plus ``service_lag_days``, for installation); a
    claimed serial without a shipment from its production. It failed when a claim reported by
    ``as_of`` (its ``claimed_at``, else its failure date) names it; the first claim counts.
    Units that have not failed are censored at ``as_of - censor_lag_days`` (claims still on their
    way make the last days look better than they are; the reliability fits hold them back).
    """
    moment = pd.Timestamp(as_of)
    horizon = moment - pd.Timedelta(days=censor_lag_days)
    claims = data.claims
    reported = claims["claimed_at"].fillna(claims["failure_at"])
    known = claims[
        claims["serial"].notna()
        & ~claims["duplicate"]
        & (reported <= moment)
        & claims["failure_at"].notna()
        & (claims["failure_at"] <= horizon)
    ]
    first = known.drop_duplicates("serial", keep="first").set_index("serial")
    units = data.units
    start = units["shipped_at"] + pd.Timedelta(days=service_lag_days)
    claimed = units["serial"].isin(first.index)
    start = start.where(units["shipped_at"].notna(), units["produced_at"].where(claimed))
    in_service = start.notna() & (start <= horizon)
    frame = units[in_service].copy()
    frame["start"] = start[in_service]
    claim_of = dict(zip(first.index, first["claim"], strict=True))
    failure_of = dict(zip(first.index, first["failure_at"], strict=True))
    frame["claim"] = frame["serial"].map(claim_of).astype(object)
    frame["failure_at"] = pd.to_datetime(frame["serial"].map(failure_of))
    frame["failed"] = frame["claim"].notna()
    end = frame["failure_at"].where(frame["failed"], horizon)
    frame["age_days"] = ((end - frame["start"]) / DAY).clip(lower=0.0).astype(float)
    frame = frame.reset_index(drop=True)
    counted = known[known["serial"].isin(frame.loc[frame["failed"], "serial"])]
    counted = counted.drop_duplicates("serial", keep="first").reset_index(drop=True)
    return Fleet(moment.to_pydatetime(), frame, counted)


@dataclass
class Cohorts:
    """The cohorts screened: a sparse ``units x cohorts`` membership and what each column is.

    Attributes:
        membership: Sparse membership (CSC), one column per row of ``table``.
        table: ``attribute``, ``value`` (what ``dedup_key`` says after the attribute),
            ``subject_type``, ``subject_space``, ``subject_id``, ``label`` (for people) and
            ``aliases`` (other attributes naming exactly the same units: list of
            ``(attribute, space, id)``).
        windows: The machines' day bins, or None without operations.
        tracks: The machine of each track: ``(space, equipment)``.
        notes: What could not be screened and why (a process parameter known for too few
            units): ``(parameter, sentence)``.
        deviations: Per process parameter screened, each unit's distance from its product's
            median in robust SD (signed; NaN where unknown), by the unit's position.
        passes: When each unit passed each machine (:func:`unit_times_on_machines` of the
            fleet's units, those with a time).
    """

    membership: Any
    table: pd.DataFrame
    windows: WindowBins | None
    tracks: list[tuple[str, str]] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)
    deviations: dict[str, np.ndarray] = field(default_factory=dict)
    passes: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {"unit": [], "equipment_space": [], "equipment": [], "time": []}
        )
    )


def _column(index: np.ndarray, n: int) -> np.ndarray:
    return np.unique(index[(index >= 0) & (index < n)])


def build_cohorts(data: FieldData, fleet: Fleet, *, names: dict[Any, str] | None = None) -> Cohorts:
    """Every cohort of every attribute among the fleet's units (see the module)."""
    units = fleet.units
    n = len(units)
    columns: list[np.ndarray] = []
    rows: list[dict[str, Any]] = []

    def add(attribute: str, space: Any, identifier: Any, members: np.ndarray, value: str = "",
            label: str = "") -> None:  # fmt: skip
        members = _column(np.asarray(members, dtype=np.int64), n)
        if members.size == 0:
            return
        columns.append(members)
        rows.append(
            {
                "attribute": attribute,
                "value": value or str(identifier),
                "subject_type": SUBJECT_TYPES[attribute],
                "subject_space": None if space is None or pd.isna(space) else str(space),
                "subject_id": str(identifier),
                "label": label or str(identifier),
            }
        )

    position = pd.Series(
        np.arange(n), index=pd.MultiIndex.from_frame(units[["wo_space", "work_order"]])
    )
    order_units = {
        key: np.asarray(group, dtype=np.int64) for key, group in position.groupby(level=[0, 1])
    }
    lots = data.lots
    for attribute, space_col, id_col in (
        ("material_lot", "lot_space", "lot"),
        ("supplier_lot", "supplier_lot_space", "supplier_lot"),
        ("supplier", "supplier_space", "supplier"),
    ):
        usable = lots[lots[id_col].notna()]
        for (space, identifier), group in usable.groupby([space_col, id_col], dropna=False):
            parts = [
                order_units[key]
                for key in zip(group["wo_space"], group["work_order"], strict=True)
                if key in order_units
            ]
            if parts:
                add(attribute, space, identifier, np.concatenate(parts))
    for (space, order), units_of_order in order_units.items():
        add("work_order", space, order, units_of_order)
    for attribute, space_col, id_col in (
        ("product", "product_space", "product"),
        ("line", "wo_space", "line"),
    ):
        usable = units[units[id_col].notna()]
        for (space, identifier), group in usable.groupby([space_col, id_col]):
            add(attribute, space, identifier, group.index.to_numpy())
    built = units[units["produced_at"].notna() & units["product"].notna()]
    weeks = built["produced_at"].dt.strftime("%G-W%V")
    for (space, product, week), group in built.groupby(
        [built["product_space"], built["product"], weeks]
    ):
        add("build_week", space, product, group.index.to_numpy(), value=f"{product}@{week}",
            label=f"{product} built in {week}")  # fmt: skip
    revisions = data.revisions.dropna(subset=["product_key"])
    for key, group in revisions.groupby("product_key"):
        group = group.sort_values("effective_from")
        mine = units[(units["product_key"] == key) & units["produced_at"].notna()]
        if mine.empty:
            continue
        starts = group["effective_from"].fillna(pd.Timestamp.min).to_numpy()
        which = np.searchsorted(starts, mine["produced_at"].to_numpy(), side="right") - 1
        for k, revision in enumerate(group.itertuples()):
            add("design_revision", revision.space, revision.external_id,
                mine.index.to_numpy()[which == k],
                label=f"{revision.product} revision {revision.revision}")  # fmt: skip
    tails, notes, deviations = _parameter_tails(data, units)
    for parameter, members, side, share, threshold, _unit in tails:
        where = "below" if side == "low" else "above"
        extreme = "lowest" if side == "low" else "highest"
        add("process_parameter", None, parameter, members, value=f"{parameter}:{side}",
            label=f"{parameter} {abs(threshold):.1f} robust SD or more {where} its product's "
            f"median (the {extreme} {share:.3g} % of units)")  # fmt: skip
    membership, table = _deduplicate(columns, rows, n)
    passes = unit_times_on_machines(fleet.units, data.operations).dropna(subset=["time"])
    windows, tracks = _machine_days(passes, fleet)
    return Cohorts(membership, table, windows, tracks, notes, deviations, passes)


def _parameter_tails(
    data: FieldData, units: pd.DataFrame
) -> tuple[
    list[tuple[str, np.ndarray, str, float, float, str]],
    list[tuple[str, str]],
    dict[str, np.ndarray],
]:
    """``(parameter, unit positions, side, share in %, threshold, unit of measure)`` per tail.

    A parameter's normal value depends on the product (its recipe): each value is taken as its
    distance from the median of its product's units, in robust standard deviations (MAD), and
    the tails are those of that distance over the fleet; ``threshold`` is in those SDs. Also
    returns ``(parameter, sentence)`` for each parameter that varies but is known for too few
    units to be screened, and each screened parameter's distance per unit (NaN where unknown).
    """
    out: list[tuple[str, np.ndarray, str, float, float, str]] = []
    notes: list[tuple[str, str]] = []
    deviations: dict[str, np.ndarray] = {}
    orders, measured = data.order_parameters, data.parameters
    if orders.empty and measured.empty:
        return out, notes, deviations
    product = units["product_key"].fillna(units["product"]).astype(object).to_numpy()
    keys = units[["wo_space", "work_order"]]
    for parameter in sorted(set(orders["parameter"]) | set(measured["parameter"])):
        mine = orders[orders["parameter"] == parameter]
        # the order's value, where a unit's own measurement does not stand for it
        value = keys.merge(
            mine[["wo_space", "work_order", "value"]], on=["wo_space", "work_order"], how="left"
        )["value"].to_numpy(dtype=float)
        own = measured[measured["parameter"] == parameter].drop_duplicates("serial")
        if len(own):
            by_serial = units["serial"].map(own.set_index("serial")["value"]).to_numpy(dtype=float)
            value = np.where(np.isfinite(by_serial), by_serial, value)
        at = np.flatnonzero(np.isfinite(value))
        distinct = np.unique(value[at]).size
        if 0 < at.size < MIN_PARAMETER_UNITS and distinct > 1:
            notes.append(
                (
                    str(parameter),
                    f"process parameter {parameter} is known for {at.size} of the {len(units)} "
                    f"units in the field, too few to compare its tails (at least "
                    f"{MIN_PARAMETER_UNITS}): claims are not traced to it",
                )
            )
            continue
        if at.size < MIN_PARAMETER_UNITS or distinct < MIN_PARAMETER_VALUES:
            continue
        frame = pd.DataFrame({"value": value[at], "product": product[at]})
        by_product = frame.groupby("product", dropna=False)["value"]
        centre = by_product.transform("median")
        spread = 1.4826 * (frame["value"] - centre).abs().groupby(frame["product"]).transform(
            "median"
        )
        z = ((frame["value"] - centre) / spread.where(spread > 0)).to_numpy()
        usable = np.isfinite(z)
        if usable.sum() < MIN_PARAMETER_UNITS:
            continue
        z, members = z[usable], at[usable]
        deviation = np.full(len(units), np.nan)
        deviation[members] = z
        deviations[str(parameter)] = deviation
        unit = pd.concat([own["unit"], mine["unit"]]).dropna()
        unit_text = str(unit.iloc[0]) if len(unit) else ""
        for share in PARAMETER_TAILS:
            low, high = np.quantile(z, [share, 1.0 - share])
            for side, inside, threshold in (("low", z <= low, low), ("high", z >= high, high)):
                # ties at the threshold can take far more than the tail: not a tail then
                if inside.sum() <= 2 * share * len(z) and abs(threshold) > 0:
                    out.append(
                        (str(parameter), members[inside], side, 100 * share, float(threshold),
                         unit_text)
                    )  # fmt: skip
    return out, notes, deviations


def _deduplicate(
    columns: list[np.ndarray], rows: list[dict[str, Any]], n: int
) -> tuple[Any, pd.DataFrame]:
    """One column per distinct set of units, named by the first attribute of :data:`ATTRIBUTES`."""
    rank = {a: i for i, a in enumerate(ATTRIBUTES)}
    order = sorted(range(len(rows)), key=lambda i: rank[rows[i]["attribute"]])
    kept: dict[str, int] = {}
    out_columns: list[np.ndarray] = []
    out_rows: list[dict[str, Any]] = []
    for i in order:
        digest = hashlib.sha1(columns[i].tobytes()).hexdigest()
        if digest in kept:
            owner = out_rows[kept[digest]]
            owner["aliases"].append(
                (rows[i]["attribute"], rows[i]["subject_space"], rows[i]["subject_id"])
            )
            continue
        kept[digest] = len(out_rows)
        out_rows.append({**rows[i], "aliases": []})
        out_columns.append(columns[i])
    if not out_columns:
        return sparse.csc_matrix((n, 0)), pd.DataFrame(out_rows)
    indices = np.concatenate(out_columns)
    pointers = np.concatenate([[0], np.cumsum([c.size for c in out_columns])])
    data = np.ones(indices.size)
    matrix = sparse.csc_matrix((data, indices, pointers), shape=(n, len(out_columns)))
    return matrix, pd.DataFrame(out_rows)


def _machine_days(
    passes: pd.DataFrame, fleet: Fleet
) -> tuple[WindowBins | None, list[tuple[str, str]]]:
    """Each machine's days as window bins.

    A track per machine, in the order the passes first name them; a bin per day it processed
    units of the fleet.
    """
    if passes.empty:
        return None, []
    space_code, spaces = pd.factorize(passes["equipment_space"])
    equipment_code, equipment = pd.factorize(passes["equipment"])
    track, pairs = pd.factorize(space_code.astype(np.int64) * len(equipment) + equipment_code)
    tracks = [(str(spaces[p // len(equipment)]), str(equipment[p % len(equipment)])) for p in pairs]
    day = ((pd.to_datetime(passes["time"]) - _EPOCH) // DAY).to_numpy(dtype=np.int64)
    unit = passes["unit"].to_numpy(dtype=np.int64)
    # a bin per (machine, day) in order of first appearance; a unit passing one machine twice
    # (two operations) counts once per day bin
    first_day = int(day.min())
    days = int(day.max()) - first_day + 1
    column, bins = pd.factorize(track.astype(np.int64) * days + (day - first_day))
    membership = sparse.csr_matrix(
        (np.ones(unit.size), (unit, column)), shape=(len(fleet.units), len(bins))
    )
    membership.data[:] = 1.0  # built summed: a unit twice on one machine in a day is one pass
    return WindowBins(membership, bins // days, bins % days + first_day), tracks


def day_of(position: int) -> datetime:
    """The day (UTC midnight) of a window position."""
    return (_EPOCH + pd.Timedelta(days=int(position))).to_pydatetime()


@dataclass
class Screened:
    """What one screen found at a moment."""

    fleet: Fleet
    cohorts: Cohorts
    screen: CohortScreen


def screen_fleet(
    data: FieldData,
    as_of: datetime,
    *,
    service_lag_days: float = 0.0,
    parameters: dict[str, Any] | None = None,
) -> Screened:
    """Build the fleet and its cohorts at ``as_of`` and screen them."""
    fleet = fleet_at(data, as_of, service_lag_days=service_lag_days)
    cohorts = build_cohorts(data, fleet)
    screen = CohortScreen(**(parameters or {})).fit(
        fleet.units["age_days"].to_numpy(),
        fleet.units["failed"].to_numpy(),
        cohorts.membership,
        cohorts.windows,
    )
    return Screened(fleet, cohorts, screen)


def describe_row(screened: Screened, row: pd.Series) -> dict[str, Any]:
    """Attribute, value, subject and label of a row of the screen's tables."""
    if row["kind"] == "cohort":
        cohort = screened.cohorts.table.iloc[int(row["cohort"])]
        return dict(cohort)
    space, equipment = screened.cohorts.tracks[int(row["track"])]
    start, end = day_of(int(row["start"])), day_of(int(row["end"])) + timedelta(days=1)
    window = f"{start:%Y-%m-%d}/{end - timedelta(days=1):%Y-%m-%d}"
    return {
        "attribute": "machine_window",
        "value": f"{equipment}@{window}",
        "subject_type": "asset",
        "subject_space": space,
        "subject_id": equipment,
        "label": f"{equipment} from {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}",
        "aliases": [],
        "window_start": start,
        "window_end": end,
    }


__all__: Sequence[str] = [
    "ATTRIBUTES",
    "Cohorts",
    "PARAMETER_TAILS",
    "Fleet",
    "Screened",
    "SUBJECT_TYPES",
    "build_cohorts",
    "day_of",
    "describe_row",
    "fleet_at",
    "screen_fleet",
]
