"""Root cause of defects: a LightGBM model on genealogy, TreeSHAP, then a test per suspect.

:func:`find_causes` learns defective-or-not from the unit table of :func:`~._data.load_genealogy`
with :class:`~factorybrain.engines.quality.DefectClassifier` and reads each unit's per-feature
TreeSHAP contributions (``pred_contrib``). A **suspect** is a lot or machine (an indicator
feature), a machine while its health was poor (the health features of the routing step it ran,
where they push towards defects), or a process parameter in the range where it pushes towards
defects. For each suspect: the defect rate of its units against the others (rate ratio with a
95 % interval, one-sided Fisher exact test, Benjamini-Hochberg across every suspect), the mean
contribution (log-odds) on its units, and the excess defects it explains. Suspects that explain
the same units as a stronger one (lots consumed by the same orders) are listed under it as
aliases, not reported twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.model_selection import StratifiedKFold

from factorybrain.agents.quality._data import Genealogy, sampled_units
from factorybrain.engines.quality import DefectClassifier
from factorybrain.exceptions import EngineError


@dataclass
class Cause:
    """One suspect that explains defects.

    Attributes:
        kind: ``lot``, ``machine``, ``health`` (a machine while degrading) or ``parameter``.
        entity_type, space, external_id: The entity it names (``parameter`` for a parameter).
        label: For people.
        units: Units with it; ``defects``: of them defective.
        rate, baseline_rate: Defect rate with it and without it.
        rate_ratio, rate_ratio_low, rate_ratio_high: Ratio and 95 % interval.
        p_value, q_value: One-sided Fisher exact test; after Benjamini-Hochberg.
        contribution: Mean TreeSHAP contribution (log-odds) on its units.
        excess_defects: ``units * (rate - baseline_rate)``.
        detail: What delimits it (a value range, the routing step), in words.
        chosen_because: Why it is named rather than a suspect explaining the same units.
        members: Positions (in the unit table) of its units.
        aliases: Labels of suspects explaining the same units, weaker.
        alias_causes: Those suspects themselves, in the same order.
    """

    kind: str
    entity_type: str
    space: str | None
    external_id: str
    label: str
    units: int
    defects: int
    rate: float
    baseline_rate: float
    rate_ratio: float
    rate_ratio_low: float
    rate_ratio_high: float
    p_value: float
    contribution: float
    excess_defects: float
    detail: str = ""
    chosen_because: str = ""
    q_value: float = 1.0
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    aliases: list[str] = field(default_factory=list)
    alias_causes: list[Cause] = field(default_factory=list)

    def names(self, external_id: str) -> bool:
        """Whether this suspect, or one explaining the same units, is ``external_id``."""
        return external_id == self.external_id or any(
            external_id == alias.external_id for alias in self.alias_causes
        )

    def in_favour_of(self, alias: Cause, reason: str) -> Cause:
        """``alias`` named instead of this suspect (they explain the same units), and why.

        A new suspect: the alias's own figures, this one and the other aliases listed beside
        it. Neither is changed, so the same learned suspects serve every question.
        """
        others = [self, *(a for a in self.alias_causes if a is not alias)]
        return replace(
            alias,
            aliases=[o.label for o in others],
            alias_causes=others,
            chosen_because=reason,
        )

    def numbers(self) -> dict[str, float]:
        """The figures a finding carries."""
        return {
            "units": float(self.units),
            "defects": float(self.defects),
            "defect_rate": self.rate,
            "baseline_defect_rate": self.baseline_rate,
            "rate_ratio": self.rate_ratio,
            "rate_ratio_low": self.rate_ratio_low,
            "rate_ratio_high": self.rate_ratio_high,
            "p_value": self.p_value,
            "q_value": self.q_value,
            "shap_log_odds": self.contribution,
            "excess_defects": self.excess_defects,
        }


def _rate_test(
    flag: np.ndarray, defective: np.ndarray
) -> tuple[int, int, float, float, float, float, float, float]:
    a = int((flag & defective).sum())
    n1 = int(flag.sum())
    c = int((~flag & defective).sum())
    n0 = int((~flag).sum())
    rate = a / n1 if n1 else 0.0
    base = c / n0 if n0 else 0.0
    # Katz log interval with a half-count correction when a cell is empty
    a_, c_ = (a + 0.5, c + 0.5) if a == 0 or c == 0 else (a, c)
    n1_, n0_ = (n1 + 0.5, n0 + 0.5) if a == 0 or c == 0 else (n1, n0)
    ratio = (a_ / n1_) / (c_ / n0_) if n0_ and c_ else math.inf
    spread = math.sqrt(max(1 / a_ - 1 / n1_ + 1 / c_ - 1 / n0_, 0.0)) if a_ and c_ else math.inf
    low, high = ratio * math.exp(-1.96 * spread), ratio * math.exp(1.96 * spread)
    table = [[a, n1 - a], [c, n0 - c]]
    p_value = float(stats.fisher_exact(table, alternative="greater")[1]) if n1 and n0 else 1.0
    return n1, a, rate, base, float(ratio), float(low), float(high), p_value


def _benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    if p_values.size == 0:
        return p_values
    order = np.argsort(p_values)
    ranked = p_values[order] * p_values.size / np.arange(1, p_values.size + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty_like(adjusted)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def find_causes(
    genealogy: Genealogy,
    *,
    fdr: float = 0.05,
    min_rate_ratio: float = 1.5,
    min_units: int = 5,
    max_units: int = 60_000,
    random_state: int = 0,
) -> tuple[list[Cause], DefectClassifier]:
    """Fit the defect model on the unit table and return the suspects that explain defects.

    Args:
        genealogy: The unit table.
        fdr: False discovery rate across every suspect.
        min_rate_ratio: Least rate ratio of a reported suspect.
        min_units: Units a suspect needs.
        max_units: Good units kept at most, and defective ones (random samples, see
            :func:`~._data.sampled_units`).
        random_state: Seed of the sample and the model.

    Returns:
        The causes, strongest (most excess defects) first, and the fitted model.

    Raises:
        EngineError: Too few defective or good units, or no usable feature.
    """
    units = genealogy.units
    defective_all = units["defective"].to_numpy(dtype=bool)
    numeric = genealogy.features.drop(columns=list(genealogy.machine_columns), errors="ignore")
    rows = sampled_units(defective_all, max_units, random_state)
    x = numeric if len(rows) == len(numeric) else numeric.iloc[rows]  # no copy of a sample
    defective = defective_all[rows]
    # cross-fitted: each unit's contributions come from a model that did not learn from it, so
    # a region of a parameter is not drawn around the noise the model memorised
    folds = StratifiedKFold(3, shuffle=True, random_state=random_state)
    contributions = np.zeros((len(rows), x.shape[1] + 1))
    model = DefectClassifier()
    for fold, (train, test) in enumerate(folds.split(x, defective)):
        model = DefectClassifier(
            n_models=3, n_estimators=150, threshold=0.5, max_missing=1.0, colsample=0.8,
            random_state=random_state + fold,
        ).fit(x.iloc[train], defective[train])  # fmt: skip
        part = model.contributions(x.iloc[test])
        columns = [x.columns.get_loc(name) for name in model.feature_names_]
        contributions[np.ix_(test, columns)] = part[:, :-1]
        contributions[test, -1] = part[:, -1]
    feature_names = [str(c) for c in x.columns]
    used = {name: j for j, name in enumerate(feature_names)}
    causes: list[Cause] = []

    def add(kind: str, ref: tuple[str, str | None, str, str], flag: np.ndarray, shap: float,
            detail: str = "") -> None:  # fmt: skip
        if flag.sum() < min_units or (~flag).sum() < min_units:
            return
        n1, a, rate, base, ratio, low, high, p = _rate_test(flag, defective)
        causes.append(
            Cause(
                kind,
                ref[0],
                ref[1],
                ref[2],
                ref[3],
                n1,
                a,
                rate,
                base,
                ratio,
                low,
                high,
                p,
                shap,
                n1 * (rate - base),
                detail,
                members=rows[flag],
            )  # fmt: skip
        )

    for name, (kind, entity_type, space, external_id, label) in genealogy.names.items():
        if name not in used:
            continue
        values = x[name].to_numpy(dtype=float)
        share = contributions[:, used[name]]
        if kind in ("lot", "machine"):
            flag = values > 0.5
            add(kind, (entity_type, space, external_id, label), flag, float(share[flag].mean())
                if flag.any() else 0.0)  # fmt: skip
        elif kind == "parameter" or kind == "time":
            flag = np.isfinite(values) & (share > 0)
            if flag.any():
                low, high = float(values[flag].min()), float(values[flag].max())
                detail = f"{label} between {low:.4g} and {high:.4g}"
                add(kind, (entity_type, space, external_id, label), flag,
                    float(share[flag].mean()), detail)  # fmt: skip
    # a machine while its health was poor: its units at a step where the step's health
    # features push towards defects
    for step_column, step in genealogy.machine_columns.items():
        machines = genealogy.features[step_column].to_numpy(dtype=object)[rows]
        health = [c for c in (f"health_since_maintenance_h@{step}",
                              f"health_days_to_breakdown@{step}") if c in used]  # fmt: skip
        if not health:
            continue
        push = contributions[:, [used[c] for c in health]].sum(axis=1)
        for asset in pd.unique(machines[pd.notna(machines)]):
            flag = (machines == asset) & (push > 0)
            if flag.any():
                add("health", ("asset", None, str(asset), f"{asset} while degrading"), flag,
                    float(push[flag].mean()), f"routing step {step}")  # fmt: skip
    if not causes:
        return [], model
    q_values = _benjamini_hochberg(np.array([c.p_value for c in causes]))
    for cause, q in zip(causes, q_values, strict=True):
        cause.q_value = float(q)
    kept = [
        c
        for c in causes
        if c.q_value <= fdr and c.rate_ratio >= min_rate_ratio and c.contribution > 0
    ]
    kept.sort(key=lambda c: (-c.contribution * c.units, -c.excess_defects))
    # lots and machines first: concrete, and what a region of a parameter often stands for;
    # each suspect must explain defects beyond the units of the suspects reported before it
    # (a machine that made most of a bad lot's orders is not a cause of its own)
    ordered = [c for c in kept if c.kind in ("lot", "machine")]
    ordered += [c for c in kept if c.kind not in ("lot", "machine")]
    reported: list[Cause] = []
    explained = np.zeros(units.shape[0], dtype=bool)
    for cause in ordered:
        stronger = next((r for r in reported if _same_units(r, cause)), None)
        if stronger is not None:
            stronger.aliases.append(cause.label)
            stronger.alias_causes.append(cause)
            continue
        if reported:
            rest = ~explained[rows]
            flag = np.isin(rows, cause.members) & rest
            if flag.sum() < min_units or (rest & ~flag).sum() < min_units:
                continue
            subset = np.flatnonzero(rest)
            *_, ratio, _, _, p_value = _rate_test(flag[subset], defective[subset])
            if p_value > fdr or ratio < min_rate_ratio:
                continue
        reported.append(cause)
        explained[cause.members] = True
    reported.sort(key=lambda c: -c.excess_defects)
    return reported, model


def _same_units(stronger: Cause, weaker: Cause) -> bool:
    """Whether most of the weaker suspect's defective units are the stronger one's."""
    if weaker.members.size == 0:
        return False
    shared = np.intersect1d(stronger.members, weaker.members, assume_unique=True).size
    return shared >= 0.5 * weaker.members.size


def check_defects(genealogy: Genealogy, *, min_defects: int) -> str:
    """Why the unit table cannot serve a model, or ``""``."""
    units = genealogy.units
    if units.empty:
        return "; ".join(genealogy.notes) or "no unit has an outcome"
    defects = int(units["defective"].sum())
    if defects < min_defects:
        return (
            f"{defects} defective units among {len(units)}: a root-cause model needs at least "
            f"{min_defects}"
        )
    if len(units) - defects < min_defects:
        return f"only {len(units) - defects} good units among {len(units)}"
    if genealogy.features.drop(columns=list(genealogy.machine_columns)).shape[1] == 0:
        return "the units carry no genealogy (no lots, machines or parameters linked)"
    return ""


__all__ = ["Cause", "EngineError", "check_defects", "find_causes"]
