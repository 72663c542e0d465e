"""The one contract every engine follows.

``__init__`` only stores keyword hyper-parameters; ``fit(data)`` returns ``self``; learned state
ends in ``_``; ``predict`` and ``score`` raise :class:`~factorybrain.exceptions.NotFittedError`
before ``fit``. Hyper-parameter checks are declared as data in ``_parameter_constraints`` and
checked by :meth:`Engine._validate_parameters`, so every error has one shape::

    The 'window' parameter of RULModel must be an int in [1, inf). Got -3 instead.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from factorybrain.exceptions import NotFittedError, ParameterError


@dataclass(frozen=True)
class Interval:
    """A numeric range a hyper-parameter must fall in.

    Args:
        kind: ``int`` or ``float`` (an int is accepted where a float is asked for).
        low: Lower bound, ``None`` for unbounded.
        high: Upper bound, ``None`` for unbounded.
        closed: Which ends are closed: ``"both"``, ``"left"``, ``"right"`` or ``"neither"``.
    """

    kind: type
    low: float | None
    high: float | None
    closed: str = "both"

    def accepts(self, value: Any) -> bool:
        """Return whether ``value`` has the right type and lies in the interval."""
        if isinstance(value, bool):
            return False
        if self.kind is int and not isinstance(value, int):
            return False
        if self.kind is float and not isinstance(value, int | float):
            return False
        if isinstance(value, float) and math.isnan(value):
            return False
        low_ok = (
            self.low is None
            or value > self.low
            or (value == self.low and self.closed in ("both", "left"))
        )
        high_ok = (
            self.high is None
            or value < self.high
            or (value == self.high and self.closed in ("both", "right"))
        )
        return low_ok and high_ok

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        name = "an int" if self.kind is int else "a float"
        return f"{name} in {left}{low}, {high}{right}"


@dataclass(frozen=True)
class Options:
    """A closed set of allowed values (strings, usually)."""

    values: frozenset[Any]

    def __init__(self, values: Iterable[Any]) -> None:
        object.__setattr__(self, "values", frozenset(values))

    def accepts(self, value: Any) -> bool:
        """Return whether ``value`` is one of the options."""
        try:
            return value in self.values
        except TypeError:
            return False

    def __str__(self) -> str:
        return "one of {" + ", ".join(repr(v) for v in sorted(self.values, key=str)) + "}"


@dataclass(frozen=True)
class InstanceOf:
    """Any value of the given types (``None`` allowed by listing ``type(None)``)."""

    types: tuple[type, ...]

    def accepts(self, value: Any) -> bool:
        """Return whether ``value`` is an instance of one of the types."""
        return isinstance(value, self.types)

    def __str__(self) -> str:
        names = ["None" if t is type(None) else t.__name__ for t in self.types]
        return "an instance of " + " or ".join(names)


Constraint = Interval | Options | InstanceOf


class Engine:
    """Base class of every engine: parameters, validation, fitted-state checks.

    Subclasses declare ``_parameter_constraints = {"name": [constraint, ...]}``; a value is valid
    when any of its constraints accepts it (``None`` is valid where ``InstanceOf((type(None),))``
    is listed).
    """

    _parameter_constraints: ClassVar[dict[str, list[Constraint]]] = {}

    @classmethod
    def _parameter_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [
            name
            for name, parameter in signature.parameters.items()
            if name != "self" and parameter.kind == parameter.KEYWORD_ONLY
        ]

    def get_params(self) -> dict[str, Any]:
        """Return the hyper-parameters as a dict (the keyword arguments of ``__init__``)."""
        return {name: getattr(self, name) for name in self._parameter_names()}

    def set_params(self, **params: Any) -> Engine:
        """Set hyper-parameters by name and return ``self``."""
        valid = set(self._parameter_names())
        for name, value in params.items():
            if name not in valid:
                raise ParameterError(
                    f"{type(self).__name__} has no parameter {name!r}; "
                    f"expected one of {sorted(valid)}."
                )
            setattr(self, name, value)
        return self

    def _validate_parameters(self) -> None:
        """Check every declared hyper-parameter; call at the start of ``fit``."""
        for name, constraints in self._parameter_constraints.items():
            value = getattr(self, name)
            if any(constraint.accepts(value) for constraint in constraints):
                continue
            allowed = " or ".join(str(constraint) for constraint in constraints)
            raise ParameterError(
                f"The {name!r} parameter of {type(self).__name__} must be {allowed}. "
                f"Got {value!r} instead."
            )

    def _is_fitted(self) -> bool:
        return any(name.endswith("_") and not name.startswith("_") for name in vars(self))

    def _check_fitted(self) -> None:
        """Raise :class:`NotFittedError` unless ``fit`` has run."""
        if not self._is_fitted():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. "
                "Call 'fit' with training data before using it."
            )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


__all__ = ["Constraint", "Engine", "InstanceOf", "Interval", "Options"]
