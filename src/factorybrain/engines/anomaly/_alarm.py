"""Alarm logic: persistence (k of n) to raise, hysteresis to clear."""

from __future__ import annotations

import math

import numpy as np

from factorybrain.exceptions import ParameterError


class AlarmLogic:
    """Turn a stream of anomaly scores into an alarm state that does not chatter.

    The alarm **raises** when at least ``k`` of the last ``n`` scores are above ``threshold``
    (persistence), and once raised it **clears** only after ``clear_after`` consecutive scores at
    or below ``clear_ratio * threshold`` (hysteresis). A NaN score (a row the model could not
    score) neither raises nor clears: the state is held.

    The state is O(n) and constant per sample, so :meth:`update` can run on a live stream;
    :meth:`apply` runs the same logic over a whole array and gives identical results.

    Args:
        threshold: Score above which a sample counts as a vote for an alarm.
        k: Votes needed to raise.
        n: Length of the voting window (``k <= n``).
        clear_ratio: Fraction of ``threshold`` a score must fall to (or below) to count towards
            clearing, in (0, 1].
        clear_after: Consecutive low scores needed to clear.

    Example:
        >>> logic = AlarmLogic(threshold=1.0, k=2, n=3, clear_after=2)
        >>> logic.apply(np.array([2.0, 0.0, 2.0, 0.5, 0.5, 0.5])).tolist()
        [False, False, True, True, False, False]
    """

    def __init__(
        self,
        *,
        threshold: float,
        k: int = 3,
        n: int = 5,
        clear_ratio: float = 0.8,
        clear_after: int = 5,
    ) -> None:
        self.threshold = threshold
        self.k = k
        self.n = n
        self.clear_ratio = clear_ratio
        self.clear_after = clear_after
        self._validate()
        self.reset()

    def _validate(self) -> None:
        if not isinstance(self.threshold, int | float) or not math.isfinite(self.threshold):
            raise ParameterError(
                f"The 'threshold' of AlarmLogic must be a finite float. Got {self.threshold!r}."
            )
        for name in ("k", "n", "clear_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(
                    f"The {name!r} parameter of AlarmLogic must be an int in [1, inf). "
                    f"Got {value!r} instead."
                )
        if self.k > self.n:
            raise ParameterError(
                f"The 'k' parameter of AlarmLogic must not exceed 'n' ({self.n}). Got {self.k}."
            )
        if not isinstance(self.clear_ratio, int | float) or not 0 < self.clear_ratio <= 1:
            raise ParameterError(
                "The 'clear_ratio' parameter of AlarmLogic must be a float in (0, 1]. "
                f"Got {self.clear_ratio!r} instead."
            )

    def reset(self) -> None:
        """Forget the history: no votes, alarm off."""
        self._votes = [False] * self.n
        self._position = 0
        self._vote_count = 0
        self._low_run = 0
        self.active = False

    def update(self, score: float) -> bool:
        """Feed one score and return whether the alarm is on after it."""
        if score != score:  # NaN: hold the state, the row says nothing either way
            return self.active
        vote = score > self.threshold
        old = self._votes[self._position]
        self._votes[self._position] = vote
        self._position = (self._position + 1) % self.n
        self._vote_count += int(vote) - int(old)
        if self.active:
            self._low_run = self._low_run + 1 if score <= self.clear_ratio * self.threshold else 0
            if self._low_run >= self.clear_after:
                self.active = False
                self._low_run = 0
        elif self._vote_count >= self.k:
            self.active = True
            self._low_run = 0
        return self.active

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Run the logic over an array of scores from a fresh state; return the alarm per sample."""
        self.reset()
        values = np.asarray(scores, dtype=float).ravel().tolist()
        return np.fromiter((self.update(v) for v in values), dtype=bool, count=len(values))


__all__ = ["AlarmLogic"]
