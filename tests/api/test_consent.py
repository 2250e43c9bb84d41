"""Consent through the gateways: patients grant and revoke by signing, members read under grants,
keys follow consent, and every refusal has its own code."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.consent.grants import (
    ConsentDomain,
    Purpose,
    Scope,
    SignedGrant,
    sign_grant,
    sign_revocation,
)
from ledger.crypto.envelope import open_with_wrapped_key
from ledger.crypto.keys import x25519_from_eth_key, x25519_public_hex
from ledger.gateway.client import GatewayError
from tests.world import Patient, World, anchor, fhir

DAY = 86_400


def consent_domain(world: World) -> ConsentDomain:
    return ConsentDomain.of(world.gateways["hospital-a"].gateway.chain.deployment)


def grant(
    world: World,
    patient: Patient,
    record_id: str,
    grantee: str,
    purpose: Purpose,
    *,
    expires_at: int | None = None,
    domain: ConsentDomain | None = None,
    signer: LocalAccount | None = None,
) -> SignedGrant:
    return sign_grant(
        signer or patient.pseudonym,
        domain or consent_domain(world),
        grantee=grantee,
        scope=Scope.record(record_id),
        purpose=purpose,
        expires_at=expires_at or int(time.time()) + DAY,
    )


def relay(world: World, patient: Patient, body: dict[str, Any], path: str = "") -> Any:
    with world.client(patient.pseudonym) as as_patient:
        return as_patient.post_json(f"/v1/consents{path}", body)


def refused(call: Any) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir("patient-example.json")},
            {"resource": fhir("condition-example-f201-fever.json")},
            {"resource": fhir("medicationrequest0301.json")},
        ],
    }
    return str(anchor(world, patient, bundle)["record_id"])


def read_as(world: World, org: str, label: str, record: str, purpose: str | None) -> Any:
    with world.as_staff(org, label) as client:
        params = {"purpose": purpose} if purpose else None
        return client.get_json(f"/v1/records/{record}", params=params)


def test_an_insurer_reads_only_the_claim_view_under_a_grant(
    world: World, patient: Patient, record: str
) -> None:
    signed = grant(world, patient, record, world.org_address("insurer"), Purpose.CLAIM_VERIFICATION)
    receipt = relay(world, patient, signed.to_wire())
    assert receipt["grant_id"] == "0x" + signed.grant_id.hex()
    view = read_as(world, "insurer", "auditor", record, "claim_verification")
    assert view["view"] == "claim"
    assert view["grant"] == receipt["grant_id"]
    assert "salt" not in view
    kinds = [e["resource"]["resourceType"] for e in view["resource"]["entry"]]
    assert "Patient" not in kinds
    assert "Condition" in kinds


def test_without_a_grant_an_insurer_is_refused(world: World, record: str) -> None:
    assert refused(lambda: read_as(world, "insurer", "auditor", record, "claim_verification")) == (
        403,
        "record.forbidden",
    )


def test_a_grant_for_one_purpose_does_not_open_another(
    world: World, patient: Patient, record: str
) -> None:
    signed = grant(world, patient, record, world.org_address("insurer"), Purpose.CLAIM_VERIFICATION)
    relay(world, patient, signed.to_wire())
    assert refused(lambda: read_as(world, "insurer", "auditor", record, "research")) == (
        403,
        "record.forbidden",
    )


def test_revocation_takes_effect_at_once(world: World, patient: Patient, record: str) -> None:
    signed = grant(world, patient, record, world.org_address("insurer"), Purpose.CLAIM_VERIFICATION)
    relay(world, patient, signed.to_wire())
    read_as(world, "insurer", "auditor", record, "claim_verification")
    revocation = sign_revocation(patient.pseudonym, consent_domain(world), signed.grant_id)
    relay(world, patient, revocation.to_wire(), "/revocations")
    assert refused(lambda: read_as(world, "insurer", "auditor", record, "claim_verification")) == (
        403,
        "record.forbidden",
    )


def test_the_patient_lists_grants_with_their_status(
    world: World, patient: Patient, record: str
) -> None:
    kept = grant(world, patient, record, world.org_address("insurer"), Purpose.CLAIM_VERIFICATION)
    gone = grant(world, patient, record, world.org_address("hospital-b"), Purpose.TREATMENT)
    for signed in (kept, gone):
        relay(world, patient, signed.to_wire())
    revocation = sign_revocation(patient.pseudonym, consent_domain(world), gone.grant_id)
    relay(world, patient, revocation.to_wire(), "/revocations")
    with world.client(patient.pseudonym) as as_patient:
        listed = {g["grant_id"]: g["status"] for g in as_patient.get_json("/v1/consents")}
    assert listed == {"0x" + kept.grant_id.hex(): "active", "0x" + gone.grant_id.hex(): "revoked"}


def test_keys_follow_consent_to_a_treating_hospital(
    world: World, patient: Patient, record: str
) -> None:
    signed = grant(world, patient, record, world.org_address("hospital-b"), Purpose.TREATMENT)
    relay(world, patient, signed.to_wire())
    doctor_b = world.staff("hospital-b", "doctor")
    own_key = x25519_from_eth_key(bytes(doctor_b.key))
    with world.client(doctor_b) as client:
        wrapped = client.get_json(
            f"/v1/records/{record}/key",
            params={
                "purpose": "treatment",
                "encryption_key": x25519_public_hex(own_key.public_key()),
            },
        )
        blob = client.request(
            "GET", f"/v1/records/{record}/envelope", params={"purpose": "treatment"}
        ).content
    plaintext = open_with_wrapped_key(
        blob,
        wrapped=base64.b64decode(wrapped["wrapped_key"]),
        private_key=own_key,
        record_id=bytes.fromhex(record[2:]),
        version=1,
    )
    assert json.loads(plaintext)["resource"]["entry"][0]["resource"]["resourceType"] == "Patient"


def test_a_segmented_view_never_gets_a_key(world: World, patient: Patient, record: str) -> None:
    signed = grant(world, patient, record, world.org_address("insurer"), Purpose.CLAIM_VERIFICATION)
    relay(world, patient, signed.to_wire())
    with world.as_staff("insurer", "auditor") as insurer:
        params = {"purpose": "claim_verification", "encryption_key": "0x" + "11" * 32}
        assert refused(lambda: insurer.get_json(f"/v1/records/{record}/key", params=params)) == (
            403,
            "record.view_only",
        )


class TestReplayBattery:
    """Each way a consent signature can be misused, refused through the API with its own code."""

    def test_the_same_grant_twice(self, world: World, patient: Patient, record: str) -> None:
        body = grant(world, patient, record, world.org_address("insurer"), Purpose.AUDIT).to_wire()
        relay(world, patient, body)
        assert refused(lambda: relay(world, patient, body)) == (409, "consent.already_granted")

    def test_a_grant_replayed_after_its_revocation(
        self, world: World, patient: Patient, record: str
    ) -> None:
        signed = grant(world, patient, record, world.org_address("insurer"), Purpose.AUDIT)
        relay(world, patient, signed.to_wire())
        revocation = sign_revocation(patient.pseudonym, consent_domain(world), signed.grant_id)
        relay(world, patient, revocation.to_wire(), "/revocations")
        assert refused(lambda: relay(world, patient, signed.to_wire())) == (
            409,
            "consent.grant_revoked",
        )

    def test_a_reused_nonce(self, world: World, patient: Patient, record: str) -> None:
        first = grant(world, patient, record, world.org_address("insurer"), Purpose.AUDIT)
        relay(world, patient, first.to_wire())
        second = sign_grant(
            patient.pseudonym,
            consent_domain(world),
            grantee=world.org_address("hospital-b"),
            scope=Scope.record(record),
            purpose=Purpose.TREATMENT,
            expires_at=int(time.time()) + DAY,
            nonce=first.grant.nonce,
        )
        assert refused(lambda: relay(world, patient, second.to_wire())) == (
            409,
            "consent.nonce_used",
        )

    def test_an_expired_grant(self, world: World, patient: Patient, record: str) -> None:
        signed = grant(
            world, patient, record, world.org_address("insurer"), Purpose.AUDIT, expires_at=1
        )
        assert refused(lambda: relay(world, patient, signed.to_wire())) == (
            422,
            "consent.expired",
        )

    def test_a_signature_for_another_chain(
        self, world: World, patient: Patient, record: str
    ) -> None:
        here = consent_domain(world)
        other = ConsentDomain(here.chain_id + 1, here.verifying_contract)
        signed = grant(
            world, patient, record, world.org_address("insurer"), Purpose.AUDIT, domain=other
        )
        assert refused(lambda: relay(world, patient, signed.to_wire())) == (
            422,
            "consent.wrong_chain",
        )

    def test_a_signature_for_another_contract(
        self, world: World, patient: Patient, record: str
    ) -> None:
        here = consent_domain(world)
        other = ConsentDomain(here.chain_id, world.org_address("insurer"))  # type: ignore[arg-type]
        signed = grant(
            world, patient, record, world.org_address("insurer"), Purpose.AUDIT, domain=other
        )
        assert refused(lambda: relay(world, patient, signed.to_wire())) == (
            422,
            "consent.wrong_contract",
        )

    def test_a_malleable_signature(self, world: World, patient: Patient, record: str) -> None:
        body = grant(world, patient, record, world.org_address("insurer"), Purpose.AUDIT).to_wire()
        sig = bytes.fromhex(body["signature"][2:])
        n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
        high_s = (n - int.from_bytes(sig[32:64], "big")).to_bytes(32, "big")
        body["signature"] = "0x" + (sig[:32] + high_s + bytes([55 - sig[64]])).hex()
        assert refused(lambda: relay(world, patient, body)) == (
            422,
            "consent.malleable_signature",
        )

    def test_a_signature_by_someone_else(self, world: World, patient: Patient, record: str) -> None:
        forger = Account.create()
        signed = grant(
            world, patient, record, world.org_address("insurer"), Purpose.AUDIT, signer=forger
        )
        body = signed.to_wire()
        body["patient"] = patient.pseudonym.address
        assert refused(lambda: relay(world, patient, body)) == (
            403,
            "consent.signer_not_patient",
        )
