"""A compute pool for tests: it records every map and runs it here, sent through pickle first."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from typing import Any

from factorybrain import compute


class RecordingPool(compute.Pool):
    """Claims ``workers`` workers (so the work is batched), records each map and runs it here.

    Every call goes through pickle first, as it would to a Ray cluster.
    """

    def __init__(self, workers: int = 4) -> None:
        self._workers = workers
        self.calls: list[tuple[str, int, str]] = []

    @property
    def workers(self) -> int:
        return self._workers

    def map(
        self,
        function: Callable[..., Any],
        pieces: Sequence[Any],
        *shared: Any,
        label: str = "work",
    ) -> list[Any]:
        self.calls.append((function.__qualname__, len(pieces), label))
        function, sent, shared = pickle.loads(pickle.dumps((function, list(pieces), shared)))
        return super().map(function, sent, *shared, label=label)
