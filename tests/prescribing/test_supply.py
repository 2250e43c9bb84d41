"""ledger.prescribing.supply: days' supply from the FHIR fields that state it, and the limits the
rules file's ``supply`` section sets."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from ledger.prescribing.supply import SupplyFinding, SupplyLimits, days_supply, supply_findings

TAB = {"value": 1, "unit": "TAB", "code": "TAB"}


def _request(dispense: dict[str, Any], dosage: list[Any] | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"resourceType": "MedicationRequest", "dispenseRequest": dispense}
    if dosage is not None:
        request["dosageInstruction"] = dosage
    return request


def _dose(value: float, frequency: int, period: float, unit: str = "d") -> dict[str, Any]:
    return {
        "timing": {"repeat": {"frequency": frequency, "period": period, "periodUnit": unit}},
        "doseAndRate": [{"doseQuantity": {**TAB, "value": value}}],
    }


@pytest.mark.parametrize(
    ("duration", "days"),
    [
        ({"value": 7, "code": "d"}, Decimal(7)),
        ({"value": 2, "code": "wk"}, Decimal(14)),
        ({"value": 36, "code": "h"}, Decimal("1.5")),
        ({"value": 1, "unit": "mo"}, Decimal(30)),
    ],
    ids=["days", "weeks", "hours", "month-by-unit"],
)
def test_the_expected_supply_duration_is_read_in_its_unit(
    duration: dict[str, Any], days: Decimal
) -> None:
    assert days_supply(_request({"expectedSupplyDuration": duration})) == Fraction(days)


def test_the_duration_wins_over_the_dose() -> None:
    request = _request(
        {"expectedSupplyDuration": {"value": 3, "code": "d"}, "quantity": {**TAB, "value": 60}},
        [_dose(1, 1, 1)],
    )
    assert days_supply(request) == 3


def test_two_dosage_instructions_add_up_per_day() -> None:
    request = _request({"quantity": {**TAB, "value": 30}}, [_dose(1, 2, 1), _dose(2, 1, 2)])
    assert days_supply(request) == 10  # 2 + 1 tablets a day


def test_every_eight_hours_is_three_doses_a_day() -> None:
    request = _request({"quantity": {**TAB, "value": 21}}, [_dose(1, 1, 8, "h")])
    assert days_supply(request) == 7


@pytest.mark.parametrize(
    "request_",
    [
        _request({"quantity": {**TAB, "value": 30}}, [{"text": "once a day"}]),
        _request({"quantity": {**TAB, "value": 30}}, [{**_dose(1, 1, 1), "doseAndRate": []}]),
        _request(
            {"quantity": {**TAB, "value": 30}},
            [{**_dose(1, 1, 1), "doseAndRate": [{"doseQuantity": {"value": 5, "code": "mg"}}]}],
        ),
        _request({"expectedSupplyDuration": {"value": 1, "code": "fortnight"}}),
        _request({"expectedSupplyDuration": {"value": 0, "code": "d"}}),
        _request(
            {"expectedSupplyDuration": {"value": 3, "code": "d"}, "numberOfRepeatsAllowed": -1}
        ),
        {"resourceType": "MedicationRequest"},
    ],
    ids=[
        "text-dose",
        "no-dose",
        "dose-in-another-unit",
        "unknown-unit",
        "zero",
        "bad-repeats",
        "none",
    ],
)
def test_what_cannot_be_counted_is_unknown(request_: dict[str, Any]) -> None:
    assert days_supply(request_) is None


def test_unknown_supply_blocks_unless_the_rules_let_it_pass() -> None:
    unknown = _request({"quantity": {**TAB, "value": 30}}, [{"text": "once a day"}])
    assert [r for r, _ in supply_findings(unknown, SupplyLimits())] == [
        SupplyFinding.SUPPLY_UNKNOWN
    ]
    assert list(supply_findings(unknown, SupplyLimits(unknown="pass"))) == []


def test_the_limits_are_the_rules_numbers_and_inclusive() -> None:
    limits = SupplyLimits(max_days=Decimal(10))
    assert (
        list(
            supply_findings(
                _request({"expectedSupplyDuration": {"value": 10, "code": "d"}}), limits
            )
        )
        == []
    )
    findings = list(
        supply_findings(_request({"expectedSupplyDuration": {"value": 10.5, "code": "d"}}), limits)
    )
    assert findings == [(SupplyFinding.OVER_MAX_DAYS, "10.5 days' supply, at most 10")]
