"""Hostile and unauthorised input: a 4xx with a stable code, and nothing left behind.

"Nothing left behind" is measured on the real store and chain: no new pinned envelope, no new
RecordAnchored or RecordAmended event.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from eth_account import Account

from ledger.chain.connection import Chain
from ledger.chain.deploy import load_deployment
from ledger.consent.patients import sign_enrolment
from ledger.gateway.auth import sign_request
from ledger.gateway.client import GatewayError
from tests.world import MAX_PAYLOAD, Patient, World, anchor, enrol_patient, fhir

OBSERVATION = json.dumps(fhir("observation-example.json")).encode()


@pytest.fixture
def nothing_left_behind(world: World) -> Iterator[None]:
    before = (world.stored_envelopes(), world.anchored_events())
    yield
    assert (world.stored_envelopes(), world.anchored_events()) == before


def refused(call: Callable[[], Any]) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


def post_record(world: World, account: Any, patient: Patient, body: bytes) -> Callable[[], Any]:
    def call() -> Any:
        with world.client(account) as client:
            return client.post_json(
                "/v1/records", content=body, params={"patient": patient.pseudonym.address}
            )

    return call


@pytest.mark.usefixtures("nothing_left_behind")
class TestWritesRefused:
    def test_non_fhir_json_is_422_not_fhir(self, world: World, patient: Patient) -> None:
        body = json.dumps({"resourceType": "Spaceship", "id": "x"}).encode()
        doctor = world.staff("hospital-a", "doctor")
        assert refused(post_record(world, doctor, patient, body)) == (422, "payload.not_fhir")

    def test_fhir_with_invalid_element_is_422_not_fhir(
        self, world: World, patient: Patient
    ) -> None:
        body = json.dumps({"resourceType": "Observation", "status": "bogus"}).encode()
        doctor = world.staff("hospital-a", "doctor")
        assert refused(post_record(world, doctor, patient, body)) == (422, "payload.not_fhir")

    def test_body_that_is_not_json_is_422_not_json(self, world: World, patient: Patient) -> None:
        doctor = world.staff("hospital-a", "doctor")
        assert refused(post_record(world, doctor, patient, b"<xml/>")) == (422, "payload.not_json")

    def test_payload_over_the_limit_is_413(self, world: World, patient: Patient) -> None:
        body = b" " * (MAX_PAYLOAD + 1)
        doctor = world.staff("hospital-a", "doctor")
        assert refused(post_record(world, doctor, patient, body)) == (413, "payload.too_large")

    def test_unknown_signer_is_403_not_member(self, world: World, patient: Patient) -> None:
        stranger = Account.create()
        assert refused(post_record(world, stranger, patient, OBSERVATION)) == (
            403,
            "auth.not_member",
        )

    def test_role_that_may_not_write_is_403(self, world: World, patient: Patient) -> None:
        pharmacist = world.staff("hospital-a", "pharmacist")
        assert refused(post_record(world, pharmacist, patient, OBSERVATION)) == (
            403,
            "auth.role_forbidden",
        )

    def test_staff_of_another_organisation_is_403(self, world: World, patient: Patient) -> None:
        other = world.staff("hospital-b", "doctor")
        assert refused(post_record(world, other, patient, OBSERVATION)) == (
            403,
            "auth.wrong_organisation",
        )

    def test_suspended_organisation_is_403(
        self, world: World, suspended_hospital_b: Patient
    ) -> None:
        patient_b = suspended_hospital_b
        doctor_b = world.staff("hospital-b", "doctor")

        def call() -> Any:
            with world.client(doctor_b, "hospital-b") as client:
                return client.post_json(
                    "/v1/records",
                    content=OBSERVATION,
                    params={"patient": patient_b.pseudonym.address},
                )

        assert refused(call) == (403, "membership.org_suspended")

    def test_patient_not_enrolled_is_422(self, world: World) -> None:
        doctor = world.staff("hospital-a", "doctor")
        stranger = Patient(keys=None, pseudonym=Account.create())  # type: ignore[arg-type]
        assert refused(post_record(world, doctor, stranger, OBSERVATION)) == (
            422,
            "patient.not_enrolled",
        )

    def test_malformed_signature_is_401(self, world: World, patient: Patient) -> None:
        status, body = raw_post(world, patient, tamper={"X-MedLedger-Signature": "0x1234"})
        assert (status, body["code"]) == (401, "auth.malformed")

    def test_missing_signature_is_401(self, world: World, patient: Patient) -> None:
        status, body = raw_post(world, patient, drop="X-MedLedger-Signature")
        assert (status, body["code"]) == (401, "auth.missing")

    def test_body_changed_after_signing_is_401(self, world: World, patient: Patient) -> None:
        status, body = raw_post(world, patient, body_after_signing=OBSERVATION + b" ")
        assert (status, body["code"]) == (401, "auth.signer_mismatch")

    def test_amending_an_unknown_record_is_404(self, world: World) -> None:
        rid = "0x" + "00" * 31 + "01"
        doctor_b = world.staff("hospital-b", "doctor")

        def call() -> Any:
            with world.client(doctor_b, "hospital-b") as client:
                return client.post_json(
                    f"/v1/records/{rid}/versions",
                    content=OBSERVATION,
                    params={"expected_version": 1},
                )

        assert refused(call) == (404, "record.unknown")


def test_replayed_request_is_refused_and_anchors_once(world: World, patient: Patient) -> None:
    events = world.anchored_events()
    url = world.gateways["hospital-a"].url
    path = f"/v1/records?patient={patient.pseudonym.address}"
    doctor = world.staff("hospital-a", "doctor")
    headers = sign_request(
        doctor, world.gateways["hospital-a"].gateway.domain, "POST", path, OBSERVATION
    )
    first = httpx.post(url + path, content=OBSERVATION, headers=headers)
    again = httpx.post(url + path, content=OBSERVATION, headers=headers)
    assert first.status_code == 201
    assert (again.status_code, again.json()["code"]) == (401, "auth.replayed")
    assert world.anchored_events() == events + 1


def test_other_hospital_may_not_amend_a_record(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    events = world.anchored_events()
    doctor_b = world.staff("hospital-b", "doctor")
    with world.client(doctor_b, "hospital-b") as client, pytest.raises(GatewayError) as err:
        client.post_json(
            f"/v1/records/{rid}/versions", content=OBSERVATION, params={"expected_version": 1}
        )
    assert (err.value.status, err.value.problem_code) == (403, "record.not_authoring_hospital")
    assert world.anchored_events() == events


def test_stale_expected_version_is_409(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        doctor.post_json(
            f"/v1/records/{rid}/versions", content=OBSERVATION, params={"expected_version": 1}
        )
        with pytest.raises(GatewayError) as err:
            doctor.post_json(
                f"/v1/records/{rid}/versions", content=OBSERVATION, params={"expected_version": 1}
            )
    assert (err.value.status, err.value.problem_code) == (409, "record.version_conflict")


class TestReadsRefused:
    def test_another_hospitals_doctor_may_not_read(self, world: World, patient: Patient) -> None:
        rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
        with world.as_staff("hospital-b", "doctor") as doctor_b:
            assert refused(lambda: doctor_b.get_json(f"/v1/records/{rid}")) == (
                403,
                "record.forbidden",
            )

    def test_an_insurer_may_verify_but_not_read(self, world: World, patient: Patient) -> None:
        rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
        with world.as_staff("insurer", "auditor") as insurer:
            assert refused(lambda: insurer.get_json(f"/v1/records/{rid}")) == (
                403,
                "record.forbidden",
            )

    def test_another_patient_may_not_read(self, world: World, patient: Patient) -> None:
        rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
        other = enrol_patient(world)
        with world.client(other.pseudonym) as as_other:
            assert refused(lambda: as_other.get_json(f"/v1/records/{rid}/envelope")) == (
                403,
                "record.forbidden",
            )

    def test_a_stranger_cannot_tell_whether_a_record_exists(
        self, world: World, patient: Patient
    ) -> None:
        rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
        with world.client(Account.create()) as stranger:
            existing = refused(lambda: stranger.get_json(f"/v1/records/{rid}"))
            missing = refused(lambda: stranger.get_json(f"/v1/records/0x{'cd' * 32}"))
        assert existing == missing == (403, "record.forbidden")

    def test_a_stranger_may_not_verify(self, world: World, patient: Patient) -> None:
        rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
        with world.client(Account.create()) as stranger:
            assert refused(lambda: stranger.get_json(f"/v1/records/{rid}/verification")) == (
                403,
                "auth.not_member",
            )


def test_enrolment_signed_by_someone_else_is_403(world: World) -> None:
    impostor = Account.create()
    with world.as_staff("hospital-a", "clerk") as clerk:
        domain = world.gateways["hospital-a"].gateway.domain.as_eip712()
        key = secrets.token_bytes(32)
        signature = sign_enrolment(impostor, domain, world.org_address("hospital-a"), key)
        body = {
            "pseudonym": Account.create().address,
            "encryption_key": "0x" + key.hex(),
            "signature": signature,
        }
        assert refused(lambda: clerk.post_json("/v1/patients", body)) == (
            403,
            "patient.bad_enrolment_signature",
        )


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def suspended_hospital_b(world: World) -> Iterator[Patient]:
    """Hospital B suspended by the regulator for the test (reinstated after), with a patient
    it enrolled while still active."""
    regulator = world.consortium.account(world.consortium.regulator_key_file)
    chain = Chain(world.w3, load_deployment(world.w3, world.data_dir), regulator)
    membership = chain.contract("Membership")
    hospital_b = world.org_address("hospital-b")
    patient_b = enrol_patient(world, "hospital-b")
    chain.transact(membership.functions.suspendOrganisation(hospital_b))
    try:
        yield patient_b
    finally:
        chain.transact(membership.functions.reinstateOrganisation(hospital_b))


def raw_post(
    world: World,
    patient: Patient,
    *,
    tamper: dict[str, str] | None = None,
    drop: str | None = None,
    body_after_signing: bytes | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a record with headers signed by hand, then altered as the test says."""
    served = world.gateways["hospital-a"]
    path = f"/v1/records?patient={patient.pseudonym.address}"
    doctor = world.staff("hospital-a", "doctor")
    headers = sign_request(doctor, served.gateway.domain, "POST", path, OBSERVATION)
    headers.update(tamper or {})
    if drop:
        headers.pop(drop)
    response = httpx.post(
        served.url + path, content=body_after_signing or OBSERVATION, headers=headers
    )
    assert response.headers["content-type"] == "application/problem+json"
    return response.status_code, response.json()
