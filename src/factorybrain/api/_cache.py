"""Answers of reads kept until a table they read is written.

A dashboard on every desk asks for the same pages every few seconds (the inbox, the findings,
the audit log, a machine's day of data) while the tables behind them change a few times an
hour. :class:`ReadCache` keeps the JSON body of such an answer, keyed by the request's
parameters, with the store's write count of the tables it read
(:meth:`~factorybrain.store.Store.generation_of`); the next identical request is answered from
it while none of those tables was written since, and computed again (and kept again) otherwise.

The count is taken *before* the query runs: a write that commits while the query reads bumps the
count after it, so what the query saw (before or after the write) is never kept under a count
that says "after". A store that keeps no counts (``generation_of`` answers None) is never
cached. Answers are kept whole (the body bytes, as sent), the least recently used go first
once the kept bytes pass ``max_bytes``, and a body larger than ``max_entry_bytes`` is not kept.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

from factorybrain.exceptions import ParameterError
from factorybrain.store import Store

#: Bytes of answers kept by default (per app).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024
#: The environment variable that sets the bytes of answers kept (0: none).
READ_CACHE_BYTES_ENV = "FACTORYBRAIN_READ_CACHE_BYTES"
#: The largest answer kept by default: a bigger one is computed every time.
DEFAULT_MAX_ENTRY_BYTES = 1024 * 1024


def cache_bytes(given: int | None) -> int:
    """Bytes of answers to keep: ``given``, else ``$FACTORYBRAIN_READ_CACHE_BYTES``, else 32 MiB.

    Raises:
        ParameterError: If the setting is negative or not an integer (naming where it came from).
    """
    source = "read_cache_bytes"
    if given is None:
        setting = os.environ.get(READ_CACHE_BYTES_ENV, "").strip()
        if not setting:
            return DEFAULT_MAX_BYTES
        source = f"${READ_CACHE_BYTES_ENV}"
        try:
            given = int(setting)
        except ValueError:
            raise ParameterError(
                f"{source} must be a number of bytes (0 keeps no answers), got {setting!r}"
            ) from None
    if isinstance(given, bool) or not isinstance(given, int) or given < 0:
        raise ParameterError(
            f"{source} must be a number of bytes (0 keeps no answers), got {given!r}"
        )
    return given


def json_body(content: Any) -> bytes:
    """``content`` as the API sends JSON: compact UTF-8, no NaN (as Starlette's JSONResponse)."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


class ReadCache:
    """JSON answers of reads, each kept while the tables it read are unchanged (thread-safe).

    Args:
        max_bytes: Most bytes of answers kept (0 keeps nothing).
        max_entry_bytes: The largest answer kept.
    """

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, max_entry_bytes: int = DEFAULT_MAX_ENTRY_BYTES
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max_entry_bytes
        self._kept: OrderedDict[Hashable, tuple[int, bytes]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        #: Answers served from the cache, and computed (missing or out of date).
        self.hits = 0
        self.misses = 0

    def answer(
        self,
        store: Store,
        key: Hashable,
        tables: Iterable[str],
        build: Callable[[], Any],
    ) -> bytes:
        """The JSON body of ``build()``, from the cache while ``tables`` are unchanged.

        Args:
            store: The handle the answer is read through (its write counts decide).
            key: Everything the answer depends on besides the tables' contents (the route and
                its parameters).
            tables: Every table ``build`` reads.
            build: Computes the answer's content (a JSON value) over ``store``.
        """
        generation = store.generation_of(tables)
        if generation is None or self.max_bytes <= 0:
            return json_body(build())
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == generation:
                self._kept.move_to_end(key)
                self.hits += 1
                return kept[1]
            self.misses += 1
        body = json_body(build())
        if len(body) <= self.max_entry_bytes:
            self._keep(key, generation, body)
        return body

    def _keep(self, key: Hashable, generation: int, body: bytes) -> None:
        with self._lock:
            old = self._kept.pop(key, None)
            if old is not None:
                self._bytes -= len(old[1])
            self._kept[key] = (generation, body)
            self._bytes += len(body)
            while self._bytes > self.max_bytes and self._kept:
                _, (_, dropped) = self._kept.popitem(last=False)
                self._bytes -= len(dropped)

    @property
    def kept_bytes(self) -> int:
        """Bytes of answers kept now."""
        return self._bytes

    def clear(self) -> None:
        """Forget every kept answer."""
        with self._lock:
            self._kept.clear()
            self._bytes = 0
