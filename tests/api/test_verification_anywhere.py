"""Verification and envelope reads on a gateway that did not write: every member's gateway on its
own IPFS node, fetching hospital A's envelopes by CID from A's node (tests/own_nodes.py)."""

from __future__ import annotations

import base64
import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from api.gateway import build_gateway
from api.main import create_app
from api.serving import serve
from ledger.consent.grants import ConsentDomain, Purpose, Scope, sign_grant
from ledger.crypto.envelope import open_with_wrapped_key
from ledger.crypto.keys import x25519_from_eth_key, x25519_public_hex
from ledger.gateway.client import GatewayClient, GatewayError
from ledger.store import KuboStore
from tests.own_nodes import FETCH_TIMEOUT_S, Members, own_settings
from tests.world import Patient, World, anchor, enrol_patient, fhir

#: Who reads on its own gateway, as which of its staff.
READERS = [("insurer", "auditor"), ("pharmacy", "pharmacist"), ("regulator", "auditor")]


@pytest.fixture
def patient(members: Members) -> Patient:
    return enrol_patient(members.world)


def amended(members: Members, patient: Patient) -> str:
    """A record hospital A anchored one by one and amended: two versions, two envelopes."""
    original = fhir("observation-example.json")
    rid = str(anchor(members.world, patient, original)["record_id"])
    second = copy.deepcopy(original)
    second["status"] = "amended"
    with members.world.as_staff("hospital-a", "doctor") as doctor:
        doctor.post_json(
            f"/v1/records/{rid}/versions",
            content=json.dumps(second).encode(),
            params={"expected_version": 1},
        )
    return rid


def verification(world: World, org: str, label: str, rid: str) -> dict[str, Any]:
    with world.as_staff(org, label, gateway=org) as client:
        checked: dict[str, Any] = client.get_json(f"/v1/records/{rid}/verification")
    return checked


@pytest.mark.parametrize(("org", "label"), READERS)
def test_a_member_that_did_not_write_verifies_the_record_intact_from_its_own_node(
    members: Members, patient: Patient, org: str, label: str
) -> None:
    rid = amended(members, patient)
    checked = verification(members.world, org, label, rid)
    assert checked["intact"] is True
    assert [v["content"] for v in checked["versions"]] == ["intact", "intact"]
    assert checked["not_checked"] == []
    assert checked["hospital"] == members.world.org_address("hospital-a")
    # Its store is its own node, which fetched the envelopes from A's.
    assert isinstance(members.world.gateways[org].gateway.store, KuboStore)
    assert members.settings[org].kubo_url == members.nodes[org].url


def test_content_no_peer_has_is_unavailable_within_the_bound_not_missing_nor_503(
    members: Members, patient: Patient
) -> None:
    receipt = anchor(members.world, patient, fhir("observation-example.json"))
    members.drop_everywhere(receipt["cid"])
    started = time.monotonic()
    checked = verification(members.world, "insurer", "auditor", receipt["record_id"])
    assert time.monotonic() - started < FETCH_TIMEOUT_S + 4.0
    assert checked["intact"] is False
    assert checked["versions"][0]["content"] == "unavailable"
    assert checked["not_checked"] == [1]


def test_versions_no_peer_has_cost_one_fetch_timeout_together_not_one_each(
    members: Members, patient: Patient
) -> None:
    versions = 6
    rid = str(anchor(members.world, patient, fhir("observation-example.json"))["record_id"])
    resource = fhir("observation-example.json")
    with members.world.as_staff("hospital-a", "doctor") as doctor:
        for n in range(1, versions):
            resource["id"] = f"v{n + 1}"
            doctor.post_json(
                f"/v1/records/{rid}/versions",
                content=json.dumps(resource).encode(),
                params={"expected_version": n},
            )
        cids = [v["cid"] for v in doctor.get_json(f"/v1/records/{rid}/verification")["versions"]]
    for cid in cids:
        members.drop_everywhere(cid)
    started = time.monotonic()
    checked = verification(members.world, "insurer", "auditor", rid)
    assert time.monotonic() - started < versions * FETCH_TIMEOUT_S - 1.0
    assert checked["not_checked"] == list(range(1, versions + 1))


def test_an_envelope_no_peer_has_is_a_504_content_unavailable(
    members: Members, patient: Patient
) -> None:
    receipt = anchor(members.world, patient, fhir("observation-example.json"))
    members.drop_everywhere(receipt["cid"])
    with members.world.client(patient.pseudonym, "insurer") as as_patient:
        reply = as_patient.request("GET", f"/v1/records/{receipt['record_id']}/envelope")
    assert reply.status_code == 504
    assert reply.json()["code"] == "store.content_unavailable"


def test_a_gateway_whose_own_node_is_down_answers_503_store_unavailable(
    members: Members, patient: Patient, tmp_path: Path, free_port: int
) -> None:
    rid = amended(members, patient)
    settings = own_settings(
        members.world, tmp_path, "insurer-b", f"http://127.0.0.1:{free_port}"
    )  # nothing listens there: the node is down
    gateway = build_gateway(settings)
    try:
        with serve(create_app(gateway)) as url:
            adjuster = members.world.staff("insurer-b", "adjuster")
            with (
                GatewayClient(url, adjuster, gateway.domain, timeout=30) as client,
                pytest.raises(GatewayError) as err,
            ):
                client.get_json(f"/v1/records/{rid}/verification")
    finally:
        gateway.close()
    assert (err.value.status, err.value.problem_code) == (503, "store.unavailable")


def test_a_granted_hospital_opens_the_envelope_from_its_own_node_with_the_writers_key(
    members: Members, patient: Patient
) -> None:
    world = members.world
    rid = str(anchor(world, patient, fhir("condition-example-f201-fever.json"))["record_id"])
    domain = ConsentDomain.of(world.gateways["hospital-a"].gateway.chain.deployment)
    signed = sign_grant(
        patient.pseudonym,
        domain,
        grantee=world.org_address("hospital-b"),
        scope=Scope.record(rid),
        purpose=Purpose.TREATMENT,
        expires_at=int(time.time()) + 86_400,
    )
    with world.client(patient.pseudonym) as as_patient:
        as_patient.post_json("/v1/consents", signed.to_wire())
    doctor_b = world.staff("hospital-b", "doctor")
    own_key = x25519_from_eth_key(bytes(doctor_b.key))
    treatment = {"purpose": "treatment"}
    with world.client(doctor_b, "hospital-b") as at_b:
        blob = at_b.request("GET", f"/v1/records/{rid}/envelope", params=treatment).content
    with world.client(doctor_b, "hospital-a") as at_a:
        wrapped = at_a.get_json(
            f"/v1/records/{rid}/key",
            params={**treatment, "encryption_key": x25519_public_hex(own_key.public_key())},
        )
    plaintext = open_with_wrapped_key(
        blob,
        wrapped=base64.b64decode(wrapped["wrapped_key"]),
        private_key=own_key,
        record_id=bytes.fromhex(rid[2:]),
        version=1,
    )
    assert json.loads(plaintext)["resource"] == fhir("condition-example-f201-fever.json")
    assert isinstance(world.gateways["hospital-b"].gateway.store, KuboStore)
    assert members.settings["hospital-b"].kubo_url == members.nodes["hospital-b"].url
    assert members.nodes["hospital-b"].url != members.nodes["hospital-a"].url
