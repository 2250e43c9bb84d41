"""The regulator's overview reads for its console: every admitted organisation with its standing
and directory entry, and the practice filings by status (the queue waiting for a decision).

Read-only, from chain events and calls (metadata only, never content); signed, and only for a
regulator's staff or account: 403 ``auth.not_regulator`` for anyone else.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from web3 import Web3

from api.audit import CurrentTrace
from api.deps import CurrentMember, GatewayDep, Member, is_regulator
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, responses
from api.routes.practice import _filing
from api.schemas import FilingPublic, _Model
from ledger.errors import OrgNotInDirectory
from ledger.prescribing.practice_desk import PracticeDesk
from ledger.types import OrgKind, OrgStatus

router = APIRouter(
    prefix="/v1/oversight", tags=["oversight"], responses=responses(*SIGNED_PROBLEMS)
)

FilingStatusName = Literal["pending", "approved", "rejected", "revoked"]


class OrganisationPublic(_Model):
    """An admitted organisation: its kind and standing (``active`` or ``suspended``) as
    Membership holds them, its admin account, and its directory entry's state (``directory``:
    ``usable``, ``unusable`` or ``missing``, with when it was last published)."""

    org: str
    kind: Literal["hospital", "insurer", "pharmacy", "regulator"]
    status: Literal["active", "suspended"]
    admin: str
    directory: Literal["usable", "unusable", "missing"]
    directory_updated_at: int | None
    peer_id: str | None


def _require_regulator(gateway: Gateway, member: Member) -> None:
    if not is_regulator(gateway, member):
        raise Forbidden("auth.not_regulator", "only a regulator may see the consortium overview")


@router.get("/organisations", response_model=list[OrganisationPublic])
def organisations(
    member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace
) -> list[OrganisationPublic]:
    """Every organisation ever admitted, in order of admission, with its standing now."""
    _require_regulator(gateway, member)
    trace.view = "metadata"
    chain = gateway.chain
    membership = chain.contract("Membership")
    admitted = membership.events.OrganisationAdmitted().get_logs(
        from_block=chain.deployment.block_number
    )
    seen = list(dict.fromkeys(Web3.to_checksum_address(e["args"]["org"]) for e in admitted))
    found = []
    for org in seen:
        kind, status, admin = chain.call(membership.functions.organisation(org))
        try:
            entry = gateway.directory.entry(org)
        except OrgNotInDirectory:
            entry = None
        found.append(
            OrganisationPublic(
                org=org,
                kind=OrgKind(kind).name.lower(),
                status=OrgStatus(status).name.lower(),
                admin=Web3.to_checksum_address(admin),
                directory="missing" if entry is None else "usable" if entry.usable else "unusable",
                directory_updated_at=entry.updated_at if entry else None,
                peer_id=entry.peer_id if entry else None,
            )
        )
    return found


@router.get("/filings", response_model=list[FilingPublic])
def filings(
    member: CurrentMember,
    gateway: GatewayDep,
    trace: CurrentTrace,
    status: FilingStatusName | None = None,
) -> list[FilingPublic]:
    """Every practice filing, in the order filed, with its status now (``status``: only those;
    ``pending`` is the queue waiting for the regulator's decision)."""
    _require_regulator(gateway, member)
    trace.view = "metadata"
    chain = gateway.chain
    registry = chain.contract("PracticeRegistry")
    submitted = registry.events.PracticeFilingSubmitted().get_logs(
        from_block=chain.deployment.block_number
    )
    desk = PracticeDesk(chain)
    ids = list(dict.fromkeys(bytes(e["args"]["filingId"]) for e in submitted))
    items = [_filing(f) for f in (desk.filing(i) for i in ids) if f is not None]
    return [f for f in items if status is None or f.status == status]
