"""What an approved design recommendation does to the factory model, and who approves it.

* ``recipe.revise`` records a **new recipe revision** (and, where the product's design
  revisions are kept in the store, a new ``design_revision``) with the new setpoints and its
  effective date, so planning plans with it from that date on. The revision it replaces stays as
  it was: history is never overwritten. It is refused when the recipe changed since the proposal
  (its version or setpoints are no longer those the engineer saw, or a newer revision exists),
  when the new revision's identity exists already, or when a setpoint leaves its specification
  limits. An effective date already past when it executes becomes the moment of execution (a
  revision never claims to have applied to runs made before it).
* ``experiment.plan`` records the **confirmation runs** as a ``document`` of the product (its
  table of setpoints and what each run is expected to give), for the engineer to schedule.

Both return what they changed, before and after, which becomes the action's result. Undoing
either is a new proposal (a revision back to the old setpoints), approved like any other.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pyarrow as pa

from factorybrain.agents.core import (
    AgentContext,
    Policy,
    find_record,
    required_parameter,
    utc,
)
from factorybrain.exceptions import ParameterError
from factorybrain.model import entity_type

#: Action type of a recipe revision.
REVISE_RECIPE = "recipe.revise"
#: Action type of a plan of confirmation runs.
PLAN_EXPERIMENT = "experiment.plan"
#: ``source`` of the records the executors write.
SOURCE = "factorybrain.design"
#: Recipe fields a new revision copies from the one it replaces.
COPIED_FIELDS = (
    "name",
    "product",
    "operation_type",
    "sequence",
    "workcell",
    "ideal_cycle_seconds",
    "setup_seconds",
)

_ARROW = {
    "string": pa.string(),
    "text": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us"),
    "json": pa.string(),
    "string[]": pa.list_(pa.string()),
}

#: Who approves what the design agent proposes: a process engineer, never automatically.
POLICIES: tuple[Policy, ...] = (
    Policy(
        REVISE_RECIPE,
        "engineer",
        description="Records a new recipe revision: production runs on new setpoints from "
        "its effective date.",
    ),
    Policy(
        PLAN_EXPERIMENT,
        "engineer",
        description="Records a plan of a few confirmation runs for the engineer to schedule.",
    ),
)


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _write(context: AgentContext, entity: str, row: Mapping[str, Any]) -> None:
    """Write one entity row, typed after the model (JSON fields as text)."""
    model = entity_type(entity)
    columns = {}
    for name, value in row.items():
        kind = model.field(name).type
        if kind == "json" and value is not None:
            value = json.dumps(value, sort_keys=True, default=str, allow_nan=False)
        columns[name] = pa.array([value], _ARROW[kind])
    context.store.upsert_entities(
        entity, pa.table(columns), f"action:{context.action_id or 'direct'}"
    )


def _refuse_existing(context: AgentContext, entity: str, space: str, external_id: str) -> None:
    if find_record(context, entity, external_id, space) is not None:
        raise ParameterError(
            f"{REVISE_RECIPE}: {entity} {external_id!r} already exists in space {space!r}; a "
            "revision never overwrites a record: propose again for a new revision"
        )


def _setpoint(spec: Any) -> float | None:
    if isinstance(spec, Mapping):
        spec = spec.get("setpoint")
    try:
        return float(spec)
    except (TypeError, ValueError):
        return None


def _json_object(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        value = json.loads(value)
    return dict(value) if isinstance(value, Mapping) else {}


def _effective(context: AgentContext, value: Any) -> datetime:
    now = context.now()
    if value is None or value == "":
        return now
    try:
        when = utc(value)
    except (TypeError, ValueError) as error:
        raise ParameterError(
            f"{REVISE_RECIPE}: parameter 'effective_from' must be an ISO timestamp, got {value!r}"
        ) from error
    assert when is not None
    return max(when, now)


def _check_base(
    context: AgentContext, base: Mapping[str, Any], expect: Mapping[str, Any]
) -> dict[str, Any]:
    """The base recipe's specifications, refusing when it changed since the proposal."""
    what = f"recipe {base['external_id']!r}"
    if "version" in expect and base.get("version") != expect["version"]:
        raise ParameterError(
            f"{REVISE_RECIPE}: {what} changed since this was proposed: version is "
            f"{base.get('version')!r}, the proposal expected {expect['version']!r}; propose "
            "again from what it holds now"
        )
    spec = _json_object(base.get("parameters"))
    for name, value in (expect.get("setpoints") or {}).items():
        found = _setpoint(spec.get(name))
        if found is None or not math.isclose(found, float(value), rel_tol=1e-9, abs_tol=1e-9):
            raise ParameterError(
                f"{REVISE_RECIPE}: {what} changed since this was proposed: setpoint of {name!r} "
                f"is {found!r}, the proposal expected {value!r}; propose again from what it "
                "holds now"
            )
    if base.get("valid_from") is None or base.get("product") is None:
        return spec
    newer = context.store.query(
        "SELECT external_id, version FROM recipe WHERE space = ? AND product = ? "
        "AND parameters IS NOT NULL AND external_id <> ? AND valid_from > ?",
        [base["space"], base["product"], base["external_id"], base["valid_from"]],
    )
    if not newer.empty:
        later = ", ".join(f"{r.external_id} ({r.version})" for r in newer.itertuples())
        raise ParameterError(
            f"{REVISE_RECIPE}: {what} is no longer the latest revision: {later} came after it; "
            "propose again from the revision in force"
        )
    return spec


def revise_recipe(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Record a new recipe revision with new setpoints; the revision it replaces stays.

    Parameters: ``space``, ``product``, ``external_id`` and ``revision`` of the new revision,
    ``setpoints`` (``{parameter: value}``), and optionally ``recipe`` (the revision replaced:
    its specification limits and other parameters carry over), ``expect`` (``{version,
    setpoints}`` of that revision as the proposal saw it), ``effective_from`` (ISO; default and
    floor: the moment of execution), ``change_reason`` and ``design_revision`` (``{space,
    external_id, product}`` of a design revision to record with it).
    """
    kind = REVISE_RECIPE
    space = str(required_parameter(parameters, "space", kind))
    product = str(required_parameter(parameters, "product", kind))
    external_id = str(required_parameter(parameters, "external_id", kind))
    revision = str(required_parameter(parameters, "revision", kind))
    setpoints = required_parameter(parameters, "setpoints", kind)
    if not isinstance(setpoints, Mapping) or not setpoints:
        raise ParameterError(
            f"{kind}: 'setpoints' must map parameter names to numbers; got {setpoints!r}"
        )
    values: dict[str, float] = {}
    for name, value in setpoints.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = math.nan
        if not math.isfinite(number):
            raise ParameterError(f"{kind}: setpoint of {name!r} must be a number, got {value!r}")
        values[str(name)] = number
    base_id = parameters.get("recipe")
    base = None
    spec: dict[str, Any] = {}
    if base_id:
        base = find_record(context, "recipe", str(base_id), space)
        if base is None:
            raise ParameterError(f"{kind}: no recipe {base_id!r} in space {space!r}")
        spec = _check_base(context, base, parameters.get("expect") or {})
    _refuse_existing(context, "recipe", space, external_id)
    new_spec = {name: (dict(v) if isinstance(v, Mapping) else v) for name, v in spec.items()}
    for name, value in values.items():
        entry = new_spec.get(name)
        entry = dict(entry) if isinstance(entry, Mapping) else {}
        low, high = entry.get("min"), entry.get("max")
        if (low is not None and value < float(low)) or (high is not None and value > float(high)):
            raise ParameterError(
                f"{kind}: setpoint {value!r} of {name!r} leaves its specification "
                f"[{low}, {high}] of recipe {base_id!r}"
            )
        entry["setpoint"] = value
        new_spec[name] = entry
    effective = _effective(context, parameters.get("effective_from"))
    reason = parameters.get("change_reason")
    row: dict[str, Any] = {
        **{k: base[k] for k in COPIED_FIELDS if base is not None and base.get(k) is not None},
        "space": space,
        "external_id": external_id,
        "product": base.get("product") if base is not None else product,
        "version": revision,
        "valid_from": effective,
        "parameters": new_spec,
        "description": reason,
        "source": SOURCE,
    }
    row = {k: v for k, v in row.items() if v is not None}
    _write(context, "recipe", row)
    before = None
    if base is not None:
        before = {
            "recipe": base["external_id"],
            "version": base.get("version"),
            "valid_from": _iso(base.get("valid_from")),
            "setpoints": {name: _setpoint(spec.get(name)) for name in values},
        }
    changes: dict[str, Any] = {
        "recipe": [
            {
                "space": space,
                "external_id": external_id,
                "created": True,
                "before": before,
                "after": {
                    "version": revision,
                    "valid_from": effective.isoformat(),
                    "setpoints": values,
                },
            }
        ]
    }
    design = parameters.get("design_revision")
    if isinstance(design, Mapping) and design.get("external_id"):
        design_space = str(design.get("space") or space)
        design_id = str(design["external_id"])
        if find_record(context, "design_revision", design_id, design_space) is not None:
            raise ParameterError(
                f"{kind}: design_revision {design_id!r} already exists in space "
                f"{design_space!r}; a revision never overwrites a record: propose again"
            )
        design_row = {
            "space": design_space,
            "external_id": design_id,
            "product": str(design.get("product") or product),
            "revision": revision,
            "effective_from": effective,
            "change_reason": reason,
            "status": "released",
            "source": SOURCE,
        }
        design_row = {k: v for k, v in design_row.items() if v is not None}
        _write(context, "design_revision", design_row)
        changes["design_revision"] = [
            {
                "space": design_space,
                "external_id": design_id,
                "created": True,
                "before": None,
                "after": {k: _iso(v) for k, v in design_row.items()},
            }
        ]
    return changes


def plan_experiment(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Record a plan of confirmation runs as a document of the product.

    Parameters: ``space``, ``external_id`` (of the document), ``product``, ``runs`` (a list of
    ``{setpoints, role, expected}``), and optionally ``title``, ``objective`` and ``recipe``.
    An existing document of that identity is never overwritten.
    """
    kind = PLAN_EXPERIMENT
    space = str(required_parameter(parameters, "space", kind))
    external_id = str(required_parameter(parameters, "external_id", kind))
    product = str(required_parameter(parameters, "product", kind))
    runs = required_parameter(parameters, "runs", kind)
    if not isinstance(runs, list) or not all(
        isinstance(r, Mapping) and isinstance(r.get("setpoints"), Mapping) for r in runs
    ):
        raise ParameterError(
            f"{kind}: 'runs' must be a list of {{setpoints, role, expected}}; got {runs!r}"
        )
    if find_record(context, "document", external_id, space) is not None:
        raise ParameterError(
            f"{kind}: document {external_id!r} already exists in space {space!r}; a plan never "
            "overwrites a record"
        )
    objective = parameters.get("objective") or "the outcome"
    names = sorted({name for run in runs for name in run["setpoints"]})
    lines = [
        f"Confirmation runs for {product}"
        + (f" (recipe {parameters['recipe']})" if parameters.get("recipe") else "")
        + f": run each, then record {objective} per run.",
        "",
        " | ".join(["run", "role", *names, f"expected {objective}"]),
    ]
    for number, run in enumerate(runs, start=1):
        expected = run.get("expected")
        lines.append(
            " | ".join(
                [
                    str(number),
                    str(run.get("role", "")),
                    *[
                        f"{float(run['setpoints'][n]):g}" if n in run["setpoints"] else ""
                        for n in names
                    ],
                    "" if expected is None else f"{float(expected):.4g}",
                ]
            )
        )
    row = {
        "space": space,
        "external_id": external_id,
        "name": parameters.get("title") or f"Confirmation runs for {product}",
        "title": parameters.get("title") or f"Confirmation runs for {product}",
        "document_type": "other",
        "content": "\n".join(lines),
        "products": [product],
        "source": SOURCE,
    }
    _write(context, "document", row)
    return {
        "document": [
            {
                "space": space,
                "external_id": external_id,
                "created": True,
                "before": None,
                "after": {"title": row["title"], "runs": len(runs), "products": [product]},
            }
        ]
    }


#: The executors the design agent's plugin brings.
EXECUTORS = {REVISE_RECIPE: revise_recipe, PLAN_EXPERIMENT: plan_experiment}

__all__ = [
    "EXECUTORS",
    "PLAN_EXPERIMENT",
    "POLICIES",
    "REVISE_RECIPE",
    "SOURCE",
    "plan_experiment",
    "revise_recipe",
]
