"""The store interface: the narrow waist between the factory model and its database.

Callers speak in entity types, Arrow data and time ranges, never in a database dialect, so a
PostgreSQL store can sit behind the same interface. Writes happen inside :meth:`Store.transaction`:
all of a batch lands or none of it.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Self

import pandas as pd
import pyarrow as pa

from factorybrain.exceptions import StoreError
from factorybrain.store._schema import SERIES_LINKS

#: Parameters of an SQL statement: positional (``?``) or named (``$name``).
QueryParameters = Sequence[Any] | Mapping[str, Any]


@dataclass(frozen=True)
class WriteCounts:
    """What a write did: rows that were new, changed, or already there unchanged."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: WriteCounts) -> WriteCounts:
        return WriteCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


@dataclass(frozen=True)
class DedupOutcome:
    """What resolving duplicate datapoint keys did.

    ``updated`` and ``unchanged`` count keys that existed before the ingest; ``superseded`` holds
    ``(series_id, ts, value)`` of rows of the same ingest that a later row of the same key
    replaced (they go to quarantine, so no row read is lost).
    """

    updated: int = 0
    unchanged: int = 0
    superseded: tuple[tuple[int, datetime, float], ...] = ()


class Store(abc.ABC):
    """Where the factory model lives. Use :func:`factorybrain.store.open_store` to get one."""

    # -- lifecycle -------------------------------------------------------------------------
    @abc.abstractmethod
    def migrate(self) -> int:
        """Bring the schema to the current version; return the number of steps applied."""

    @abc.abstractmethod
    def schema_version(self) -> int:
        """Return the schema version of the store (0 for an empty store)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the database."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """Run the writes inside the block as one transaction: all land, or none."""

    def generation_of(self, tables: Iterable[str]) -> int | None:
        """A number that grows with every write to any of ``tables``, or None if unknown.

        Equal numbers from the same store (or its readers) mean those tables hold what they
        held, so a cache of answers derived from them can be checked without a query; with
        None (a store that cannot count its writes), callers look at the data itself.
        """
        return None

    def link_series(self) -> None:
        """Put each historian series on the asset its approved link names (``asset``).

        Called when links are approved or rejected, so that a machine's page, the API's
        ``time-series?asset=`` and every reader of ``time_series.asset`` see its sensors; a
        series already on an asset (mapped at ingestion) keeps it.
        """
        for statement in SERIES_LINKS:
            self.execute(statement, tables=("time_series",))

    @property
    def known_at(self) -> datetime | None:
        """The moment an :meth:`as_of` handle looks at (None: the present)."""
        return None

    def as_of(self, at: datetime) -> Store:
        """A handle on this store that sees the factory model as it was known at ``at``.

        Datapoints up to ``at``; records of the model from the time they became known, their
        later times empty and their statuses rewound (:data:`factorybrain.model.KNOWN_AT`); the
        agents' records as they are, so agents run through it write their findings as usual.
        Calling it on such a handle moves that handle to another moment.

        Raises:
            StoreError: If this kind of store cannot look back.
        """
        raise StoreError(f"{type(self).__name__} cannot show the model as of a past moment")

    # -- writes ------------------------------------------------------------------------------
    @abc.abstractmethod
    def upsert_entities(self, entity_type: str, rows: pa.Table, ingest_id: str) -> WriteCounts:
        """Insert new entities and update changed ones, keyed by (space, external_id).

        ``rows`` must hold unique keys; columns not in the table keep their stored values.
        """

    @abc.abstractmethod
    def upsert_edges(self, rows: pa.Table, ingest_id: str) -> WriteCounts:
        """Insert or update genealogy edges, keyed by type, source and target."""

    @abc.abstractmethod
    def ensure_series(self, space: str, external_ids: Sequence[str], source: str) -> pa.Table:
        """Create the time series that do not exist yet; return (external_id, series_id, units)."""

    @abc.abstractmethod
    def append_datapoints(self, batches: Iterator[pa.RecordBatch]) -> int:
        """Append datapoints ``(series_id, ts, value)``; return the number of rows written."""

    @abc.abstractmethod
    def deduplicate_datapoints(self, extents: pa.Table, watermark: int) -> DedupOutcome:
        """Resolve duplicate (series, ts) keys inside ``extents`` (series_id, first_ts, last_ts).

        The most recently written row of each key wins; the counts say how many keys were new,
        changed and unchanged relative to the data that existed before.
        """

    @abc.abstractmethod
    def quarantine(self, rows: pa.Table) -> int:
        """Keep rejected rows with their file, row number, raw content and reason."""

    @abc.abstractmethod
    def forget_quarantine(self, source_file: str, entity_type: str, mapping_file: str) -> int:
        """Remove the quarantine of earlier ingests of one file through one mapping."""

    @abc.abstractmethod
    def record_ingest(self, report: Mapping[str, Any]) -> None:
        """Store the report of one ingest."""

    # -- reads -------------------------------------------------------------------------------
    @abc.abstractmethod
    def entities(
        self,
        entity_type: str,
        *,
        where: Mapping[str, Any] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Return entities of a type, optionally filtered by equality on fields."""

    @abc.abstractmethod
    def datapoints(self, series: str, start: datetime, end: datetime) -> pd.DataFrame:
        """Return the points of one series in ``[start, end)`` ordered by time."""

    @abc.abstractmethod
    def downsample(
        self, series: str, start: datetime, end: datetime, every: timedelta
    ) -> pd.DataFrame:
        """Return min, max, mean and count per time bucket of one series in ``[start, end)``."""

    @abc.abstractmethod
    def latest(self, series: Sequence[str]) -> pd.DataFrame:
        """Return the last point of each series."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Return the number of rows per entity type, plus datapoints and edges."""

    @abc.abstractmethod
    def quarantine_summary(self) -> pd.DataFrame:
        """Return open quarantine counted by distinct problem: one row per file and reason."""

    @abc.abstractmethod
    def ingest_history(self, limit: int = 20) -> pd.DataFrame:
        """Return the most recent ingest reports, newest first."""

    @abc.abstractmethod
    def execute(
        self,
        sql: str,
        parameters: QueryParameters | None = None,
        *,
        tables: Iterable[str],
        wait: bool = True,
    ) -> bool:
        """Run one write statement of factorybrain's own (never SQL a user wrote).

        ``tables`` names what it changes, for :meth:`generation_of`; with ``wait=False`` a
        store busy with another writer skips the statement. Returns whether it ran.
        """

    @abc.abstractmethod
    def query(self, sql: str, parameters: QueryParameters | None = None) -> pd.DataFrame:
        """Run one read-only SQL statement and return its result.

        ``sql`` may come from a user (``factorybrain query``), so a store refuses, with a
        :class:`~factorybrain.exceptions.StoreError` that says what and why, anything but one
        SELECT (WITH, DESCRIBE, SHOW, SUMMARIZE, and EXPLAIN without ANALYZE included) that
        reads the factory model's tables: no writes, no second statement, no settings, and
        nothing outside the database (files, the environment, extensions). Values belong in
        ``parameters``, not in the text: the check of each text is cached.
        """

    def query_rows(
        self, sql: str, parameters: QueryParameters | None = None
    ) -> list[dict[str, Any]]:
        """Run one read-only SQL statement and return its rows as ``{column: value}`` dicts.

        For small results on hot paths (the API): a store may skip the DataFrame and hand back
        plain Python values (``datetime``, ``None``, lists); callers accept both.
        """
        records: list[dict[str, Any]] = self.query(sql, parameters).to_dict("records")
        return records

    def series_page(
        self,
        series: str,
        start: datetime,
        end: datetime,
        *,
        every: timedelta | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of a series in ``[start, end)`` and the number of rows in the whole window.

        Rows are raw points ``{ts, value}`` in time order, or with ``every`` buckets
        ``{bucket, min, max, mean, count}``. A store may push the page into its query.
        """
        if every is None:
            frame = self.datapoints(series, start, end)
        else:
            frame = self.downsample(series, start, end, every)
        stop = None if limit is None else offset + limit
        page: list[dict[str, Any]] = frame.iloc[offset:stop].to_dict("records")
        return page, len(frame)
