"""Unit conversion at ingestion, backed by pint.

Every conversion the model needs is affine (``y = a * x + b``; offsets only for temperatures), so
pint is asked once per distinct unit pair and the pair's factor and offset are applied to whole
columns inside the database.
"""

from __future__ import annotations

from functools import lru_cache

import pint

_REGISTRY: pint.UnitRegistry = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)


class UnitConversionError(ValueError):
    """A unit is unknown, or two units measure different things."""


@lru_cache(maxsize=1024)
def parse_unit(unit: str) -> pint.Unit:
    """Return pint's unit for ``unit``.

    Raises:
        UnitConversionError: If pint does not know the unit.
    """
    text = unit.strip()
    aliases = {"°C": "degC", "°F": "degF", "C": "degC", "F": "degF", "%": "percent"}
    text = aliases.get(text, text)
    try:
        return _REGISTRY.parse_units(text)
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AssertionError,
        AttributeError,
        TypeError,
        ValueError,
    ) as error:
        raise UnitConversionError(f"unknown unit {unit!r}") from error


@lru_cache(maxsize=1024)
def affine(from_unit: str, to_unit: str) -> tuple[float, float]:
    """Return ``(factor, offset)`` so that ``value_in_to = factor * value_in_from + offset``.

    Raises:
        UnitConversionError: If a unit is unknown or the two are not of the same dimension.
    """
    source, target = parse_unit(from_unit), parse_unit(to_unit)
    if source.dimensionality != target.dimensionality:
        raise UnitConversionError(
            f"cannot convert {from_unit!r} ({source.dimensionality}) to {to_unit!r} "
            f"({target.dimensionality})"
        )
    zero = _REGISTRY.Quantity(0.0, source).to(target).magnitude
    one = _REGISTRY.Quantity(1.0, source).to(target).magnitude
    return float(one - zero), float(zero)
