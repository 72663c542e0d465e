"""Executors: the functions that apply an approved action to the plan and the orders.

An executor is ``executor(context, parameters) -> dict``: it writes to ``context.store`` and
returns what it changed, before and after, which becomes the action's ``result``. Executors run
inside the transaction that marks the action executed, so a failing step leaves nothing behind.

Executors never destroy history: a ``*.create`` of an identity that exists is refused (it would
overwrite an order someone else placed); a change that finds the record no longer as the
proposal expected (``expect``) is refused; and an executed action is undone only by a new
action that a person approves (:func:`compensation_steps` builds its steps from the result).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from factorybrain.agents.core._agent import AgentContext
from factorybrain.agents.core._contract import utc
from factorybrain.agents.core._records import _clean, _table
from factorybrain.exceptions import ParameterError

Executor = Callable[[AgentContext, Mapping[str, Any]], dict[str, Any]]


def required_parameter(parameters: Mapping[str, Any], name: str, action_type: str) -> Any:
    """``parameters[name]``; an executor's clear error when it is missing or empty."""
    value = parameters.get(name)
    if value is None or value == "":
        raise ParameterError(
            f"{action_type}: parameter {name!r} is required; got parameters {sorted(parameters)}"
        )
    return value


def find_record(
    context: AgentContext, entity: str, external_id: str, space: str | None
) -> dict[str, Any] | None:
    """The one row of ``entity`` with this id (in ``space`` when given) as plain values, or None.

    Raises:
        ParameterError: Without ``space``, the id exists in several spaces.
    """
    where: dict[str, Any] = {"external_id": external_id}
    if space:
        where["space"] = space
    frame = context.store.entities(entity, where=where, limit=2)
    if len(frame) > 1:
        raise ParameterError(
            f"{entity} {external_id!r} exists in several spaces "
            f"({sorted(frame['space'])}); give its 'space'"
        )
    if frame.empty:
        return None
    return {k: _clean(v) for k, v in frame.iloc[0].to_dict().items()}


def _write(context: AgentContext, entity: str, row: Mapping[str, Any]) -> None:
    context.store.upsert_entities(
        entity, _table(entity, [row]), f"action:{context.action_id or 'direct'}"
    )


def _when(value: Any, name: str, action_type: str) -> Any:
    try:
        return utc(value)
    except (TypeError, ValueError) as error:
        raise ParameterError(
            f"{action_type}: parameter {name!r} must be an ISO timestamp, got {value!r}"
        ) from error


def _check_expected(
    row: Mapping[str, Any], expect: Mapping[str, Any] | None, what: str, kind: str
) -> None:
    """Refuse when the record no longer holds what the proposal was made against."""
    for name, value in (expect or {}).items():
        found = _iso(row.get(name))
        wanted = _iso(_when(value, name, kind)) if name.endswith(("_start", "_end")) else value
        if found != wanted:
            raise ParameterError(
                f"{kind}: {what} changed since this was proposed: {name} is {found!r}, the "
                f"proposal expected {wanted!r}; propose again from what it holds now"
            )


def reschedule_work_orders(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Move work orders: ``{"orders": [{external_id, space?, planned_start, planned_end}]}``.

    An order may carry ``expect`` (``{planned_start, planned_end}``): the move is refused when
    the order no longer has those dates (someone moved it since).
    """
    kind = "work_order.reschedule"
    orders = required_parameter(parameters, "orders", kind)
    changes = []
    for order in orders:
        external_id = required_parameter(order, "external_id", kind)
        row = find_record(context, "work_order", external_id, order.get("space"))
        if row is None:
            raise ParameterError(f"{kind}: no work order {external_id!r} in the store")
        _check_expected(row, order.get("expect"), f"work order {external_id!r}", kind)
        after = {
            "planned_start": _when(order.get("planned_start"), "planned_start", kind),
            "planned_end": _when(order.get("planned_end"), "planned_end", kind),
        }
        after = {k: v for k, v in after.items() if v is not None}
        _write(context, "work_order", {"space": row["space"], "external_id": external_id, **after})
        changes.append(
            {
                "space": row["space"],
                "external_id": external_id,
                "before": {k: _iso(row.get(k)) for k in after},
                "after": {k: _iso(v) for k, v in after.items()},
            }
        )
    return {"work_order": changes}


def _iso(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _refuse_existing(context: AgentContext, entity: str, row: Mapping[str, Any], kind: str) -> None:
    existing = find_record(context, entity, row["external_id"], row["space"])
    if existing is not None:
        shown = {k: _iso(existing.get(k)) for k in ("status", "asset", "material", "quantity")}
        shown = {k: v for k, v in shown.items() if v is not None}
        raise ParameterError(
            f"{kind}: {entity} {row['external_id']!r} already exists in space {row['space']!r} "
            f"({shown}); a create never changes an existing record: choose a new external_id"
        )


def create_maintenance_order(
    context: AgentContext, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Create a planned maintenance order on an asset; an existing order is never overwritten.

    Parameters: ``space``, ``external_id``, ``asset``, ``planned_start``, ``planned_end``, and
    optionally ``order_type`` (default ``predictive``), ``priority``, ``failure_mode``, ``notes``.
    """
    kind = "maintenance_order.create"
    row = {
        "space": required_parameter(parameters, "space", kind),
        "external_id": required_parameter(parameters, "external_id", kind),
        "asset": required_parameter(parameters, "asset", kind),
        "order_type": parameters.get("order_type", "predictive"),
        "status": "planned",
        "priority": parameters.get("priority"),
        "failure_mode": parameters.get("failure_mode"),
        "planned_start": _when(parameters.get("planned_start"), "planned_start", kind),
        "planned_end": _when(parameters.get("planned_end"), "planned_end", kind),
        "notes": parameters.get("notes"),
    }
    row = {k: v for k, v in row.items() if v is not None}
    _refuse_existing(context, "maintenance_order", row, kind)
    _write(context, "maintenance_order", row)
    return {"maintenance_order": [_created(row)]}


def _created(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "space": row["space"],
        "external_id": row["external_id"],
        "created": True,
        "before": None,
        "after": {k: _iso(v) for k, v in row.items()},
    }


def create_purchase_order(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Place an open purchase order.

    Parameters: ``space``, ``external_id``, ``material``, ``quantity`` (> 0), and optionally
    ``supplier`` and ``due_at``.
    """
    kind = "purchase_order.create"
    quantity = float(required_parameter(parameters, "quantity", kind))
    if quantity <= 0:
        raise ParameterError(f"{kind}: quantity must be > 0, got {quantity}")
    row = {
        "space": required_parameter(parameters, "space", kind),
        "external_id": required_parameter(parameters, "external_id", kind),
        "material": required_parameter(parameters, "material", kind),
        "supplier": parameters.get("supplier"),
        "quantity": quantity,
        "ordered_at": context.now(),
        "due_at": _when(parameters.get("due_at"), "due_at", kind),
        "status": "open",
    }
    row = {k: v for k, v in row.items() if v is not None}
    _refuse_existing(context, "purchase_order", row, kind)
    _write(context, "purchase_order", row)
    return {"purchase_order": [_created(row)]}


def _cancel(
    context: AgentContext, parameters: Mapping[str, Any], entity: str, open_states: tuple[str, ...]
) -> dict[str, Any]:
    kind = f"{entity}.cancel"
    external_id = required_parameter(parameters, "external_id", kind)
    row = find_record(context, entity, external_id, parameters.get("space"))
    if row is None:
        raise ParameterError(f"{kind}: no {entity} {external_id!r} in the store")
    _check_expected(row, parameters.get("expect"), f"{entity} {external_id!r}", kind)
    if row.get("status") not in open_states:
        raise ParameterError(
            f"{kind}: {entity} {external_id!r} is {row.get('status')!r}; only an order that is "
            f"{' or '.join(open_states)} can be cancelled"
        )
    cancelled = {"space": row["space"], "external_id": external_id, "status": "cancelled"}
    _write(context, entity, cancelled)
    return {
        entity: [
            {
                "space": row["space"],
                "external_id": external_id,
                "before": {"status": row.get("status")},
                "after": {"status": "cancelled"},
            }
        ]
    }


def cancel_maintenance_order(
    context: AgentContext, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Cancel a maintenance order that has not started: ``space``, ``external_id``, ``expect``."""
    return _cancel(context, parameters, "maintenance_order", ("proposed", "planned", "released"))


def cancel_purchase_order(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Cancel an open purchase order: ``space``, ``external_id``, ``expect``."""
    return _cancel(context, parameters, "purchase_order", ("open", "confirmed"))


def notify(context: AgentContext, parameters: Mapping[str, Any]) -> dict[str, Any]:
    """Record a notification (changes nothing in the plan): ``to`` and ``message``."""
    return {"notified": list(parameters.get("to") or []), "message": parameters.get("message")}


def compensation_steps(action_type: str, changed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The steps that undo one executed step, from what it changed (its ``result``).

    Each step expects the record to be as the executed step left it, so undoing refuses to
    overwrite a later change.

    Returns:
        ``[{"action_type", "parameters"}, ...]``, in the order to run them.

    Raises:
        ParameterError: When the step cannot be undone (a notification was sent).
    """
    if action_type == "work_order.reschedule":
        orders = [
            {
                "space": change.get("space"),
                "external_id": change["external_id"],
                **change["before"],
                "expect": change["after"],
            }
            for change in changed.get("work_order", [])
        ]
        return [{"action_type": action_type, "parameters": {"orders": orders}}]
    creates = {"maintenance_order.create": "planned", "purchase_order.create": "open"}
    if action_type in creates:
        entity = action_type.split(".")[0]
        return [
            {
                "action_type": f"{entity}.cancel",
                "parameters": {
                    "space": change["space"],
                    "external_id": change["external_id"],
                    "expect": {"status": creates[action_type]},
                },
            }
            for change in changed.get(entity, [])
        ]
    raise ParameterError(
        f"an executed {action_type!r} cannot be undone by factorybrain"
        + (": a notification cannot be unsent" if action_type == "notify" else "")
        + "; propose the change that repairs it as a new action"
    )


class Executors:
    """The registry ``action_type -> executor``.

    Args:
        executors: Initial entries; :func:`default_executors` gives the built-in ones.
    """

    def __init__(self, executors: Mapping[str, Executor] | None = None) -> None:
        self._executors: dict[str, Executor] = dict(executors or {})

    def register(self, action_type: str, executor: Executor) -> None:
        """Add or replace the executor of ``action_type``."""
        self._executors[action_type] = executor

    def get(self, action_type: str) -> Executor:
        """Return the executor of ``action_type``.

        Raises:
            ParameterError: Naming the action type and the known ones.
        """
        try:
            return self._executors[action_type]
        except KeyError:
            raise ParameterError(
                f"no executor for action type {action_type!r}; known: {sorted(self._executors)}"
            ) from None

    def __contains__(self, action_type: object) -> bool:
        return action_type in self._executors

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._executors))


#: Executors other packages registered (see :func:`register_executor`).
_REGISTERED: dict[str, Executor] = {}


def register_executor(action_type: str, executor: Executor) -> None:
    """Make an executor part of :func:`default_executors` in this process.

    The real agents register theirs (e.g. ``schedule.apply``) when imported, so the CLI, the
    REST API and the MCP server can execute what those agents propose. Give the action type a
    policy with :func:`factorybrain.agents.register_policy`, or it needs an admin.
    """
    _REGISTERED[action_type] = executor


def default_executors() -> Executors:
    """The shipped executors (maintenance orders, rescheduling, purchases) plus registered ones."""
    return Executors(
        {
            "maintenance_order.create": create_maintenance_order,
            "maintenance_order.cancel": cancel_maintenance_order,
            "work_order.reschedule": reschedule_work_orders,
            "purchase_order.create": create_purchase_order,
            "purchase_order.cancel": cancel_purchase_order,
            "notify": notify,
            **_REGISTERED,
        }
    )
