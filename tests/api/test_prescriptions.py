"""Prescriptions through the real gateways over HTTP, on a real anvil: issue (with practice rights,
follow-up eligibility and pre-review), review, the pharmacy's dispensing view, one dispense across
two pharmacies, cancel, expiry to the second, and the regulator's views."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.gateway import build_gateway
from api.main import create_app
from api.serving import serve
from ledger.chain.connection import Chain
from ledger.gateway.client import GatewayClient, GatewayError
from ledger.prescribing.signature import issue_signed
from ledger.settings import Settings
from tests.world import MAX_PAYLOAD, Patient, World, anchor, enrol_patient, fhir, private_world

RAMIPRIL = {"system": "http://www.whocc.no/atc", "code": "C09AA05", "display": "ramipril"}
MORPHINE = {"system": "http://www.whocc.no/atc", "code": "N02AA01", "display": "morphine"}
HYPERTENSION = {"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}

MEDICATION_REQUEST: dict[str, Any] = {
    "resourceType": "MedicationRequest",
    "status": "active",
    "intent": "order",
    "medicationCodeableConcept": {"coding": [RAMIPRIL]},
    "subject": {"reference": "Patient/p1"},
    "reasonCode": [{"coding": [HYPERTENSION]}],
    "dosageInstruction": [{"text": "5 mg once a day"}],
    "dispenseRequest": {"quantity": {"value": 30, "unit": "TAB", "code": "TAB"}},
}


def dispense_body(prescription_id: str) -> bytes:
    return json.dumps(
        {
            "resourceType": "MedicationDispense",
            "status": "completed",
            "medicationCodeableConcept": {"coding": [RAMIPRIL]},
            "subject": {"reference": "Patient/p1"},
            "authorizingPrescription": [{"reference": f"MedicationRequest/{prescription_id}"}],
            "quantity": {"value": 30, "unit": "TAB"},
        }
    ).encode()


def diagnosis_record(world: World, patient: Patient) -> str:
    """An offline visit's record with its diagnosis: what makes the patient a follow-up."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": fhir("condition-example-f201-fever.json")}],
    }
    return str(anchor(world, patient, bundle)["record_id"])


def issue(
    world: World,
    patient: Patient,
    *,
    record: str | None,
    doctor: tuple[str, str] = ("hospital-a", "doctor"),
    resource: dict[str, Any] = MEDICATION_REQUEST,
    online: bool = True,
) -> dict[str, Any]:
    params: dict[str, Any] = {"patient": patient.pseudonym.address, "online": online}
    if record is not None:
        params["follow_up_record"] = record
    with world.as_staff(*doctor, gateway="hospital-a") as client:
        # Drafted at the gateway, signed here with the doctor's own key, then issued.
        receipt: dict[str, Any] = issue_signed(client, json.dumps(resource).encode(), params)
    return receipt


def review(world: World, pid: str, decision: str = "approve", reason: str | None = None) -> Any:
    body: dict[str, Any] = {"decision": decision}
    if reason:
        body["reason"] = reason
    with world.as_staff("hospital-a", "pharmacist") as pharmacist:
        return pharmacist.post_json(f"/v1/prescriptions/{pid}/review", body)


def dispense(world: World, pid: str, pharmacy: str = "pharmacy") -> Any:
    with world.as_staff(pharmacy, "pharmacist", gateway=pharmacy) as pharmacist:
        return pharmacist.post_json(f"/v1/prescriptions/{pid}/dispense", content=dispense_body(pid))


def refused(call: Any) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    return diagnosis_record(world, patient)


@pytest.fixture
def approved(world: World, patient: Patient, record: str) -> str:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    review(world, pid)
    return pid


# -- issue ------------------------------------------------------------------------------------


def test_issued_prescription_is_pending_draft_and_read_whole_by_the_hospital(
    world: World, patient: Patient, record: str
) -> None:
    receipt = issue(world, patient, record=record)
    assert receipt["pre_review"] == {"outcome": "passed", "reason": None, "findings": []}
    with world.as_staff("hospital-a", "doctor") as doctor:
        read = doctor.get_json(f"/v1/prescriptions/{receipt['prescription_id']}")
    assert (read["view"], read["status"], read["fhir_status"]) == ("full", "pending", "draft")
    assert read["resource"] == MEDICATION_REQUEST
    assert read["expires_at"] == receipt["expires_at"]
    assert read["follow_up_record"] == record


def test_doctor_with_an_approved_filing_prescribes_at_the_other_hospital(
    world: World, patient: Patient, record: str
) -> None:
    receipt = issue(world, patient, record=record, doctor=("hospital-b", "doctor"))
    with world.as_staff("hospital-a", "doctor") as doctor:
        read = doctor.get_json(f"/v1/prescriptions/{receipt['prescription_id']}")
    assert read["prescriber"] == world.staff("hospital-b", "doctor").address
    assert read["institution"] == world.org_address("hospital-a")


def test_doctor_without_a_filing_is_refused(world: World, patient: Patient, record: str) -> None:
    call = lambda: issue(world, patient, record=record, doctor=("hospital-b", "locum"))  # noqa: E731
    assert refused(call) == (403, "prescription.prescriber_not_permitted")


def test_first_diagnosis_patient_is_refused(world: World, patient: Patient) -> None:
    assert refused(lambda: issue(world, patient, record=None)) == (
        422,
        "prescription.first_diagnosis",
    )


def test_follow_up_record_without_a_diagnosis_is_refused(world: World, patient: Patient) -> None:
    observation = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    assert refused(lambda: issue(world, patient, record=observation)) == (
        422,
        "prescription.follow_up_not_diagnosis",
    )


def visit(encounter_class: str) -> dict[str, Any]:
    """A diagnosis made at an encounter of ``encounter_class`` (v3 ActCode: AMB, VR, ...)."""
    act_code = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": act_code, "code": encounter_class},
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": encounter}, {"resource": fhir("condition-example-f201-fever.json")}],
    }


def test_follow_up_of_a_virtual_visit_is_refused(world: World, patient: Patient) -> None:
    online = anchor(world, patient, visit("VR"))["record_id"]
    assert refused(lambda: issue(world, patient, record=online)) == (
        422,
        "prescription.follow_up_not_offline",
    )


def test_follow_up_of_an_ambulatory_visit_is_accepted(world: World, patient: Patient) -> None:
    in_person = anchor(world, patient, visit("AMB"))["record_id"]
    assert issue(world, patient, record=in_person)["pre_review"]["outcome"] == "passed"


def test_follow_up_record_of_another_patient_is_refused(
    world: World, patient: Patient, record: str
) -> None:
    other = enrol_patient(world)
    assert refused(lambda: issue(world, other, record=record)) == (
        422,
        "prescription.follow_up_record_mismatch",
    )


def test_a_clerk_may_not_prescribe(world: World, patient: Patient, record: str) -> None:
    call = lambda: issue(world, patient, record=record, doctor=("hospital-a", "clerk"))  # noqa: E731
    assert refused(call) == (403, "auth.role_forbidden")


def _blocked(call: Any) -> tuple[int | None, str | None, str]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code, err.value.detail or ""


def test_controlled_drug_online_is_blocked_and_not_issued(
    world: World, patient: Patient, record: str
) -> None:
    controlled = copy.deepcopy(MEDICATION_REQUEST)
    controlled["medicationCodeableConcept"] = {"coding": [MORPHINE]}
    issued_before = world.w3.eth.get_transaction_count(world.org_address("hospital-a"))
    status, code, detail = _blocked(
        lambda: issue(world, patient, record=record, resource=controlled)
    )
    assert (status, code) == (422, "prescription.pre_review_blocked")
    assert "controlled-online" in detail
    assert world.w3.eth.get_transaction_count(world.org_address("hospital-a")) == issued_before


def test_the_same_drug_twice_is_blocked_as_duplicate_therapy(
    world: World, patient: Patient, record: str
) -> None:
    issue(world, patient, record=record)
    status, code, detail = _blocked(lambda: issue(world, patient, record=record))
    assert (status, code) == (422, "prescription.pre_review_blocked")
    assert "duplicate-therapy" in detail


# -- review and reads ---------------------------------------------------------------------------


def test_rejection_needs_a_reason(world: World, patient: Patient, record: str) -> None:
    pid = issue(world, patient, record=record)["prescription_id"]
    assert refused(lambda: review(world, pid, "reject")) == (422, "prescription.reason_required")
    rejected = review(world, pid, "reject", "dose-too-high")
    assert rejected["status"] == "rejected"


def test_a_doctor_may_not_review(world: World, patient: Patient, record: str) -> None:
    pid = issue(world, patient, record=record)["prescription_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.post_json(  # noqa: E731
            f"/v1/prescriptions/{pid}/review", {"decision": "approve"}
        )
        assert refused(call) == (403, "auth.role_forbidden")


def test_pharmacy_gets_the_dispensing_view_without_the_diagnosis(
    world: World, approved: str
) -> None:
    with world.as_staff("pharmacy", "pharmacist") as pharmacist:
        read = pharmacist.get_json(f"/v1/prescriptions/{approved}")
    assert (read["view"], read["status"], read["fhir_status"]) == (
        "dispensing",
        "approved",
        "active",
    )
    assert "reasonCode" not in read["resource"]
    assert read["resource"]["medicationCodeableConcept"] == {"coding": [RAMIPRIL]}
    assert read["salt"] is None


def test_pharmacy_may_not_read_a_pending_prescription(
    world: World, patient: Patient, record: str
) -> None:
    pid = issue(world, patient, record=record)["prescription_id"]
    with world.as_staff("pharmacy", "pharmacist") as pharmacist:
        call = lambda: pharmacist.get_json(f"/v1/prescriptions/{pid}")  # noqa: E731
        assert refused(call) == (403, "prescription.not_dispensable")


def test_insurer_may_not_read_a_prescription(world: World, approved: str) -> None:
    with world.as_staff("insurer", "auditor") as insurer:
        call = lambda: insurer.get_json(f"/v1/prescriptions/{approved}")  # noqa: E731
        assert refused(call) == (403, "prescription.forbidden")


def test_patient_reads_their_prescription_whole(
    world: World, patient: Patient, approved: str
) -> None:
    with world.client(patient.pseudonym) as as_patient:
        read = as_patient.get_json(f"/v1/prescriptions/{approved}")
    assert read["view"] == "full"
    assert read["resource"] == MEDICATION_REQUEST
    assert read["review"]["approved"] is True


def test_unknown_prescription_is_404(world: World) -> None:
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.get_json(f"/v1/prescriptions/0x{'cd' * 32}")  # noqa: E731
        assert refused(call) == (404, "prescription.unknown")


# -- dispense -----------------------------------------------------------------------------------


def test_pharmacy_dispenses_once_and_the_second_pharmacy_is_refused(
    world: World, approved: str
) -> None:
    receipt = dispense(world, approved)
    assert receipt["pharmacy"] == world.org_address("pharmacy")
    assert refused(lambda: dispense(world, approved, "pharmacy-b")) == (
        409,
        "prescription.already_dispensed",
    )
    with world.as_staff("hospital-a", "doctor") as doctor:
        read = doctor.get_json(f"/v1/prescriptions/{approved}")
    assert (read["status"], read["fhir_status"]) == ("dispensed", "completed")
    assert read["dispense"]["pharmacy"] == world.org_address("pharmacy")
    assert read["dispense"]["cid"] == receipt["cid"]


def open_dispense(world: World, pid: str, org: str, label: str) -> Any:
    with world.as_staff(org, label, gateway=org) as staff:
        return staff.get_json(f"/v1/dispenses/{pid}")


def test_the_issuing_hospital_opens_the_dispense_a_pharmacy_sealed(
    world: World, approved: str
) -> None:
    """The pharmacy sealed the MedicationDispense for hospital A too, under the key hospital A
    published in the organisation directory: hospital A's own gateway opens it."""
    receipt = dispense(world, approved)
    opened = open_dispense(world, approved, "hospital-a", "doctor")
    assert opened["resource"] == json.loads(dispense_body(approved))
    assert (opened["pharmacy"], opened["cid"]) == (world.org_address("pharmacy"), receipt["cid"])
    assert opened["salt"].startswith("0x")


def test_the_pharmacy_opens_its_own_dispense(world: World, approved: str) -> None:
    dispense(world, approved)
    opened = open_dispense(world, approved, "pharmacy", "pharmacist")
    assert opened["resource"] == json.loads(dispense_body(approved))


def test_the_hospital_and_the_pharmacy_read_the_same_salt(world: World, approved: str) -> None:
    dispense(world, approved)
    at_hospital = open_dispense(world, approved, "hospital-a", "doctor")
    at_pharmacy = open_dispense(world, approved, "pharmacy", "pharmacist")
    assert at_hospital["salt"] == at_pharmacy["salt"]


def test_another_pharmacy_may_not_open_a_dispense(world: World, approved: str) -> None:
    dispense(world, approved)
    assert refused(lambda: open_dispense(world, approved, "pharmacy-b", "pharmacist")) == (
        403,
        "dispense.forbidden",
    )


def test_a_prescription_not_dispensed_has_no_dispense_to_open(world: World, approved: str) -> None:
    assert refused(lambda: open_dispense(world, approved, "hospital-a", "doctor")) == (
        404,
        "dispense.not_found",
    )


def test_a_pending_prescription_is_not_dispensed(
    world: World, patient: Patient, record: str
) -> None:
    pid = issue(world, patient, record=record)["prescription_id"]
    assert refused(lambda: dispense(world, pid)) == (409, "prescription.unexpected_status")


def test_two_pharmacies_dispensing_at_once_one_wins_every_round(
    world: World, patient: Patient, record: str
) -> None:
    registry = world.gateways["hospital-a"].gateway.chain.contract("PrescriptionRegistry")
    stored_before = world.stored_envelopes()
    for _ in range(20):
        pid = str(issue(world, patient, record=record)["prescription_id"])
        review(world, pid)
        outcomes = _race(world, pid)
        statuses = sorted((status, code) for _, status, code in outcomes)
        assert statuses == [(201, None), (409, "prescription.already_dispensed")]
        events = registry.events.PrescriptionDispensed().get_logs(
            from_block=0, argument_filters={"prescriptionId": bytes.fromhex(pid[2:])}
        )
        assert len(events) == 1
    # Each round stores its prescription, and one dispense: the loser's envelope is not kept.
    assert world.stored_envelopes() == stored_before + 40


def _race(world: World, pid: str) -> list[tuple[str, int, str | None]]:
    """Both pharmacies send the dispense at once, each through its own gateway."""
    barrier = threading.Barrier(2)
    outcomes: list[tuple[str, int, str | None]] = []

    def attempt(pharmacy: str) -> None:
        with world.as_staff(pharmacy, "pharmacist", gateway=pharmacy) as client:
            barrier.wait()
            response = client.request(
                "POST", f"/v1/prescriptions/{pid}/dispense", content=dispense_body(pid)
            )
            outcomes.append((pharmacy, response.status_code, response.json().get("code")))

    threads = [threading.Thread(target=attempt, args=(p,)) for p in ("pharmacy", "pharmacy-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


# -- cancel -------------------------------------------------------------------------------------


def test_prescriber_cancels_before_dispense(world: World, approved: str) -> None:
    with world.as_staff("hospital-a", "doctor") as doctor:
        cancelled = doctor.post_json(f"/v1/prescriptions/{approved}/cancel")
        read = doctor.get_json(f"/v1/prescriptions/{approved}")
    assert cancelled["status"] == "cancelled"
    assert read["fhir_status"] == "cancelled"
    assert refused(lambda: dispense(world, approved)) == (409, "prescription.unexpected_status")


def test_only_the_prescriber_cancels(world: World, patient: Patient, record: str) -> None:
    pid = issue(world, patient, record=record, doctor=("hospital-b", "doctor"))["prescription_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.post_json(f"/v1/prescriptions/{pid}/cancel")  # noqa: E731
        assert refused(call) == (403, "prescription.not_prescriber")


def test_a_dispensed_prescription_cannot_be_cancelled(world: World, approved: str) -> None:
    dispense(world, approved)
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.post_json(f"/v1/prescriptions/{approved}/cancel")  # noqa: E731
        assert refused(call) == (409, "prescription.already_dispensed")


# -- regulator views ----------------------------------------------------------------------------


def test_regulator_lists_a_hospitals_prescriptions(world: World, approved: str) -> None:
    with world.as_staff("regulator", "auditor") as regulator:
        listed = regulator.get_json(
            "/v1/prescriptions", params={"institution": world.org_address("hospital-a")}
        )
    mine = [p for p in listed if p["prescription_id"] == approved]
    assert len(mine) == 1
    assert mine[0]["status"] == "approved"
    assert "resource" not in mine[0]


def test_another_organisation_may_not_list_a_hospitals_prescriptions(world: World) -> None:
    with world.as_staff("insurer", "auditor") as insurer:
        call = lambda: insurer.get_json(  # noqa: E731
            "/v1/prescriptions", params={"institution": world.org_address("hospital-a")}
        )
        assert refused(call) == (403, "auth.not_regulator")


def test_regulator_and_the_pharmacy_list_its_dispenses(world: World, approved: str) -> None:
    dispense(world, approved, "pharmacy-b")
    pharmacy = world.org_address("pharmacy-b")
    with world.as_staff("regulator", "auditor") as regulator:
        as_regulator = regulator.get_json("/v1/dispenses", params={"pharmacy": pharmacy})
    with world.as_staff("pharmacy-b", "pharmacist", "pharmacy-b") as own:
        as_pharmacy = own.get_json("/v1/dispenses", params={"pharmacy": pharmacy})
    assert as_regulator == as_pharmacy
    assert approved in [d["prescription_id"] for d in as_regulator]


def test_regulator_sees_a_doctors_registration_filing_and_prescriptions(
    world: World, patient: Patient, record: str
) -> None:
    pid = issue(world, patient, record=record, doctor=("hospital-b", "doctor"))["prescription_id"]
    doctor = world.staff("hospital-b", "doctor").address
    with world.as_staff("regulator", "auditor") as regulator:
        practice = regulator.get_json(f"/v1/practice/doctors/{doctor}")
    assert practice["registration"]["institution"] == world.org_address("hospital-b")
    assert practice["registration"]["status"] == "active"
    (filing,) = practice["filings"]
    assert filing["institution"] == world.org_address("hospital-a")
    assert filing["status"] == "approved"
    assert "prescribing" in filing["scope"]
    assert pid in [p["prescription_id"] for p in practice["prescriptions"]]


def test_a_doctor_may_not_see_another_doctors_practice(world: World) -> None:
    other = world.staff("hospital-b", "doctor").address
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.get_json(f"/v1/practice/doctors/{other}")  # noqa: E731
        assert refused(call) == (403, "auth.not_regulator")


# -- expiry, on a chain of its own whose clock the test moves -----------------------------------


@pytest.fixture(scope="module")
def timed_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A consortium on its own anvil: moving its clock days ahead leaves the session's alone."""
    with private_world(tmp_path_factory.mktemp("timed")) as (opened, _node):
        yield opened


def _next_block_at(world: World, timestamp: int) -> None:
    world.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


def test_dispense_in_the_last_valid_second_and_refusal_one_second_later(
    timed_world: World,
) -> None:
    patient = enrol_patient(timed_world)
    record = diagnosis_record(timed_world, patient)
    first = issue(timed_world, patient, record=record, online=False)
    other = copy.deepcopy(MEDICATION_REQUEST)
    other["medicationCodeableConcept"] = {"coding": [{**RAMIPRIL, "code": "C10AA05"}]}
    second = issue(timed_world, patient, record=record, online=False, resource=other)
    for receipt in (first, second):
        review(timed_world, receipt["prescription_id"])

    _next_block_at(timed_world, first["expires_at"])
    dispensed = dispense(timed_world, first["prescription_id"])
    block = timed_world.w3.eth.get_block(dispensed["block"])
    assert block["timestamp"] == first["expires_at"]

    _next_block_at(timed_world, max(second["expires_at"], first["expires_at"]) + 1)
    assert refused(lambda: dispense(timed_world, second["prescription_id"])) == (
        410,
        "prescription.expired",
    )
    with timed_world.as_staff("hospital-a", "doctor") as doctor:
        read = doctor.get_json(f"/v1/prescriptions/{second['prescription_id']}")
    assert read["status"] == "approved"


def test_a_gateway_whose_zone_disagrees_with_the_chain_refuses_to_issue(
    world: World, patient: Patient, record: str
) -> None:
    """Hospital A's days are counted at UTC+8 on chain; a gateway of it set to UTC would tell its
    doctors expiries the chain does not enforce, so it issues nothing: 503, never a 500."""
    settings = Settings(
        data_dir=world.data_dir,
        rpc_url=world.gateways["hospital-a"].gateway.settings.rpc_url,
        org_key_file=Path(world.consortium.orgs["hospital-a"].key_file),
        max_payload_bytes=MAX_PAYLOAD,
        time_zone="UTC",
    )
    gateway = build_gateway(settings)
    try:
        with serve(create_app(gateway)) as url:
            doctor = world.staff("hospital-a", "doctor")
            with GatewayClient(url, doctor, gateway.domain, timeout=30) as client:
                call = lambda: client.post_json(  # noqa: E731
                    "/v1/prescriptions",
                    content=json.dumps(MEDICATION_REQUEST).encode(),
                    params={"patient": patient.pseudonym.address, "follow_up_record": record},
                )
                assert refused(call) == (503, "prescription.utc_offset_mismatch")
    finally:
        gateway.close()


@pytest.fixture(scope="module")
def suspending_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """A consortium on its own anvil, whose hospital A a test suspends."""
    with private_world(tmp_path_factory.mktemp("suspending")) as (opened, _node):
        yield opened


def test_no_dispense_is_sealed_for_a_suspended_issuing_hospital(suspending_world: World) -> None:
    """The directory reads a suspended hospital's key as not usable: the pharmacy seals nothing
    new for it, and stores and anchors nothing."""
    world = suspending_world
    patient = enrol_patient(world)
    pid = str(issue(world, patient, record=diagnosis_record(world, patient))["prescription_id"])
    review(world, pid)
    regulator = world.consortium.account(world.consortium.regulator_key_file)
    chain = world.gateways["regulator"].gateway.chain
    membership = chain.contract("Membership")
    Chain(world.w3, chain.deployment, regulator).transact(
        membership.functions.suspendOrganisation(world.org_address("hospital-a"))
    )
    envelopes = world.stored_envelopes()
    assert refused(lambda: dispense(world, pid)) == (409, "directory.not_usable")
    assert world.stored_envelopes() == envelopes
