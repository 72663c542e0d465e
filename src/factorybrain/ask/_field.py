"""Field and process questions: what causes claims, which suppliers, B10 lives, setpoints.

The answers come from the shared queries of :mod:`factorybrain.insights`, so ``ask``, the REST
routes and the MCP tools never disagree.
"""

from __future__ import annotations

import re
from typing import Any

from factorybrain.ask._answer import Answer, finding_ref
from factorybrain.insights import (
    field_cohorts,
    field_reliability,
    lot_suppliers,
    process_proposals,
)
from factorybrain.store import Store


def cohort_causes(store: Store, failure_mode: str | None = None) -> Answer:
    """Which lots, machines or orders cause field claims (of one failure mode, e.g. leak)."""
    page = field_cohorts(store, failure_mode=failure_mode, limit=1000)
    found = page["items"]
    mode = f"{failure_mode} " if failure_mode else ""
    if not found:
        everything = field_cohorts(store, limit=1000)["items"]
        modes = sorted({i["failure_mode"] for i in everything if i["failure_mode"]})
        text = (
            f"No cohort stands out for {mode or 'any '}claims"
            + (f"; the clusters found are of {', '.join(modes)}" if modes else "")
            + (
                "."
                if everything
                else " (the service agent has reported no failure cluster: run it with "
                "'factorybrain agents run')."
            )
        )
        return Answer(failure_mode or "claims", text, "cohort_causes")
    # lots first when the question is about batches: they are what a quarantine acts on
    lots = [i for i in found if i["attribute"] in ("material_lot", "supplier_lot")]
    ranked = lots + [i for i in found if i not in lots]
    parts = [
        f"{i['attribute_label']} {i['label']}: {i['rate_ratio']:.1f} times the claim rate of "
        f"the rest ({i['rate_ratio_low']:.1f}-{i['rate_ratio_high']:.1f}), "
        f"{i['claims']:.0f} claims from {i['units']:.0f} units, q={i['q_value']:.1g}"
        + (f", {i['scope_serials']:.0f} serials still in the field" if i["scope_serials"] else "")
        for i in ranked[:5]
    ]
    text = (
        f"{mode.capitalize() or 'Field '}claims come above all from "
        + "; ".join(parts)
        + (f"; and {len(ranked) - 5} more cohort(s)" if len(ranked) > 5 else "")
        + "."
    )
    citations = [finding_ref(i["id"]) for i in ranked]
    citations += [dict(i["subject"]) for i in ranked]
    top = ranked[0]
    return Answer(
        failure_mode or "claims",
        text,
        "cohort_causes",
        citations,
        {
            "cohorts": float(len(ranked)),
            "rate_ratio": top["rate_ratio"] or 0.0,
            "claims": top["claims"] or 0.0,
        },
    )


def b_life(store: Store, product: str) -> Answer:
    """The B10 life of a product in the field (Weibull, censored), with its interval."""
    from rapidfuzz import fuzz, process

    from factorybrain.agents import RecordNotFoundError

    every = field_reliability(store)
    # a product is asked for by its id or by its name: each is a choice of its own (an id
    # buried in a long name would score low)
    products = [*every["items"], *every["not_fitted"]]
    choices = [(f["product"], f["product"]) for f in products]
    choices += [(f["name"], f["product"]) for f in products if f.get("name")]
    found = (
        process.extractOne(product, [text for text, _ in choices], scorer=fuzz.token_set_ratio)
        if choices
        else None
    )
    best = None if found is None else (found[0], found[1], choices[found[2]][1])
    if best is None or best[1] < 60:
        fitted = ", ".join(sorted(f["product"] for f in every["items"])) or "none yet"
        return Answer(
            product,
            f"I found no product matching {product!r} with a field-reliability fit; fitted: "
            f"{fitted}.",
            "b_life",
        )
    try:
        fit = field_reliability(store, best[2])
    except RecordNotFoundError as error:
        return Answer(product, str(error), "b_life")
    label = f"{fit['product']}" + (f" ({fit['name']})" if fit.get("name") else "")
    if not fit["fitted"]:
        return Answer(
            product,
            f"{label} has no field-reliability fit yet: {fit['why']}",
            "b_life",
            [{"type": "product", "external_id": fit["product"]}],
        )
    high = "unbounded" if fit["b10_high_days"] is None else f"{fit['b10_high_days']:.0f}"
    share = f"B{fit['b_life_share'] * 100:g}"
    level = f"{fit['interval']:.0%} interval " if fit["interval"] else "interval "
    text = (
        f"{label}: {share} life {fit['b10_days']:.0f} days in service ({level}"
        f"{fit['b10_low_days']:.0f}-{high}), Weibull shape {fit['weibull_shape']:.2f}, from "
        f"{fit['failures']:.0f} failures among {fit['units']:.0f} units in the field "
        f"({fit['censored_share']:.0%} still running)"
        + (
            f"; the oldest unit has {fit['max_age_days']:.0f} days, so it is extrapolated"
            if fit["extrapolated"]
            else ""
        )
        + "."
    )
    numbers = {
        k: float(fit[k])
        for k in ("b10_days", "b10_low_days", "b10_high_days", "weibull_shape", "units")
        if fit[k] is not None
    }
    return Answer(
        product,
        text,
        "b_life",
        [
            {"type": "product", "space": fit["space"], "external_id": fit["product"]},
            {"type": "finding", "external_id": fit["finding"]},
        ],
        numbers,
    )


def setpoints(store: Store, target: str = "", objective: str | None = None) -> Answer:
    """Which setpoints raise the yield or efficiency of a line or product, by how much."""
    from rapidfuzz import fuzz, process

    from factorybrain.agents import RecordNotFoundError

    line = re.search(r"\bline\s*-?\s*(\w+)", target, re.I)
    scope = "the plant"
    try:
        page = process_proposals(store, limit=1000, line=f"line {line.group(1)}" if line else None)
    except RecordNotFoundError as error:
        return Answer(target, f"{error}.", "setpoints")
    items = page["items"]
    if line:
        scope = f"{page['line']} (makes {', '.join(page['products']) or 'nothing recorded'})"
    elif target.strip():
        choices = {
            index: " ".join([*item["product_ids"], item["product_name"] or ""])
            for index, item in enumerate(items)
        }
        best = process.extractOne(target, choices, scorer=fuzz.token_set_ratio)
        if best is None or best[1] < 60:
            offered = ", ".join(sorted({i["product"] for i in items})) or "none"
            return Answer(
                target,
                f"The design agent proposes no setpoint change for {target.strip()!r}; it "
                f"proposes changes for: {offered}.",
                "setpoints",
            )
        chosen = items[best[2]]["product"]
        items = [i for i in items if i["product"] == chosen]
        scope = chosen
    if not items:
        return Answer(
            target,
            f"The design agent proposes no setpoint change for {scope}: either it has not run "
            "('factorybrain agents run'), or the history cannot tell a better recipe (see its "
            "design.data_gap findings).",
            "setpoints",
        )
    parts = []
    for item in items[:6]:
        moves = ", ".join(
            f"{s['parameter']} {s['current']:g} -> {s['proposed']:g}"
            for s in item["setpoints"]
            if s["changed"]
        )
        verb = "raises" if item["direction"] != "minimize" else "lowers"
        what = "change the recipe" if item["decision"] == "change" else "confirmation runs first"
        parts.append(
            f"{item['product']}: {moves} {verb} {item['objective'] or 'the outcome'} by "
            f"{item['gain']:.3g} ({item['gain_low']:.3g} to {item['gain_high']:.3g}; {what})"
        )
    named = {i["objective"] for i in items if i["objective"]}
    note = ""
    if objective and named and not any(objective.lower() in o.lower() for o in named):
        note = (
            f" The runs record no {objective}; the agent optimised "
            f"{', '.join(sorted(named))}, the outcome they do record."
        )
    text = f"For {scope}: " + "; ".join(parts) + "." + note
    citations = [{"type": "finding", "external_id": i["id"]} for i in items]
    citations += [
        {"type": "recommendation", "external_id": i["recommendation"]["id"]}
        for i in items
        if i["recommendation"]
    ]
    return Answer(
        target or "setpoints",
        text,
        "setpoints",
        citations,
        {"proposals": float(len(items)), "best_gain": float(items[0]["gain"] or 0.0)},
    )


def claim_suppliers(store: Store, about: str = "claims") -> Answer:
    """Which suppliers are behind field claims (or in-plant defects), through their lots.

    The lots that stand out (claim cohorts, root causes) are traced through the genealogy to
    their supplier lot and supplier.

    Args:
        store: The factory store.
        about: ``claims`` or ``defects``.
    """
    found = lot_suppliers(store, about="defects" if about == "defects" else "claims")
    measure = "claims" if about != "defects" else "defects"
    items = found["items"]
    what = "field claims" if measure == "claims" else "defects found in the plant"
    if not items:
        untraced = ", ".join(e["lot"] for e in found["untraced"])
        text = (
            f"No supplier stands out behind the {what}"
            + (
                f": the lots that do ({untraced}) name no supplier lot or supplier"
                if untraced
                else ""
            )
            + (
                f"; the {found['other_cohorts']} claim cohort(s) found are machines, orders or "
                "weeks, not lots (ask which lots or machines cause claims)"
                if found["other_cohorts"]
                else ""
            )
            + (
                "."
                if untraced or found["other_cohorts"]
                else " (the service and quality agents have reported no lot that stands out: "
                "run them with 'factorybrain agents run')."
            )
        )
        return Answer(about, text, "claim_suppliers", numbers={"suppliers": 0.0})
    parts = []
    citations: list[dict[str, Any]] = []
    numbers = {"suppliers": float(len(items))}
    for item in items:
        lots = []
        for lot in item["lots"]:
            figures = (
                f"{lot[measure]:.0f} {measure}" if lot[measure] is not None else "no count"
            ) + (
                f", {lot['rate_ratio']:.1f} times the rate of the rest" if lot["rate_ratio"] else ""
            )
            lots.append(
                f"lot {lot['lot']}"
                + (f" of {lot['material_name']}" if lot["material_name"] else "")
                + (
                    f" (supplier lot {lot['supplier_lot']})"
                    if lot["supplier_lot"] and lot["supplier_lot"] != lot["lot"]
                    else ""
                )
                + f": {figures}"
            )
            citations.append(
                {"type": lot["kind"], "space": lot["space"], "external_id": lot["lot"]}
            )
            if lot["supplier_lot"] and lot["kind"] == "material_lot":
                citations.append(
                    {
                        "type": "supplier_lot",
                        "space": lot["space"],
                        "external_id": lot["supplier_lot"],
                    }
                )
            citations += [finding_ref(f) for f in lot["findings"]]
        parts.append(f"{item['name'] or item['supplier']} ({item['supplier']}): " + "; ".join(lots))
        citations.insert(
            0, {"type": "supplier", "space": item["space"], "external_id": item["supplier"]}
        )
        numbers[f"{measure}:{item['supplier']}"] = float(item[measure])
    text = f"Suppliers behind the {what}: " + ". ".join(parts) + "."
    if found["other_cohorts"]:
        text += (
            f" {found['other_cohorts']} other claim cohort(s) are machines, orders or weeks, not "
            "suppliers (ask what causes the claims)."
        )
    return Answer(about, text, "claim_suppliers", citations, numbers)


__all__ = ["b_life", "claim_suppliers", "cohort_causes", "setpoints"]
