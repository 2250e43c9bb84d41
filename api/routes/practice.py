"""Practice rights: where a doctor may practise (registration, multi-point practice filings), who
records and decides them, and what the doctor prescribed.

Which gateway: the contract takes the acting organisation from ``msg.sender``, so each write goes
through the gateway of the organisation that acts. A hospital files for a doctor through its own
gateway (its clerk signs); the regulator records registrations and approves, rejects or revokes
filings through the regulator's gateway (its staff sign). Reads answer at any gateway, from the
chain, to a regulator, the doctor, or (for a filing) the institution it is for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, status
from web3 import Web3

from api.audit import CurrentTrace, Trace
from api.deps import (
    CLERK_ROLE,
    CurrentMember,
    GatewayDep,
    Member,
    OwnStaff,
    is_regulator,
    require_role,
)
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, NotFound, responses
from api.routes.prescriptions import summary
from api.schemas import (
    DoctorPracticePublic,
    FilingCreate,
    FilingPublic,
    FilingReceiptPublic,
    PracticeReason,
    RegistrationCreate,
    RegistrationPublic,
    RegistrationReceiptPublic,
)
from ledger.prescribing.practice_desk import (
    Filing,
    PracticeDesk,
    Registration,
    scope_names,
    scope_of,
)

router = APIRouter(
    prefix="/v1/practice",
    tags=["practice"],
    responses=responses(*SIGNED_PROBLEMS),
)

AddressPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]
FilingIdPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte filing id")]


def _regulator_staff(staff: Member, gateway: Gateway) -> None:
    """Staff of this gateway's organisation, which must be a regulator: its account signs."""
    if not is_regulator(gateway, staff):
        raise Forbidden(
            "auth.not_regulator", "only a regulator's staff, at its gateway, may do this"
        )


# -- the doctor's whole practice --------------------------------------------------------------


@router.get("/doctors/{address}", response_model=DoctorPracticePublic)
def doctor_practice(
    address: AddressPath, member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace
) -> DoctorPracticePublic:
    """The doctor's registration, every filing made for them, and every prescription they wrote."""
    doctor = Web3.to_checksum_address(address)
    if member.address != doctor and not is_regulator(gateway, member):
        raise Forbidden("auth.not_regulator", "only a regulator or the doctor may see this")
    trace.view = "metadata"
    desk = PracticeDesk(gateway.chain)
    registration = desk.registration(doctor)
    return DoctorPracticePublic(
        doctor=doctor,
        registration=_registration(registration) if registration else None,
        filings=[_filing(f) for f in desk.filings_of(doctor)],
        prescriptions=[summary(p, doctor) for p in gateway.prescriptions.written_by(doctor)],
    )


# -- registrations: the regulator ---------------------------------------------------------------


@router.post(
    "/registrations",
    status_code=status.HTTP_201_CREATED,
    response_model=RegistrationReceiptPublic,
)
def record_registration(
    body: RegistrationCreate, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> RegistrationReceiptPublic:
    """Record (or replace) a doctor's primary registration at a hospital, with its window."""
    _regulator_staff(staff, gateway)
    doctor = Web3.to_checksum_address(body.doctor)
    trace.view = "write"
    desk = PracticeDesk(gateway.chain)
    tx = desk.register(
        doctor,
        Web3.to_checksum_address(body.institution),
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        practising_since=body.practising_since,
        licence_commitment=bytes.fromhex(body.licence_commitment[2:])
        if body.licence_commitment
        else None,
    )
    registration = desk.registration(doctor)
    assert registration is not None  # just recorded
    return RegistrationReceiptPublic(**_registration(registration).model_dump(), transaction=tx)


@router.post("/registrations/{address}/revoke", response_model=RegistrationReceiptPublic)
def revoke_registration(
    address: AddressPath,
    body: PracticeReason,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> RegistrationReceiptPublic:
    """Revoke a doctor's registration: they prescribe nowhere until registered again."""
    _regulator_staff(staff, gateway)
    doctor = Web3.to_checksum_address(address)
    trace.view = "write"
    desk = PracticeDesk(gateway.chain)
    if desk.registration(doctor) is None:
        raise NotFound(f"{doctor} has no registration", "practice.unknown_registration")
    tx = desk.revoke_registration(doctor, body.reason)
    registration = desk.registration(doctor)
    assert registration is not None
    return RegistrationReceiptPublic(**_registration(registration).model_dump(), transaction=tx)


# -- filings: the target hospital files, the regulator decides ----------------------------------


@router.post("/filings", status_code=status.HTTP_201_CREATED, response_model=FilingReceiptPublic)
def file_for_practice(
    body: FilingCreate, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> FilingReceiptPublic:
    """This hospital files for a doctor registered elsewhere to practise here; pending until the
    regulator decides."""
    require_role(staff, CLERK_ROLE)
    trace.view = "write"
    desk = PracticeDesk(gateway.chain)
    filing_id, tx = desk.file(
        Web3.to_checksum_address(body.doctor),
        gateway.org.address,
        scope_of(body.scope),
        valid_from=body.valid_from,
        valid_to=body.valid_to,
    )
    return _filing_receipt(desk, filing_id, tx)


@router.get("/filings/{filing_id}", response_model=FilingPublic)
def read_filing(
    filing_id: FilingIdPath, member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace
) -> FilingPublic:
    """One filing: for a regulator, the doctor it names, or the institution it is for."""
    trace.view = "metadata"
    filing = _known_filing(PracticeDesk(gateway.chain), filing_id)
    concerned = member.address == filing.doctor or member.org == filing.institution
    if not concerned and not is_regulator(gateway, member):
        raise Forbidden(
            "auth.not_regulator", "only a regulator, the doctor or the institution may see this"
        )
    return _filing(filing)


@router.post("/filings/{filing_id}/approve", response_model=FilingReceiptPublic)
def approve_filing(
    filing_id: FilingIdPath,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
    body: PracticeReason | None = None,
) -> FilingReceiptPublic:
    """Approve a pending filing: the doctor may practise there within its window and scope. The
    contract keeps no reason for an approval; one given here (a code) is the purpose of the
    regulator's own access-log entry for it, ``approve:<code>``, anchored with its batch."""
    if body is not None:
        trace.purpose = f"approve:{body.reason}"
    return _decide(staff, gateway, trace, filing_id, lambda desk, fid: desk.approve(fid))


@router.post("/filings/{filing_id}/reject", response_model=FilingReceiptPublic)
def reject_filing(
    filing_id: FilingIdPath,
    body: PracticeReason,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> FilingReceiptPublic:
    """Reject a pending filing, with a reason code."""
    return _decide(staff, gateway, trace, filing_id, lambda d, fid: d.reject(fid, body.reason))


@router.post("/filings/{filing_id}/revoke", response_model=FilingReceiptPublic)
def revoke_filing(
    filing_id: FilingIdPath,
    body: PracticeReason,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> FilingReceiptPublic:
    """Revoke an approved filing, with a reason code: prescribing under it stops at once."""
    return _decide(staff, gateway, trace, filing_id, lambda d, fid: d.revoke(fid, body.reason))


def _decide(
    staff: Member,
    gateway: Gateway,
    trace: Trace,
    filing_id: str,
    act: Callable[[PracticeDesk, bytes], str],
) -> FilingReceiptPublic:
    """The regulator's decision on a known filing: ``act`` sends it and returns the transaction."""
    _regulator_staff(staff, gateway)
    trace.view = "write"
    desk = PracticeDesk(gateway.chain)
    fid = _known_filing(desk, filing_id).filing_id
    return _filing_receipt(desk, fid, act(desk, fid))


def _known_filing(desk: PracticeDesk, filing_id: str) -> Filing:
    filing = desk.filing(bytes.fromhex(filing_id[2:]))
    if filing is None:
        raise NotFound(f"no filing {filing_id}", "practice.unknown_filing")
    return filing


def _filing_receipt(desk: PracticeDesk, filing_id: bytes, tx: str) -> FilingReceiptPublic:
    filing = desk.filing(filing_id)
    assert filing is not None  # the transaction that filed or decided it has been mined
    return FilingReceiptPublic(**_filing(filing).model_dump(), transaction=tx)


def _registration(r: Registration) -> RegistrationPublic:
    return RegistrationPublic(
        doctor=r.doctor,
        institution=r.institution,
        licence_commitment="0x" + r.licence_commitment.hex(),
        valid_from=r.valid_from,
        valid_to=r.valid_to,
        practising_since=r.practising_since,
        status=r.status.name.lower(),
    )


def _filing(f: Filing) -> FilingPublic:
    return FilingPublic(
        filing_id="0x" + f.filing_id.hex(),
        doctor=f.doctor,
        institution=f.institution,
        scope=scope_names(f.scope),
        valid_from=f.valid_from,
        valid_to=f.valid_to,
        status=f.status.name.lower(),
    )
