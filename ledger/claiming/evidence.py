"""What a claimant shows an insurer (the FHIR Claim, and the payment document with its salt and id),
bundled as sealed at submission, and its checks against what the chain anchored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.chain.connection import Chain
from ledger.claiming.adjudication import Check
from ledger.claiming.onchain import OnchainClaim
from ledger.claiming.services import ServiceKind, ServiceRef
from ledger.crypto import commitment
from ledger.payload import canonicalize
from ledger.prescribing import PrescriptionStatus

__all__ = ["Shown", "parse_shown", "payment_check", "service_check", "shown_bundle"]

PAYMENT_SALT_EXTENSION = "https://medledger.example/fhir/StructureDefinition/payment-salt"
PAYMENT_ID_EXTENSION = "https://medledger.example/fhir/StructureDefinition/payment-id"


@dataclass(frozen=True)
class Shown:
    """What the claimant showed the insurer, as sealed at submission."""

    claim: dict[str, Any]
    payment: dict[str, Any]
    payment_salt: bytes
    payment_id: bytes


def shown_bundle(
    claim: dict[str, Any], payment: dict[str, Any], salt: bytes, payment_id: bytes
) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": claim},
            {
                "resource": payment,
                "extension": [
                    {"url": PAYMENT_SALT_EXTENSION, "valueString": "0x" + salt.hex()},
                    {"url": PAYMENT_ID_EXTENSION, "valueString": "0x" + payment_id.hex()},
                ],
            },
        ],
    }


def parse_shown(bundle: dict[str, Any]) -> Shown:
    """The claim and payment back out of a bundle ``shown_bundle`` made."""
    claim_entry, payment_entry = bundle["entry"]
    extensions = {e["url"]: e["valueString"] for e in payment_entry["extension"]}
    return Shown(
        claim_entry["resource"],
        payment_entry["resource"],
        bytes.fromhex(extensions[PAYMENT_SALT_EXTENSION][2:]),
        bytes.fromhex(extensions[PAYMENT_ID_EXTENSION][2:]),
    )


def payment_check(chain: Chain, shown: Shown, onchain: OnchainClaim) -> Check:
    """The payment shown is the one anchored, to the claim's provider, byte for byte."""
    payee, _method, recorded_at, digest, _cid = chain.call(
        chain.contract("ClaimRegistry").functions.payment(shown.payment_id)
    )
    if recorded_at == 0:
        return Check.UNKNOWN
    canonical = canonicalize(shown.payment)
    intact = commitment.verify_commitment(shown.payment_salt, canonical, bytes(digest))
    return Check.OK if payee == onchain.provider and intact else Check.MISMATCH


def service_check(chain: Chain, service: ServiceRef, onchain: OnchainClaim) -> Check:
    """The service is anchored, by the provider, for the patient; a prescription dispensed."""
    if service.kind is ServiceKind.RECORD:
        records = chain.contract("RecordRegistry")
        latest = chain.call(records.functions.latestVersion(service.anchor_id))
        if latest < service.version:
            return Check.UNKNOWN
        version = chain.call(records.functions.recordVersion(service.anchor_id, service.version))
        ours = (version[1], version[2]) == (onchain.provider, onchain.patient)
        return Check.OK if ours else Check.MISMATCH
    registry = chain.contract("PrescriptionRegistry")
    prescription = chain.call(registry.functions.prescription(service.anchor_id))
    status = PrescriptionStatus(prescription[7])
    if status is PrescriptionStatus.NONE:
        return Check.UNKNOWN
    issuer, patient = prescription[1], prescription[3]
    if patient != onchain.patient:
        return Check.MISMATCH
    if service.kind is ServiceKind.DISPENSE:
        pharmacy = chain.call(registry.functions.dispensing(service.anchor_id))[0]
        issuer = pharmacy if status is PrescriptionStatus.DISPENSED else issuer
    if issuer != onchain.provider:
        return Check.MISMATCH
    return Check.OK if status is PrescriptionStatus.DISPENSED else Check.NOT_DISPENSED
