"""Days' supply: how many days a MedicationRequest's medication lasts, and the pre-review's limit
on it (general prescriptions at most 7 days, acute ones 3, chronic conditions the rules' longer
maximum). The numbers and what marks a prescription acute or chronic are rules-file data.

Days' supply is read from ``dispenseRequest.expectedSupplyDuration`` when given, else computed
from ``dispenseRequest.quantity`` and a structured daily dose (``dosageInstruction[].doseAndRate``
times ``timing.repeat`` frequency over period); repeats multiply it, as they do the quantity.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from fractions import Fraction
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChronicCondition",
    "ConditionCode",
    "SupplyFinding",
    "SupplyLimits",
    "UnknownSupply",
    "days_supply",
    "supply_findings",
]

# UCUM units a duration or a timing period may be in, as days; a month is taken as 30 days and a
# year as 365 (a limit counted in days is then met a little early, never exceeded by the rounding).
# Counted in exact fractions, so that every 8 hours is 3 a day, not 2.999...
_DAYS_PER_UNIT = {
    "s": Fraction(1, 86_400),
    "min": Fraction(1, 1_440),
    "h": Fraction(1, 24),
    "d": Fraction(1),
    "wk": Fraction(7),
    "mo": Fraction(30),
    "a": Fraction(365),
}


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConditionCode(_Rule):
    """A coding that marks a prescription: matched against ``reasonCode`` and ``category``."""

    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str = ""


class ChronicCondition(ConditionCode):
    """A chronic condition whose prescriptions may last longer than the general maximum."""

    max_days: Decimal = Field(gt=0)


class UnknownSupply(StrEnum):
    """What the pre-review does with a prescription whose days' supply it cannot compute."""

    BLOCK = "block"
    ALLOW = "pass"


class SupplyLimits(_Rule):
    """The rules file's ``supply`` section."""

    max_days: Decimal = Field(default=Decimal(7), gt=0)
    acute_max_days: Decimal = Field(default=Decimal(3), gt=0)
    acute: tuple[ConditionCode, ...] = ()
    chronic: tuple[ChronicCondition, ...] = ()
    unknown: UnknownSupply = UnknownSupply.BLOCK


class SupplyFinding(StrEnum):
    """The reasons a supply check blocks with (the pre-review's codes)."""

    SUPPLY_UNKNOWN = "supply-unknown"
    OVER_MAX_DAYS = "over-max-days"
    OVER_ACUTE_DAYS = "over-acute-days"


def supply_findings(
    request: dict[str, Any], limits: SupplyLimits
) -> Iterable[tuple[SupplyFinding, str]]:
    """(reason, detail) for each way ``request`` breaks ``limits``; none if it keeps them."""
    days = days_supply(request)
    if days is None:
        if limits.unknown is UnknownSupply.BLOCK:
            yield (
                SupplyFinding.SUPPLY_UNKNOWN,
                "no expectedSupplyDuration, and no structured daily dose to count the quantity by",
            )
        return
    codes = _marks(request)
    acute = [c for c in limits.acute if (c.system, c.code) in codes]
    if acute:
        if days > Fraction(limits.acute_max_days):
            yield (
                SupplyFinding.OVER_ACUTE_DAYS,
                f"{_fmt(days)} days' supply for an acute condition ({_name(acute[0])}), "
                f"at most {_fmt(limits.acute_max_days)}",
            )
        return
    chronic = [c.max_days for c in limits.chronic if (c.system, c.code) in codes]
    most = max([limits.max_days, *chronic])
    if days > Fraction(most):
        yield (
            SupplyFinding.OVER_MAX_DAYS,
            f"{_fmt(days)} days' supply, at most {_fmt(most)}",
        )


def days_supply(request: dict[str, Any]) -> Fraction | None:
    """The days ``request``'s medication lasts, repeats included; None if it cannot be told."""
    dispense = request.get("dispenseRequest") or {}
    repeats = dispense.get("numberOfRepeatsAllowed") or 0
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 0:
        return None
    once = _expected_duration(dispense) or _by_dose(dispense, request.get("dosageInstruction"))
    return None if once is None else once * (1 + repeats)


def _expected_duration(dispense: dict[str, Any]) -> Fraction | None:
    duration = dispense.get("expectedSupplyDuration") or {}
    value = _decimal(duration.get("value"))
    per = _DAYS_PER_UNIT.get(duration.get("code") or duration.get("unit") or "")
    return None if value is None or per is None or value <= 0 else value * per


def _by_dose(dispense: dict[str, Any], dosages: object) -> Fraction | None:
    """Quantity over the daily dose, when every dosage instruction states dose and timing in the
    quantity's unit; None if any does not (a text-only dosage is read by the pharmacist)."""
    quantity = dispense.get("quantity") or {}
    total = _decimal(quantity.get("value"))
    unit = quantity.get("code") or quantity.get("unit")
    if total is None or total <= 0 or not isinstance(dosages, list) or not dosages:
        return None
    daily = Fraction(0)
    for dosage in dosages:
        per_day = _daily_dose(dosage, unit)
        if per_day is None:
            return None
        daily += per_day
    return total / daily if daily > 0 else None


def _daily_dose(dosage: object, unit: object) -> Fraction | None:
    if not isinstance(dosage, dict):
        return None
    rates = dosage.get("doseAndRate") or []
    dose = (rates[0].get("doseQuantity") or {}) if rates and isinstance(rates[0], dict) else {}
    amount = _decimal(dose.get("value"))
    if amount is None or (dose.get("code") or dose.get("unit")) != unit:
        return None
    repeat = (dosage.get("timing") or {}).get("repeat") or {}
    frequency = _decimal(repeat.get("frequency", 1))
    period = _decimal(repeat.get("period"))
    per = _DAYS_PER_UNIT.get(repeat.get("periodUnit") or "")
    if frequency is None or period is None or per is None or period <= 0:
        return None
    return amount * frequency / (period * per)


def _marks(request: dict[str, Any]) -> set[tuple[str, str]]:
    """Every (system, code) of the request's reasonCode and category concepts."""
    concepts = [*(request.get("reasonCode") or ()), *(request.get("category") or ())]
    return {
        (coding["system"], coding["code"])
        for concept in concepts
        if isinstance(concept, dict)
        for coding in concept.get("coding") or ()
        if isinstance(coding, dict) and coding.get("system") and coding.get("code")
    }


def _decimal(value: object) -> Fraction | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return Fraction(number) if number.is_finite() else None


def _fmt(days: Fraction | Decimal) -> str:
    rounded = (
        Decimal(days.numerator) / Decimal(days.denominator) if isinstance(days, Fraction) else days
    )
    return f"{rounded.quantize(Decimal('0.01')).normalize():f}"


def _name(code: ConditionCode) -> str:
    return code.display or f"{code.system}|{code.code}"
