"""Days' supply limits through the issuing gateway over HTTP: at most 7 days (3 for an acute
condition, longer for a chronic one the rules list), as the bundled example rules file sets them;
a blocked prescription is refused with its finding and sends no transaction."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.gateway.client import GatewayError
from tests.api.test_prescriptions import MEDICATION_REQUEST, diagnosis_record, issue
from tests.world import Patient, World, enrol_patient

ACUTE = {"system": "http://snomed.info/sct", "code": "11840006"}
ACUTE_CATEGORY = {
    "system": "https://medledger.example/CodeSystem/prescription-category",
    "code": "acute",
}
OTHER_REASON = {"system": "http://hl7.org/fhir/sid/icd-10", "code": "K21.9"}
METFORMIN = {"system": "http://www.whocc.no/atc", "code": "A10BA02"}


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    return diagnosis_record(world, patient)


def _request(
    *, days: float | None = None, reason: dict[str, str] = OTHER_REASON, repeats: int = 0
) -> dict[str, Any]:
    request = copy.deepcopy(MEDICATION_REQUEST)
    request["reasonCode"] = [{"coding": [reason]}]
    request["medicationCodeableConcept"] = {"coding": [METFORMIN]}
    dispense = request["dispenseRequest"]
    dispense["numberOfRepeatsAllowed"] = repeats
    if days is not None:
        dispense["expectedSupplyDuration"] = {"value": days, "unit": "days", "code": "d"}
    return request


def _blocked(world: World, patient: Patient, record: str, request: dict[str, Any]) -> str:
    sent_before = world.w3.eth.get_transaction_count(world.org_address("hospital-a"))
    with pytest.raises(GatewayError) as err:
        issue(world, patient, record=record, resource=request)
    assert (err.value.status, err.value.problem_code) == (422, "prescription.pre_review_blocked")
    assert world.w3.eth.get_transaction_count(world.org_address("hospital-a")) == sent_before
    return err.value.detail or ""


def test_seven_days_supply_is_issued(world: World, patient: Patient, record: str) -> None:
    receipt = issue(world, patient, record=record, resource=_request(days=7))
    assert receipt["pre_review"]["outcome"] == "passed"


def test_eight_days_supply_is_blocked(world: World, patient: Patient, record: str) -> None:
    detail = _blocked(world, patient, record, _request(days=8))
    assert "over-max-days: 8 days' supply, at most 7" in detail


def test_repeats_count_towards_the_days(world: World, patient: Patient, record: str) -> None:
    detail = _blocked(world, patient, record, _request(days=4, repeats=1))
    assert "over-max-days: 8 days' supply" in detail


def test_an_acute_condition_is_held_to_three_days(
    world: World, patient: Patient, record: str
) -> None:
    detail = _blocked(world, patient, record, _request(days=4, reason=ACUTE))
    assert "over-acute-days: 4 days' supply for an acute condition" in detail
    assert "at most 3" in detail


def test_the_acute_category_marks_a_prescription_acute(
    world: World, patient: Patient, record: str
) -> None:
    request = _request(days=5)
    request["category"] = [{"coding": [ACUTE_CATEGORY]}]
    assert "over-acute-days" in _blocked(world, patient, record, request)


def test_three_days_for_an_acute_condition_is_issued(
    world: World, patient: Patient, record: str
) -> None:
    receipt = issue(world, patient, record=record, resource=_request(days=3, reason=ACUTE))
    assert receipt["pre_review"]["outcome"] == "passed"


def test_the_days_are_counted_from_quantity_and_a_structured_dose(
    world: World, patient: Patient, record: str
) -> None:
    request = _request()
    request["dispenseRequest"]["quantity"] = {"value": 20, "unit": "TAB", "code": "TAB"}
    request["dosageInstruction"] = [
        {
            "text": "one tablet twice a day",
            "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "TAB", "code": "TAB"}}],
        }
    ]
    assert "over-max-days: 10 days' supply" in _blocked(world, patient, record, request)


def test_a_listed_chronic_condition_may_last_its_own_maximum(
    world: World, patient: Patient, record: str
) -> None:
    hypertension = {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}
    receipt = issue(world, patient, record=record, resource=_request(days=28, reason=hypertension))
    assert receipt["pre_review"]["outcome"] == "passed"
    other = enrol_patient(world)
    other_record = diagnosis_record(world, other)
    detail = _blocked(world, other, other_record, _request(days=29, reason=hypertension))
    assert "over-max-days: 29 days' supply, at most 28" in detail
