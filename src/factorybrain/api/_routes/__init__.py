"""The routes of the REST API: one :class:`fastapi.APIRouter` per resource, in its module.

Each module holds a ``router`` whose paths are relative to the API's prefix (``/api/v1``);
:func:`factorybrain.api.create_app` includes them in the order :func:`installed` gives. The
routes are thin: they check the caller, read or write through the store access, and return
what a query function of :mod:`factorybrain.api._queries` or a record of the agents holds.

``ask``, ``trace``, ``plan``, ``kpis``, ``forecasts``, ``field`` and ``process`` wrap layers that
may be absent: such a module fails to import without its layer, and its routes are then not
included (the OpenAPI document, which the dashboard reads, says so). A module may define
``warm_up(access)``: what the app computes once in the background at start, when asked to
prepare.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import NamedTuple

from fastapi import APIRouter

from factorybrain.api._deps import StoreAccess
from factorybrain.api._routes import (
    access,
    agents,
    entities,
    genealogy,
    links,
    meta,
    records,
    series,
    store,
)

#: The routers over the core that come first, in the order they are included. The datapoints of
#: a series come before the entity routes, whose ``/time-series/{external_id:path}`` would take
#: them.
CORE_FIRST: tuple[APIRouter, ...] = (
    meta.router,
    access.router,
    agents.router,
    series.router,
    entities.router,
)
#: The modules over optional layers, included next, in this order.
OPTIONAL_ROUTES: tuple[str, ...] = (
    "ask",
    "trace",
    "plan",
    "kpis",
    "forecasts",
    "field",
    "process",
    "quality",
)
#: The routers over the core that come last.
CORE_LAST: tuple[APIRouter, ...] = (
    records.router,
    store.router,
    genealogy.router,
    links.router,
)


class Routes(NamedTuple):
    """The routers to include, in order, and what to prepare in the background at start."""

    routers: list[APIRouter]
    warm_ups: list[Callable[[StoreAccess], None]]


def installed() -> Routes:
    """The routers of the core and of the optional layers installed, in the order to include.

    The order is the one the routes always had: the OpenAPI document lists them in it. The
    optional layers are looked for at each call (as an app is built), not at import.
    """
    routers = list(CORE_FIRST)
    warm_ups: list[Callable[[StoreAccess], None]] = []
    for name in OPTIONAL_ROUTES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ImportError:  # its layer is not installed: no such routes
            continue
        routers.append(module.router)
        warm_up = getattr(module, "warm_up", None)
        if warm_up is not None:
            warm_ups.append(warm_up)
    routers.extend(CORE_LAST)
    return Routes(routers, warm_ups)
