"""Which cohorts of a fleet claim more than their exposure explains, and which one explains it.

The screen takes units in the field (their time in service and whether they were claimed) and
candidate cohorts: any set of units (a component lot, a supplier, a build week) as a column of a
sparse membership matrix, and **time windows** of ordered tracks (a machine's days), which are
scanned at every start and length up to ``max_window`` without being materialised.

Three steps:

1. **Marginal tests.** Each cohort's claims against its expected claims (the fleet's cumulative
   hazard at each unit's age, see :mod:`._rates`), compared with the rest of the fleet by an
   exact conditional test. Windows are not tested one by one: each track (machine) is one test,
   Kulldorff's temporal scan statistic over all its windows (:mod:`._scan`), so a two-day burst
   on one machine competes with the other machines and cohorts, not with thousands of
   overlapping windows. Benjamini-Hochberg (:func:`scipy.stats.false_discovery_control`)
   controls the false discovery rate across every cohort and track; within the ``R`` of ``m``
   tests discovered, a window of a discovered track is kept when its track-adjusted p-value is
   at most ``fdr * R / m`` (Benjamini & Bogomolov 2014, selective inference on families).
2. **Conditional selection.** Cohorts that share units share claims: every lot of an order
   inherits the claims of the one bad lot built into the same units. A Poisson model of each
   unit's claims (offset: its expected claims) is grown greedily: at each step the cohort whose
   claims the current model explains least (largest likelihood-ratio statistic of adding a rate
   multiplier for it) enters, the model is refitted, and the others are judged again *given* it.
   A lot that only shared orders with the bad lot has nothing left to explain and never enters.
   Each cohort selected is then ranked with the cohorts that explain the same claims (at least
   half of theirs are its), by their likelihood-ratio statistic in the model without it: its
   ``separation`` is that statistic as a share of the best one (1.0 for the best). Every fixed
   cohort and every window scanned competes there, not only those flagged on their own: that a
   cluster exists is settled by the cohort selected; which cohort holding its claims names it
   best (a machine's three days or the product's build week around them) is another question.
3. **Rescans adjusted for the clusters found.** A few large clusters (a bad lot) raise the
   fleet's rate that every window is compared with and hide a small machine cluster. As in
   SaTScan's iterative scan (Zhang, Assuncao & Kulldorff 2010), the tracks are scanned again
   with the expected claims of the model of the cohorts selected so far, under the same
   false discovery rate; windows found then join the candidates and the selection is redone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats

from factorybrain.engines._base import Engine, Interval
from factorybrain.engines.reliability._rates import compare_rates_many, expected_claims
from factorybrain.engines.reliability._scan import poisson_excess, temporal_scan
from factorybrain.exceptions import EngineError


@dataclass(frozen=True)
class WindowBins:
    """Time bins of ordered tracks whose contiguous runs are scanned as windows.

    Attributes:
        membership: Sparse ``units x bins`` matrix, 1 where a unit passed through the bin (a unit
            is in at most one bin of a track).
        track: Track of each bin (e.g. the machine), integers.
        position: Position of each bin along its track (e.g. the day number), integers.
    """

    membership: Any
    track: np.ndarray
    position: np.ndarray


_likelihood_ratio = poisson_excess


def _with_comparison(
    table: pd.DataFrame, total_observed: float, total_expected: float, confidence: float
) -> pd.DataFrame:
    """``table`` with each row's rate ratio, interval and exact p-value against the rest."""
    comparison = compare_rates_many(
        table["claims"].to_numpy(),
        table["expected"].to_numpy(),
        total_observed - table["claims"].to_numpy(),
        total_expected - table["expected"].to_numpy(),
        confidence=confidence,
    )
    return table.assign(
        rate_ratio=comparison["rate_ratio"],
        rate_ratio_low=comparison["low"],
        rate_ratio_high=comparison["high"],
        p_value=comparison["p_value"],
    )


class CohortScreen(Engine):
    """Cohorts that claim more than their exposure, ranked by what explains the claims.

    Args:
        fdr: False discovery rate controlled across every cohort and track tested.
        min_claims: Claims a cohort needs before it can be flagged.
        min_rate_ratio: Rate ratio (age-adjusted) a flagged cohort must reach.
        max_window: Longest window scanned on a track, in positions (days).
        max_selected: Cohorts selected at most.
        overlap: Share of a cohort's claims that must be another's for the two to explain the
            same claims (and be ranked together).
        confidence: Two-sided confidence of the rate-ratio intervals.
        scan_draws: Monte Carlo draws of each track's null scan maximum.
        rescans: Times the tracks are scanned again against a model of the clusters selected so
            far (0: only the marginal scan).
        cover: Share of a selected cohort's claims a window must hold to be listed among its
            alternatives (the strongest such window of each track) whatever its separation.
        random_state: Seed of the Monte Carlo draws (None: fresh entropy).

    Attributes:
        tests_: One row per cohort tested (every fixed cohort; windows with ``q_value <= fdr``).
            A window's ``p_value`` is adjusted for scanning its whole track, its ``expected``
            is under the model it was scanned against (``scan_pass`` 0: the fleet's rate; k: the
            model of the clusters selected before rescan k), and so is its ``rate_ratio``.
        selected_: The cohorts selected, in order of entry, with ``rank``, ``separation``,
            ``separation_lr`` (its likelihood-ratio statistic in the model without it),
            ``adjusted_rate_ratio`` (its rate multiplier in the full model) and
            ``alternatives``: ``(row label of tests_, separation, likelihood ratio)`` of the
            cohorts explaining the same claims, best first.
        windows_tested_: How many windows were scanned (in the last scan).
        tracks_tested_: How many tracks were scanned: the tests the windows count for.
        expected_: Expected claims of each unit.
    """

    _parameter_constraints = {
        "fdr": [Interval(float, 0.0, 1.0, "neither")],
        "min_claims": [Interval(int, 1, None)],
        "min_rate_ratio": [Interval(float, 1.0, None)],
        "max_window": [Interval(int, 1, None)],
        "max_selected": [Interval(int, 1, None)],
        "overlap": [Interval(float, 0.0, 1.0, "right")],
        "confidence": [Interval(float, 0.0, 1.0, "neither")],
        "scan_draws": [Interval(int, 19, None)],
        "rescans": [Interval(int, 0, None)],
        "cover": [Interval(float, 0.0, 1.0, "right")],
    }

    def __init__(
        self,
        *,
        fdr: float = 0.05,
        min_claims: int = 3,
        min_rate_ratio: float = 1.5,
        max_window: int = 7,
        max_selected: int = 25,
        overlap: float = 0.5,
        confidence: float = 0.95,
        scan_draws: int = 999,
        rescans: int = 1,
        cover: float = 0.75,
        random_state: int | None = 0,
    ) -> None:
        self.fdr = fdr
        self.min_claims = min_claims
        self.min_rate_ratio = min_rate_ratio
        self.max_window = max_window
        self.max_selected = max_selected
        self.overlap = overlap
        self.confidence = confidence
        self.scan_draws = scan_draws
        self.rescans = rescans
        self.cover = cover
        self.random_state = random_state

    # -- fit -------------------------------------------------------------------------------------
    def fit(
        self,
        ages: Any,
        failed: Any,
        cohorts: Any = None,
        windows: WindowBins | None = None,
    ) -> CohortScreen:
        """Test every cohort and window, then select those that explain the claims.

        Args:
            ages: Time in service of each unit in the field, in days.
            failed: Whether each unit was claimed (at its age).
            cohorts: Sparse ``units x cohorts`` membership (any scipy sparse or dense array).
            windows: Time bins to scan, or None.

        Raises:
            EngineError: Arrays of different lengths, or no unit in the field.
        """
        self._validate_parameters()
        ages = np.asarray(ages, dtype=float)
        failed = np.asarray(failed, dtype=bool)
        if ages.shape != failed.shape or ages.ndim != 1:
            raise EngineError(
                f"ages and failed must be 1-d of one length; got {ages.shape} and {failed.shape}"
            )
        if ages.size == 0:
            raise EngineError("no unit in the field: nothing to screen")
        n = ages.size
        matrix = sparse.csc_matrix((n, 0)) if cohorts is None else sparse.csc_matrix(cohorts)
        if matrix.shape[0] != n:
            raise EngineError(f"cohorts has {matrix.shape[0]} rows for {n} units")
        matrix = (matrix != 0).astype(np.float64).tocsc()
        self._matrix = matrix
        self._ages = ages
        self._failed = failed
        self.expected_ = expected_claims(ages, failed)
        self._windows = self._prepare_windows(windows, n)
        # what every candidate's alternatives are judged on: the claimed units' memberships
        self._claimed = np.flatnonzero(failed)
        self._claimed_matrix = matrix[self._claimed]
        self._window_claims = (
            self._window_sums(failed.astype(float)) if self._windows is not None else None
        )
        scale = failed.sum() / max(float(self.expected_.sum()), 1e-12)
        tests = self._tests(self.expected_ * scale, 0)
        selected = self._select(tests)
        for scan_pass in range(1, self.rescans + 1):
            if self._windows is None or selected.empty:
                break
            # the tracks again, against a model that explains the clusters selected so far
            fitted = self._fit_model(
                [self._indicator(tests.loc[label]) for label in selected["label"]]
            )
            again = self._tests(fitted, scan_pass)
            known = tests.loc[tests["kind"] == "window", "window"]
            new = again[(again["kind"] == "window") & ~again["window"].isin(known)]
            if new.empty:
                break
            tests = pd.concat([tests, new], ignore_index=True)
            selected = self._select(tests)
        # windows that only name a cluster (an alternative) join the table they are labels of
        self.tests_ = pd.concat([tests, self._alternative_windows])
        self.selected_ = selected
        return self

    def _prepare_windows(self, windows: WindowBins | None, n: int) -> dict[str, Any] | None:
        """Lay every track's bins on one axis of cells and list every window once."""
        if windows is None:
            return None
        membership = sparse.csr_matrix(windows.membership)
        if membership.shape[0] != n:
            raise EngineError(f"window membership has {membership.shape[0]} rows for {n} units")
        membership = (membership != 0).astype(np.float64).tocsr()
        track = np.asarray(windows.track, dtype=np.int64)
        position = np.asarray(windows.position, dtype=np.int64)
        if track.size != membership.shape[1] or position.size != membership.shape[1]:
            raise EngineError(
                f"window bins: {membership.shape[1]} columns of membership, {track.size} tracks "
                f"and {position.size} positions; they must be equal"
            )
        tracks = np.unique(track)
        cell = np.zeros(track.size, dtype=np.int64)
        catalogue = []
        offset = 0
        for t in tracks:
            bins = np.flatnonzero(track == t)
            first, last = int(position[bins].min()), int(position[bins].max())
            length = last - first + 1
            cell[bins] = offset + position[bins] - first
            for width in range(1, min(self.max_window, length) + 1):
                starts = np.arange(0, length - width + 1)
                catalogue.append(
                    np.column_stack(
                        [
                            np.full(starts.size, t),
                            starts + first,
                            starts + first + width - 1,
                            starts + offset,
                            np.full(starts.size, width),
                        ]
                    )
                )
            offset += length
        table = np.concatenate(catalogue) if catalogue else np.zeros((0, 5), dtype=np.int64)
        claimed = np.flatnonzero(self._failed)
        sub = membership[claimed].tocoo()
        track_index = {int(t): i for i, t in enumerate(tracks)}
        claim_positions = np.full((claimed.size, tracks.size), -1, dtype=np.int64)
        claim_positions[sub.row, [track_index[int(t)] for t in track[sub.col]]] = position[sub.col]
        return {
            "membership": membership,
            "track": track,
            "position": position,
            "cell": cell,
            "cells": offset,
            "catalogue": table,
            "claim_positions": claim_positions,
            "track_index": track_index,
        }

    def _window_sums(self, per_unit: np.ndarray) -> np.ndarray:
        """Sum ``per_unit`` over the units of every window of the catalogue."""
        assert self._windows is not None
        prefix = np.concatenate([[0.0], np.cumsum(self._cell_sums(per_unit))])
        starts, widths = self._windows["catalogue"][:, 3], self._windows["catalogue"][:, 4]
        return np.asarray(prefix[starts + widths] - prefix[starts])

    # -- marginal --------------------------------------------------------------------------------
    def _tests(self, baseline: np.ndarray, scan_pass: int) -> pd.DataFrame:
        """Exact tests of the fixed cohorts, a scan per track, one FDR over cohorts and tracks.

        Args:
            baseline: Expected claims of each unit under the null model of the windows (the
                fleet's rate, or a fitted model that explains the clusters selected so far).
            scan_pass: 0 for the marginal scan, then the number of the rescan.
        """
        failed = self._failed.astype(float)
        expected = self.expected_
        total_observed, total_expected = failed.sum(), expected.sum()
        ones = np.ones(self._ages.size)
        fixed = pd.DataFrame(
            {
                "kind": "cohort",
                "cohort": np.arange(self._matrix.shape[1]),
                "window": -1,
                "track": -1,
                "start": -1,
                "end": -1,
                "claims": self._matrix.T @ failed,
                "expected": self._matrix.T @ expected,
                "units": self._matrix.T @ ones,
                "unit_days": self._matrix.T @ self._ages,
                "scan_statistic": np.nan,
                "scan_pass": -1,
            }
        )
        fixed = fixed[fixed["units"] > 0].reset_index(drop=True)
        fixed["marginal_lr"] = _likelihood_ratio(
            fixed["claims"].to_numpy(),
            fixed["expected"].to_numpy() * (total_observed / max(total_expected, 1e-12)),
        )
        fixed = _with_comparison(fixed, total_observed, total_expected, self.confidence)
        frames = [fixed]
        family_p = [fixed["p_value"].to_numpy()]
        track_p = pd.Series(dtype=float)
        scanned = pd.DataFrame()
        if self._windows is not None and len(self._windows["catalogue"]):
            catalogue = self._windows["catalogue"]
            scanned = pd.DataFrame(
                {
                    "kind": "window",
                    "cohort": -1,
                    "window": np.arange(len(catalogue)),
                    "track": catalogue[:, 0],
                    "start": catalogue[:, 1],
                    "end": catalogue[:, 2],
                    "claims": self._window_sums(failed),
                    "expected": self._window_sums(baseline),
                    "units": self._window_sums(ones),
                    "unit_days": self._window_sums(self._ages),
                    "scan_pass": scan_pass,
                }
            )
            scan = temporal_scan(
                self._cell_sums(failed),
                self._cell_sums(baseline),
                catalogue[:, 0],
                catalogue[:, 3],
                catalogue[:, 4],
                min_claims=self.min_claims,
                min_rate_ratio=self.min_rate_ratio,
                draws=self.scan_draws,
                random_state=None if self.random_state is None else [self.random_state, scan_pass],
            )
            scanned["scan_statistic"] = scan.statistic
            scanned["marginal_lr"] = _likelihood_ratio(scanned["claims"], scanned["expected"])
            scanned = _with_comparison(
                scanned, total_observed, float(baseline.sum()), self.confidence
            )
            scanned["p_value"] = scan.p_value
            scanned = scanned[scanned["units"] > 0].reset_index(drop=True)
            self._scanned = scanned
            track_p = pd.Series(scan.track_p_value, index=scan.tracks)
            track_p = track_p[track_p.index.isin(scanned["track"].unique())]
            family_p.append(track_p.to_numpy())
            frames.append(scanned)
            self.windows_tested_ = len(scanned)
        else:
            self.windows_tested_ = 0
        self.tracks_tested_ = len(track_p)
        pooled = np.concatenate(family_p)
        q_values = stats.false_discovery_control(pooled) if pooled.size else pooled
        fixed["q_value"] = q_values[: len(fixed)]
        if not scanned.empty:
            # Benjamini & Bogomolov (2014): within the R of m families selected, a window is
            # kept when its track-adjusted p-value is at most fdr * R / m
            track_q = pd.Series(q_values[len(fixed) :], index=track_p.index)
            share = max(int((q_values <= self.fdr).sum()), 1) / pooled.size
            scanned["q_value"] = np.maximum(
                scanned["track"].map(track_q).to_numpy(),
                np.minimum(scanned["p_value"].to_numpy() / share, 1.0),
            )
        else:
            self._scanned = scanned
        table = pd.concat([f for f in frames if not f.empty], ignore_index=True)
        keep = (table["kind"] == "cohort") | (table["q_value"] <= self.fdr)
        return table[keep].reset_index(drop=True)

    def _cell_sums(self, per_unit: np.ndarray) -> np.ndarray:
        """Sum ``per_unit`` over the units of every cell (a day of a track)."""
        assert self._windows is not None
        w = self._windows
        per_bin = w["membership"].T @ per_unit
        return np.bincount(w["cell"], weights=per_bin, minlength=w["cells"])

    # -- membership of a test row ------------------------------------------------------------------
    def members(self, label: int) -> np.ndarray:
        """Indices of the units in row ``label`` of :attr:`tests_`."""
        self._check_fitted()
        return np.flatnonzero(self._indicator(self.tests_.loc[label]))

    def _indicator(self, row: pd.Series) -> np.ndarray:
        if row["kind"] == "cohort":
            column = self._matrix[:, int(row["cohort"])]
            return np.asarray(column.toarray()).ravel() > 0
        assert self._windows is not None
        w = self._windows
        bins = np.flatnonzero(
            (w["track"] == row["track"])
            & (w["position"] >= row["start"])
            & (w["position"] <= row["end"])
        )
        return np.asarray(w["membership"][:, bins].sum(axis=1)).ravel() > 0

    def _claim_sets(self, table: pd.DataFrame) -> np.ndarray:
        """Boolean ``claims x rows``: which claimed units each row of ``table`` holds."""
        out = np.zeros((self._claimed.size, len(table)), dtype=bool)
        fixed = table["kind"].to_numpy() == "cohort"
        if fixed.any():
            columns = table.loc[fixed, "cohort"].astype(int).to_numpy()
            out[:, fixed] = self._claimed_matrix[:, columns].toarray() > 0
        if (~fixed).any():
            assert self._windows is not None
            w = self._windows
            windows = table.loc[~fixed]
            columns = np.asarray([w["track_index"][int(t)] for t in windows["track"]], dtype=int)
            positions = w["claim_positions"][:, columns]
            out[:, ~fixed] = (positions >= windows["start"].to_numpy()) & (
                positions <= windows["end"].to_numpy()
            )
        return out

    # -- the conditional model -------------------------------------------------------------------
    def _fit_model(self, indicators: list[np.ndarray]) -> np.ndarray:
        """Fitted claims per unit: Poisson with offset log(expected), intercept and indicators.

        Units with the same indicators share one rate, so the model is fitted on their sums
        (a few hundred patterns at most, however large the fleet).
        """
        expected = self.expected_
        y = self._failed.astype(float)
        scale = y.sum() / max(expected.sum(), 1e-12)
        if not indicators:
            self._beta = np.array([math.log(max(scale, 1e-300))])
            return expected * scale
        bits = np.column_stack(indicators).astype(bool, copy=False)
        patterns, inverse = _unique_rows(bits)
        observed = np.bincount(inverse, weights=y, minlength=len(patterns))
        offset = np.bincount(inverse, weights=expected, minlength=len(patterns))
        active = offset > 0
        x = np.column_stack([np.ones(len(patterns)), patterns.astype(float)])[active]
        e, target = offset[active], observed[active]
        beta = np.zeros(x.shape[1])
        beta[0] = math.log(max(scale, 1e-12))

        def loglik(b: np.ndarray) -> float:
            mu = e * np.exp(np.clip(x @ b, -30, 30))
            return float(np.sum(target * np.log(np.maximum(mu, 1e-300)) - mu))

        current = loglik(beta)
        for _ in range(200):
            mu = e * np.exp(np.clip(x @ beta, -30, 30))
            gradient = x.T @ (target - mu)
            hessian = (x * mu[:, None]).T @ x + 1e-9 * np.eye(x.shape[1])
            step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
            factor, trial, value = 1.0, beta, current
            while factor > 1e-6:
                trial = np.clip(beta + factor * step, -25, 25)
                value = loglik(trial)
                if value >= current - 1e-12:
                    break
                factor /= 2
            improvement = value - current
            beta, current = trial, value
            if abs(improvement) < 1e-10:
                break
        self._beta = beta
        design = np.column_stack([np.ones(len(patterns)), patterns.astype(float)])
        rate = np.exp(np.clip(design @ beta, -30, 30))
        return np.asarray(expected * rate[inverse])

    def _conditional_lr(self, fitted: np.ndarray, table: pd.DataFrame) -> np.ndarray:
        """Likelihood-ratio statistic of each row of ``table`` under the fitted model."""
        observed = table["claims"].to_numpy()
        expected = np.zeros(len(table))
        fixed = table["kind"].to_numpy() == "cohort"
        if fixed.any():
            columns = table.loc[fixed, "cohort"].astype(int).to_numpy()
            expected[fixed] = (self._matrix.T @ fitted)[columns]
        if (~fixed).any():
            windows = table.loc[~fixed, "window"].astype(int).to_numpy()
            expected[~fixed] = self._window_sums(fitted)[windows]
        self._last_fitted_expected = expected
        return _likelihood_ratio(observed, expected)

    def _select(self, tests: pd.DataFrame) -> pd.DataFrame:
        eligible = (
            (tests["q_value"] <= self.fdr)
            & (tests["claims"] >= self.min_claims)
            & (tests["rate_ratio"] >= self.min_rate_ratio)
        )
        candidates = tests[eligible]
        self._alternative_windows = tests.iloc[0:0]
        columns = [
            *tests.columns,
            "label",
            "step",
            "conditional_lr",
            "adjusted_rate_ratio",
            "rank",
            "separation",
            "separation_lr",
            "alternatives",
        ]
        if candidates.empty:
            return pd.DataFrame(columns=columns)
        chosen: list[int] = []
        indicators: list[np.ndarray] = []
        entry_lr: list[float] = []
        fitted = self._fit_model([])
        while len(chosen) < self.max_selected:
            pool = candidates.drop(index=chosen)
            if pool.empty:
                break
            lr = self._conditional_lr(fitted, pool)
            ratio = pool["claims"].to_numpy() / np.maximum(self._last_fitted_expected, 1e-12)
            lr = np.where(ratio >= self.min_rate_ratio, lr, 0.0)
            best = int(np.argmax(lr))
            p_value = 0.5 * stats.chi2.sf(lr[best], 1)
            if lr[best] <= 0 or p_value > self.fdr / len(pool):
                break
            label = int(pool.index[best])
            chosen.append(label)
            entry_lr.append(float(lr[best]))
            indicators.append(self._indicator(tests.loc[label]))
            fitted = self._fit_model(indicators)
        if not chosen:
            return pd.DataFrame(columns=columns)
        adjusted = np.exp(self._beta[1:]) if len(self._beta) > 1 else np.array([])
        # which claims each selected cohort holds (only theirs: every candidate's would be
        # claims x candidates, which grows with the square of a fleet's size)
        claim_sets = self._claim_sets(tests.loc[chosen])
        position = {label: i for i, label in enumerate(chosen)}
        rows = []
        extra: list[int] = []
        for step, label in enumerate(chosen):
            others = [ind for k, ind in enumerate(indicators) if k != step]
            without = self._fit_model(others)
            mine = claim_sets[:, position[label]]
            related = self._cohort_alternatives(tests, [*chosen, label], mine, without)
            windows = self._window_alternatives(
                tests, chosen, int(tests.loc[label, "track"]), mine, without
            )
            extra += [
                int(w)
                for w, i in zip(windows["window"], windows.index, strict=True)
                if i not in tests.index
            ]
            group = pd.concat([tests.loc[[label, *related]], windows])
            group = group[~group.index.duplicated()]
            lr = self._conditional_lr(without, group)
            order = np.argsort(-lr, kind="stable")
            best_lr = float(lr.max()) if lr.size else 0.0
            ranks = {int(group.index[i]): r + 1 for r, i in enumerate(order)}
            row = tests.loc[label].to_dict()
            row.update(
                label=label,
                step=step + 1,
                conditional_lr=entry_lr[step],
                adjusted_rate_ratio=float(adjusted[step]) if step < adjusted.size else math.nan,
                rank=ranks[label],
                separation=float(lr[0] / best_lr) if best_lr > 0 else 1.0,
                separation_lr=float(lr[0]),
                alternatives=[
                    (
                        int(group.index[i]),
                        float(lr[i] / best_lr) if best_lr > 0 else 0.0,
                        float(lr[i]),
                    )
                    for i in order
                    if int(group.index[i]) != label
                ],
            )
            rows.append(row)
        # _fit_model's last call was a drop-one model: leave the full model's coefficients
        self._fit_model(indicators)
        self._alternative_windows = self._scanned.set_index("window", drop=False).loc[
            sorted(set(extra))
        ]
        self._alternative_windows.index = len(tests) + self._alternative_windows["window"]
        return pd.DataFrame(rows, columns=columns)

    def _cohort_alternatives(
        self, tests: pd.DataFrame, excluded: list[int], mine: np.ndarray, without: np.ndarray
    ) -> list[int]:
        """Labels of the fixed cohorts that explain the same claims as a selected cohort.

        Like the windows (:meth:`_window_alternatives`), every fixed cohort competes, not only
        those the screen flagged on their own: one that holds ``min_claims`` claims, at least
        ``overlap`` of them the selected cohort's (``mine``, over the claimed units), and
        reaches ``min_rate_ratio`` under the model without the selected cohort (``without``).
        """
        fixed = tests[(tests["kind"] == "cohort") & ~tests.index.isin(excluded)]
        if fixed.empty:
            return []
        columns = fixed["cohort"].astype(int).to_numpy()
        shared = np.asarray(self._claimed_matrix[:, columns].T @ mine.astype(float)).ravel()
        theirs = fixed["claims"].to_numpy(dtype=float)
        expected = np.asarray(self._matrix.T @ without).ravel()[columns]
        eligible = self._explains_same(theirs, shared, expected)
        return [int(label) for label in fixed.index[eligible]]

    def _explains_same(
        self, theirs: np.ndarray, shared: np.ndarray, expected: np.ndarray
    ) -> np.ndarray:
        """Which cohorts explain a selected cohort's claims.

        Those with ``min_claims`` claims (``theirs``), ``overlap`` of them the selected cohort's
        (``shared``), at ``min_rate_ratio`` or more of what the model without it expects.
        """
        return np.asarray(
            (theirs >= self.min_claims)
            & (shared >= self.overlap * np.maximum(theirs, 1e-12))
            & (theirs >= self.min_rate_ratio * expected)
        )

    def _window_alternatives(
        self,
        tests: pd.DataFrame,
        chosen: list[int],
        own_track: int,
        mine: np.ndarray,
        without: np.ndarray,
    ) -> pd.DataFrame:
        """The strongest window of each other track that explains the same claims.

        Every window scanned competes, not only those the screen kept on their own: that a
        cluster exists is settled by the cohort selected; which of the cohorts holding its
        claims names it best is a question of how well each explains them. A window enters when
        at least ``overlap`` of its claims are the cohort's (``mine``: over the claimed units),
        it holds ``min_claims`` and reaches ``min_rate_ratio`` under the model without the
        cohort (``without``); of each track the one with the largest likelihood ratio there,
        and the one with the largest among those that hold ``cover`` of the cohort's claims (a
        day's window also holds the units around the claimed ones, so the machine that made
        most of them may separate them less well than a smaller cohort).
        Windows of ``tests`` keep their label; the others are labelled ``len(tests)`` plus their
        window number, and join :attr:`tests_` when the selection is final.
        """
        if self._windows is None or not len(self._windows["catalogue"]):
            return tests.iloc[0:0]
        per_unit = np.zeros(self._failed.size)
        per_unit[self._claimed[mine]] = 1.0
        shared = self._window_sums(per_unit)
        assert self._window_claims is not None
        theirs = self._window_claims
        expected = self._window_sums(without)
        catalogue = self._windows["catalogue"]
        taken = set(tests.loc[[c for c in chosen if tests.at[c, "kind"] == "window"], "window"])
        eligible = self._explains_same(theirs, shared, expected) & (catalogue[:, 0] != own_track)
        eligible &= ~np.isin(np.arange(len(catalogue)), list(taken))
        if not eligible.any():
            return tests.iloc[0:0]
        lr = _likelihood_ratio(theirs[eligible], expected[eligible])
        frame = pd.DataFrame(
            {
                "window": np.flatnonzero(eligible),
                "track": catalogue[eligible, 0],
                "lr": lr,
                "covers": shared[eligible] >= self.cover * max(float(mine.sum()), 1.0),
            }
        ).sort_values("lr", ascending=False, kind="stable")
        # the strongest window of each track, and the strongest holding most of the claims
        best = pd.concat(
            [frame.groupby("track").head(1), frame[frame["covers"]].groupby("track").head(1)]
        ).drop_duplicates("window")
        is_window = tests["kind"] == "window"
        known = dict(
            zip(tests.loc[is_window, "window"].astype(int), tests.index[is_window], strict=True)
        )
        scanned = self._scanned.set_index("window", drop=False)
        rows = []
        for window in best["window"].astype(int):
            if window in known:
                rows.append(tests.loc[known[window]])
            else:
                rows.append(scanned.loc[window].rename(len(tests) + window))
        return pd.DataFrame(rows)


__all__ = ["CohortScreen", "WindowBins"]


def _unique_rows(bits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(bits, axis=0, return_inverse=True)`` of a boolean matrix of any width, faster.

    Each row is read as a binary number, its first column the most significant bit: sorting the
    numbers sorts the rows as ``np.unique`` does (lexicographically, False first), so the
    patterns come in the same order. ``np.unique`` with ``axis`` sorts rows as structured
    records, many times slower on a large fleet.
    """
    width = bits.shape[1]
    if width > 62:
        # wider than an integer: each row packed into bytes, first column the highest bit,
        # compared byte by byte (as raw bytes sort), which is the rows' lexicographic order
        packed = np.ascontiguousarray(np.packbits(bits, axis=1))
        rows = packed.view(np.dtype((np.void, packed.shape[1]))).ravel()
        codes, inverse = np.unique(rows, return_inverse=True)
        as_bytes = codes.view(np.uint8).reshape(len(codes), packed.shape[1])
        patterns = np.unpackbits(as_bytes, axis=1, count=width).astype(bool)
        return patterns, inverse.ravel()
    weights = np.left_shift(np.int64(1), np.arange(width - 1, -1, -1, dtype=np.int64))
    codes, inverse = np.unique(bits.astype(np.int64) @ weights, return_inverse=True)
    patterns = (codes[:, None] & weights[None, :]) != 0
    return patterns, inverse.ravel()
