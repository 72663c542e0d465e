"""The one exception hierarchy of factorybrain.

::

    FactorybrainError
    ├── ParameterError        a hyper-parameter or argument has the wrong type or range
    ├── NotFittedError        an engine was used before ``fit``
    ├── SchemaError           the store's schema is missing, too new or inconsistent
    ├── StoreError            the store cannot be opened or a query fails
    ├── MappingError          a mapping file is wrong (names the file, line and field)
    ├── IngestError           a source file cannot be read at all (names the file and why)
    ├── ComputeError          the Ray cluster cannot be reached or lost a task's workers
    └── EngineError           an engine cannot work on the data it was given
        ├── InfeasibleError   a planning problem has no solution (names the conflicting constraints)
        └── NoDataError       there is nothing to compute on (no machines, no shifts, no history)

Every message a user sees names the file, row or field, what was expected and what was found.
"""

from __future__ import annotations


class FactorybrainError(Exception):
    """Base of every error factorybrain raises on purpose."""


class ParameterError(FactorybrainError, ValueError):
    """A hyper-parameter or argument has the wrong type or is out of range."""


class NotFittedError(FactorybrainError, RuntimeError):
    """An engine was asked to predict or score before it was fitted."""


class SchemaError(FactorybrainError):
    """The store's schema is missing, newer than this code, or inconsistent."""


class StoreError(FactorybrainError):
    """The store cannot be opened, or a query against it failed."""


class MappingError(FactorybrainError):
    """A mapping file has a mistake; the message names the file, line and field."""


class IngestError(FactorybrainError):
    """A source file cannot be read at all; the message names the file and the reason."""


class ComputeError(FactorybrainError):
    """The Ray cluster cannot be reached, or lost a task's workers more often than it retries."""


class EngineError(FactorybrainError):
    """An engine cannot work on the data it was given."""


class InfeasibleError(EngineError):
    """A planning problem has no solution; the message names the constraints that conflict."""


class NoDataError(EngineError):
    """There is nothing to compute on: the store holds no machines, shifts or history for it."""
