"""Prescriptions: issue, review, read, dispense, cancel, and the list a regulator audits.

Which gateway: a prescription is issued, read and cancelled through the issuing hospital's gateway,
which alone holds a key to it; a pharmacy reads its dispensing view there too. The dispense is sent
through the pharmacy's own gateway, because the contract takes the dispensing organisation from
``msg.sender``: that gateway checks its pharmacist, seals the MedicationDispense for its own
organisation and the issuing hospital (its key from the organisation directory), stores it and
anchors it. A review goes through the reviewing organisation's gateway
(the hospital's own pharmacy, or a member pharmacy) for the same reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from web3 import Web3

from api.audit import CurrentTrace, Trace
from api.deps import (
    DOCTOR_ROLE,
    PHARMACIST_ROLE,
    CurrentMember,
    GatewayDep,
    OwnStaff,
    RawBody,
    Signer,
    lookup_member,
    org_kind,
    require_regulator_or,
    require_role,
)
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, Unprocessable, responses
from api.schemas import (
    Address,
    Bytes32,
    DispensePublic,
    DispenseReceiptPublic,
    FindingPublic,
    PreReviewPublic,
    PrescriptionDraftPublic,
    PrescriptionPublic,
    PrescriptionReceiptPublic,
    PrescriptionReviewCreate,
    PrescriptionSignatureCreate,
    PrescriptionSummaryPublic,
    ReviewPublic,
    TransactionPublic,
)
from ledger.consent.segmentation import apply_view
from ledger.prescribing import PreReviewResult, PrescriptionStatus
from ledger.prescribing.book import DispenseInfo, OnchainPrescription
from ledger.types import OrgKind

router = APIRouter(
    prefix="/v1/prescriptions",
    tags=["prescriptions"],
    responses=responses(*SIGNED_PROBLEMS, 410),
)

PrescriptionIdPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte prescription id")
]


def _fhir_body(resource_type: str) -> dict[str, object]:
    return {
        "requestBody": {
            "required": True,
            "description": f"A FHIR R4 {resource_type} (JSON).",
            "content": {"application/fhir+json": {"schema": {"type": "object"}}},
        }
    }


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=PrescriptionDraftPublic,
    openapi_extra=_fhir_body("MedicationRequest"),
)
def draft_prescription(
    patient: Annotated[Address, Query(description="the patient's pseudonym at this hospital")],
    member: CurrentMember,
    body: RawBody,
    gateway: GatewayDep,
    trace: CurrentTrace,
    online: bool = True,
    follow_up_record: Annotated[
        Bytes32 | None, Query(description="the offline diagnosis record this follows up")
    ] = None,
) -> PrescriptionDraftPublic:
    """Draft for an enrolled patient, to be signed by the requesting doctor (a doctor of this
    hospital, or one with an approved filing here: the contract's canPrescribe decides).
    Pre-reviewed: a blocked one is refused (422 ``prescription.pre_review_blocked``, its findings
    in the detail). Nothing reaches the chain until the doctor's own signature of the returned
    issuance comes back (``POST /v1/prescriptions/{id}/issue``) within the signing window."""
    require_role(member, DOCTOR_ROLE)
    pseudonym = Web3.to_checksum_address(patient)
    trace.patient, trace.view = pseudonym, "draft"
    draft = gateway.prescriptions.draft(
        body,
        patient=pseudonym,
        prescriber=member.address,
        online=online,
        follow_up_record=_id(follow_up_record) if follow_up_record else None,
    )
    trace.record_id = "0x" + draft.issuance.prescription_id.hex()
    return PrescriptionDraftPublic(
        prescription_id=trace.record_id,
        domain=gateway.prescriptions.domain.to_wire(),
        issuance=draft.issuance.to_wire(),
        salt="0x" + draft.salt.hex(),
        deadline=draft.issuance.deadline,
        pre_review=_pre_review(draft.pre_review),
    )


@router.post(
    "/{prescription_id}/issue",
    status_code=status.HTTP_201_CREATED,
    response_model=PrescriptionReceiptPublic,
)
def issue_prescription(
    prescription_id: PrescriptionIdPath,
    body: PrescriptionSignatureCreate,
    member: CurrentMember,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> PrescriptionReceiptPublic:
    """The drafting doctor's own signature of the draft's issuance: the gateway stores the
    envelope and relays the issuance, and the chain checks the signature (403
    ``prescription.prescriber_not_permitted`` if its signer may not prescribe here)."""
    require_role(member, DOCTOR_ROLE)
    trace.record_id, trace.view = prescription_id, "write"
    receipt = gateway.prescriptions.submit(
        _id(prescription_id), _id(body.signature), prescriber=member.address
    )
    trace.patient = gateway.prescriptions.onchain(_id(prescription_id)).patient
    return PrescriptionReceiptPublic(
        prescription_id=receipt.prescription_id,
        expires_at=receipt.expires_at,
        pre_review=_pre_review(receipt.pre_review),
        cid=receipt.anchored.cid,
        commitment=receipt.anchored.commitment,
        transaction=receipt.anchored.transaction,
        block=receipt.anchored.block,
    )


def _pre_review(result: PreReviewResult) -> PreReviewPublic:
    return PreReviewPublic(
        outcome="passed",
        reason=None,
        findings=[FindingPublic(reason=f.reason.value, detail=f.detail) for f in result.findings],
    )


@router.post("/{prescription_id}/review", response_model=TransactionPublic)
def review_prescription(
    prescription_id: PrescriptionIdPath,
    body: PrescriptionReviewCreate,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> TransactionPublic:
    """A pharmacist of this organisation approves or rejects a pending prescription; a rejection
    needs a reason code, which this gateway's access log keeps and the chain never sees."""
    require_role(staff, PHARMACIST_ROLE)
    if body.decision == "reject" and not body.reason:
        raise Unprocessable("prescription.reason_required", "a rejection needs a reason code")
    view = f"review:{body.decision}" + (f":{body.reason}" if body.reason else "")
    trace.record_id, trace.view = prescription_id, view
    tx = gateway.prescriptions.review(
        _id(prescription_id), pharmacist=staff.address, approve=body.decision == "approve"
    )
    return _transaction(gateway, prescription_id, tx)


@router.get("/{prescription_id}", response_model=PrescriptionPublic)
def read_prescription(
    prescription_id: PrescriptionIdPath, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> PrescriptionPublic:
    """Whole for the issuing hospital's staff and the patient; for a member pharmacy's pharmacist,
    the dispensing view (no diagnosis, no salt) of an approved prescription, or of one it
    dispensed."""
    pid = _id(prescription_id)
    trace.record_id = prescription_id
    book = gateway.prescriptions
    prescription = book.onchain(pid)
    trace.patient = prescription.patient
    if prescription.institution != gateway.org.address:
        raise Forbidden("prescription.foreign", "issued by another hospital: ask its gateway")
    dispense = book.dispense_of(pid)
    view = _reader_view(gateway, signer, prescription, dispense, trace)
    trace.view = view
    resource, salt = book.read(prescription)
    review = book.review_of(pid)
    return PrescriptionPublic(
        **summary(prescription, book.prescriber_of(prescription)).model_dump(),
        view=view,
        salt=salt if view == "full" else None,
        resource=resource if view == "full" else apply_view(view, resource),
        review=ReviewPublic(**vars(review)) if review else None,
        dispense=DispensePublic(**vars(dispense)) if dispense else None,
    )


@router.post(
    "/{prescription_id}/dispense",
    status_code=status.HTTP_201_CREATED,
    response_model=DispenseReceiptPublic,
    openapi_extra=_fhir_body("MedicationDispense"),
)
def dispense_prescription(
    prescription_id: PrescriptionIdPath,
    staff: OwnStaff,
    body: RawBody,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> DispenseReceiptPublic:
    """A pharmacist of this organisation (a member pharmacy, or the issuing hospital's own
    pharmacy) dispenses an approved prescription: once across all pharmacies (409
    prescription.already_dispensed for the others), not after it expired (410)."""
    require_role(staff, PHARMACIST_ROLE)
    trace.record_id, trace.view = prescription_id, "dispense"
    anchored = gateway.prescriptions.dispense(_id(prescription_id), body, pharmacist=staff.address)
    return DispenseReceiptPublic(
        prescription_id=prescription_id,
        pharmacy=gateway.org.address,
        cid=anchored.cid,
        commitment=anchored.commitment,
        transaction=anchored.transaction,
        block=anchored.block,
    )


@router.post("/{prescription_id}/cancel", response_model=TransactionPublic)
def cancel_prescription(
    prescription_id: PrescriptionIdPath, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> TransactionPublic:
    """The prescriber withdraws a prescription before it is dispensed."""
    require_role(staff, DOCTOR_ROLE)
    trace.record_id, trace.view = prescription_id, "cancel"
    tx = gateway.prescriptions.cancel(_id(prescription_id), prescriber=staff.address)
    return _transaction(gateway, prescription_id, tx)


@router.get("", response_model=list[PrescriptionSummaryPublic])
def list_prescriptions(
    institution: Annotated[Address, Query(description="the issuing hospital")],
    member: CurrentMember,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> list[PrescriptionSummaryPublic]:
    """Every prescription a hospital issued, from chain events, without content: for a regulator
    or the hospital itself."""
    require_regulator_or(gateway, member, institution)
    trace.view = "metadata"
    issued = gateway.prescriptions.issued(institution=Web3.to_checksum_address(institution))
    return [summary(p, prescriber) for p, prescriber in issued]


def summary(prescription: OnchainPrescription, prescriber: str | None) -> PrescriptionSummaryPublic:
    """The chain facts of a prescription, as every listing shows them, with its prescriber as
    recovered from the issuing transaction (the chain itself keeps only a commitment)."""
    return PrescriptionSummaryPublic(
        prescription_id=prescription.prescription_id,
        institution=prescription.institution,
        prescriber=prescriber,
        prescriber_commitment=prescription.prescriber_commitment,
        patient=prescription.patient,
        issued_at=prescription.issued_at,
        expires_at=prescription.expires_at,
        online=prescription.online,
        status=prescription.status.name.lower(),
        fhir_status=prescription.fhir_status(),
        follow_up_record=prescription.follow_up_record,
        cid=prescription.cid,
    )


def _reader_view(
    gateway: Gateway,
    signer: str,
    prescription: OnchainPrescription,
    dispense: DispenseInfo | None,
    trace: Trace,
) -> str:
    if signer == prescription.patient:
        return "full"
    member = lookup_member(gateway, signer)
    if member is None or member.org is None:
        raise Forbidden("prescription.forbidden", f"{signer} may not read this prescription")
    trace.org = member.org
    if member.org == gateway.org.address and member.role is not None:
        return "full"
    if member.role == PHARMACIST_ROLE and org_kind(gateway, member.org) is OrgKind.PHARMACY:
        dispensable = prescription.status is PrescriptionStatus.APPROVED
        own_dispense = dispense is not None and dispense.pharmacy == member.org
        if dispensable or own_dispense:
            return "dispensing"
        raise Forbidden(
            "prescription.not_dispensable",
            f"a pharmacy sees approved prescriptions only; this one is "
            f"{prescription.status.name.lower()}",
        )
    raise Forbidden("prescription.forbidden", f"{signer} may not read this prescription")


def _transaction(gateway: Gateway, prescription_id: str, tx: str) -> TransactionPublic:
    state = gateway.prescriptions.onchain(_id(prescription_id))
    return TransactionPublic(
        prescription_id=prescription_id,
        status=state.status.name.lower(),
        transaction=tx,
    )


def _id(hex_id: str) -> bytes:
    return bytes.fromhex(hex_id[2:])
