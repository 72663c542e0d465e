"""The design and process agent: setpoints that raise yield or efficiency, from the plant's history.

For every product with runs in the store (:mod:`._data`), the agent

1. picks the **objective**: the outcome named first in ``objectives`` that the product's runs
   record, or by default an outcome whose name says which way is better (efficiency, yield,
   throughput, output: higher; scrap, defects, rejects, rework, waste: lower), else the yield
   of the units' verdicts;
2. picks the **parameters**: those of the recipe in force that the runs record (every recorded
   parameter when the product has no recipe with specifications), less those that never varied
   (history cannot say what another value would do: the finding names them);
3. fits a :class:`~factorybrain.engines.optimize.SetpointOptimizer` (a surrogate of the
   objective, the region the runs support) and asks it for better setpoints than the recipe's,
   within the recipe's specification limits, with the expected gain and its interval;
4. reports what follows:

   * ``design.recipe_change`` (the gain is sure): a ``recipe.revise`` recommendation, a new
     recipe revision with the new setpoints from ``effective_after`` on, for an engineer to
     approve;
   * ``design.confirmation_runs`` (a gain is likely but its interval is wide): an
     ``experiment.plan`` recommendation, a few planned runs around the candidate and one at the
     recipe, instead of a jump;
   * ``design.data_gap``: the history cannot serve a model (no runs, no outcome, too few runs,
     no parameter that varied, no objective), and why;
   * nothing when the recipe is already as good as the history can tell, or when a revision
     is already scheduled (its own runs will tell whether it paid off).

Example::

    from factorybrain.agents.design import DesignAgent
    report = DesignAgent().study(store)
    for study in report.studies:
        print(study.product, study.proposal.decision, study.proposal.proposed)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from factorybrain.agents.core import (
    AgentContext,
    BaseAgent,
    EntityRef,
    Evidence,
    Finding,
    Output,
    Recommendation,
    data_gap,
    stable_id,
)
from factorybrain.agents.design._data import (
    YIELD,
    DataGap,
    ProductHistory,
    Recipe,
    load_process_history,
    varied,
)
from factorybrain.agents.design._executors import PLAN_EXPERIMENT, REVISE_RECIPE
from factorybrain.engines.optimize import SetpointOptimizer, SetpointProposal
from factorybrain.exceptions import EngineError, ParameterError, StoreError
from factorybrain.store import Store

AGENT = "design"
#: A better recipe, sure enough to change it.
RECIPE_CHANGE = "design.recipe_change"
#: A likely gain whose interval is too wide for a jump: confirmation runs first.
CONFIRMATION_RUNS = "design.confirmation_runs"
#: History that cannot serve a model, and why.
DATA_GAP = "design.data_gap"
#: Words that say higher is better / lower is better in an outcome's name.
HIGHER_IS_BETTER = ("efficiency", "yield", "throughput", "output", "first_pass", "oee")
LOWER_IS_BETTER = ("scrap", "defect", "reject", "rework", "waste", "loss")
#: Runs needed at least to learn from, whatever the number of parameters.
MIN_RUNS = 15


@dataclass
class ProductStudy:
    """What the agent made of one product.

    Attributes:
        product: The product as its runs name it.
        objective: The outcome optimised (None: none could be).
        direction: ``maximize`` or ``minimize``.
        parameters: The parameters the surrogate learned from.
        unvaried: Recipe parameters the history never varied, with their one value.
        runs: Runs learned from.
        recipe: The recipe in force.
        current: The setpoints in use (the recipe's, else those of the latest runs).
        proposal: What the optimiser proposes (None: no model could be learned).
        gaps: What the data lacks.
        decimals: Decimals the plant writes each parameter's setpoints with.
        space: Space of the product's runs.
        identifiers: Every identifier the product goes by.
        pending: A recipe revision scheduled after now: nothing is proposed until it runs.
        data_end: End of the latest run learned from.
    """

    product: str
    objective: str | None = None
    direction: str = "maximize"
    parameters: list[str] = field(default_factory=list)
    unvaried: dict[str, float] = field(default_factory=dict)
    runs: int = 0
    recipe: Recipe | None = None
    current: dict[str, float] = field(default_factory=dict)
    proposal: SetpointProposal | None = None
    gaps: list[DataGap] = field(default_factory=list)
    decimals: dict[str, int] = field(default_factory=dict)
    space: str = ""
    identifiers: tuple[str, ...] = ()
    pending: Recipe | None = None
    data_end: datetime | None = None


@dataclass
class DesignReport:
    """Every product studied, and the findings and recommendations that follow."""

    studies: list[ProductStudy] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)

    @property
    def items(self) -> list[Finding | Recommendation]:
        """Findings, then recommendations, as the orchestrator takes them."""
        return [*self.findings, *self.recommendations]


def objective_direction(name: str) -> str | None:
    """``maximize`` or ``minimize`` when an outcome's name says which way is better, else None."""
    words = re.sub(r"[^a-z0-9]+", " ", name.lower())
    if any(re.search(rf"\b{w}", words) for w in LOWER_IS_BETTER):
        return "minimize"
    if any(re.search(rf"\b{w}", words) for w in HIGHER_IS_BETTER) or name == YIELD:
        return "maximize"
    return None


def next_revision(version: str | None, taken: Iterable[str] = ()) -> str:
    """The label after ``version`` (``B`` -> ``C``, ``7`` -> ``8``, ``r2`` -> ``r3``), not taken.

    A label of another shape gets ``.1`` appended; ``None`` starts at ``1``.
    """
    used = {str(t) for t in taken}

    def step(label: str) -> str:
        if re.fullmatch(r"[A-Y]|[a-y]", label):
            return chr(ord(label) + 1)
        match = re.fullmatch(r"(.*?)(\d+)", label)
        if match:
            digits = match.group(2)
            return f"{match.group(1)}{int(digits) + 1:0{len(digits)}d}"
        return f"{label}.1"

    label = step(version) if version else "1"
    while label in used:
        label = step(label)
    return label


def _revised_id(external_id: str, version: str | None, revision: str) -> str:
    """The id of a new revision: the old one's with its version swapped, else ``id/revision``."""
    if version and external_id.endswith(version):
        return external_id[: -len(version)] + revision
    return f"{external_id}/{revision}"


def _decimals(values: Iterable[float]) -> int:
    """Fewest decimals (0 to 4) that write every value exactly."""
    best = 0
    for value in values:
        if not math.isfinite(value):
            continue
        for digits in range(0, 5):
            if abs(round(value, digits) - value) < 1e-9 * max(1.0, abs(value)):
                best = max(best, digits)
                break
        else:
            best = 4
    return best


class DesignAgent(BaseAgent):
    """Better setpoints from each product's runs, with the gain, its interval and what to do.

    Args:
        objectives: Outcome name -> ``maximize`` or ``minimize``, in order of preference; the
            first one a product's runs record is optimised (None: chosen by name, see the
            module's description).
        min_runs: Runs a product needs (at least; more when it has many parameters).
        effective_after: How long after the latest run learned from a recipe change takes
            effect (rounded up to the next midnight UTC; a date already past when an engineer
            approves becomes the moment of approval).
        lookback: Learn only from runs that ended this long before now (None: all history).
        optimizer: The optimiser's settings (a :class:`SetpointOptimizer` to clone).
    """

    name = AGENT
    subscriptions: tuple[str, ...] = ()
    schedule = timedelta(days=1)

    def __init__(
        self,
        *,
        objectives: Mapping[str, str] | None = None,
        min_runs: int = MIN_RUNS,
        effective_after: timedelta = timedelta(days=1),
        lookback: timedelta | None = None,
        optimizer: SetpointOptimizer | None = None,
    ) -> None:
        for outcome, direction in (objectives or {}).items():
            if direction not in ("maximize", "minimize"):
                raise ParameterError(
                    f"objective {outcome!r}: direction must be 'maximize' or 'minimize'; got "
                    f"{direction!r}"
                )
        if min_runs < 5:
            raise ParameterError(f"min_runs must be at least 5; got {min_runs!r}")
        self.objectives = dict(objectives or {})
        self.min_runs = min_runs
        self.effective_after = effective_after
        self.lookback = lookback
        self.optimizer = optimizer or SetpointOptimizer()

    # -- the agent protocol ---------------------------------------------------------------
    def run(self, context: AgentContext) -> Output:
        """Study every product as of now and return the findings and recommendations."""
        return self.study(context.store, now=context.now()).items

    # -- the work -------------------------------------------------------------------------
    def study(self, store: Store, *, now: datetime | None = None) -> DesignReport:
        """Study every product: objective, surrogate, better setpoints, what to recommend.

        Args:
            store: The factory store.
            now: The moment of the study: runs after it are ignored, the recipe in force then is
                the one compared with, and a change takes effect after it (None: the end of
                the recorded runs).

        Returns:
            A :class:`DesignReport`.
        """
        since = None if now is None or self.lookback is None else now - self.lookback
        histories = load_process_history(store, as_of=now, since=since)
        if now is None:
            ends = [h.runs["ended_at"].max() for h in histories if len(h.runs)]
            ends = [e for e in ends if e is not None and not pd.isna(e)]
            now = pd.Timestamp(max(ends)).to_pydatetime() if ends else datetime(1970, 1, 1)
        report = DesignReport()
        for history in histories:
            study = self._study(history)
            report.studies.append(study)
            findings, recommendations = self._conclude(study, store, now)
            report.findings += findings
            report.recommendations += recommendations
        return report

    def _objective(self, history: ProductHistory) -> tuple[str | None, str, DataGap | None]:
        recorded = [o for o in history.outcomes if history.runs[f"out:{o}"].notna().sum() > 0]
        if self.objectives:
            for outcome, direction in self.objectives.items():
                if outcome in recorded:
                    return outcome, direction, None
            return (
                None,
                "maximize",
                DataGap(
                    history.product,
                    "no_objective",
                    f"the runs of {history.product} record none of the objectives "
                    f"{list(self.objectives)}; they record {recorded or 'no outcome'}",
                ),
            )
        named = [o for o in recorded if o != YIELD and objective_direction(o)]
        if named:
            # the outcome recorded on most runs, among those whose name gives a direction
            best = max(named, key=lambda o: history.runs[f"out:{o}"].notna().sum())
            return best, objective_direction(best) or "maximize", None
        if YIELD in recorded and history.runs[f"out:{YIELD}"].nunique() > 1:
            return YIELD, "maximize", None
        return (
            None,
            "maximize",
            DataGap(
                history.product,
                "no_objective",
                f"no outcome of {history.product} says which way is better ({recorded or 'none'} "
                "recorded, and no unit verdict varies); name one: "
                "DesignAgent(objectives={'<test name>': 'maximize'})",
            ),
        )

    def _study(self, history: ProductHistory) -> ProductStudy:
        study = ProductStudy(
            history.product,
            recipe=history.recipe,
            gaps=list(history.gaps),
            space=history.space,
            identifiers=history.identifiers,
        )
        if study.gaps:
            return study
        if history.pending is not None:
            # a change is decided already: its own runs will tell whether it paid off
            study.pending = history.pending
            return study
        objective, direction, gap = self._objective(history)
        if gap is not None:
            study.gaps.append(gap)
            return study
        assert objective is not None
        study.objective, study.direction = objective, direction
        runs = history.runs[history.runs[f"out:{objective}"].notna()]
        candidates = list(history.parameters)
        if history.recipe is not None:
            in_recipe = [p for p in candidates if p in history.recipe.parameters]
            candidates = in_recipe or candidates
        # a parameter missing from most runs is left out rather than most runs
        candidates = [p for p in candidates if runs[f"param:{p}"].notna().mean() >= 0.5]
        parameters = []
        for name in candidates:
            if varied(runs[f"param:{name}"]):
                parameters.append(name)
            else:
                values = runs[f"param:{name}"].dropna()
                study.unvaried[name] = float(values.median()) if len(values) else math.nan
        if not parameters:
            study.gaps.append(
                DataGap(
                    history.product,
                    "no_variation",
                    f"none of the parameters of {history.product} ({candidates or 'none'}) "
                    f"varied over its {len(runs)} runs: history cannot say what other "
                    "setpoints would do; plan a design of experiments",
                    {"runs": float(len(runs))},
                )
            )
            return study
        usable = runs.dropna(subset=[f"param:{p}" for p in parameters])
        # a quadratic response surface has (d + 1)(d + 2) / 2 terms; a few runs more test it
        d = len(parameters)
        needed = max(self.min_runs, (d + 1) * (d + 2) // 2 + 5)
        if len(usable) < needed:
            study.gaps.append(
                DataGap(
                    history.product,
                    "too_few_runs",
                    f"{history.product} has {len(usable)} runs with {objective} and the "
                    f"parameters {parameters} recorded; {needed} are needed to learn "
                    f"{len(parameters)} parameter(s)",
                    {"runs": float(len(usable)), "needed": float(needed)},
                )
            )
            return study
        study.parameters, study.runs = parameters, len(usable)
        ended = usable["ended_at"].dropna()
        study.data_end = pd.Timestamp(ended.max()).to_pydatetime() if len(ended) else None
        study.current = self._current(history, parameters, usable)
        study.decimals = {p: _decimals(self._written(history, usable, p)) for p in parameters}
        limits = {}
        if history.recipe is not None:
            for p in parameters:
                spec = history.recipe.parameters.get(p)
                if spec is not None:
                    limits[p] = (spec.low, spec.high)
        optimizer = SetpointOptimizer(**self.optimizer.get_params())
        try:
            optimizer.fit(
                usable[[f"param:{p}" for p in parameters]].to_numpy(dtype=float),
                usable[f"out:{objective}"].to_numpy(dtype=float),
                names=parameters,
            )
            study.proposal = optimizer.propose(study.current, limits=limits, direction=direction)
        except EngineError as error:
            study.gaps.append(DataGap(history.product, "no_model", f"{history.product}: {error}"))
        return study

    @staticmethod
    def _written(history: ProductHistory, runs: pd.DataFrame, name: str) -> list[float]:
        """Setpoints of ``name`` as the plant wrote them: the runs' and the recipe's."""
        values = [float(v) for v in runs[f"set:{name}"].dropna()]
        spec = history.recipe.parameters.get(name) if history.recipe is not None else None
        if spec is not None and spec.setpoint is not None:
            values.append(spec.setpoint)
        return values

    def _current(
        self, history: ProductHistory, parameters: Sequence[str], runs: pd.DataFrame
    ) -> dict[str, float]:
        """The recipe's setpoints; where it gives none, the median setpoint of the last runs."""
        current = {}
        latest = runs.sort_values("ended_at").tail(10)
        for name in parameters:
            spec = history.recipe.parameters.get(name) if history.recipe is not None else None
            if spec is not None and spec.setpoint is not None:
                current[name] = spec.setpoint
                continue
            values = latest[f"set:{name}"].dropna()
            if values.empty:
                values = latest[f"param:{name}"].dropna()
            current[name] = float(values.median())
        return current

    # -- what follows from a study --------------------------------------------------------
    def _subject(self, study: ProductStudy) -> EntityRef:
        if study.recipe is not None:
            return EntityRef("recipe", study.recipe.external_id, study.recipe.space)
        return EntityRef("product", study.product, study.space or None)

    def _conclude(
        self, study: ProductStudy, store: Store, now: datetime
    ) -> tuple[list[Finding], list[Recommendation]]:
        if study.gaps:
            findings = [
                data_gap(
                    AGENT,
                    gap.text,
                    gap.reason,
                    now,
                    subject=EntityRef("product", study.product, study.space or None),
                    numbers=gap.numbers,
                    title=f"{study.product}: history cannot serve a process model "
                    f"({gap.reason.replace('_', ' ')})",
                )
                for gap in study.gaps
            ]
            return findings, []
        proposal = study.proposal
        if proposal is None or proposal.decision == "keep":
            return [], []
        rounded = {
            name: round(proposal.proposed[name], study.decimals.get(name, 4))
            for name in proposal.changed
        }
        numbers = self._numbers(study, proposal, rounded)
        if proposal.decision == "change":
            # when it takes effect, as hours after the finding (planning plans the changeover)
            numbers["effective_in_hours"] = (self._effective(study, now) - now) / timedelta(hours=1)
        text = self._text(study, proposal, rounded)
        kind = RECIPE_CHANGE if proposal.decision == "change" else CONFIRMATION_RUNS
        subject = self._subject(study)
        refs = tuple(EntityRef("product", identifier) for identifier in study.identifiers)
        dedup = f"{study.objective}@{study.recipe.external_id if study.recipe else 'runs'}"
        finding = Finding(
            AGENT,
            kind,
            subject,
            severity="medium" if proposal.decision == "change" else "low",
            confidence=float(min(max(proposal.probability_of_gain, 0.0), 1.0)),
            evidence=Evidence(refs, numbers, text),
            dedup_key=dedup,
            created_at=now,
            title=self._title(study, proposal),
        )
        effect = {
            "objective": study.objective,
            "direction": study.direction,
            "expected_before": proposal.expected_current,
            "expected_after": proposal.expected_proposed,
            "gain": proposal.gain,
            "gain_low": proposal.gain_low,
            "gain_high": proposal.gain_high,
            "interval": proposal.interval,
            "probability_of_gain": proposal.probability_of_gain,
        }
        if proposal.decision == "change":
            recommendation = self._revision(study, store, now, rounded, finding, effect, text)
        else:
            recommendation = self._experiment(study, proposal, finding, effect)
        return [finding], [recommendation]

    def _numbers(
        self, study: ProductStudy, proposal: SetpointProposal, rounded: Mapping[str, float]
    ) -> dict[str, float]:
        numbers = {
            "expected_current": proposal.expected_current,
            "expected_proposed": proposal.expected_proposed,
            "gain": proposal.gain,
            "gain_low": proposal.gain_low,
            "gain_high": proposal.gain_high,
            "interval": proposal.interval,
            "probability_of_gain": proposal.probability_of_gain,
            "runs": float(study.runs),
            "run_noise_std": proposal.noise_std,
        }
        for name in proposal.names:
            numbers[f"current:{name}"] = proposal.current[name]
            numbers[f"proposed:{name}"] = float(rounded.get(name, proposal.current[name]))
            numbers[f"supported_low:{name}"] = proposal.lower[name]
            numbers[f"supported_high:{name}"] = proposal.upper[name]
        return numbers

    def _title(self, study: ProductStudy, proposal: SetpointProposal) -> str:
        verb = "raise" if study.direction == "maximize" else "lower"
        if proposal.decision == "change":
            return (
                f"{study.product}: new setpoints {verb} {study.objective} by "
                f"{proposal.gain:.3g} ({proposal.gain_low:.3g} to {proposal.gain_high:.3g})"
            )
        return (
            f"{study.product}: {len(proposal.runs)} confirmation runs before a change that may "
            f"{verb} {study.objective} by {proposal.gain:.3g}"
        )

    def _text(
        self, study: ProductStudy, proposal: SetpointProposal, rounded: Mapping[str, float]
    ) -> str:
        moves = ", ".join(
            f"{name} {proposal.current[name]:g} -> {rounded[name]:g}" for name in proposal.changed
        )
        kept = [n for n in proposal.names if n not in proposal.changed]
        better = "higher" if study.direction == "maximize" else "lower"
        recipe = f"recipe {study.recipe.external_id}" if study.recipe else "the latest runs"
        text = (
            f"From {study.runs} runs of {study.product}: {moves} would make {study.objective} "
            f"{better} by {proposal.gain:.3g} on average ({proposal.interval:.0%} interval "
            f"{proposal.gain_low:.3g} to {proposal.gain_high:.3g}; expected "
            f"{proposal.expected_current:.4g} now, {proposal.expected_proposed:.4g} after; "
            f"probability of a gain {proposal.probability_of_gain:.0%}), against {recipe}."
        )
        if kept:
            text += f" {', '.join(kept)}: no change that matters."
        if study.unvaried:
            never = ", ".join(f"{name} ({value:g})" for name, value in study.unvaried.items())
            text += f" Never varied in history, so not judged: {never}."
        if not proposal.current_supported:
            text += " The current setpoints lie outside what the history covers."
        if proposal.decision == "confirm":
            text += f" {proposal.reason}."
        return text

    def _effective(self, study: ProductStudy, now: datetime) -> datetime:
        """When a revision takes effect: midnight after ``effective_after`` past the data.

        From the data, not the wall clock: the same history proposes the same revision every
        day it is studied (the executor moves a date already past to the approval).
        """
        start = study.data_end or now
        return pd.Timestamp(start + self.effective_after).ceil("D").to_pydatetime()

    def _revision(
        self,
        study: ProductStudy,
        store: Store,
        now: datetime,
        rounded: Mapping[str, float],
        finding: Finding,
        effect: Mapping[str, Any],
        text: str,
    ) -> Recommendation:
        recipe = study.recipe
        effective = self._effective(study, now)
        if recipe is not None:
            taken = [r for r in _recipe_versions(store, recipe)]
            revision = next_revision(recipe.version, taken)
            external_id = _revised_id(recipe.external_id, recipe.version, revision)
            space, product = recipe.space, recipe.product
        else:
            revision = next_revision(None)
            external_id = f"{study.product}/{revision}"
            space, product = study.space or "agents", study.product
        parameters: dict[str, Any] = {
            "space": space,
            "product": product,
            "external_id": external_id,
            "revision": revision,
            "effective_from": effective.isoformat(),
            "setpoints": dict(rounded),
            "change_reason": f"design agent: {text}",
        }
        if recipe is not None:
            parameters["recipe"] = recipe.external_id
            parameters["expect"] = {
                "version": recipe.version,
                "setpoints": {name: study.current[name] for name in rounded},
            }
            design = _design_revision(store, study, recipe, revision)
            if design is not None:
                parameters["design_revision"] = design
        moves = ", ".join(f"{name} {value:g}" for name, value in rounded.items())
        return Recommendation(
            AGENT,
            (finding.id,),
            REVISE_RECIPE,
            parameters=parameters,
            expected_effect=dict(effect),
            requires_approval=True,
            title=f"Revise the recipe of {study.product} to {revision}: {moves} from "
            f"{effective:%Y-%m-%d}",
            dedup_key=finding.dedup_key,
        )

    def _experiment(
        self,
        study: ProductStudy,
        proposal: SetpointProposal,
        finding: Finding,
        effect: Mapping[str, Any],
    ) -> Recommendation:
        runs = [
            {
                "role": run.role,
                "setpoints": {
                    name: round(value, study.decimals.get(name, 4))
                    for name, value in run.setpoints.items()
                },
                "expected": run.expected,
                "expected_std": run.expected_std,
            }
            for run in proposal.runs
        ]
        space = study.recipe.space if study.recipe is not None else (study.space or "agents")
        parameters: dict[str, Any] = {
            "space": space,
            "external_id": stable_id("doe", study.product, finding.dedup_key, runs),
            "product": study.recipe.product if study.recipe is not None else study.product,
            "objective": study.objective,
            "title": f"Confirmation runs for {study.product}: {study.objective}",
            "runs": runs,
        }
        if study.recipe is not None:
            parameters["recipe"] = study.recipe.external_id
        return Recommendation(
            AGENT,
            (finding.id,),
            PLAN_EXPERIMENT,
            parameters=parameters,
            expected_effect=dict(effect),
            requires_approval=True,
            title=f"Make {len(runs)} confirmation runs of {study.product} before changing "
            "its recipe",
            dedup_key=finding.dedup_key,
        )


def _recipe_versions(store: Store, recipe: Recipe) -> list[str]:
    """Versions and ids already used by the recipes of ``recipe``'s product in its space."""
    rows = store.query(
        "SELECT external_id, version FROM recipe WHERE space = ? AND product = ?",
        [recipe.space, recipe.product],
    )
    return [str(v) for v in rows["version"].dropna()] + [
        str(i).rsplit("/", 1)[-1] for i in rows["external_id"]
    ]


def _design_revision(
    store: Store, study: ProductStudy, recipe: Recipe, revision: str
) -> dict[str, str] | None:
    """Where the product keeps design revisions, the identity of the one to record beside."""
    names = sorted({recipe.product, *study.identifiers})
    marks = ", ".join("?" for _ in names)
    try:
        rows = store.query(
            f"SELECT space, external_id, product, revision FROM design_revision "
            f"WHERE product IN ({marks}) ORDER BY effective_from DESC NULLS LAST",
            names,
        )
    except StoreError:  # a store without design revisions: the recipe alone is revised
        return None
    if rows.empty:
        return None
    latest = rows.iloc[0]
    version = None if pd.isna(latest["revision"]) else str(latest["revision"])
    return {
        "space": str(latest["space"]),
        "external_id": _revised_id(str(latest["external_id"]), version, revision),
        "product": str(latest["product"]),
    }


__all__ = [
    "AGENT",
    "CONFIRMATION_RUNS",
    "DATA_GAP",
    "DesignAgent",
    "DesignReport",
    "ProductStudy",
    "RECIPE_CHANGE",
    "next_revision",
    "objective_direction",
]
