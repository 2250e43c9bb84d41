"""A prescription carries its doctor's own signature, through the real gateway over HTTP on a real
anvil (issue #16, item 3): the gateway drafts (pre-review, seal), the doctor signs the draft's
issuance with their own key on their own machine, the gateway relays it, the chain checks it.
Nothing is stored or sent before the signature; no one but the drafting doctor signs a draft."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.gateway.client import GatewayClient
from ledger.prescribing.signature import (
    PrescriptionDomain,
    SignedIssuance,
    prescriber_commitment,
    prescriber_salt,
    recover_prescriber,
)
from tests.api.test_prescriptions import MEDICATION_REQUEST, diagnosis_record, refused
from tests.world import Patient, World

HOSPITAL = "hospital-a"


def _draft(client: GatewayClient, patient: Patient, record: str) -> tuple[int, dict[str, Any]]:
    response = client.request(
        "POST",
        "/v1/prescriptions",
        content=json.dumps(MEDICATION_REQUEST).encode(),
        params={"patient": patient.pseudonym.address, "follow_up_record": record},
    )
    return response.status_code, response.json()


def _sign(draft: dict[str, Any], signer: LocalAccount) -> str:
    issuance = SignedIssuance.from_wire(draft["issuance"])
    return "0x" + issuance.sign(signer, PrescriptionDomain.from_wire(draft["domain"])).hex()


def _submit(client: GatewayClient, draft: dict[str, Any], signature: str) -> Any:
    path = f"/v1/prescriptions/{draft['prescription_id']}/issue"
    return client.post_json(path, {"signature": signature})


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    return diagnosis_record(world, patient)


def test_the_doctor_signs_the_draft_and_the_chain_names_them(
    world: World, patient: Patient, record: str
) -> None:
    doctor = world.staff(HOSPITAL, "doctor")
    hospital = world.org_address(HOSPITAL)
    sent_before = world.w3.eth.get_transaction_count(hospital)
    with world.client(doctor) as client:
        status, draft = _draft(client, patient, record)
        assert status == 202
        assert world.w3.eth.get_transaction_count(hospital) == sent_before  # nothing sent yet
        assert refused(
            lambda: client.get_json(f"/v1/prescriptions/{draft['prescription_id']}")
        ) == (
            404,
            "prescription.unknown",
        )
        issuance = SignedIssuance.from_wire(draft["issuance"])
        assert (issuance.patient, issuance.institution) == (patient.pseudonym.address, hospital)
        salt = bytes.fromhex(draft["salt"][2:])
        assert issuance.prescriber_commitment == prescriber_commitment(
            doctor.address, prescriber_salt(salt)
        )
        receipt = _submit(client, draft, _sign(draft, doctor))
        read = client.get_json(f"/v1/prescriptions/{receipt['prescription_id']}")
    assert read["prescriber"] == doctor.address
    assert read["prescriber_commitment"] == "0x" + issuance.prescriber_commitment.hex()
    # Any node: the doctor is recovered from the issuing transaction's calldata, not its log.
    tx = world.w3.eth.get_transaction(receipt["transaction"])
    registry = world.gateways[HOSPITAL].gateway.chain.contract("PrescriptionRegistry")
    assert recover_prescriber(registry, tx, hospital) == doctor.address
    logs = world.w3.eth.get_transaction_receipt(receipt["transaction"])["logs"]
    assert all(bytes.fromhex(doctor.address[2:]) not in bytes(log["data"]) for log in logs)


def test_the_regulator_lists_each_prescription_with_its_prescriber(
    world: World, patient: Patient, record: str
) -> None:
    doctor = world.staff(HOSPITAL, "doctor")
    with world.client(doctor) as client:
        _, draft = _draft(client, patient, record)
        pid = _submit(client, draft, _sign(draft, doctor))["prescription_id"]
    with world.as_staff("regulator", "auditor") as regulator:
        listed = regulator.get_json(
            "/v1/prescriptions", params={"institution": world.org_address(HOSPITAL)}
        )
    (mine,) = [p for p in listed if p["prescription_id"] == pid]
    assert mine["prescriber"] == doctor.address


def test_another_doctor_may_not_sign_someone_elses_draft(
    world: World, patient: Patient, record: str
) -> None:
    """Hospital B's doctor may prescribe at hospital A (the demo's filing), but not this draft."""
    with world.as_staff(HOSPITAL, "doctor") as client:
        _, draft = _draft(client, patient, record)
    other = world.staff("hospital-b", "doctor")
    with world.client(other) as client:
        call = lambda: _submit(client, draft, _sign(draft, other))  # noqa: E731
        assert refused(call) == (403, "prescription.draft_not_yours")


@pytest.mark.parametrize("signer", ["clerk", "pharmacist"])
def test_a_signature_by_anyone_but_the_drafting_doctor_is_refused(
    world: World, patient: Patient, record: str, signer: str
) -> None:
    """The doctor's session sends a signature made with a clerk's key (or a service's): no."""
    hospital = world.org_address(HOSPITAL)
    with world.as_staff(HOSPITAL, "doctor") as client:
        _, draft = _draft(client, patient, record)
        sent_before = world.w3.eth.get_transaction_count(hospital)
        forged = _sign(draft, world.staff(HOSPITAL, signer))
        assert refused(lambda: _submit(client, draft, forged)) == (
            422,
            "prescription.issuance_mismatch",
        )
        assert refused(lambda: _submit(client, draft, "0x" + "00" * 65)) == (
            422,
            "prescription.issuance_mismatch",
        )
    assert world.w3.eth.get_transaction_count(hospital) == sent_before


def test_the_doctors_signature_of_another_draft_is_refused(
    world: World, patient: Patient, record: str
) -> None:
    """A signature the doctor made for one draft does not issue another."""
    doctor = world.staff(HOSPITAL, "doctor")
    with world.client(doctor) as client:
        _, first = _draft(client, patient, record)
        _, second = _draft(client, patient, record)
        call = lambda: _submit(client, second, _sign(first, doctor))  # noqa: E731
        assert refused(call) == (422, "prescription.issuance_mismatch")


def test_a_draft_is_issued_once(world: World, patient: Patient, record: str) -> None:
    doctor = world.staff(HOSPITAL, "doctor")
    with world.client(doctor) as client:
        _, draft = _draft(client, patient, record)
        signature = _sign(draft, doctor)
        _submit(client, draft, signature)
        assert refused(lambda: _submit(client, draft, signature)) == (
            404,
            "prescription.draft_unknown",
        )


def test_the_doctor_cancels_and_the_chain_opens_the_commitment(
    world: World, patient: Patient, record: str
) -> None:
    doctor = world.staff(HOSPITAL, "doctor")
    with world.client(doctor) as client:
        _, draft = _draft(client, patient, record)
        pid = _submit(client, draft, _sign(draft, doctor))["prescription_id"]
        assert client.post_json(f"/v1/prescriptions/{pid}/cancel")["status"] == "cancelled"
