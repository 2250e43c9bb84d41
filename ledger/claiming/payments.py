"""One payee's side of payments: a hospital or pharmacy anchors a FHIR PaymentReconciliation for
services it anchored itself, and registers each service's claimable amount under its claim key.

The gateway fills each detail's claim key in (``detail.identifier``) from the salt of the service's
own commitment, which only this payee holds; the key is therefore committed to with the payment,
and anyone later shown the payment document can check it against the chain.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account.signers.local import LocalAccount

from ledger.chain.connection import Chain
from ledger.claiming import CLAIM_KEY_SYSTEM, ServiceKind, ServiceRef, claim_key, to_minor
from ledger.consent.patients import PatientDirectory, PatientNotEnrolled
from ledger.crypto import envelope
from ledger.errors import ContractRevert, LedgerError
from ledger.payload import Payload, canonicalize, parse_payload
from ledger.prescribing import PrescriptionStatus
from ledger.prescribing.book import DISPENSE_VERSION, PrescriptionBook
from ledger.records.anchoring import Anchored, seal_store_anchor
from ledger.records.book import RecordBook
from ledger.store import ContentStore, cid_from_bytes

__all__ = [
    "PAYMENT_VERSION",
    "PaymentBook",
    "PaymentDocument",
    "PaymentMethod",
    "PaymentNotRecordable",
    "PaymentReceipt",
    "PaymentUnknown",
]

#: The envelope context of a payment under its id.
PAYMENT_VERSION = 1


class PaymentMethod(IntEnum):
    """Mirrors IClaimRegistry.PaymentMethod."""

    SELF_PAY = 1
    NATIONAL_INSURANCE = 2
    COMMERCIAL_INSURANCE = 3


class PaymentNotRecordable(LedgerError):
    """The payment names a service this payee did not anchor for this patient, or is malformed."""

    code = "payment.not_recordable"


class PaymentUnknown(LedgerError):
    """No payment to this payee under that id."""

    code = "payment.unknown"


@dataclass(frozen=True)
class PaymentReceipt:
    payment_id: str
    service_keys: tuple[str, ...]
    amounts: tuple[int, ...]
    anchored: Anchored


@dataclass(frozen=True)
class PaymentDocument:
    """A payment as its payee reads it back: what a claimant shows an insurer."""

    payment_id: str
    payee: str
    method: PaymentMethod
    recorded_at: int
    cid: str
    salt: str
    resource: dict[str, Any]


class PaymentBook:
    """Records payments to this gateway's organisation, and reads them back."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        patients: PatientDirectory,
        records: RecordBook,
        prescriptions: PrescriptionBook,
        *,
        org: LocalAccount,
        org_key: X25519PrivateKey,
        currency: str,
        max_payload_bytes: int,
    ) -> None:
        self._chain = chain
        self._store = store
        self._patients = patients
        self._records = records
        self._prescriptions = prescriptions
        self._org = org
        self._org_key = org_key
        self._currency = currency
        self._max_payload_bytes = max_payload_bytes
        self._registry = chain.contract("ClaimRegistry")

    def record(self, raw_payload: bytes, *, patient: str, method: PaymentMethod) -> PaymentReceipt:
        """Anchor a PaymentReconciliation whose details each pay one service this organisation
        anchored for ``patient``, with the services' claim keys filled in."""
        payload = parse_payload(
            raw_payload,
            max_bytes=self._max_payload_bytes,
            allowed_types=frozenset({"PaymentReconciliation"}),
        )
        resource = json.loads(payload.canonical)
        details = resource.get("detail") or []
        if not details:
            raise PaymentNotRecordable("a payment needs at least one detail naming a service")
        keys: list[bytes] = []
        amounts: list[int] = []
        for index, detail in enumerate(details):
            service = _service(detail, index)
            try:
                amounts.append(to_minor(detail.get("amount"), self._currency))
            except ValueError as exc:
                raise PaymentNotRecordable(f"detail {index}: {exc}") from exc
            key = claim_key(self._salt_of(service, patient), service)
            detail["request"] = {"reference": service.reference}
            detail["identifier"] = {"system": CLAIM_KEY_SYSTEM, "value": "0x" + key.hex()}
            keys.append(key)
        sealed = Payload("PaymentReconciliation", resource, canonicalize(resource))
        payment_id = secrets.token_bytes(32)
        anchored = seal_store_anchor(
            self._chain,
            self._store,
            sealed,
            context_id=payment_id,
            version=PAYMENT_VERSION,
            recipients=self._recipients(patient),
            build=lambda digest, cid: self._registry.functions.recordPayment(
                payment_id, patient, int(method), digest, cid, keys, amounts
            ),
        )
        return PaymentReceipt(
            "0x" + payment_id.hex(),
            tuple("0x" + k.hex() for k in keys),
            tuple(amounts),
            anchored,
        )

    def document(self, payment_id: bytes) -> PaymentDocument:
        """The payment as anchored, opened with this payee's key; PaymentUnknown if there is none
        to this payee (another payee's is not told apart from none)."""
        payee, method, recorded_at, _commitment, cid = self._chain.call(
            self._registry.functions.payment(payment_id)
        )
        if recorded_at == 0 or payee != self._org.address:
            raise PaymentUnknown(f"no payment 0x{payment_id.hex()} to {self._org.address}")
        content = cid_from_bytes(bytes(cid))
        plaintext = envelope.open_envelope(
            self._store.get(content),
            private_key=self._org_key,
            label=self._org.address,
            record_id=payment_id,
            version=PAYMENT_VERSION,
        )
        body = json.loads(plaintext)
        return PaymentDocument(
            "0x" + payment_id.hex(),
            payee,
            PaymentMethod(method),
            int(recorded_at),
            content,
            body["salt"],
            body["resource"],
        )

    def _recipients(self, patient: str) -> dict[str, X25519PublicKey]:
        recipients: dict[str, X25519PublicKey] = {self._org.address: self._org_key.public_key()}
        # A pharmacy does not enrol the hospital's pseudonym: it keeps the payment alone.
        with contextlib.suppress(PatientNotEnrolled):
            recipients[patient] = self._patients.get(patient).encryption_key
        return recipients

    def _salt_of(self, service: ServiceRef, patient: str) -> bytes:
        """The salt of ``service``'s commitment: this payee holds it only for what it anchored."""
        try:
            if service.kind is ServiceKind.RECORD:
                return self._record_salt(service, patient)
            prescription = self._prescriptions.onchain(service.anchor_id)
            if prescription.patient != patient:
                raise PaymentNotRecordable(f"{service.reference} is another patient's")
            if service.kind is ServiceKind.PRESCRIPTION:
                if prescription.institution != self._org.address:
                    raise PaymentNotRecordable(f"{service.reference} was issued elsewhere")
                return bytes.fromhex(self._prescriptions.read(prescription)[1][2:])
            return self._dispense_salt(service, prescription.status)
        except ContractRevert as exc:
            raise PaymentNotRecordable(f"{service.reference} is not anchored ({exc.name})") from exc

    def _record_salt(self, service: ServiceRef, patient: str) -> bytes:
        version = self._records.onchain(service.anchor_id, service.version)
        if str(version.hospital) != self._org.address or version.patient != patient:
            raise PaymentNotRecordable(f"{service.reference} is not this hospital's for {patient}")
        return bytes.fromhex(self._records.read(service.anchor_id, service.version).salt[2:])

    def _dispense_salt(self, service: ServiceRef, status: PrescriptionStatus) -> bytes:
        dispense = self._prescriptions.dispense_of(service.anchor_id)
        if status is not PrescriptionStatus.DISPENSED or dispense is None:
            raise PaymentNotRecordable(f"{service.reference} has not been dispensed")
        if dispense.pharmacy != self._org.address:
            raise PaymentNotRecordable(f"{service.reference} was dispensed elsewhere")
        plaintext = envelope.open_envelope(
            self._store.get(dispense.cid),
            private_key=self._org_key,
            label=self._org.address,
            record_id=service.anchor_id,
            version=DISPENSE_VERSION,
        )
        salt: str = json.loads(plaintext)["salt"]
        return bytes.fromhex(salt[2:])


def _service(detail: Any, index: int) -> ServiceRef:
    request = detail.get("request") if isinstance(detail, dict) else None
    reference = request.get("reference") if isinstance(request, dict) else None
    if not isinstance(reference, str):
        raise PaymentNotRecordable(f"detail {index} names no service (detail.request.reference)")
    try:
        return ServiceRef.parse(reference)
    except ValueError as exc:
        raise PaymentNotRecordable(f"detail {index}: {exc}") from exc
