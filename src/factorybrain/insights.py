"""What the service, quality and design agents found, as JSON-ready answers: field and process.

One set of queries for every interface: the REST routes (``/field/...``, ``/process/...``), the
MCP tools and the questions of ``ask`` call them, so the three never disagree (the suppliers
behind claims, :func:`lot_suppliers`, serve ``ask`` so far). Each returns
JSON-ready values and raises ``RecordNotFoundError`` (404) for an unknown product or cluster and
``ParameterError`` for a bad page.
"""

from __future__ import annotations

import json
import re
from typing import Any

from factorybrain.agents import RecordNotFoundError
from factorybrain.agents.core._products import product_names
from factorybrain.exceptions import ParameterError
from factorybrain.store import Store


def json_rows(frame: Any) -> list[dict[str, Any]]:
    """A data frame's rows as dictionaries, NaN as None."""
    return [
        {k: (None if _missing(v) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def _missing(value: Any) -> bool:
    """None, NaN or NaT; a list or an array (a finding's ids) is a value, even when empty."""
    if value is None:
        return True
    if isinstance(value, str) or hasattr(value, "__len__"):
        return False
    return bool(value != value)


#: Finding kinds and action types of the service and design agents (their contract).
FAILURE_CLUSTER = "service.failure_cluster"
FIELD_RELIABILITY = "service.field_reliability"
SERVICE_GAP = "service.data_gap"
RECIPE_CHANGE = "design.recipe_change"
CONFIRMATION_RUNS = "design.confirmation_runs"
INSPECT = "serial_unit.inspect"
#: What each cohort attribute is called on screen.
COHORT_ATTRIBUTES = {
    "material_lot": "component lot",
    "supplier_lot": "supplier lot",
    "supplier": "supplier",
    "machine_window": "machine and days",
    "work_order": "work order",
    "line": "line",
    "build_week": "build week",
    "design_revision": "design revision",
    "product": "product",
    "process_parameter": "process parameter",
}
#: Most failures drawn on a Weibull plot (more are thinned evenly; every one is counted).
MAX_PLOT_POINTS = 400
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
_MODE = re.compile(r"\bmostly ([a-z][a-z ]*?) \((\d+)%\)")
_CLUSTER_TITLE = "Field failures cluster in "


def _check_field_page(limit: int, offset: int) -> None:

    if not 1 <= limit <= 1000:
        raise ParameterError(f"limit must be in [1, 1000], got {limit}")
    if offset < 0:
        raise ParameterError(f"offset must be >= 0, got {offset}")


def _field_page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    following = offset + len(items)
    return {
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }


def _finite(value: Any) -> float | None:
    """A number as JSON: None for missing, NaN and infinities (an unbounded interval end)."""
    if isinstance(value, int | float) and value == value and abs(value) != float("inf"):
        return float(value)
    return None


def _iso_text(value: Any) -> str | None:
    if value is None or value != value:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _agent_findings(store: Store, kinds: tuple[str, ...]) -> list[dict[str, Any]]:
    """Findings of these kinds that are not closed, evidence parsed, newest first."""
    marks = ", ".join("?" for _ in kinds)
    found = json_rows(
        store.query(
            "SELECT external_id, kind, subject_type, subject, severity, confidence, evidence, "
            f"status, created_at, name FROM finding WHERE space = 'agents' AND kind IN ({marks}) "
            "AND status IN ('open', 'acknowledged') ORDER BY coalesce(TRY_CAST("
            "json_extract_string(evidence, '$.meta.created_at') AS TIMESTAMP), created_at) DESC, "
            "external_id",
            list(kinds),
        )
    )
    for row in found:
        evidence = row["evidence"]
        evidence = json.loads(evidence) if isinstance(evidence, str) else evidence or {}
        meta = evidence.get("meta") or {}
        row["numbers"] = evidence.get("numbers") or {}
        row["refs"] = evidence.get("refs") or []
        row["text"] = evidence.get("text") or ""
        row["title"] = meta.get("title") or row["name"] or ""
        row["dedup_key"] = meta.get("dedup_key") or ""
        row["as_of"] = meta.get("created_at")
    return found


def _recommendations_of(store: Store, finding_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest recommendation about each finding, with the state of its newest action."""
    if not finding_ids:
        return {}
    found = json_rows(
        store.query(
            "SELECT r.external_id, r.finding_ids, r.action_type, r.name, r.parameters, "
            "r.expected_effect, r.created_at, a.external_id AS action, a.state "
            "FROM recommendation r LEFT JOIN action a ON a.space = r.space "
            "AND a.recommendation = r.external_id "
            "WHERE r.space = 'agents' AND list_has_any(r.finding_ids, ?) "
            "ORDER BY r.created_at DESC, a.created_at DESC NULLS LAST",
            [finding_ids],
        )
    )
    out: dict[str, dict[str, Any]] = {}
    for row in found:
        for parameter in ("parameters", "expected_effect"):
            if isinstance(row[parameter], str):
                row[parameter] = json.loads(row[parameter])
        for finding_id in [] if row["finding_ids"] is None else row["finding_ids"]:
            out.setdefault(finding_id, row)
    return out


def _inspected_serials(recommendation: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The serials a cluster's inspection names: proposed alone, or as a step of a bundle.

    The quality agent takes the service agent's inspection into its containment of the cluster
    (quarantine, machine inspection, recall scope): the newest recommendation about the cluster
    is then that bundle, and the serials are its inspection step's.
    """
    parameters = (recommendation or {}).get("parameters") or {}
    if parameters.get("serials"):
        return list(parameters["serials"])
    for step in parameters.get("steps") or []:
        found = (step.get("parameters") or {}).get("serials") if isinstance(step, dict) else None
        if found:
            return list(found)
    return []


def _ref_of(row: dict[str, Any]) -> dict[str, Any]:
    """The finding's subject, with its space from the evidence when the agent gave one."""
    first = row["refs"][0] if row["refs"] else {}
    space = first.get("space") if first.get("external_id") == row["subject"] else None
    return {"type": row["subject_type"], "external_id": row["subject"], "space": space}


def _cohort(row: dict[str, Any], recommendation: dict[str, Any] | None) -> dict[str, Any]:
    """One ``service.failure_cluster`` finding as a row of the claims-per-cohort table."""
    numbers = row["numbers"]
    attribute = row["dedup_key"].split(":", 1)[0] if ":" in row["dedup_key"] else ""
    title = row["title"]
    label = title[len(_CLUSTER_TITLE) :] if title.startswith(_CLUSTER_TITLE) else row["subject"]
    mode = _MODE.search(row["text"])
    get = numbers.get
    return {
        "id": row["external_id"],
        "cohort": row["dedup_key"],
        "attribute": attribute,
        "attribute_label": COHORT_ATTRIBUTES.get(attribute, attribute.replace("_", " ")),
        "subject": _ref_of(row),
        "label": label,
        "failure_mode": mode.group(1) if mode else None,
        "failure_mode_share": _finite(get("dominant_mode_share")),
        "claims": _finite(get("claims")),
        "expected_claims": _finite(get("expected_claims")),
        "units": _finite(get("units")),
        "rate_per_1000_unit_years": _finite(get("rate_per_1000_unit_years")),
        "baseline_rate_per_1000_unit_years": _finite(get("baseline_rate_per_1000_unit_years")),
        "rate_ratio": _finite(get("rate_ratio")),
        "rate_ratio_low": _finite(get("rate_ratio_low")),
        "rate_ratio_high": _finite(get("rate_ratio_high")),
        "q_value": _finite(get("q_value")),
        "scope_serials": _finite(get("scope_serials")),
        "scope_customers": _finite(get("scope_customers")),
        "b10_days": _finite(get("b10_days")),
        "severity": row["severity"],
        "confidence": _finite(row["confidence"]),
        "status": row["status"],
        "as_of": row["as_of"],
        "text": row["text"],
        "inspection": None
        if recommendation is None
        else {
            "recommendation": recommendation["external_id"],
            "title": recommendation["name"],
            "action": recommendation["action"],
            "state": recommendation["state"],
        },
    }


def field_cohorts(
    store: Store,
    *,
    failure_mode: str | None = None,
    attribute: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Claims per cohort: the cohorts whose units fail in the field more often than the rest.

    Each item is a ``service.failure_cluster`` finding of the service agent: the cohort (a
    component or supplier lot, a machine over some days, a work order, ...), its claims and
    units, its claim rate against the rest's, the age-adjusted rate ratio with its interval,
    the q-value (false discovery rate across every cohort screened), the claims' dominant
    failure mode, the recall scope's size and the state of the inspection proposed for it.
    The most severe come first, then those with the most claims.

    Args:
        store: The factory store.
        failure_mode: Only cohorts whose claims are mostly of this mode (``leak``, ``noise``;
            a word's start matches: ``leaking`` finds ``leak``).
        attribute: Only this kind of cohort (``material_lot``, ``machine_window``, ...).
        limit: Page size, 1 to 1000.
        offset: Cohorts to skip.

    Returns:
        A page (``items``, ``total``, ``limit``, ``offset``, ``next_offset``).
    """
    _check_field_page(limit, offset)
    found = _agent_findings(store, (FAILURE_CLUSTER,))
    recommendations = _recommendations_of(store, [row["external_id"] for row in found])
    items = [_cohort(row, recommendations.get(row["external_id"])) for row in found]
    if attribute:
        items = [i for i in items if i["attribute"] == attribute]
    if failure_mode:
        items = [i for i in items if same_mode(failure_mode, i["failure_mode"])]
    items.sort(key=lambda i: (_SEVERITY_ORDER.get(i["severity"], 5), -(i["claims"] or 0)))
    return _field_page(items[offset : offset + limit], len(items), limit, offset)


def same_mode(asked: str, mode: str | None) -> bool:
    """Whether a word of the question names the mode: the start of the mode's first word."""
    if not mode:
        return False
    word = mode.split()[0]
    stem = word[: max(4, len(word) - 2)]
    return any(w.startswith(stem) for w in re.findall(r"[a-z]+", asked.lower()))


def _cluster_row(store: Store, cluster: str) -> tuple[dict[str, Any], dict[str, Any] | None]:

    found = _agent_findings(store, (FAILURE_CLUSTER,))
    wanted = cluster.strip()
    for row in found:
        if wanted in (row["external_id"], row["dedup_key"]):
            return row, _recommendations_of(store, [row["external_id"]]).get(row["external_id"])
    raise RecordNotFoundError(
        f"no field failure cluster {cluster!r} (give a cluster's id, fnd-..., or its cohort, "
        "e.g. material_lot:<lot>; GET /field/cohorts lists them)"
    )


def recall_scope(
    store: Store,
    cluster: str,
    *,
    customer: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """The recall or inspection scope of a field failure cluster, one page of serials.

    The serials built with the cohort that are in the field and have not failed, with their
    customer and shipment, as the service agent proposed to inspect them (the
    ``serial_unit.inspect`` recommendation; the state of its action says whether someone
    approved it).

    Args:
        store: The factory store.
        cluster: The cluster's finding id (``fnd-...``) or its cohort (``material_lot:<lot>``).
        customer: Only this customer's serials (its id or name).
        limit: Page size, 1 to 1000.
        offset: Serials to skip.

    Returns:
        A page of serials (``serial``, ``customer``, ``customer_name``, ``shipment``,
        ``shipped_at``; for a process parameter's cluster also ``deviation_sd``, the unit's
        distance from its product's median in robust SD, furthest out first) with ``cluster``
        (the cohort's row, as in :func:`field_cohorts`) and ``customers`` (every customer of the
        scope with its number of serials).

    Raises:
        RecordNotFoundError: No such cluster.
    """
    _check_field_page(limit, offset)
    row, recommendation = _cluster_row(store, cluster)
    serials = _inspected_serials(recommendation)
    counts: dict[str, int] = {}
    for serial in serials:
        name = serial.get("customer_name") or serial.get("customer") or "unknown"
        counts[name] = counts.get(name, 0) + 1
    if customer:
        wanted = customer.strip().lower()
        serials = [
            s
            for s in serials
            if wanted
            in (str(s.get("customer") or "").lower(), str(s.get("customer_name") or "").lower())
        ]
    items = [
        {
            "serial": s.get("serial"),
            "serial_space": s.get("serial_space"),
            "customer": s.get("customer"),
            "customer_name": s.get("customer_name"),
            "shipment": s.get("shipment"),
            "shipped_at": s.get("shipped_at"),
            **({"deviation_sd": s["deviation_sd"]} if "deviation_sd" in s else {}),
        }
        for s in serials[offset : offset + limit]
    ]
    out = _field_page(items, len(serials), limit, offset)
    out["cluster"] = _cohort(row, recommendation)
    out["customers"] = [
        {"customer": name, "serials": n}
        for name, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]
    return out


# -- suppliers behind claims: cohorts and root causes traced to who made the lot -------------------
ROOT_CAUSE = "quality.root_cause"
_LOT_ATTRIBUTES = ("material_lot", "supplier_lot", "supplier")


def lot_suppliers(store: Store, *, about: str = "claims") -> dict[str, Any]:
    """The suppliers behind field claims (or in-plant defects), through the lots that stand out.

    The lots are the service agent's claim cohorts of component lots, supplier lots and
    suppliers (``service.failure_cluster``) and the quality agent's root causes on lots
    (``quality.root_cause``: those that traced field claims for ``about="claims"``, those of
    defects found in the plant for ``about="defects"``). Each lot is traced through the
    genealogy the silos recorded: the plant lot to its supplier lot, the supplier lot to its
    supplier.

    Args:
        store: The factory store.
        about: ``claims`` or ``defects``.

    Returns:
        ``{"items": [...], "untraced": [...], "other_cohorts": n}``: one item per supplier
        (``supplier``, ``space``, ``name``, ``claims``, ``defects``, ``lots``: each lot's
        ``lot``, ``space``, ``material``, ``material_name``, ``supplier_lot``, ``claims``,
        ``defects``, ``rate_ratio``, ``findings``), most claims (or defects) first; the lots no
        supplier could be traced for; how many claim cohorts are not lots (machines, orders...).

    Raises:
        ParameterError: ``about`` is neither ``claims`` nor ``defects``.
    """
    if about not in ("claims", "defects"):
        raise ParameterError(f"about must be 'claims' or 'defects', got {about!r}")
    lots: dict[tuple[str, str], dict[str, Any]] = {}

    def lot(kind: str, space: str | None, external_id: str) -> dict[str, Any]:
        entry = lots.setdefault(
            (kind, external_id),
            {"kind": kind, "space": space, "lot": external_id, "claims": None, "defects": None,
             "rate_ratio": None, "findings": []},
        )  # fmt: skip
        entry["space"] = entry["space"] or space
        return entry

    other = 0
    if about == "claims":
        for item in field_cohorts(store, limit=1000)["items"]:
            if item["attribute"] not in _LOT_ATTRIBUTES:
                other += 1
                continue
            subject = item["subject"]
            entry = lot(item["attribute"], subject.get("space"), str(subject["external_id"]))
            entry["claims"] = max(entry["claims"] or 0.0, item["claims"] or 0.0)
            entry["rate_ratio"] = item["rate_ratio"]
            entry["findings"].append(item["id"])
    for row in _agent_findings(store, (ROOT_CAUSE,)):
        if row["subject_type"] not in _LOT_ATTRIBUTES:
            continue
        numbers = row["numbers"]
        claims = _finite(numbers.get("field_claims"))
        if (about == "claims") != (claims is not None):
            continue
        entry = lot(row["subject_type"], _ref_of(row)["space"], str(row["subject"]))
        if claims is not None:
            entry["claims"] = max(entry["claims"] or 0.0, claims)
            entry["rate_ratio"] = entry["rate_ratio"] or _finite(numbers.get("field_rate_ratio"))
        else:
            entry["defects"] = _finite(numbers.get("defects"))
            entry["rate_ratio"] = _finite(numbers.get("rate_ratio"))
        entry["findings"].append(row["external_id"])
    traced = _trace_to_suppliers(store, list(lots.values()))
    suppliers: dict[tuple[str, str], dict[str, Any]] = {}
    untraced = []
    for entry in traced:
        if entry["supplier"] is None:
            untraced.append(entry)
            continue
        key = (entry["supplier_space"], entry["supplier"])
        item = suppliers.setdefault(
            key,
            {"supplier": entry["supplier"], "space": entry["supplier_space"],
             "name": entry["supplier_name"], "claims": 0.0, "defects": 0.0, "lots": []},
        )  # fmt: skip
        item["claims"] += entry["claims"] or 0.0
        item["defects"] += entry["defects"] or 0.0
        item["lots"].append(entry)
    measure = "claims" if about == "claims" else "defects"
    items = sorted(suppliers.values(), key=lambda s: (-s[measure], str(s["supplier"])))
    return {"items": items, "untraced": untraced, "other_cohorts": other}


def _trace_to_suppliers(store: Store, lots: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each lot with its material, supplier lot and supplier, as the genealogy records them."""
    plant = [e["lot"] for e in lots if e["kind"] == "material_lot"]
    vendor = [e["lot"] for e in lots if e["kind"] == "supplier_lot"]
    found = json_rows(
        store.query(
            "SELECT m.space, m.external_id AS lot, m.material, mat.name AS material_name, "
            "m.supplier_lot, s.supplier, p.space AS supplier_space, p.name AS supplier_name "
            "FROM material_lot m "
            "LEFT JOIN supplier_lot s ON s.space = m.space AND s.external_id = m.supplier_lot "
            "LEFT JOIN supplier p ON p.space = s.space AND p.external_id = s.supplier "
            "LEFT JOIN material mat ON mat.space = m.space AND mat.external_id = m.material "
            "WHERE list_contains(?, m.external_id) "
            "UNION ALL "
            "SELECT s.space, s.external_id, s.material, mat.name, s.external_id, s.supplier, "
            "p.space, p.name FROM supplier_lot s "
            "LEFT JOIN supplier p ON p.space = s.space AND p.external_id = s.supplier "
            "LEFT JOIN material mat ON mat.space = s.space AND mat.external_id = s.material "
            "WHERE list_contains(?, s.external_id)",
            [plant, vendor],
        )
    )
    names = json_rows(store.query("SELECT space, external_id, name FROM supplier"))
    out = []
    for entry in lots:
        if entry["kind"] == "supplier":
            supplier = next((n for n in names if n["external_id"] == entry["lot"]), None)
            out.append(
                {**entry, "material": None, "material_name": None, "supplier_lot": None,
                 "supplier": entry["lot"], "supplier_space": (supplier or {}).get("space"),
                 "supplier_name": (supplier or {}).get("name")}
            )  # fmt: skip
            continue
        matches = [r for r in found if r["lot"] == entry["lot"]]
        same = [r for r in matches if r["space"] == entry["space"]] or matches
        row = same[0] if same else {}
        out.append(
            {**entry, "material": row.get("material"), "material_name": row.get("material_name"),
             "supplier_lot": row.get("supplier_lot"), "supplier": row.get("supplier"),
             "supplier_space": row.get("supplier_space") or row.get("space"),
             "supplier_name": row.get("supplier_name")}
        )  # fmt: skip
    return out


# -- field reliability: Weibull fits per product --------------------------------------------------
def _product_names(store: Store) -> dict[str, str]:
    """Product names by id (a product without a name of its own: its material's)."""
    return {external_id: name for (_, external_id), name in product_names(store).items()}


def _fit_summary(row: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    numbers = row["numbers"]
    get = numbers.get
    level = re.search(r"(\d+)% profile", row["text"])
    b10, oldest = _finite(get("b10_days")), _finite(get("max_age_days"))
    return {
        "product": row["subject"],
        "space": _ref_of(row)["space"],
        "name": names.get(row["subject"]),
        "fitted": True,
        "finding": row["external_id"],
        "as_of": row["as_of"],
        "units": _finite(get("units")),
        "failures": _finite(get("failures")),
        "censored_share": _finite(get("censored_share")),
        "weibull_shape": _finite(get("weibull_shape")),
        "weibull_scale_days": _finite(get("weibull_scale_days")),
        "b_life_share": _finite(get("b_life_share")) or 0.10,
        "b10_days": b10,
        "b10_low_days": _finite(get("b10_low_days")),
        # null: the data do not bound the interval from above
        "b10_high_days": _finite(get("b10_high_days")),
        "interval": int(level.group(1)) / 100 if level else None,
        "max_age_days": oldest,
        "extrapolated": b10 is not None and oldest is not None and b10 > oldest,
        "forecast_days": _finite(get("forecast_days")),
        "forecast_claims": _finite(get("forecast_claims")),
        "forecast_claims_low": _finite(get("forecast_claims_low")),
        "forecast_claims_high": _finite(get("forecast_claims_high")),
        "reporting_lag_days": _finite(get("reporting_lag_days")),
        "text": row["text"],
    }


def _reliabilityjson_rows(store: Store) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Latest fit per product, and the data gaps about products (why no fit)."""
    latest: dict[str, dict[str, Any]] = {}
    gaps: dict[str, dict[str, Any]] = {}
    for row in _agent_findings(store, (FIELD_RELIABILITY, SERVICE_GAP)):
        if row["subject_type"] != "product":
            continue
        target = latest if row["kind"] == FIELD_RELIABILITY else gaps
        target.setdefault(row["subject"], row)
    return list(latest.values()), [g for k, g in gaps.items() if k not in latest]


def field_reliability(store: Store, product: str | None = None) -> dict[str, Any]:
    """Field reliability per product: the service agent's Weibull fits, with censoring.

    Without ``product``: every product's fit (shape, scale, B10 with its interval, units,
    failures, share censored, claims forecast) and the products that could not be fitted,
    with why. With ``product``: that product's fit and the points of a Weibull plot, rebuilt
    from the same fleet at the same moment as the fit: the failures' median ranks (Johnson's
    adjusted ranks for censored data, Bernard's approximation), the fitted line, and the units
    still running (censored) counted by age.

    Args:
        store: The factory store.
        product: A product's id or name (as the agent's finding names it, or its name).

    Returns:
        ``{"items": [...], "not_fitted": [...]}``, or one product's fit with ``plot``.

    Raises:
        RecordNotFoundError: No product of that id or name has a fit or a data gap.
    """
    names = _product_names(store)
    fits, gaps = _reliabilityjson_rows(store)
    if product is None:
        return {
            "items": sorted(
                (_fit_summary(row, names) for row in fits), key=lambda f: str(f["product"])
            ),
            "not_fitted": [
                {"product": g["subject"], "name": names.get(g["subject"]), "why": g["text"]}
                for g in gaps
            ],
        }
    wanted = product.strip().lower()

    def named(row: dict[str, Any]) -> bool:
        return wanted in (row["subject"].lower(), names.get(row["subject"], "").lower())

    fit = next((row for row in fits if named(row)), None)
    if fit is None:
        gap = next((row for row in gaps if named(row)), None)
        if gap is None:
            raise RecordNotFoundError(
                f"no field reliability for product {product!r}; fitted: "
                f"{sorted(row['subject'] for row in fits) or 'none yet (run the service agent)'}"
            )
        return {
            "product": gap["subject"],
            "name": names.get(gap["subject"]),
            "fitted": False,
            "why": gap["text"],
        }
    out = _fit_summary(fit, names)
    out["plot"] = _weibull_plot(store, fit, out)
    return out


#: Weibull plots already drawn, per store and state of what they are drawn from.
_PLOTS: dict[tuple[Any, ...], dict[str, Any]] = {}
_PLOT_INPUTS = ("finding", "serial_unit", "shipment", "warranty_claim", "edge", "annotation")


def _weibull_plot(store: Store, row: dict[str, Any], fit: dict[str, Any]) -> dict[str, Any]:
    """Median ranks of the failures, the fitted line and the censored units by age."""
    generation = store.generation_of(_PLOT_INPUTS)
    key = (getattr(store, "identity", id(store)), generation, row["external_id"])
    if generation is not None and key in _PLOTS:
        return _PLOTS[key]
    plot = _draw_weibull(store, row, fit)
    if generation is not None:
        if len(_PLOTS) > 32:
            _PLOTS.clear()
        _PLOTS[key] = plot
    return plot


def _draw_weibull(store: Store, row: dict[str, Any], fit: dict[str, Any]) -> dict[str, Any]:
    import math

    import numpy as np
    import pandas as pd

    # The fleet as the agent fitted it; fleet_at is the service agent's own definition.
    from factorybrain.agents.service import fleet_at, load_field

    shape, scale = fit["weibull_shape"], fit["weibull_scale_days"]
    empty = {"points": [], "line": [], "censored": [], "failures": 0, "censored_units": 0}
    moment = row["as_of"] or _iso_text(row["created_at"])
    if shape is None or scale is None or moment is None:
        return {**empty, "note": "the fit lacks its shape, scale or moment"}
    data = load_field(store)
    fleet = fleet_at(
        data,
        pd.Timestamp(moment).to_pydatetime(),
        censor_lag_days=fit["reporting_lag_days"] or 0.0,
    )
    units = fleet.units
    space = fit["space"]
    mine = units[units["product"].astype(str) == str(fit["product"])]
    if space is not None:
        mine = mine[mine["product_space"].astype(str) == str(space)]
    ages = mine["age_days"].to_numpy(dtype=float)
    failed = mine["failed"].to_numpy(dtype=bool)
    if ages.size == 0:
        return {**empty, "note": "the units of this fit are no longer in the store"}
    # failures before suspensions at the same age (the usual convention)
    order = np.lexsort((~failed, ages))
    ages, failed = ages[order], failed[order]
    n = ages.size
    rank, points = 0.0, []
    for position in np.flatnonzero(failed):
        remaining = n - position  # units at this age or older, this one included
        rank += (n + 1 - rank) / (1 + remaining)
        share = (rank - 0.3) / (n + 0.4)
        points.append({"age_days": float(max(ages[position], 1e-3)), "probability": float(share)})
    shown = points
    if len(points) > MAX_PLOT_POINTS:
        keep = np.unique(np.linspace(0, len(points) - 1, MAX_PLOT_POINTS).round().astype(int))
        shown = [points[i] for i in keep]
    low = max(min(p["age_days"] for p in points), 1e-3) if points else 1.0
    high = max(float(ages.max()), fit["b10_days"] or 0.0, low * 10)
    line = [
        {"age_days": float(t), "probability": float(-math.expm1(-((t / scale) ** shape)))}
        for t in np.geomspace(low / 2, high * 1.5, 40)
    ]
    running = ages[~failed]
    censored = []
    if running.size:
        edges = np.linspace(0.0, float(running.max()) + 1e-9, 13)
        counts, _ = np.histogram(running, bins=edges)
        censored = [
            {"from_days": float(edges[i]), "to_days": float(edges[i + 1]), "units": int(c)}
            for i, c in enumerate(counts)
        ]
    return {
        "points": shown,
        "line": line,
        "censored": censored,
        "failures": int(failed.sum()),
        "censored_units": int(running.size),
        "note": ""
        if len(shown) == len(points)
        else f"{len(shown)} of {len(points)} failures drawn (evenly thinned)",
    }


# -- the process: recipe changes the design agent proposes ----------------------------------------
def _products_of_line(store: Store, line: str) -> tuple[str, list[str]]:
    """The line's id (matched by id or name) and the products its work orders made."""
    lines = json_rows(store.query("SELECT external_id, name FROM asset WHERE level = 'line'"))
    wanted = " ".join(line.lower().replace("-", " ").split())
    match = None
    for candidate in lines:
        names = {str(candidate["external_id"]), str(candidate["name"] or "")}
        flat = {" ".join(n.lower().replace("-", " ").split()) for n in names}
        if wanted and any(n == wanted or n.endswith(f" {wanted}") for n in flat):
            match = candidate
            break
    if match is None:
        raise RecordNotFoundError(
            f"no line {line!r}; lines: {sorted(str(c['external_id']) for c in lines) or 'none'}"
        )
    made = store.query(
        "SELECT DISTINCT product FROM work_order WHERE line = ? AND product IS NOT NULL",
        [match["external_id"]],
    )
    return str(match["external_id"]), [str(p) for p in made["product"]]


def _proposal(
    row: dict[str, Any], recommendation: dict[str, Any] | None, names: dict[str, str]
) -> dict[str, Any]:
    numbers = row["numbers"]
    get = numbers.get
    identifiers = [str(r["external_id"]) for r in row["refs"] if r.get("type") == "product"]
    shown = row["title"].split(": ", 1)[0] if ": " in row["title"] else None
    product = shown if shown in identifiers else (identifiers[0] if identifiers else row["subject"])
    parameters = sorted(k.split(":", 1)[1] for k in numbers if k.startswith("current:"))
    setpoints = []
    for name in parameters:
        current, proposed = get(f"current:{name}"), get(f"proposed:{name}")
        setpoints.append(
            {
                "parameter": name,
                "current": _finite(current),
                "proposed": _finite(proposed),
                "changed": current is not None and proposed is not None and current != proposed,
                "supported_low": _finite(get(f"supported_low:{name}")),
                "supported_high": _finite(get(f"supported_high:{name}")),
            }
        )
    effect = (recommendation or {}).get("expected_effect") or {}
    settings = (recommendation or {}).get("parameters") or {}
    runs = [
        {
            "role": run.get("role"),
            "setpoints": run.get("setpoints") or {},
            "expected": _finite(run.get("expected")),
            "expected_std": _finite(run.get("expected_std")),
        }
        for run in settings.get("runs") or []
    ]
    return {
        "id": row["external_id"],
        "kind": row["kind"],
        "decision": "change" if row["kind"] == RECIPE_CHANGE else "confirm",
        "product": product,
        "product_ids": identifiers,
        "product_name": names.get(product)
        or next((names[i] for i in identifiers if i in names), None),
        "recipe": row["subject"] if row["subject_type"] == "recipe" else None,
        "objective": effect.get("objective"),
        "direction": effect.get("direction"),
        "expected_current": _finite(get("expected_current")),
        "expected_proposed": _finite(get("expected_proposed")),
        "gain": _finite(get("gain")),
        "gain_low": _finite(get("gain_low")),
        "gain_high": _finite(get("gain_high")),
        "interval": _finite(get("interval")),
        "probability_of_gain": _finite(get("probability_of_gain")),
        "runs": _finite(get("runs")),
        "setpoints": setpoints,
        "confirmation_runs": runs,
        "recommendation": None
        if recommendation is None
        else {
            "id": recommendation["external_id"],
            "action_type": recommendation["action_type"],
            "title": recommendation["name"],
            "revision": settings.get("revision"),
            "effective_from": settings.get("effective_from"),
            "action": recommendation["action"],
            "state": recommendation["state"],
        },
        "severity": row["severity"],
        "as_of": row["as_of"],
        "title": row["title"],
        "text": row["text"],
    }


def process_proposals(
    store: Store,
    *,
    product: str | None = None,
    line: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Recipe changes the design agent proposes per product, with the gain and its interval.

    Each item is a ``design.recipe_change`` (the gain is sure enough: a new recipe revision
    to approve) or a ``design.confirmation_runs`` finding (a likely gain with a wide
    interval: a few runs to make first): the objective and which way is better, the
    setpoints now and proposed with the range the history supports, the expected outcome
    now and after, the gain with its interval and the probability of a gain, the
    confirmation runs, and the state of the action proposed.

    Args:
        store: The factory store.
        product: Only this product (any of its ids, or its name).
        line: Only products made on this line (its id or name, ``LINE-2`` or ``line 2``).
        limit: Page size, 1 to 1000.
        offset: Proposals to skip.

    Returns:
        A page of proposals (largest probable gain first) with ``line`` and ``products`` when
        filtered by line.

    Raises:
        RecordNotFoundError: No such line, or no such product in the store.
    """
    _check_field_page(limit, offset)
    names = _product_names(store)
    found = _agent_findings(store, (RECIPE_CHANGE, CONFIRMATION_RUNS))
    recommendations = _recommendations_of(store, [row["external_id"] for row in found])
    items = [_proposal(row, recommendations.get(row["external_id"]), names) for row in found]
    extra: dict[str, Any] = {}
    if line is not None:
        line_id, made = _products_of_line(store, line)
        items = [i for i in items if set(i["product_ids"]) & set(made)]
        extra = {"line": line_id, "products": made}
    if product is not None:
        wanted = product.strip().lower()

        def flat(text: str) -> str:
            return " ".join(text.lower().split())

        wanted = flat(wanted)

        def named(item: dict[str, Any]) -> bool:
            known = [*item["product_ids"], *(names.get(i, "") for i in item["product_ids"])]
            return wanted in {flat(k) for k in known}

        known = {flat(k) for k in names} | {flat(v) for v in names.values()}
        if wanted not in known and not any(named(i) for i in items):
            raise RecordNotFoundError(f"no product {product!r} in the store")
        items = [i for i in items if named(i)]
    items.sort(key=lambda i: (i["decision"] != "change", -(i["gain_low"] or float("-inf"))))
    return {**_field_page(items[offset : offset + limit], len(items), limit, offset), **extra}
