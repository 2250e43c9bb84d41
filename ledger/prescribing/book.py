"""One organisation's side of prescriptions: a hospital issues (pre-reviewed, with validity in local
time), a pharmacist reviews, a pharmacy dispenses once, the prescriber cancels; and the chain's
record of each, read back. No clinical fact goes on chain: a prescription the pre-review blocks is
not issued, and a pharmacist's reason stays with the reviewing organisation.

A prescription's MedicationRequest is sealed under (prescription id, version 1) for the issuing
hospital and the patient's pseudonym; a dispense's MedicationDispense under (prescription id,
version 2) for the dispensing organisation and the issuing hospital, whose key the organisation
directory on chain gives. Both are written through ``ledger.records.anchoring``: validate, seal,
preflight, store, anchor.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account.signers.local import LocalAccount

from ledger.chain.connection import Chain
from ledger.chain.directory import OrgDirectory
from ledger.consent.patients import PatientDirectory
from ledger.crypto import envelope
from ledger.errors import ContractRevert, DecryptionFailed, LedgerError
from ledger.payload import parse_payload
from ledger.prescribing import (
    PreReviewBlocked,
    PreReviewResult,
    PreReviewRules,
    PrescriptionStatus,
    fhir_status,
    pre_review,
    utc_offset_s,
)
from ledger.prescribing.follow_up import check_follow_up
from ledger.prescribing.status import FhirStatus
from ledger.prescribing.unexpired import UnexpiredIndex
from ledger.records.anchoring import Anchored, seal_store_anchor
from ledger.records.book import RecordBook
from ledger.store import ContentStore, cid_from_bytes

__all__ = [
    "DispenseInfo",
    "IssueReceipt",
    "OnchainPrescription",
    "PrescriptionBook",
    "ReviewInfo",
    "UtcOffsetMismatch",
]

#: Envelope contexts under a prescription id: its MedicationRequest, then its MedicationDispense.
REQUEST_VERSION = 1
DISPENSE_VERSION = 2
_ZERO32 = bytes(32)
#: Nonzero stand-ins for the commitment and CID, to ask the chain about an issuance before sealing.
_PLACEHOLDER = b"\x01" * 32


class UtcOffsetMismatch(LedgerError):
    """This gateway's time zone is not at the UTC offset the chain counts its hospital's days in."""

    code = "prescription.utc_offset_mismatch"


@dataclass(frozen=True)
class OnchainPrescription:
    """A prescription as the chain holds it now."""

    prescription_id: str
    commitment: str
    institution: str
    prescriber: str
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


class PrescriptionBook:
    """Issues, reviews, dispenses and cancels as this gateway's organisation, and reads back."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        patients: PatientDirectory,
        records: RecordBook,
        *,
        org: LocalAccount,
        org_key: X25519PrivateKey,
        directory: OrgDirectory,
        rules: PreReviewRules,
        zone: ZoneInfo,
        max_payload_bytes: int,
        supervisors: Callable[[], Mapping[str, X25519PublicKey]] | None = None,
    ) -> None:
        self._chain = chain
        self._store = store
        self._patients = patients
        self._records = records
        self._org = org
        self._org_key = org_key
        self._directory = directory
        self._rules = rules
        self._zone = zone
        self._max_payload_bytes = max_payload_bytes
        self._supervisors = supervisors
        self._registry = chain.contract("PrescriptionRegistry")
        self._unexpired = UnexpiredIndex(chain, self._registry, org.address)

    # -- writes ---------------------------------------------------------------------------------

    def issue(
        self,
        raw_payload: bytes,
        *,
        patient: str,
        prescriber: str,
        online: bool,
        follow_up_record: bytes | None,
    ) -> IssueReceipt:
        """Pre-review and anchor a MedicationRequest for an enrolled patient. PreReviewBlocked,
        before anything is stored or sent, if the pre-review blocks it: on chain, even a bare
        "blocked" beside the pseudonym would tell every member something clinical about the
        patient. The refusal is in this gateway's access log."""
        payload = parse_payload(
            raw_payload,
            max_bytes=self._max_payload_bytes,
            allowed_types=frozenset({"MedicationRequest"}),
        )
        enrolment = self._patients.get(patient)
        self._check_utc_offset()
        prescription_id = secrets.token_bytes(32)

        def build(digest: bytes, cid: bytes) -> Any:
            issuance = (digest, cid, patient, prescriber, online, follow_up_record or _ZERO32)
            return self._registry.functions.issuePrescription(prescription_id, issuance)

        # Who may prescribe for whom is asked of the chain first: a doctor without the right, or
        # a patient who is no follow-up, learns nothing from a clinical check of the request.
        self._chain.preflight(build(_PLACEHOLDER, _PLACEHOLDER))
        if follow_up_record is not None:
            self._check_diagnosis(follow_up_record, patient)
        result = pre_review(
            payload.resource,
            online=online,
            active_prescriptions=self._active_requests(patient),
            rules=self._rules,
        )
        if not result.passed:
            raise PreReviewBlocked(result)
        anchored = seal_store_anchor(
            self._chain,
            self._store,
            payload,
            context_id=prescription_id,
            version=REQUEST_VERSION,
            recipients={
                self._org.address: self._org_key.public_key(),
                patient: enrolment.encryption_key,
                # Reported as issued to the supervising regulators (2022 rules; docs/rules.md).
                **(self._supervisors() if self._supervisors else {}),
            },
            build=build,
        )
        # The chain computed the expiry from its block's time: the one that counts.
        expiry = self.onchain(prescription_id).expires_at
        return IssueReceipt("0x" + prescription_id.hex(), expiry, result, anchored)

    def review(self, prescription_id: bytes, *, pharmacist: str, approve: bool) -> str:
        """Approve or reject through this organisation's ``pharmacist``; the transaction hash. The
        reason for a decision is not sent: it says something clinical about the patient."""
        functions = self._registry.functions
        fn = (
            functions.approvePrescription(prescription_id, pharmacist)
            if approve
            else functions.rejectPrescription(prescription_id, pharmacist)
        )
        self._chain.preflight(fn)
        return self._chain.transact(fn)["transactionHash"].to_0x_hex()

    def dispense(self, prescription_id: bytes, raw_payload: bytes, *, pharmacist: str) -> Anchored:
        """Anchor this organisation's MedicationDispense of an approved prescription; of two
        pharmacies racing, the chain lets one through and the other gets
        PrescriptionAlreadyDispensed. Sealed for the issuing hospital too, under the key it
        published in the directory: OrgNotInDirectory or OrgNotUsable, before anything is stored,
        if it has none to seal to."""
        institution = self.onchain(prescription_id).institution  # PrescriptionUnknown first
        payload = parse_payload(
            raw_payload,
            max_bytes=self._max_payload_bytes,
            allowed_types=frozenset({"MedicationDispense"}),
        )
        recipients: dict[str, X25519PublicKey] = {self._org.address: self._org_key.public_key()}
        if institution != self._org.address:
            recipients[institution] = self._directory.encryption_key(institution)
        return seal_store_anchor(
            self._chain,
            self._store,
            payload,
            context_id=prescription_id,
            version=DISPENSE_VERSION,
            recipients=recipients,
            build=lambda digest, cid: self._registry.functions.dispensePrescription(
                prescription_id, pharmacist, digest, cid
            ),
        )

    def cancel(self, prescription_id: bytes, *, prescriber: str) -> str:
        """Cancel for its prescriber, before dispense; the transaction hash."""
        fn = self._registry.functions.cancelPrescription(prescription_id, prescriber)
        self._chain.preflight(fn)
        return self._chain.transact(fn)["transactionHash"].to_0x_hex()

    # -- reads ----------------------------------------------------------------------------------

    def onchain(self, prescription_id: bytes) -> OnchainPrescription:
        """The chain's record; PrescriptionUnknown (as ContractRevert) if never issued."""
        raw = self._chain.call(self._registry.functions.prescription(prescription_id))
        (commitment, institution, prescriber, patient, issued_at, expiry, online, status) = raw[:8]
        follow_up, cid = raw[8:]
        if PrescriptionStatus(status) is PrescriptionStatus.NONE:
            raise ContractRevert(
                "PrescriptionUnknown", {"prescriptionId": "0x" + prescription_id.hex()}
            )
        return OnchainPrescription(
            prescription_id="0x" + prescription_id.hex(),
            commitment="0x" + bytes(commitment).hex(),
            institution=institution,
            prescriber=prescriber,
            patient=patient,
            issued_at=int(issued_at),
            expires_at=int(expiry),
            online=bool(online),
            status=PrescriptionStatus(status),
            follow_up_record=None if bytes(follow_up) == _ZERO32 else "0x" + bytes(follow_up).hex(),
            cid=cid_from_bytes(bytes(cid)),
        )

    def read(self, prescription: OnchainPrescription) -> tuple[dict[str, Any], str]:
        """The MedicationRequest and its salt, opened with this hospital's key."""
        return self._open(prescription.cid, prescription.prescription_id, REQUEST_VERSION)

    def read_dispense(self, dispense: DispenseInfo) -> tuple[dict[str, Any], str]:
        """The MedicationDispense and its salt, opened with this organisation's key: the
        dispensing pharmacy's or the issuing hospital's (DecryptionFailed for anyone else)."""
        return self._open(dispense.cid, dispense.prescription_id, DISPENSE_VERSION)

    def _open(self, cid: str, prescription_id: str, version: int) -> tuple[dict[str, Any], str]:
        plaintext = envelope.open_envelope(
            self._store.get(cid),
            private_key=self._org_key,
            label=self._org.address,
            record_id=bytes.fromhex(prescription_id[2:]),
            version=version,
        )
        body = json.loads(plaintext)
        return body["resource"], body["salt"]

    def review_of(self, prescription_id: bytes) -> ReviewInfo | None:
        org, pharmacist, approved, reviewed_at = self._chain.call(
            self._registry.functions.review(prescription_id)
        )
        if reviewed_at == 0:
            return None
        return ReviewInfo(org, pharmacist, bool(approved), reviewed_at)

    def dispense_of(self, prescription_id: bytes) -> DispenseInfo | None:
        pharmacy, pharmacist, commitment, dispensed_at, cid = self._chain.call(
            self._registry.functions.dispensing(prescription_id)
        )
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

    def issued(self, **indexed: str) -> list[OnchainPrescription]:
        """Every prescription issued, filtered on an indexed field (institution, prescriber),
        oldest first, as the chain holds each now."""
        return [
            self.onchain(bytes(event["args"]["prescriptionId"]))
            for event in self._events(**indexed)
        ]

    def _events(self, **indexed: str) -> list[Any]:
        return list(
            self._registry.events.PrescriptionIssued().get_logs(
                from_block=self._chain.deployment.block_number, argument_filters=indexed
            )
        )

    def dispensed_by(self, pharmacy: str) -> list[DispenseInfo]:
        """Every dispense by ``pharmacy``, oldest first."""
        events = self._registry.events.PrescriptionDispensed().get_logs(
            from_block=self._chain.deployment.block_number,
            argument_filters={"pharmacy": pharmacy},
        )
        dispensed = (self.dispense_of(bytes(event["args"]["prescriptionId"])) for event in events)
        return [d for d in dispensed if d is not None]

    def _active_requests(self, patient: str) -> list[dict[str, Any]]:
        """The patient's MedicationRequests here still in force, for the duplicate-therapy check."""
        active = (PrescriptionStatus.PENDING, PrescriptionStatus.APPROVED)
        theirs = (self.onchain(pid) for pid in self._unexpired.of(patient))
        return [self.read(p)[0] for p in theirs if p.status in active and not p.expired()]

    def _check_utc_offset(self) -> None:
        """Refuse to issue while this gateway's zone and the chain disagree on the hospital's UTC
        offset: the expiry the doctor is told must be the one the chain enforces."""
        chain = int(self._chain.call(self._registry.functions.utcOffset(self._org.address)))
        here = utc_offset_s(self._zone, datetime.now(UTC))
        if chain != here:
            raise UtcOffsetMismatch(
                f"time zone {self._zone.key} is at UTC{here / 3600:+g}h now, but the chain "
                f"counts {self._org.address}'s days at UTC{chain / 3600:+g}h: a regulator "
                "records the offset (setUtcOffset), or MEDLEDGER_TIME_ZONE is wrong"
            )

    def _check_diagnosis(self, record_id: bytes, patient: str) -> None:
        """What the chain cannot see: the follow-up record is a diagnosis. Checked only when the
        record is this hospital's and the patient's; otherwise the contract names the mismatch."""
        try:
            first = self._records.onchain(record_id, 1)
        except ContractRevert:
            return
        if str(first.hospital) != str(self._org.address) or first.patient != patient:
            return
        try:
            resource = self._records.read(record_id, 1).resource
        except DecryptionFailed:
            return
        check_follow_up(record_id, resource)
