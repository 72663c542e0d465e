"""Statistical process control: control charts, the Nelson rules and process capability.

Charts follow the engine contract (``fit`` on a baseline, ``check`` a series)::

    from factorybrain.engines.spc import IndividualsChart, capability, nelson_rules

    chart = IndividualsChart().fit(baseline)            # center_, sigma_ (moving range / d2)
    check = chart.check(series)                         # check.violations: Nelson rules, by point
    capability(series, lower_spec=9.0, upper_spec=11.0) # Cp, Cpk, Pp, Ppk with intervals

:class:`XbarRChart` takes subgroups, :class:`EWMAChart` and :class:`CUSUMChart` see small
lasting shifts, :class:`ProcessMonitor` runs I-MR, EWMA and CUSUM on one baseline. Pure NumPy
and SciPy.
"""

from __future__ import annotations

from factorybrain.engines.spc._capability import Capability, capability
from factorybrain.engines.spc._charts import (
    ChartCheck,
    CUSUMChart,
    EWMAChart,
    IndividualsChart,
    XbarRChart,
    moving_range_sigma,
)
from factorybrain.engines.spc._constants import a2, d2, d3, d3_lower, d4_upper
from factorybrain.engines.spc._monitor import MonitorCheck, ProcessMonitor
from factorybrain.engines.spc._rules import (
    NELSON,
    RULE_NAMES,
    WESTERN_ELECTRIC,
    RuleViolation,
    nelson_rules,
)

__all__ = [
    "CUSUMChart",
    "Capability",
    "ChartCheck",
    "EWMAChart",
    "IndividualsChart",
    "MonitorCheck",
    "NELSON",
    "ProcessMonitor",
    "RULE_NAMES",
    "RuleViolation",
    "WESTERN_ELECTRIC",
    "XbarRChart",
    "a2",
    "capability",
    "d2",
    "d3",
    "d3_lower",
    "d4_upper",
    "moving_range_sigma",
    "nelson_rules",
]
