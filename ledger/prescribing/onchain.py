"""A prescription, its review and its dispense as the chain holds them, read back by any member."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ledger.errors import ContractRevert, LedgerError
from ledger.prescribing.prereview import PreReviewResult
from ledger.prescribing.status import FhirStatus, PrescriptionStatus, fhir_status
from ledger.prescribing.validity import utc_offset_s
from ledger.records.anchoring import Anchored
from ledger.store import cid_from_bytes

__all__ = [
    "DispenseInfo",
    "IssueReceipt",
    "OnchainPrescription",
    "ReviewInfo",
    "UtcOffsetMismatch",
    "check_utc_offset",
    "parse_dispense",
    "parse_prescription",
    "parse_review",
]

_ZERO32 = bytes(32)


class UtcOffsetMismatch(LedgerError):
    """This gateway's time zone is not at the UTC offset the chain counts its hospital's days in."""

    code = "prescription.utc_offset_mismatch"


@dataclass(frozen=True)
class OnchainPrescription:
    """A prescription as the chain holds it now."""

    prescription_id: str
    commitment: str
    institution: str
    #: The salted commitment the chain keeps in the doctor's place (`prescriber_of` opens it).
    prescriber_commitment: str
    patient: str
    issued_at: int
    expires_at: int
    online: bool
    status: PrescriptionStatus
    follow_up_record: str | None
    cid: str

    def expired(self, now: int | None = None) -> bool:
        return (int(time.time()) if now is None else now) > self.expires_at

    def fhir_status(self, now: int | None = None) -> FhirStatus:
        return fhir_status(self.status, expired=self.expired(now))


@dataclass(frozen=True)
class ReviewInfo:
    org: str
    pharmacist: str
    approved: bool
    reviewed_at: int


@dataclass(frozen=True)
class DispenseInfo:
    prescription_id: str
    pharmacy: str
    pharmacist: str
    commitment: str
    cid: str
    dispensed_at: int


@dataclass(frozen=True)
class IssueReceipt:
    prescription_id: str
    expires_at: int
    pre_review: PreReviewResult
    anchored: Anchored


def parse_prescription(prescription_id: bytes, raw: Any) -> OnchainPrescription:
    """Parse the registry's ``prescription`` tuple; PrescriptionUnknown if it is all zero."""
    (commitment, institution, p_commitment, patient, issued_at, expiry, online, status) = raw[:8]
    follow_up, cid = raw[8:]
    if PrescriptionStatus(status) is PrescriptionStatus.NONE:
        raise ContractRevert(
            "PrescriptionUnknown", {"prescriptionId": "0x" + prescription_id.hex()}
        )
    return OnchainPrescription(
        prescription_id="0x" + prescription_id.hex(),
        commitment="0x" + bytes(commitment).hex(),
        institution=institution,
        prescriber_commitment="0x" + bytes(p_commitment).hex(),
        patient=patient,
        issued_at=int(issued_at),
        expires_at=int(expiry),
        online=bool(online),
        status=PrescriptionStatus(status),
        follow_up_record=None if bytes(follow_up) == _ZERO32 else "0x" + bytes(follow_up).hex(),
        cid=cid_from_bytes(bytes(cid)),
    )


def check_utc_offset(chain_offset: int, zone: ZoneInfo, hospital: str) -> None:
    """Refuse to issue while this gateway's zone and the chain disagree on the hospital's UTC
    offset: the expiry the doctor is told must be the one the chain enforces."""
    here = utc_offset_s(zone, datetime.now(UTC))
    if chain_offset != here:
        raise UtcOffsetMismatch(
            f"time zone {zone.key} is at UTC{here / 3600:+g}h now, but the chain "
            f"counts {hospital}'s days at UTC{chain_offset / 3600:+g}h: a regulator "
            "records the offset (setUtcOffset), or MEDLEDGER_TIME_ZONE is wrong"
        )


def parse_review(raw: Any) -> ReviewInfo | None:
    """Parse the registry's ``review`` tuple; None until the prescription is reviewed."""
    org, pharmacist, approved, reviewed_at = raw
    if reviewed_at == 0:
        return None
    return ReviewInfo(org, pharmacist, bool(approved), reviewed_at)


def parse_dispense(prescription_id: bytes, raw: Any) -> DispenseInfo | None:
    """Parse the registry's ``dispensing`` tuple; None until the prescription is dispensed."""
    pharmacy, pharmacist, commitment, dispensed_at, cid = raw
    if dispensed_at == 0:
        return None
    return DispenseInfo(
        "0x" + prescription_id.hex(),
        pharmacy,
        pharmacist,
        "0x" + bytes(commitment).hex(),
        cid_from_bytes(bytes(cid)),
        int(dispensed_at),
    )
