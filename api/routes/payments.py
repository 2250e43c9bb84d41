"""Payments: a hospital or pharmacy anchors what it was paid for services it anchored, and reads a
payment back to show an insurer with a claim."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from web3 import Web3

from api.audit import CurrentTrace
from api.claim_schemas import PaymentDocumentPublic, PaymentMethodName, PaymentReceiptPublic
from api.deps import (
    CLERK_ROLE,
    DOCTOR_ROLE,
    PHARMACIST_ROLE,
    GatewayDep,
    OwnStaff,
    RawBody,
    require_role,
)
from api.problems import SIGNED_PROBLEMS, responses
from api.schemas import Address
from ledger.claiming.payments import PaymentMethod

router = APIRouter(prefix="/v1/payments", tags=["claims"], responses=responses(*SIGNED_PROBLEMS))

PaymentIdPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte payment id")
]
_PAYEE_ROLES = (CLERK_ROLE, DOCTOR_ROLE, PHARMACIST_ROLE)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentReceiptPublic,
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A FHIR R4 PaymentReconciliation; each detail names one service this "
            "organisation anchored (detail.request.reference) and its amount.",
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
    },
)
def record_payment(
    patient: Annotated[Address, Query(description="the patient's pseudonym the services name")],
    method: Annotated[PaymentMethodName, Query(description="how the patient paid")],
    staff: OwnStaff,
    body: RawBody,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> PaymentReceiptPublic:
    """Anchor a payment to this organisation and register each service's claimable amount under
    its claim key (docs/claims.md)."""
    require_role(staff, *_PAYEE_ROLES)
    pseudonym = Web3.to_checksum_address(patient)
    trace.patient, trace.view = pseudonym, "payment"
    receipt = gateway.payments.record(body, patient=pseudonym, method=PaymentMethod[method.upper()])
    trace.record_id = receipt.payment_id
    return PaymentReceiptPublic(
        payment_id=receipt.payment_id,
        method=method,
        service_keys=list(receipt.service_keys),
        amounts=list(receipt.amounts),
        cid=receipt.anchored.cid,
        commitment=receipt.anchored.commitment,
        transaction=receipt.anchored.transaction,
        block=receipt.anchored.block,
    )


@router.get("/{payment_id}", response_model=PaymentDocumentPublic)
def read_payment(
    payment_id: PaymentIdPath, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> PaymentDocumentPublic:
    """The payment with its salt, for this organisation's staff to show an insurer."""
    require_role(staff, *_PAYEE_ROLES)
    trace.record_id, trace.view = payment_id, "payment"
    document = gateway.payments.document(bytes.fromhex(payment_id[2:]))
    return PaymentDocumentPublic(
        payment_id=document.payment_id,
        payee=document.payee,
        method=document.method.name.lower(),
        recorded_at=document.recorded_at,
        cid=document.cid,
        salt=document.salt,
        resource=document.resource,
    )
