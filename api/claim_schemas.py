"""Wire shapes of payments and claims. Amounts are integers in the currency's minor unit (fen), as
the chain holds them; FHIR resources inside carry decimal Money."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from api.schemas import Address, Bytes32, Signature, UnixTime, _Model

PaymentMethodName = Literal["self_pay", "national_insurance", "commercial_insurance"]
ClaimStatusName = Literal["submitted", "approved", "partial", "denied", "duplicate", "settled"]
#: A FHIR resource as JSON; validated by the gateway with fhir.resources, not by this schema.
FhirJson = Annotated[dict[str, Any], Field(description="a FHIR R4 resource (JSON)")]


class PaymentReceiptPublic(_Model):
    """A payment anchored, with the claim key and amount (minor units) registered per service."""

    payment_id: str
    method: PaymentMethodName
    service_keys: list[str]
    amounts: list[int]
    cid: str
    commitment: str
    transaction: str
    block: int


class PaymentDocumentPublic(_Model):
    """A payment as its payee reads it back, with its salt: what a claimant shows an insurer."""

    payment_id: str
    payee: str
    method: PaymentMethodName
    recorded_at: int
    cid: str
    salt: str
    resource: dict[str, Any]


class PaymentShown(_Model):
    """The payment document a claim relies on, as `GET /v1/payments/{id}` gave it."""

    payment_id: Bytes32
    salt: Bytes32
    resource: FhirJson


class ClaimDomainPublic(_Model):
    """The EIP-712 domain claim authorisations are signed under (name and version are fixed)."""

    chainId: int = Field(ge=1)
    verifyingContract: Address


class ClaimCreate(_Model):
    """A FHIR Claim from ``provider`` for ``patient`` (their pseudonym there), with the payment
    that paid the services its items name, and the sender's EIP-712 ``ClaimAuthorisation`` of
    ``claim_id`` (``ledger.claiming.authorisation``) under ``GET /v1/claims/domain``."""

    provider: Address
    patient: Address
    claim: FhirJson
    payment: PaymentShown
    claim_id: Bytes32
    deadline: UnixTime
    authorisation: Signature


class ClaimReceiptPublic(_Model):
    claim_id: str
    status: ClaimStatusName
    claimed_amount: int
    cid: str
    commitment: str
    transaction: str
    block: int


class ClaimSummaryPublic(_Model):
    """A claim's chain facts: who, for whom, how much, where it stands. No content."""

    claim_id: str
    insurer: str
    provider: str
    patient: str
    submitter: str
    status: ClaimStatusName
    submitted_at: int
    claimed_amount: int
    approved_amount: int
    cid: str


class ItemDecisionPublic(_Model):
    sequence: int
    claimed: int
    approved: int
    reasons: list[str]


class DecisionPublic(_Model):
    """The insurer's decision as anchored; a duplicate says only that it was claimed elsewhere."""

    claim_id: str
    status: ClaimStatusName
    approved_amount: int
    reasons: list[str]
    items: list[ItemDecisionPublic]
    detail: str
    cid: str
    commitment: str
    transaction: str


class SettlementCreate(_Model):
    """The reference of the transfer that paid the claim (kept in the sealed PaymentNotice)."""

    payment_reference: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[\w\-./]+$")]


class SettlementPublic(_Model):
    claim_id: str
    status: ClaimStatusName
    amount: int
    cid: str
    commitment: str
    transaction: str


class ClaimEventPublic(_Model):
    event: str
    block: int
    transaction: str
    args: dict[str, str]


class ClaimPublic(ClaimSummaryPublic):
    """A claim's whole history from one log query; the Claim for the insurer's own staff, the
    ClaimResponse for them, the provider's staff and the patient."""

    history: list[ClaimEventPublic]
    claim: dict[str, Any] | None
    response: dict[str, Any] | None


class InstitutionFiguresPublic(_Model):
    institution: str
    role: Literal["provider", "insurer"]
    claims: int
    approved: int
    partial: int
    denied: int
    duplicates: int
    settled: int
