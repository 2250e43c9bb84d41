"""The FHIR side of claims, without a chain: the items a Claim claims for, the details a payment
pays, the envelope bundle an insurer keeps, and the ClaimResponse and PaymentNotice it writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.claiming.adjudication import Adjudication
from ledger.claiming.money import from_minor, to_minor
from ledger.claiming.rules import ICD10
from ledger.claiming.services import CLAIM_KEY_SYSTEM, SERVICE_EXTENSION, ServiceRef
from ledger.errors import LedgerError

__all__ = [
    "ClaimItem",
    "ClaimMalformed",
    "PaidService",
    "claim_header",
    "claim_items",
    "claim_response",
    "diagnoses",
    "paid_services",
    "payment_notice",
]

_ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
_REASONS = "urn:medledger:claim-reason"
_ORG = "urn:medledger:organisation"


class ClaimMalformed(LedgerError):
    """The Claim or the payment shown with it cannot be read as a claim on anchored services."""

    code = "claim.malformed"


@dataclass(frozen=True)
class ClaimItem:
    sequence: int
    service: ServiceRef
    amount: int  # minor units
    codings: tuple[tuple[str, str], ...]  # productOrService


@dataclass(frozen=True)
class PaidService:
    key: bytes
    amount: int  # minor units


def claim_items(claim: dict[str, Any], currency: str) -> tuple[ClaimItem, ...]:
    """Every item of a validated Claim, each naming one anchored service and a net amount."""
    items = claim.get("item") or []
    if not items:
        raise ClaimMalformed("a claim needs at least one item")
    parsed = tuple(_item(item, currency) for item in items)
    services = [item.service for item in parsed]
    if len(set(services)) != len(services):
        raise ClaimMalformed("two items claim for the same service")
    return parsed


def _item(item: dict[str, Any], currency: str) -> ClaimItem:
    sequence = item.get("sequence")
    refs = [
        ext.get("valueReference", {}).get("reference")
        for ext in item.get("extension") or []
        if ext.get("url") == SERVICE_EXTENSION
    ]
    if len(refs) != 1 or not isinstance(refs[0], str):
        raise ClaimMalformed(
            f"item {sequence} must name one anchored service ({SERVICE_EXTENSION})"
        )
    try:
        service = ServiceRef.parse(refs[0])
        amount = to_minor(item.get("net"), currency)
    except ValueError as exc:
        raise ClaimMalformed(f"item {sequence}: {exc}") from exc
    codings = tuple(
        (str(c.get("system")), str(c.get("code")))
        for c in (item.get("productOrService") or {}).get("coding") or []
    )
    return ClaimItem(int(sequence or 0), service, amount, codings)


def paid_services(payment: dict[str, Any], currency: str) -> dict[ServiceRef, PaidService]:
    """What a PaymentReconciliation pays, by service, with each service's claim key."""
    paid: dict[ServiceRef, PaidService] = {}
    for index, detail in enumerate(payment.get("detail") or []):
        try:
            service = ServiceRef.parse(str((detail.get("request") or {}).get("reference")))
            identifier = detail.get("identifier") or {}
            if identifier.get("system") != CLAIM_KEY_SYSTEM:
                raise ValueError("no claim key")
            key = bytes.fromhex(str(identifier.get("value"))[2:])
            if len(key) != 32:
                raise ValueError("a claim key is 32 bytes")
            paid[service] = PaidService(key, to_minor(detail.get("amount"), currency))
        except ValueError as exc:
            raise ClaimMalformed(f"payment detail {index}: {exc}") from exc
    return paid


def diagnoses(claim: dict[str, Any]) -> tuple[str, ...]:
    """The claim's ICD-10 diagnosis codes."""
    return tuple(
        str(coding.get("code"))
        for entry in claim.get("diagnosis") or []
        for coding in (entry.get("diagnosisCodeableConcept") or {}).get("coding") or []
        if coding.get("system") == ICD10
    )


def claim_header(patient: str) -> dict[str, Any]:
    """What a Claim and its ClaimResponse share: the type (professional), the use, the patient by
    the pseudonym the provider knows them under."""
    return {
        "type": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/claim-type",
                    "code": "professional",
                }
            ]
        },
        "use": "claim",
        "patient": {"identifier": {"system": "urn:medledger:pseudonym", "value": patient}},
    }


def claim_response(
    claim_id: str,
    *,
    patient: str,
    insurer: str,
    adjudication: Adjudication,
    approved: tuple[int, ...],
    outcome: str,
    disposition: str,
    reasons: tuple[str, ...],
    currency: str,
) -> dict[str, Any]:
    """The insurer's FHIR ClaimResponse: per item what was submitted and what is paid, and why."""
    items = [
        {
            "itemSequence": item.sequence,
            "adjudication": [
                _adjudication("submitted", item.claimed, currency),
                _adjudication("benefit", paid, currency),
            ],
        }
        for item, paid in zip(adjudication.items, approved, strict=True)
    ]
    errors = [
        {"itemSequence": item.sequence, "code": _reason(reason)}
        for item in adjudication.items
        for reason in item.reasons
    ]
    given = {reason for item in adjudication.items for reason in item.reasons}
    errors += [{"code": _reason(reason)} for reason in reasons if reason not in given]
    response: dict[str, Any] = {
        "resourceType": "ClaimResponse",
        "status": "active",
        **claim_header(patient),
        "created": _now(),
        "insurer": {"identifier": {"system": _ORG, "value": insurer}},
        "request": {"reference": f"Claim/{claim_id}"},
        "outcome": outcome,
        "disposition": disposition,
        "item": items,
        "total": [
            _adjudication("submitted", adjudication.claimed, currency),
            _adjudication("benefit", sum(approved), currency),
        ],
    }
    if errors:
        response["error"] = errors
    return response


def payment_notice(
    claim_id: str, *, provider: str, amount: int, reference: str, currency: str
) -> dict[str, Any]:
    """The insurer's FHIR PaymentNotice of a payout on a claim, naming the payment's reference."""
    return {
        "resourceType": "PaymentNotice",
        "status": "active",
        "request": {"reference": f"Claim/{claim_id}"},
        "created": _now(),
        "payment": {
            "identifier": {"system": "urn:medledger:payment-reference", "value": reference}
        },
        "recipient": {"identifier": {"system": _ORG, "value": provider}},
        "amount": from_minor(amount, currency),
        "paymentStatus": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/paymentstatus", "code": "paid"}
            ]
        },
    }


def _adjudication(category: str, amount: int, currency: str) -> dict[str, Any]:
    return {
        "category": {"coding": [{"system": _ADJUDICATION, "code": category}]},
        "amount": from_minor(amount, currency),
    }


def _reason(code: str) -> dict[str, Any]:
    return {"coding": [{"system": _REASONS, "code": code}]}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()
