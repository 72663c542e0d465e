"""Field reliability: censored Weibull fits, B-lives, claim forecasts and cohort claim rates.

Units in the field that have not failed are censored, not good: every estimate here keeps them in
the likelihood or in the exposure::

    from factorybrain.engines.reliability import CohortScreen, WeibullModel, compare_rates

    model = WeibullModel().fit(days_in_service, failed)          # maximum likelihood, censored
    model.b_life(0.10), model.b_life_interval(0.10)              # B10 with its profile interval
    model.forecast(ages_of_survivors, horizon=90)                # claims expected in 90 days
    screen = CohortScreen().fit(days_in_service, failed, memberships, windows)
    screen.selected_                                             # cohorts that explain the claims

Fits use SciPy (``scipy.optimize``): ``reliability``, ``lifelines`` and ``surpyval`` all pin
pandas below 3.
"""

from __future__ import annotations

from factorybrain.engines.reliability._cohorts import CohortScreen, WindowBins
from factorybrain.engines.reliability._rates import (
    DAYS_PER_YEAR,
    RateComparison,
    compare_rates,
    cumulative_hazard,
    expected_claims,
    per_1000_unit_years,
)
from factorybrain.engines.reliability._weibull import WeibullModel

__all__ = [
    "DAYS_PER_YEAR",
    "CohortScreen",
    "RateComparison",
    "WeibullModel",
    "WindowBins",
    "compare_rates",
    "cumulative_hazard",
    "expected_claims",
    "per_1000_unit_years",
]
