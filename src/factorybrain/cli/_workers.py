"""The app of one of several API workers over a PostgreSQL store (``serve --workers N``).

uvicorn starts each worker process and calls :func:`create_worker_app` in it: every worker opens
the store of ``$FACTORYBRAIN_DB`` itself (a connection per worker thread, as one server does),
and exactly one of them runs the agents' schedules: the one that takes the store's advisory lock
``factorybrain.schedule`` (held by its connection while it lives; the others serve requests
only). ``$FACTORYBRAIN_SERVE_SCHEDULE`` carries the seconds between runs (0: never).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from factorybrain.exceptions import StoreError

#: Seconds between the agents' scheduled runs, handed from ``serve`` to its workers.
SCHEDULE_ENV = "FACTORYBRAIN_SERVE_SCHEDULE"

#: The advisory lock of the worker that runs the schedules.
SCHEDULE_LOCK = "factorybrain.schedule"


def create_worker_app() -> FastAPI:
    """Build this worker's app over the PostgreSQL store named by ``$FACTORYBRAIN_DB``."""
    from factorybrain.agents import installed_orchestrator
    from factorybrain.api import create_app
    from factorybrain.store import PostgresStore, is_postgres_url

    url = os.environ.get("FACTORYBRAIN_DB", "")
    if not is_postgres_url(url):
        raise StoreError(
            "API workers share a PostgreSQL store: set FACTORYBRAIN_DB to its "
            "postgresql:// URL (a DuckDB file is held by one process)"
        )
    store = PostgresStore(url)
    every = float(os.environ.get(SCHEDULE_ENV) or 0) or None
    if every is not None and not store.try_lock(SCHEDULE_LOCK):
        every = None  # another worker runs the schedules
    application = create_app(
        store,
        orchestrator=installed_orchestrator(store, with_agents=True),
        schedule_every=every,
        prepare=True,
        close_store=True,
    )
    try:
        from factorybrain.web import mount_dashboard
    except ImportError:  # the dashboard is optional
        return application
    mount_dashboard(application)
    return application
