"""Records: anchor, amend, read back (hospital staff or the patient), and verify (any member)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import (
    CLERK_ROLE,
    DOCTOR_ROLE,
    CurrentMember,
    GatewayDep,
    OwnStaff,
    RawBody,
    Signer,
    lookup_member,
    require_role,
)
from api.gateway import Gateway
from api.problems import Forbidden, NotFound, responses
from api.schemas import (
    Address,
    RecordDocumentPublic,
    RecordReceiptPublic,
    VerificationPublic,
    VersionPublic,
)
from ledger.errors import ContractRevert

router = APIRouter(prefix="/v1/records", tags=["records"])

RecordIdPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte record id")]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**32 - 1)]
_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 resource or Bundle (JSON), at most MEDLEDGER_MAX_PAYLOAD_BYTES.",
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    }
}
_WRITERS = (DOCTOR_ROLE, CLERK_ROLE)
_READ_PROBLEMS = responses(401, 403, 404, 413, 422, 502, 503)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordReceiptPublic,
    responses=responses(401, 403, 409, 413, 422, 502, 503),
    openapi_extra=_FHIR_BODY,
)
def anchor_record(
    patient: Annotated[Address, Query(description="the patient's pseudonym at this hospital")],
    staff: OwnStaff,
    body: RawBody,
    gateway: GatewayDep,
) -> RecordReceiptPublic:
    """Validate, encrypt, store and anchor version 1 of a new record for an enrolled patient."""
    require_role(staff, *_WRITERS)
    receipt = gateway.records.anchor(body, patient=patient, author=staff.address)
    return RecordReceiptPublic(**vars(receipt))


@router.post(
    "/{record_id}/versions",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordReceiptPublic,
    responses=responses(401, 403, 404, 409, 413, 422, 502, 503),
    openapi_extra=_FHIR_BODY,
)
def amend_record(
    record_id: RecordIdPath,
    expected_version: Annotated[
        int, Query(ge=1, le=2**32 - 1, description="the latest version you read")
    ],
    staff: OwnStaff,
    body: RawBody,
    gateway: GatewayDep,
) -> RecordReceiptPublic:
    """Anchor the next version of a record this hospital authored."""
    require_role(staff, *_WRITERS)
    receipt = gateway.records.amend(
        _id(record_id), body, expected_version=expected_version, author=staff.address
    )
    return RecordReceiptPublic(**vars(receipt))


@router.get("/{record_id}", response_model=RecordDocumentPublic, responses=_READ_PROBLEMS)
def read_record(
    record_id: RecordIdPath, signer: Signer, gateway: GatewayDep, version: VersionQuery = None
) -> RecordDocumentPublic:
    """The decrypted version, for this hospital's doctors and clerks and for the patient."""
    _authorise_reader(gateway, signer, _id(record_id))
    document = gateway.records.read(_id(record_id), version)
    return RecordDocumentPublic.model_validate(document.model_dump())


@router.get(
    "/{record_id}/envelope",
    responses={200: {"content": {"application/json": {}}}, **_READ_PROBLEMS},
)
def read_envelope(
    record_id: RecordIdPath, signer: Signer, gateway: GatewayDep, version: VersionQuery = None
) -> Response:
    """The stored, encrypted envelope, so a patient can open it with their own key."""
    rid = _id(record_id)
    _authorise_reader(gateway, signer, rid)
    blob = gateway.records.envelope(rid, version or gateway.records.latest_version(rid))
    return Response(blob, media_type="application/json")


@router.get(
    "/{record_id}/verification",
    response_model=VerificationPublic,
    responses=responses(401, 403, 404, 413, 422, 503),
)
def verify_record(
    record_id: RecordIdPath, member: CurrentMember, gateway: GatewayDep
) -> VerificationPublic:
    """For any member: anchored or not, by whom, when, every version, content intact or not."""
    del member  # any active member may verify; the dependency is the check
    try:
        history = gateway.records.history(_id(record_id))
    except ContractRevert as exc:
        if exc.name != "RecordUnknown":
            raise
        raise NotFound(f"record {record_id} is not anchored") from exc
    versions = [
        VersionPublic(**{k: getattr(v, k) for k in VersionPublic.model_fields}) for v in history
    ]
    return VerificationPublic(
        record_id=record_id,
        anchored=True,
        hospital=history[0].hospital,
        patient=history[0].patient,
        latest_version=history[-1].version,
        intact=all(v.content == "intact" for v in history),
        versions=versions,
    )


def _id(record_id: str) -> bytes:
    return bytes.fromhex(record_id[2:])


def _authorise_reader(gateway: Gateway, signer: str, record_id: bytes) -> None:
    """This hospital's doctors and clerks, for its own records; the record's patient; nobody else.

    A signer who is neither learns nothing, not even whether the record exists: 403 either way.
    """
    member = lookup_member(gateway, signer)
    is_own_staff = member is not None and member.org == gateway.org.address
    try:
        first = gateway.records.onchain(record_id, 1)
    except ContractRevert as exc:
        if is_own_staff:
            raise NotFound(f"record 0x{record_id.hex()} is not anchored") from exc
        raise Forbidden("record.forbidden", f"{signer} may not read this record") from exc
    if first.patient.lower() == signer.lower():
        return
    if is_own_staff and member is not None:
        require_role(member, *_WRITERS)
        if first.hospital.lower() != gateway.org.address.lower():
            raise Forbidden("record.foreign", "the record was anchored by another hospital")
        return
    raise Forbidden("record.forbidden", f"{signer} may not read this record")
