"""What an agent reads of the process a unit went through: its order's and its own parameters.

A process parameter is what an operation records as its parameter (``operation_parameter``,
ISA-95's process segment parameters): the value as run, else the setpoint, per work order. Where
a quality result of a serial carries the parameter's name (a press-fit force measured at every
stroke), the unit has its own value, which stands for its order's. The quality agent learns
defects from them, the service agent screens the field's claims by them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from factorybrain.exceptions import StoreError
from factorybrain.store import Store

#: Columns of :func:`order_parameters` and :func:`unit_parameters`.
ORDER_COLUMNS = ["wo_space", "work_order", "parameter", "value", "unit"]
UNIT_COLUMNS = ["serial", "parameter", "value", "unit"]


def order_parameters(store: Store) -> pd.DataFrame:
    """Each work order's process parameters: one row per order and parameter (mean value)."""
    return _query(
        store,
        """
        SELECT o.space AS wo_space, o.work_order, p.parameter,
               avg(coalesce(p.actual, p.setpoint)) AS value, any_value(p.unit) AS unit
        FROM operation_parameter p
        JOIN operation o ON o.space = p.space AND o.external_id = p.operation
        WHERE p.parameter IS NOT NULL AND coalesce(p.actual, p.setpoint) IS NOT NULL
          AND o.work_order IS NOT NULL
        GROUP BY ALL
        """,
        ORDER_COLUMNS,
    )


def unit_parameters(store: Store, names: Iterable[str]) -> pd.DataFrame:
    """The parameters of ``names`` measured per serial: one row per serial and parameter."""
    wanted = sorted({str(name) for name in names})
    if not wanted:
        return pd.DataFrame(columns=UNIT_COLUMNS)
    return _query(
        store,
        "SELECT serial_unit AS serial, test_name AS parameter, avg(value) AS value, "
        "any_value(unit) AS unit FROM quality_result "
        "WHERE serial_unit IS NOT NULL AND value IS NOT NULL AND test_name IN (SELECT unnest(?)) "
        "GROUP BY ALL",
        UNIT_COLUMNS,
        [wanted],
    )


def _query(
    store: Store, sql: str, columns: list[str], parameters: list | None = None
) -> pd.DataFrame:
    try:
        frame = store.query(sql, parameters)
    except StoreError:  # a store without this entity table yet: nothing of that kind
        return pd.DataFrame(columns=columns)
    return frame if len(frame) else pd.DataFrame(columns=columns)


__all__ = ["ORDER_COLUMNS", "UNIT_COLUMNS", "order_parameters", "unit_parameters"]
