"""Claims, on the insurer's gateway: a provider's staff (or the patient) submits; the insurer's
clerks work the queue, decide and settle; a regulator sees figures per institution, never content.

The insurer's gateway is the one that anchors: the contract takes the insurer from ``msg.sender``
and checks the patient's claim-verification grant to it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, status
from web3 import Web3

from api.audit import CurrentTrace
from api.claim_schemas import (
    ClaimCreate,
    ClaimDomainPublic,
    ClaimEventPublic,
    ClaimPublic,
    ClaimReceiptPublic,
    ClaimSummaryPublic,
    DecisionPublic,
    InstitutionFiguresPublic,
    ItemDecisionPublic,
    SettlementCreate,
    SettlementPublic,
)
from api.deps import (
    CLERK_ROLE,
    DOCTOR_ROLE,
    PHARMACIST_ROLE,
    CurrentMember,
    GatewayDep,
    OwnStaff,
    Signer,
    is_regulator,
    lookup_member,
    require_role,
)
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, responses
from ledger.claiming.authorisation import ClaimDomain
from ledger.claiming.onchain import ClaimStatus, OnchainClaim

router = APIRouter(prefix="/v1/claims", tags=["claims"], responses=responses(*SIGNED_PROBLEMS))

ClaimIdPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte claim id")]
_CLAIMANT_ROLES = (CLERK_ROLE, DOCTOR_ROLE, PHARMACIST_ROLE)
_DETAIL = {
    ClaimStatus.APPROVED: "approved",
    ClaimStatus.PARTIAL: "approved in part",
    ClaimStatus.DENIED: "denied",
    ClaimStatus.DUPLICATE: "already claimed elsewhere",
}


@router.get("/domain", response_model=ClaimDomainPublic)
def claim_domain(gateway: GatewayDep) -> ClaimDomainPublic:
    """The EIP-712 domain (name "MedLedger Claims", version "1") a claimant signs under."""
    return ClaimDomainPublic(**ClaimDomain.of(gateway.chain.deployment).to_wire())


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClaimReceiptPublic)
def submit_claim(
    body: ClaimCreate, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> ClaimReceiptPublic:
    """Submit a FHIR Claim to this insurer: the provider's clerk, doctor or pharmacist, or the
    patient under their pseudonym there. Refused without the patient's grant (403
    claim.not_authorised)."""
    provider = Web3.to_checksum_address(body.provider)
    patient = Web3.to_checksum_address(body.patient)
    trace.patient, trace.view = patient, "claim:submit"
    if signer != patient:
        member = lookup_member(gateway, signer)
        trace.org = member.org if member else None
        if member is None or member.org != provider or member.role not in _CLAIMANT_ROLES:
            raise Forbidden(
                "claim.not_claimant", f"{signer} is neither the patient nor staff of {provider}"
            )
    receipt = gateway.claims.submit(
        body.claim,
        payment=body.payment.resource,
        payment_salt=bytes.fromhex(body.payment.salt[2:]),
        payment_id=bytes.fromhex(body.payment.payment_id[2:]),
        provider=provider,
        patient=patient,
        submitter=signer,
        claim_id=bytes.fromhex(body.claim_id[2:]),
        deadline=body.deadline,
        authorisation=bytes.fromhex(body.authorisation[2:]),
    )
    trace.record_id = receipt.claim_id
    return ClaimReceiptPublic(
        claim_id=receipt.claim_id,
        status="submitted",
        claimed_amount=receipt.claimed_amount,
        cid=receipt.anchored.cid,
        commitment=receipt.anchored.commitment,
        transaction=receipt.anchored.transaction,
        block=receipt.anchored.block,
    )


@router.get("", response_model=list[ClaimSummaryPublic])
def claim_queue(
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
    state: Literal["open", "all"] = "open",
) -> list[ClaimSummaryPublic]:
    """This insurer's queue: claims awaiting a decision, or all with their decisions."""
    trace.view = f"claims:{state}"
    return [summary(c) for c in gateway.claims.queue(open_only=state == "open")]


@router.get("/figures", response_model=list[InstitutionFiguresPublic])
def claim_figures(
    member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace
) -> list[InstitutionFiguresPublic]:
    """For a regulator: per institution, as provider and as insurer, the claims, decisions,
    duplicates caught and settlements, counted from chain events (metadata, never content)."""
    if not is_regulator(gateway, member):
        raise Forbidden("auth.not_regulator", "only a regulator may see claim figures")
    trace.view = "metadata"
    return [InstitutionFiguresPublic(**vars(f)) for f in gateway.claims.figures()]


@router.get("/{claim_id}", response_model=ClaimPublic)
def read_claim(
    claim_id: ClaimIdPath, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> ClaimPublic:
    """The claim and its whole history: for this insurer's staff with the Claim itself; for the
    provider's staff and the patient with the decision only."""
    cid = _id(claim_id)
    trace.record_id = claim_id
    claims = gateway.claims
    onchain = claims.own(cid)
    trace.patient = onchain.patient
    view = _reader_view(gateway, signer, onchain)
    trace.view = view
    return ClaimPublic(
        **summary(onchain).model_dump(),
        history=[ClaimEventPublic(**vars(e)) for e in claims.history(cid)],
        claim=claims.content(onchain) if view == "insurer" else None,
        response=claims.response(cid),
    )


@router.post("/{claim_id}/decision", response_model=DecisionPublic)
def decide_claim(
    claim_id: ClaimIdPath, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> DecisionPublic:
    """A clerk of this insurer has the claim checked against the chain, the payment and the
    coverage rules, and the decision anchored; a service already claimed up to its amount makes
    the claim a duplicate, and the answer says no more than that."""
    require_role(staff, CLERK_ROLE)
    trace.record_id, trace.view = claim_id, "claim:decide"
    decided = gateway.claims.decide(_id(claim_id), adjuster=staff.address)
    duplicate = decided.status is ClaimStatus.DUPLICATE
    return DecisionPublic(
        claim_id=decided.claim_id,
        status=_status(decided.status),
        approved_amount=decided.approved_amount,
        reasons=list(decided.reasons),
        items=[
            ItemDecisionPublic(
                sequence=item.sequence,
                claimed=item.claimed,
                approved=0 if duplicate else item.approved,
                reasons=[str(r) for r in item.reasons],
            )
            for item in decided.adjudication.items
        ],
        detail=_DETAIL.get(decided.status, decided.status.name.lower()),
        cid=decided.anchored.cid,
        commitment=decided.anchored.commitment,
        transaction=decided.anchored.transaction,
    )


@router.post("/{claim_id}/settlement", response_model=SettlementPublic)
def settle_claim(
    claim_id: ClaimIdPath,
    body: SettlementCreate,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> SettlementPublic:
    """A clerk of this insurer records the payout of an approved claim with its payment
    reference, sealed in a PaymentNotice; only Approved or Partial claims settle (409)."""
    require_role(staff, CLERK_ROLE)
    trace.record_id, trace.view = claim_id, "claim:settle"
    anchored = gateway.claims.settle(
        _id(claim_id), adjuster=staff.address, reference=body.payment_reference
    )
    settled = gateway.claims.onchain(_id(claim_id))
    return SettlementPublic(
        claim_id=claim_id,
        status=_status(settled.status),
        amount=settled.approved_amount,
        cid=anchored.cid,
        commitment=anchored.commitment,
        transaction=anchored.transaction,
    )


def summary(claim: OnchainClaim) -> ClaimSummaryPublic:
    return ClaimSummaryPublic(
        claim_id=claim.claim_id,
        insurer=claim.insurer,
        provider=claim.provider,
        patient=claim.patient,
        submitter=claim.submitter,
        status=_status(claim.status),
        submitted_at=claim.submitted_at,
        claimed_amount=claim.claimed_amount,
        approved_amount=claim.approved_amount,
        cid=claim.cid,
    )


def _reader_view(gateway: Gateway, signer: str, claim: OnchainClaim) -> str:
    if signer == claim.patient:
        return "patient"
    member = lookup_member(gateway, signer)
    if member is not None and member.role is not None:
        trace_org = member.org
        if trace_org == gateway.org.address:
            return "insurer"
        if trace_org == claim.provider and member.role in _CLAIMANT_ROLES:
            return "provider"
    raise Forbidden("claim.forbidden", f"{signer} may not read this claim")


def _status(
    status: ClaimStatus,
) -> Literal["submitted", "approved", "partial", "denied", "duplicate", "settled"]:
    return status.name.lower()  # type: ignore[return-value]


def _id(hex_id: str) -> bytes:
    return bytes.fromhex(hex_id[2:])
