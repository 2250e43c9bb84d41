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
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account.signers.local import LocalAccount

from ledger.chain.connection import Chain
from ledger.chain.directory import OrgDirectory
from ledger.consent.patients import PatientDirectory
from ledger.crypto import envelope
from ledger.errors import ContractRevert
from ledger.gateway.auth import AuthError
from ledger.payload import parse_payload
from ledger.prescribing import (
    PreReviewBlocked,
    PreReviewRules,
    PrescriptionStatus,
    pre_review,
)
from ledger.prescribing.drafts import Draft, Drafts
from ledger.prescribing.issued import Issued, IssuedIndex
from ledger.prescribing.onchain import (
    DispenseInfo,
    IssueReceipt,
    OnchainPrescription,
    ReviewInfo,
    UtcOffsetMismatch,
    check_utc_offset,
    parse_dispense,
    parse_prescription,
    parse_review,
)
from ledger.prescribing.patient_checks import check_patient
from ledger.prescribing.signature import (
    IssuanceMismatch,
    PrescriptionDomain,
    SignedIssuance,
    prescriber_commitment,
    prescriber_salt,
    recover_prescriber,
)
from ledger.prescribing.unexpired import UnexpiredIndex
from ledger.records.anchoring import Anchored, seal_payload, seal_store_anchor
from ledger.records.book import RecordBook
from ledger.store import ContentStore, cid_to_bytes

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
        signing_window_s: int = 600,
        online_min_age_without_guardian: int,
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
        self._signing_window_s = signing_window_s
        self._online_min_age = online_min_age_without_guardian
        self._supervisors = supervisors
        self._registry = chain.contract("PrescriptionRegistry")
        self._issued = IssuedIndex(chain, self._registry)
        self._practice = chain.contract("PracticeRegistry")
        self._drafts = Drafts()
        #: What this hospital's doctors sign issuances under.
        self.domain = PrescriptionDomain.of(chain.deployment)
        self._unexpired = UnexpiredIndex(chain, self._registry, org.address)

    # -- writes ---------------------------------------------------------------------------------

    def draft(
        self,
        raw_payload: bytes,
        *,
        patient: str,
        prescriber: str,
        online: bool,
        follow_up_record: bytes | None,
    ) -> Draft:
        """Pre-review and seal a MedicationRequest for an enrolled patient, for ``prescriber`` to
        sign (`submit`): nothing is stored or sent until the doctor's signature comes back.
        PreReviewBlocked if the pre-review blocks it: on chain, even a bare "blocked" beside the
        pseudonym would tell every member something clinical about the patient."""
        payload = parse_payload(
            raw_payload,
            max_bytes=self._max_payload_bytes,
            allowed_types=frozenset({"MedicationRequest"}),
        )
        enrolment = self._patients.get(patient)
        self._check_utc_offset()
        # Who may prescribe for whom is asked of the chain first, as the contract will at issue:
        # a doctor without the right, or a patient who is no follow-up, learns nothing clinical.
        now = self._chain.now()  # the contract checks at block.timestamp, and the deadline too
        if not self._chain.call(
            self._practice.functions.canPrescribe(prescriber, self._org.address, now)
        ):
            raise ContractRevert(
                "PrescriptionPrescriberNotPermitted",
                {"prescriber": prescriber, "institution": self._org.address},
            )
        record = follow_up_record or _ZERO32
        self._chain.call(self._registry.functions.checkFollowUp(self._org.address, patient, record))
        check_patient(
            self._chain,
            self._records,
            str(self._org.address),
            resource=payload.resource,
            patient=patient,
            follow_up_record=follow_up_record,
            online=online,
            zone=self._zone,
            min_age=self._online_min_age,
        )
        result = pre_review(
            payload.resource,
            online=online,
            active_prescriptions=self._active_requests(patient),
            rules=self._rules,
        )
        if not result.passed:
            raise PreReviewBlocked(result)
        prescription_id = secrets.token_bytes(32)
        recipients = {
            self._org.address: self._org_key.public_key(),
            patient: enrolment.encryption_key,
            # Reported as issued to the supervising regulators (2022 rules; docs/rules.md).
            **(self._supervisors() if self._supervisors else {}),
        }
        sealed = seal_payload(
            payload, context_id=prescription_id, version=REQUEST_VERSION, recipients=recipients
        )
        salt = self._salt_of(sealed.envelope, prescription_id)
        issuance = SignedIssuance(
            prescription_id=prescription_id,
            commitment=sealed.commitment,
            cid=cid_to_bytes(sealed.cid),
            patient=patient,
            prescriber_commitment=prescriber_commitment(prescriber, prescriber_salt(salt)),
            online=online,
            follow_up_record=follow_up_record,
            institution=self._org.address,
            deadline=now + self._signing_window_s,
        )
        draft = Draft(issuance, prescriber, salt, sealed.envelope, sealed.cid, result)
        self._drafts.put(draft, now)
        return draft

    def submit(self, prescription_id: bytes, signature: bytes, *, prescriber: str) -> IssueReceipt:
        """Issue ``prescriber``'s draft with their signature of it: stored, then relayed to the
        chain, which checks the signature itself. DraftUnknown, DraftNotYours; AuthBadSignature,
        AuthMalformed or IssuanceMismatch if it is not that doctor's signature of the draft."""
        draft = self._drafts.get(prescription_id, prescriber, int(time.time()))
        try:
            signer = draft.issuance.signer(signature, self.domain)
        except AuthError as exc:
            raise IssuanceMismatch(f"not a signature of this draft: {exc}") from exc
        if signer != prescriber:
            raise IssuanceMismatch("the signature is not the drafting doctor's, of this draft")
        fn = self._registry.functions.issuePrescription(
            prescription_id, draft.issuance.as_args(signature)
        )
        self._chain.preflight(fn)
        self._store.put(draft.envelope)
        try:
            receipt = self._chain.transact(fn)
        except BaseException:
            self._store.remove(draft.cid)
            raise
        self._drafts.drop(prescription_id)
        anchored = Anchored("0x" + draft.issuance.commitment.hex(), draft.cid, receipt)
        # The chain computed the expiry from its block's time: the one that counts.
        expiry = self.onchain(prescription_id).expires_at
        return IssueReceipt("0x" + prescription_id.hex(), expiry, draft.pre_review, anchored)

    def issue(
        self,
        raw_payload: bytes,
        *,
        patient: str,
        prescriber: LocalAccount,
        online: bool,
        follow_up_record: bytes | None,
    ) -> IssueReceipt:
        """`draft` and `submit` in one, signing with ``prescriber``'s key in this process: for a
        doctor's own tools and tests; a gateway takes the signature over its API instead."""
        draft = self.draft(
            raw_payload,
            patient=patient,
            prescriber=prescriber.address,
            online=online,
            follow_up_record=follow_up_record,
        )
        signature = draft.issuance.sign(prescriber, self.domain)
        return self.submit(draft.issuance.prescription_id, signature, prescriber=prescriber.address)

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
        """Cancel for its prescriber, before dispense; the transaction hash. The chain opens the
        prescriber commitment with the salt this hospital derives from the MedicationRequest's."""
        _, salt = self.read(self.onchain(prescription_id))
        opening = prescriber_salt(bytes.fromhex(salt[2:]))
        fn = self._registry.functions.cancelPrescription(prescription_id, prescriber, opening)
        self._chain.preflight(fn)
        return self._chain.transact(fn)["transactionHash"].to_0x_hex()

    # -- reads ----------------------------------------------------------------------------------

    def onchain(self, prescription_id: bytes) -> OnchainPrescription:
        """The chain's record; PrescriptionUnknown (as ContractRevert) if never issued."""
        raw = self._chain.call(self._registry.functions.prescription(prescription_id))
        return parse_prescription(prescription_id, raw)

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
        return parse_review(self._chain.call(self._registry.functions.review(prescription_id)))

    def dispense_of(self, prescription_id: bytes) -> DispenseInfo | None:
        raw = self._chain.call(self._registry.functions.dispensing(prescription_id))
        return parse_dispense(prescription_id, raw)

    def issued(
        self, *, institution: str | None = None
    ) -> list[tuple[OnchainPrescription, str | None]]:
        """Every prescription issued (at ``institution`` if given), oldest first, as the chain
        holds each now, with its prescriber (`prescriber_of`). Followed by an index
        (`ledger.prescribing.issued`), not reread from the deployment block each call."""
        now = int(time.time())
        return [
            (self._issued.state(event.prescription_id, self.onchain, now), self._signer(event))
            for event in self._issued.events(institution=institution)
        ]

    def written_by(self, doctor: str) -> list[OnchainPrescription]:
        """Every prescription ``doctor`` signed, at any hospital: the chain does not index them
        by doctor, so every issuing transaction's signature is recovered (the regulator's view)."""
        return [p for p, signer in self.issued() if signer == doctor]

    def prescriber_of(self, prescription: OnchainPrescription) -> str | None:
        """Who signed ``prescription``: recovered from its issuing transaction's calldata, then
        checked against the prescriber commitment with the salt this hospital can open (None if
        either fails: the chain accepted the signature, so that is a commitment the doctor signed
        for someone else)."""
        events = self._issued.events(prescription_id=prescription.prescription_id)
        signer = self._signer(events[0]) if events else None
        if signer is None or prescription.institution != self._org.address:
            return signer
        salt = bytes.fromhex(self.read(prescription)[1][2:])
        opened = prescriber_commitment(signer, prescriber_salt(salt))
        return signer if "0x" + opened.hex() == prescription.prescriber_commitment else None

    def _signer(self, event: Issued) -> str | None:
        return self._issued.signer(
            event, lambda tx, institution: recover_prescriber(self._registry, tx, institution)
        )

    def _salt_of(self, blob: bytes, prescription_id: bytes) -> bytes:
        plaintext = envelope.open_envelope(
            blob,
            private_key=self._org_key,
            label=self._org.address,
            record_id=prescription_id,
            version=REQUEST_VERSION,
        )
        return bytes.fromhex(json.loads(plaintext)["salt"][2:])

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
        offset = self._chain.call(self._registry.functions.utcOffset(self._org.address))
        check_utc_offset(int(offset), self._zone, self._org.address)
