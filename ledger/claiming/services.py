"""What a payment pays for and a claim claims: references to anchored services, and the per-service
claim key that the chain's duplicate check counts under (docs/claims.md).

A service is one anchored thing with a salt of its own: a record version, a prescription (its
MedicationRequest), or a dispense (its MedicationDispense). FHIR carries the reference as
``MedicationRequest/0x<id>``, ``MedicationDispense/0x<prescription id>`` or
``urn:medledger:record:0x<id>:<version>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives import hashes, hmac

__all__ = [
    "CLAIM_KEY_SYSTEM",
    "SERVICE_EXTENSION",
    "ServiceKind",
    "ServiceRef",
    "claim_key",
]

#: The Claim.item extension naming the anchored service an item claims for.
SERVICE_EXTENSION = "https://medledger.example/fhir/StructureDefinition/anchored-service"
#: The identifier system a PaymentReconciliation.detail carries its service's claim key under.
CLAIM_KEY_SYSTEM = "urn:medledger:claim-key"

_CLAIM_KEY_LABEL = b"medledger/v1/claim-key\x00"
_HEX32 = r"0x[0-9a-fA-F]{64}"
_PATTERNS = {
    re.compile(rf"^MedicationRequest/({_HEX32})$"): "prescription",
    re.compile(rf"^MedicationDispense/({_HEX32})$"): "dispense",
    re.compile(rf"^urn:medledger:record:({_HEX32}):([1-9][0-9]{{0,9}})$"): "record",
}


class ServiceKind(StrEnum):
    RECORD = "record"
    PRESCRIPTION = "prescription"
    DISPENSE = "dispense"


@dataclass(frozen=True)
class ServiceRef:
    """One anchored service: its kind, the id it is anchored under, and (records) its version."""

    kind: ServiceKind
    anchor_id: bytes
    version: int = 1

    @classmethod
    def parse(cls, reference: str) -> ServiceRef:
        """The service a FHIR reference names; ValueError for anything else."""
        for pattern, kind in _PATTERNS.items():
            match = pattern.fullmatch(reference)
            if match:
                version = int(match.group(2)) if kind == "record" else 1
                if version >= 2**32:
                    break
                return cls(ServiceKind(kind), bytes.fromhex(match.group(1)[2:]), version)
        raise ValueError(f"not a reference to an anchored service: {reference[:90]!r}")

    @property
    def reference(self) -> str:
        """The FHIR reference, lower-case hex: one spelling per service, so keys agree."""
        hex_id = "0x" + self.anchor_id.hex()
        if self.kind is ServiceKind.RECORD:
            return f"urn:medledger:record:{hex_id}:{self.version}"
        prefix = (
            "MedicationRequest" if self.kind is ServiceKind.PRESCRIPTION else "MedicationDispense"
        )
        return f"{prefix}/{hex_id}"


def claim_key(salt: bytes, service: ServiceRef) -> bytes:
    """The service's claim key: HMAC-SHA256 under the salt of the service's own commitment.

    Deterministic for the service (its salt is fixed when it is anchored), so every payment and
    every insurer arrive at the same key; unlinkable to the service for anyone without the salt,
    which only the service's custodian, the patient and those shown the payment hold.
    """
    if len(salt) != 32:
        raise ValueError(f"a salt is 32 bytes, got {len(salt)}")
    mac = hmac.HMAC(salt, hashes.SHA256())
    mac.update(_CLAIM_KEY_LABEL + service.reference.encode("ascii"))
    return mac.finalize()
