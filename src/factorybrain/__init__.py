"""factorybrain: one contextualized factory model and the agents that act on it."""

from __future__ import annotations

from factorybrain.exceptions import (
    FactorybrainError,
    IngestError,
    MappingError,
    NoDataError,
    NotFittedError,
    ParameterError,
    SchemaError,
    StoreError,
)

__version__ = "0.1.0"

__all__ = [
    "FactorybrainError",
    "IngestError",
    "MappingError",
    "NoDataError",
    "NotFittedError",
    "ParameterError",
    "SchemaError",
    "StoreError",
    "__version__",
]
