"""The organisation directory as the chain holds it: every member's envelope key and content-node
peer, and whether it is usable now; for members, read from the chain, never from this gateway's
own word."""

from __future__ import annotations

from fastapi import APIRouter

from api.audit import CurrentTrace
from api.deps import CurrentMember, GatewayDep
from api.problems import SIGNED_PROBLEMS, responses
from api.schemas import DirectoryEntryPublic

router = APIRouter(
    prefix="/v1/directory", tags=["directory"], responses=responses(*SIGNED_PROBLEMS)
)


@router.get("", response_model=list[DirectoryEntryPublic])
def list_directory(
    member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace, active: bool = False
) -> list[DirectoryEntryPublic]:
    """Every organisation that published an entry, in order of first publication (``active``:
    only those active now, the peers a node dials). Public keys and addresses only."""
    del member  # any active member may read it; the dependency is the check
    trace.view = "metadata"
    directory = gateway.directory
    entries = (
        directory.active_peers()
        if active
        else [directory.entry(org) for org in directory.organisations()]
    )
    return [
        DirectoryEntryPublic(
            org=e.org,
            encryption_key="0x" + e.raw_key().hex(),
            peer_id=e.peer_id,
            addrs=list(e.addrs),
            updated_at=e.updated_at,
            usable=e.usable,
        )
        for e in entries
    ]
