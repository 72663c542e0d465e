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
from factorybrain.secrets import install_log_filter

# Whatever factorybrain logs goes through the redaction of factorybrain.secrets.
install_log_filter("factorybrain")

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
