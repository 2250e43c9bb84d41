"""FHIR Money to and from the currency's minor unit (fen for CNY), exactly: never through floats
that could round a claim up or down by a fen."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["MINOR_UNITS", "from_minor", "to_minor"]

#: Minor units per major unit; CNY's fen is a hundredth of a yuan.
MINOR_UNITS = 100
_MAX = 2**128 - 1


def to_minor(money: Any, currency: str) -> int:
    """The amount of a FHIR Money in minor units; ValueError if it is not ``currency``, not
    positive, or finer than a minor unit."""
    if not isinstance(money, dict):
        raise ValueError("an amount must be a FHIR Money object")
    if money.get("currency") != currency:
        raise ValueError(f"amounts must be in {currency}, got {money.get('currency')!r}")
    value = money.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("a Money needs a numeric value")
    try:
        minor = Decimal(str(value)) * MINOR_UNITS
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if minor != minor.to_integral_value() or not 0 < minor <= _MAX:
        raise ValueError(f"not a positive amount in whole minor units: {value!r}")
    return int(minor)


def from_minor(amount: int, currency: str) -> dict[str, Any]:
    """A FHIR Money for ``amount`` minor units."""
    value = Decimal(amount) / MINOR_UNITS
    return {
        "value": int(value) if value == value.to_integral_value() else float(value),
        "currency": currency,
    }
