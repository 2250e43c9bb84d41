"""Break-glass access: a hospital's doctor declares an emergency read of another hospital's record
(on chain, through the doctor's own hospital's gateway); the holder hospital's gateway releases the
record against that declaration only (`GET /v1/records/{id}?break_glass=<access id>`); the holder's
auditor or the regulator reviews it through their own gateway.

Which gateway: the contract takes the declaring or reviewing organisation from ``msg.sender``, so
each write goes through the gateway of the organisation that acts, its staff signing the request.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, status
from pydantic import Field

from api.audit import CurrentTrace, Trace
from api.deps import (
    AUDITOR_ROLE,
    DOCTOR_ROLE,
    CurrentMember,
    GatewayDep,
    Member,
    OwnStaff,
    is_regulator,
    org_kind,
    require_role,
)
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, NotFound, Unprocessable, responses
from api.schemas import Address, Bytes32, _Model
from ledger.consent.break_glass import BreakGlassAccess, BreakGlassDesk
from ledger.consent.emergency import (
    BREAK_GLASS_PURPOSE,
    Reason,
    break_glass_purpose,
    reason_by_name,
)
from ledger.types import OrgKind

router = APIRouter(
    prefix="/v1/break-glass", tags=["break-glass"], responses=responses(*SIGNED_PROBLEMS)
)

AccessIdPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte access id")]
StatusName = Literal["pending", "overdue", "justified", "unjustified"]
NoteCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,30}$")]


class BreakGlassCreate(_Model):
    """A doctor's emergency read: the record (of another hospital) and the reason, by its name."""

    record_id: Bytes32
    reason: str = Field(description="a reason code's name, from GET /v1/break-glass/reasons")


class BreakGlassReview(_Model):
    """The review: justified or not, and a note code (never free text: it goes on chain)."""

    justified: bool
    note: NoteCode


class ReasonPublic(_Model):
    code: int
    name: str
    text: str


class BreakGlassPublic(_Model):
    """A declaration as the chain holds it, with its review and its status now."""

    access_id: Bytes32
    org: Address
    doctor: Address
    holder: Address
    record_id: Bytes32
    reason: int
    reason_name: str | None
    declared_at: int
    expires_at: int
    status: StatusName
    reviewer: Address | None
    justified: bool | None
    late: bool | None
    note: str | None
    reviewed_at: int | None
    transaction: str | None = None


class BreakGlassListPublic(_Model):
    items: list[BreakGlassPublic]


def reasons_of(gateway: Gateway) -> dict[int, Reason]:
    """The reason codes this gateway's settings name (the list the registry was deployed with),
    read when the gateway started."""
    return gateway.break_glass_reasons


@router.get("/reasons", response_model=list[ReasonPublic])
def list_reasons(member: CurrentMember, gateway: GatewayDep) -> list[ReasonPublic]:
    """The coded reasons a declaration may state."""
    del member  # any active member may read the list; the dependency is the check
    return [ReasonPublic(**vars(r)) for r in reasons_of(gateway).values()]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BreakGlassPublic)
def declare(
    body: BreakGlassCreate, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> BreakGlassPublic:
    """Declare, as this hospital, that the signing doctor reads another hospital's record now,
    for a coded reason. The chain refuses a doctor who may not practise here, a record of this
    hospital's own, and a doctor past the daily limit."""
    require_role(staff, DOCTOR_ROLE)
    reasons = reasons_of(gateway)
    reason = reason_by_name(reasons, body.reason)
    if reason is None:
        known = ", ".join(r.name for r in reasons.values())
        raise Unprocessable(
            "break_glass.unknown_reason", f"no reason named {body.reason!r}: one of {known}"
        )
    trace.record_id, trace.view = body.record_id, "break-glass-declare"
    trace.purpose = break_glass_purpose(reason.name)
    access, tx = BreakGlassDesk(gateway.chain).declare(
        staff.address, bytes.fromhex(body.record_id[2:]), reason
    )
    trace.grant = access.access_id
    return _public(access, reasons, transaction=tx)


@router.get("", response_model=BreakGlassListPublic)
def list_declarations(
    member: CurrentMember,
    gateway: GatewayDep,
    status_: Annotated[StatusName | None, Query(alias="status")] = None,
) -> BreakGlassListPublic:
    """The regulator: every declaration. A hospital (its own staff, at its own gateway): those it
    made and those on its records. Oldest first, each with its status now."""
    desk = BreakGlassDesk(gateway.chain)
    if is_regulator(gateway, member):
        found = desk.listed()
    else:
        own = _own_hospital(gateway, member)
        found = desk.listed(org=own, holder=own)
    reasons = reasons_of(gateway)
    return BreakGlassListPublic(
        items=[_public(a, reasons) for a in found if status_ is None or a.status == status_]
    )


@router.get("/{access_id}", response_model=BreakGlassPublic)
def get_declaration(
    access_id: AccessIdPath, member: CurrentMember, gateway: GatewayDep
) -> BreakGlassPublic:
    """One declaration, to those who may list it."""
    access = BreakGlassDesk(gateway.chain).get(bytes.fromhex(access_id[2:]))
    if not is_regulator(gateway, member):
        own = _own_hospital(gateway, member).lower()
        if access is not None and own not in {access.org.lower(), access.holder.lower()}:
            access = None
    if access is None:
        raise NotFound(f"no break-glass declaration {access_id} you may see")
    return _public(access, reasons_of(gateway))


@router.post("/{access_id}/review", response_model=BreakGlassPublic)
def review(
    access_id: AccessIdPath,
    body: BreakGlassReview,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> BreakGlassPublic:
    """Review a declaration: an auditor of the holder hospital at its gateway, or of the
    regulator at the regulator's. The chain refuses the declaring hospital, anyone else, a second
    review; it marks a review after the review window late."""
    require_role(staff, AUDITOR_ROLE)
    trace.grant, trace.view = access_id, "break-glass-review"
    access = BreakGlassDesk(gateway.chain).review(
        bytes.fromhex(access_id[2:]), body.justified, body.note
    )
    trace.record_id = access.record_id
    return _public(access, reasons_of(gateway))


def authorise_break_glass(
    gateway: Gateway, member: Member, record_id: bytes, access_id: str, trace: Trace
) -> str:
    """The access id, if its declaration opens ``record_id`` of this gateway's hospital to
    ``member`` now: the declared doctor, of the declaring hospital, in force on chain. The chain's
    word, never the requester's: else 403 ``break_glass.not_in_force``."""
    # Logged as a break-glass attempt whatever the outcome: the patient sees refused ones too.
    trace.grant, trace.purpose = access_id, BREAK_GLASS_PURPOSE
    if member.role != DOCTOR_ROLE or member.org is None:
        raise Forbidden(
            "break_glass.not_doctor", "only the declared doctor reads under break-glass"
        )
    access = BreakGlassDesk(gateway.chain).opens(
        bytes.fromhex(access_id[2:]),
        org=member.org,
        doctor=member.address,
        record_id=record_id,
        holder=gateway.org.address,
    )
    if access is None:
        raise Forbidden(
            "break_glass.not_in_force",
            f"no break-glass declaration {access_id} in force for {member.address} on this record",
        )
    reason = reasons_of(gateway).get(access.reason)
    trace.purpose = break_glass_purpose(reason.name if reason else str(access.reason))
    return access.access_id


def _own_hospital(gateway: Gateway, member: Member) -> str:
    """This gateway's hospital, for its own staff or account; 403 for anyone else."""
    if member.org != gateway.org.address or org_kind(gateway, member.org) is not OrgKind.HOSPITAL:
        raise Forbidden(
            "break_glass.forbidden",
            "break-glass declarations are shown to the regulator and, at a hospital's own "
            "gateway, to that hospital's staff",
        )
    return member.org


def _public(
    access: BreakGlassAccess, reasons: dict[int, Reason], *, transaction: str | None = None
) -> BreakGlassPublic:
    reason = reasons.get(access.reason)
    return BreakGlassPublic(
        **vars(access), reason_name=reason.name if reason else None, transaction=transaction
    )
