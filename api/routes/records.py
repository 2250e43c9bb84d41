"""Records: anchor, amend, read back (hospital staff or the patient), and verify (any member)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from fastapi import APIRouter, Path, Query, Response, status

from api.agency import acting_for, require_guardian_online
from api.audit import CurrentTrace, Trace
from api.deps import (
    CLERK_ROLE,
    DOCTOR_ROLE,
    CurrentMember,
    GatewayDep,
    Member,
    OwnStaff,
    RawBody,
    Signer,
    lookup_member,
    require_role,
)
from api.gateway import Gateway
from api.problems import Forbidden, NotFound, Unprocessable, responses
from api.routes.break_glass import authorise_break_glass
from api.schemas import (
    Address,
    Bytes32,
    PurposeName,
    RecordDocumentPublic,
    RecordReceiptPublic,
    RecordViewPublic,
    VerificationPublic,
    VersionPublic,
    WrappedKey,
)
from ledger.consent.grants import Purpose, ScopeKind
from ledger.consent.segmentation import apply_view, view_for
from ledger.errors import ContractRevert
from ledger.records.batch_claims import contradictions
from ledger.records.document import OnchainVersion
from ledger.types import OrgKind

router = APIRouter(prefix="/v1/records", tags=["records"])

RecordIdPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte record id")]
VersionQuery = Annotated[int | None, Query(ge=1, le=2**32 - 1)]
PurposeQuery = Annotated[
    PurposeName | None, Query(description="why a member other than the hospital reads: its grant's")
]
BreakGlassQuery = Annotated[
    Bytes32 | None,
    Query(description="the access id of a break-glass declaration in force for you on this record"),
]
_FHIR_BODY = {
    "requestBody": {
        "required": True,
        "description": "A FHIR R4 resource or Bundle (JSON), at most MEDLEDGER_MAX_PAYLOAD_BYTES.",
        "content": {"application/fhir+json": {"schema": {"type": "object"}}},
    }
}
_WRITERS = (DOCTOR_ROLE, CLERK_ROLE)
_READ_PROBLEMS = responses(401, 403, 404, 410, 413, 422, 502, 503, 504)


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
    trace: CurrentTrace,
) -> RecordReceiptPublic:
    """Validate, encrypt, store and anchor version 1 of a new record for an enrolled patient."""
    require_role(staff, *_WRITERS)
    trace.patient, trace.view = patient, "write"
    require_guardian_online(gateway, body, patient=patient)
    receipt = gateway.records.anchor(body, patient=patient, author=staff.address)
    trace.record_id, trace.version = receipt.record_id, receipt.version
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
    trace: CurrentTrace,
) -> RecordReceiptPublic:
    """Anchor the next version of a record this hospital authored."""
    require_role(staff, *_WRITERS)
    trace.record_id, trace.view = record_id, "write"
    require_guardian_online(gateway, body, record_id=_id(record_id))
    receipt = gateway.records.amend(
        _id(record_id), body, expected_version=expected_version, author=staff.address
    )
    trace.version = receipt.version
    return RecordReceiptPublic(**vars(receipt))


@router.get(
    "/{record_id}",
    response_model=RecordDocumentPublic | RecordViewPublic,
    responses=_READ_PROBLEMS,
)
def read_record(
    record_id: RecordIdPath,
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    version: VersionQuery = None,
    purpose: PurposeQuery = None,
    break_glass: BreakGlassQuery = None,
) -> RecordDocumentPublic | RecordViewPublic:
    """The decrypted version: whole for this hospital's doctors and clerks and for the patient;
    for another member, the view its kind gets for ``purpose`` under the patient's grant."""
    trace.record_id, trace.version, trace.purpose = record_id, version, purpose
    access = _authorise_reader(gateway, signer, _id(record_id), trace, purpose, break_glass)
    trace.view = access.view
    document = gateway.records.read(_id(record_id), version)
    trace.version = document.version
    if access.view != "full":
        return RecordViewPublic(
            record_id=document.record_id,
            version=document.version,
            hospital=document.hospital,
            view=access.view,
            grant=access.grant,
            purpose=purpose,
            resource=apply_view(access.view, document.resource),
        )
    return RecordDocumentPublic.model_validate(document.model_dump())


@router.get(
    "/{record_id}/envelope",
    responses={200: {"content": {"application/json": {}}}, **_READ_PROBLEMS},
)
def read_envelope(
    record_id: RecordIdPath,
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    version: VersionQuery = None,
    purpose: PurposeQuery = None,
    break_glass: BreakGlassQuery = None,
) -> Response:
    """The stored, encrypted envelope, so a patient can open it with their own key."""
    rid = _id(record_id)
    trace.record_id, trace.version, trace.view = record_id, version, "envelope"
    trace.purpose = purpose
    _require_full(_authorise_reader(gateway, signer, rid, trace, purpose, break_glass))
    trace.version = version or gateway.records.latest_version(rid)
    blob = gateway.records.envelope(rid, trace.version)
    return Response(blob, media_type="application/json")


@router.get("/{record_id}/key", response_model=WrappedKey, responses=_READ_PROBLEMS)
def rewrap_key(
    record_id: RecordIdPath,
    encryption_key: Annotated[Bytes32, Query(description="the X25519 key to wrap for")],
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    version: VersionQuery = None,
    purpose: PurposeQuery = None,
    break_glass: BreakGlassQuery = None,
) -> WrappedKey:
    """Keys follow consent: the version's data key, wrapped for the reader's own X25519 key, for a
    reader entitled to the whole record (a treating hospital under the patient's grant). Read the
    envelope beside it and open it locally. Segmented views never get a key."""
    rid = _id(record_id)
    trace.record_id, trace.view, trace.purpose = record_id, "key", purpose
    access = _require_full(_authorise_reader(gateway, signer, rid, trace, purpose, break_glass))
    trace.version = number = version or gateway.records.latest_version(rid)
    try:
        wrapped = gateway.records.rewrap(
            rid, number, X25519PublicKey.from_public_bytes(bytes.fromhex(encryption_key[2:]))
        )
    except ValueError as exc:  # a low-order point: no key agreement is possible with it
        raise Unprocessable("record.bad_encryption_key", f"unusable X25519 key: {exc}") from exc
    return WrappedKey(
        record_id=record_id,
        version=number,
        grant=access.grant,
        wrapped_key=base64.b64encode(wrapped).decode(),
    )


@router.get(
    "/{record_id}/verification",
    response_model=VerificationPublic,
    responses=responses(401, 403, 404, 413, 422, 503),
)
def verify_record(
    record_id: RecordIdPath, member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace
) -> VerificationPublic:
    """For any member: anchored or not, by whom, when, every version, and what the chain
    contradicts of a batch-anchored version (its author, a rival anchoring). Each version's
    envelope is fetched by CID through this gateway's own store (its IPFS node, from peers) and
    checked as far as a reader without its key can: ``content`` is intact, missing, corrupt, or
    unavailable (no peer delivered it within the fetch timeout), listed in ``not_checked``."""
    del member  # any active member may verify; the dependency is the check
    trace.record_id, trace.view = record_id, "metadata"
    try:
        history = gateway.records.history(_id(record_id))
    except ContractRevert as exc:
        if exc.name != "RecordUnknown":
            raise
        raise NotFound(f"record {record_id} is not anchored") from exc
    trace.patient = history[0].patient
    conflict, contradicted = contradictions(
        gateway.chain, _id(record_id), history, gateway.records.batch_index
    )
    versions = [
        VersionPublic(
            **{k: getattr(v, k) for k in VersionPublic.model_fields if k != "contradicted"},
            contradicted=contradicted[v.version].value if v.version in contradicted else None,
        )
        for v in history
    ]
    return VerificationPublic(
        record_id=record_id,
        anchored=True,
        hospital=history[0].hospital,
        patient=history[0].patient,
        latest_version=history[-1].version,
        intact=all(v.content == "intact" for v in history) and not (conflict or contradicted),
        versions=versions,
        conflict=conflict,
        not_checked=[v.version for v in history if v.content == "unavailable"],
    )


def _require_full(access: Access) -> Access:
    if access.view != "full":
        raise Forbidden("record.view_only", f"this grant gives the {access.view!r} view only")
    return access


def _id(record_id: str) -> bytes:
    return bytes.fromhex(record_id[2:])


@dataclass(frozen=True)
class Access:
    """What a reader may see of a record: a view name ("full" or a segmented view), and the
    consent it rests on when it is not the hospital's or the patient's own."""

    view: str
    grant: str | None = None


def _authorise_reader(
    gateway: Gateway,
    signer: str,
    record_id: bytes,
    trace: Trace,
    purpose: str | None = None,
    break_glass: str | None = None,
) -> Access:
    """The hospital's own doctors and clerks and the record's patient see it all; another member
    sees the view its organisation's kind gets for ``purpose``, under a grant in force.

    A signer who may not read learns nothing, not even whether the record exists: 403 either way.
    """
    member = lookup_member(gateway, signer)
    trace.org = member.org if member else None
    # Only the hospital's writers, who may read all its records, learn that an id is not anchored;
    # its other staff get the same 403 either way.
    is_writer = member is not None and member.org == gateway.org.address and member.role in _WRITERS
    try:
        first = gateway.records.onchain(record_id, 1)
    except ContractRevert as exc:
        if is_writer:
            raise NotFound(f"record 0x{record_id.hex()} is not anchored") from exc
        raise Forbidden("record.forbidden", f"{signer} may not read this record") from exc
    trace.patient = first.patient
    if first.patient.lower() == signer.lower():
        return Access("full")
    if member is None and acting_for(gateway, signer, first.patient, trace):
        return Access("full")  # the patient's guardian or proxy, logged as itself
    if is_writer and purpose is None:
        if first.hospital.lower() != gateway.org.address.lower():
            raise Forbidden("record.foreign", "the record was anchored by another hospital")
        return Access("full")
    if member is not None and break_glass is not None:
        if purpose is not None:
            raise Unprocessable("break_glass.with_purpose", "break-glass needs no grant purpose")
        return Access("full", authorise_break_glass(gateway, member, record_id, break_glass, trace))
    if member is not None and purpose is not None:
        access = _granted(gateway, member, record_id, first, purpose)
        if access is not None:
            trace.grant = access.grant
            return access
    raise Forbidden("record.forbidden", f"{signer} may not read this record")


def _granted(
    gateway: Gateway, member: Member, record_id: bytes, first: OnchainVersion, purpose: str
) -> Access | None:
    """The segmented view a grant in force gives ``member`` for ``purpose``, if any.

    A batch-anchored record is not in RecordRegistry, so no grant can name it alone; the
    patient's grant of their records at the hospital (a category grant) opens it.
    """
    consent = gateway.chain.contract("ConsentRegistry")
    code = Purpose[purpose.upper()]
    at = int(time.time())
    ok, grant_id = gateway.chain.call(
        consent.functions.isAuthorised(member.address, record_id, int(code), at)
    )
    # A record's grant counts only if signed by the patient this gateway knows the record by:
    # RecordRegistry names another pseudonym only for an id the hospital anchored both ways.
    if (
        ok
        and gateway.chain.call(consent.functions.grant(grant_id))[0].lower()
        != first.patient.lower()
    ):
        ok = False
    if not ok:
        ok, grant_id = gateway.chain.call(
            consent.functions.isAuthorisedForCategory(
                member.address,
                first.patient,
                first.hospital,
                int(ScopeKind.HOSPITAL_RECORDS),
                int(code),
                at,
            )
        )
    if not ok:
        return None
    membership = gateway.chain.contract("Membership")
    kind, _status, _admin = gateway.chain.call(membership.functions.organisation(member.org))
    view = view_for(OrgKind(kind), code)
    return None if view is None else Access(view, "0x" + bytes(grant_id).hex())
