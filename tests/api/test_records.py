"""Records through the real gateway over HTTP, on a real anvil: write, read back, amend, verify."""

from __future__ import annotations

import copy
import json

import pytest

from ledger.crypto.envelope import open_envelope
from ledger.gateway.client import GatewayError
from ledger.records.document import RecordDocument, Verdict
from ledger.records.verify import verify_against_ledger
from tests.world import Patient, World, anchor, fhir


def test_anchor_returns_receipt_with_version_1_and_its_transaction(
    world: World, patient: Patient
) -> None:
    receipt = anchor(world, patient, fhir("observation-example.json"))
    assert receipt["version"] == 1
    assert receipt["cid"].startswith("bafk")
    tx = world.w3.eth.get_transaction_receipt(receipt["transaction"])
    assert tx["status"] == 1
    assert tx["blockNumber"] == receipt["block"]


def test_hospital_reads_back_exactly_what_it_anchored(world: World, patient: Patient) -> None:
    resource = fhir("condition-example-f201-fever.json")
    receipt = anchor(world, patient, resource)
    with world.as_staff("hospital-a", "clerk") as clerk:
        document = clerk.get_json(f"/v1/records/{receipt['record_id']}")
    assert document["resource"] == resource
    assert document["patient"] == patient.pseudonym.address
    assert document["hospital"] == world.org_address("hospital-a")


def test_patient_reads_own_record_by_signature(world: World, patient: Patient) -> None:
    resource = fhir("patient-example.json")
    receipt = anchor(world, patient, resource)
    with world.client(patient.pseudonym) as as_patient:
        document = as_patient.get_json(f"/v1/records/{receipt['record_id']}")
    assert document["resource"] == resource


def test_patient_opens_the_envelope_with_their_own_key(world: World, patient: Patient) -> None:
    resource = fhir("medicationrequest0301.json")
    receipt = anchor(world, patient, resource)
    with world.client(patient.pseudonym) as as_patient:
        blob = as_patient.request("GET", f"/v1/records/{receipt['record_id']}/envelope").content
    hospital = world.org_address("hospital-a")
    opened = open_envelope(
        blob,
        private_key=patient.keys.encryption_key(hospital),
        label=patient.pseudonym.address,
        record_id=bytes.fromhex(receipt["record_id"][2:]),
        version=1,
    )
    assert json.loads(opened)["resource"] == resource


def test_amend_anchors_version_2_and_both_versions_verify(world: World, patient: Patient) -> None:
    original = fhir("observation-example.json")
    receipt = anchor(world, patient, original)
    amended = copy.deepcopy(original)
    amended["status"] = "amended"
    rid = receipt["record_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        v2 = doctor.post_json(
            f"/v1/records/{rid}/versions",
            content=json.dumps(amended).encode(),
            params={"expected_version": 1},
        )
        documents = [doctor.get_json(f"/v1/records/{rid}", params={"version": n}) for n in (1, 2)]
    assert v2["version"] == 2
    assert [d["resource"]["status"] for d in documents] == ["final", "amended"]
    gateway = world.gateways["hospital-a"].gateway
    for document in documents:
        doc = RecordDocument.model_validate(document)
        assert verify_against_ledger(doc, gateway.chain, gateway.store) is Verdict.INTACT


def test_verification_by_an_insurer_shows_every_version_intact(
    world: World, patient: Patient
) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    with world.as_staff("insurer", "auditor") as insurer:
        check = insurer.get_json(f"/v1/records/{rid}/verification")
    assert check["anchored"]
    assert check["intact"]
    assert check["hospital"] == world.org_address("hospital-a")
    assert check["latest_version"] == 1
    assert check["versions"][0]["author"] == world.staff("hospital-a", "doctor").address
    assert check["versions"][0]["content"] == "intact"


def test_verification_reports_content_missing_from_the_store(
    world: World, patient: Patient
) -> None:
    receipt = anchor(world, patient, fhir("observation-example.json"))
    world.gateways["hospital-a"].gateway.store.remove(receipt["cid"])
    with world.as_staff("insurer", "auditor") as insurer:
        check = insurer.get_json(f"/v1/records/{receipt['record_id']}/verification")
    assert check["intact"] is False
    assert check["versions"][0]["content"] == "missing"


def test_verification_of_an_unknown_record_is_404(world: World) -> None:
    with world.as_staff("insurer", "auditor") as insurer, pytest.raises(GatewayError) as err:
        insurer.get_json(f"/v1/records/0x{'ab' * 32}/verification")
    assert (err.value.status, err.value.problem_code) == (404, "not_found")


def test_served_openapi_document_lists_the_record_routes(world: World) -> None:
    import httpx

    spec = httpx.get(world.gateways["hospital-a"].url + "/openapi.json").json()
    assert {"/v1/records", "/v1/records/{record_id}", "/v1/patients"} <= set(spec["paths"])
