"""Practice rights: where a doctor may practise (registration, filings) and what they prescribed,
read from the chain for a regulator or the doctor themself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from web3 import Web3

from api.audit import CurrentTrace
from api.deps import CurrentMember, GatewayDep, org_kind
from api.problems import SIGNED_PROBLEMS, Forbidden, responses
from api.routes.prescriptions import summary
from api.schemas import DoctorPracticePublic, FilingPublic, RegistrationPublic
from ledger.prescribing import FilingStatus, PracticeScope, RegistrationStatus
from ledger.types import OrgKind

router = APIRouter(
    prefix="/v1/practice",
    tags=["practice"],
    responses=responses(*SIGNED_PROBLEMS),
)


@router.get("/doctors/{address}", response_model=DoctorPracticePublic)
def doctor_practice(
    address: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")],
    member: CurrentMember,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> DoctorPracticePublic:
    """The doctor's registration, every filing made for them, and every prescription they wrote."""
    doctor = Web3.to_checksum_address(address)
    is_regulator = member.org is not None and org_kind(gateway, member.org) is OrgKind.REGULATOR
    if member.address != doctor and not is_regulator:
        raise Forbidden("auth.not_regulator", "only a regulator or the doctor may see this")
    trace.view = "metadata"
    chain = gateway.chain
    practice = chain.contract("PracticeRegistry")
    institution, licence, valid_from, valid_to, reg_status = chain.call(
        practice.functions.registration(doctor)
    )
    registration = None
    if RegistrationStatus(reg_status) is not RegistrationStatus.NONE:
        registration = RegistrationPublic(
            institution=institution,
            licence_commitment="0x" + bytes(licence).hex(),
            valid_from=valid_from,
            valid_to=valid_to,
            status=RegistrationStatus(reg_status).name.lower(),
        )
    submitted = practice.events.PracticeFilingSubmitted().get_logs(
        from_block=chain.deployment.block_number, argument_filters={"doctor": doctor}
    )
    filings = []
    for event in submitted:
        filing_id = bytes(event["args"]["filingId"])
        _doctor, at, scope, start, end, state = chain.call(practice.functions.filing(filing_id))
        filings.append(
            FilingPublic(
                filing_id="0x" + filing_id.hex(),
                institution=at,
                scope=[str(s.name).lower() for s in PracticeScope if s & scope],
                valid_from=start,
                valid_to=end,
                status=FilingStatus(state).name.lower(),
            )
        )
    issued = gateway.prescriptions.issued(prescriber=doctor)
    return DoctorPracticePublic(
        doctor=doctor,
        registration=registration,
        filings=filings,
        prescriptions=[summary(p) for p in issued],
    )
