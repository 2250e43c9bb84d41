"""Who should hold a CID anchored on chain (its writer and the holders replication assigns it),
and whether this gateway's own node keeps it: for any member, from the chain and the directory."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from api.audit import CurrentTrace
from api.deps import CurrentMember, GatewayDep
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, NotFound, Unprocessable, responses
from ledger.errors import DirectoryError
from ledger.network.consortium import demo_dir
from ledger.network.holders import Candidates
from ledger.store import cid_from_bytes, cid_to_bytes
from ledger.types import OrgKind, OrgStatus

router = APIRouter(prefix="/v1/content", tags=["content"], responses=responses(*SIGNED_PROBLEMS))


class HolderPublic(BaseModel):
    """An organisation that should keep the content: its address, kind (from Membership), name
    where this gateway knows one (the development consortium's file; none on chain), and its
    node's peer id from the directory (empty if it published none)."""

    model_config = ConfigDict(extra="forbid")

    org: str
    name: str | None
    kind: str
    peer_id: str
    active: bool


class ContentPublic(BaseModel):
    """A CID's placement: who wrote it, which event first named it, the holders assigned now."""

    model_config = ConfigDict(extra="forbid")

    cid: str
    event: str
    block: int
    transaction: str
    writer: HolderPublic
    holders: list[HolderPublic]
    replication_factor: int
    pinned_here: bool
    replicating_here: bool
    #: This gateway's organisation is the writer or a holder; why its node has not pinned it yet.
    assigned_here: bool
    pin_error: str | None


@router.get("/{cid}", response_model=ContentPublic)
def content_holders(
    cid: str, member: CurrentMember, gateway: GatewayDep, trace: CurrentTrace
) -> ContentPublic:
    """Writer and assigned holders of ``cid`` (422 ``content.bad_cid`` if it is no CID, 404
    ``content.unknown`` if the chain never anchored it), and whether this gateway's node has it
    pinned. The chain's events are followed up to its head first."""
    del member  # any active member may ask; the dependency is the check
    trace.view = "metadata"
    try:
        normal = cid_from_bytes(cid_to_bytes(cid))
    except ValueError as exc:
        raise Unprocessable("content.bad_cid", f"{cid!r} is not a CID: {exc}") from exc
    replicator = gateway.replicator
    placement = replicator.placement(normal) if replicator is not None else None
    if replicator is None or placement is None:
        raise NotFound(f"no event on chain names {normal}", code="content.unknown")
    content = placement.content
    state = replicator.index.pin_state(content.cid)
    return ContentPublic(
        cid=content.cid,
        event=content.event,
        block=content.block,
        transaction=content.tx,
        writer=_holder(gateway, placement.candidates, content.writer),
        holders=[_holder(gateway, placement.candidates, h) for h in placement.holders],
        replication_factor=replicator.policy.factor,
        pinned_here=gateway.store.has(content.cid),
        replicating_here=gateway.replicates,
        assigned_here=gateway.org.address in (content.writer, *placement.holders),
        pin_error=state[2] if state is not None else None,
    )


def _holder(gateway: Gateway, candidates: Candidates, org: str) -> HolderPublic:
    membership = gateway.chain.contract("Membership")
    kind, status, _ = gateway.chain.call(membership.functions.organisation(org))
    entry = candidates.entry(org)
    peer_id = entry.peer_id if entry is not None else ""
    if entry is None:  # not a candidate now (suspended, say): what it last published
        try:
            peer_id = gateway.directory.entry(org).peer_id
        except DirectoryError:
            peer_id = ""
    return HolderPublic(
        org=org,
        name=_names(gateway.settings.data_dir).get(org.lower()),
        kind=OrgKind(int(kind)).name.lower(),
        peer_id=peer_id,
        active=OrgStatus(int(status)) is OrgStatus.ACTIVE,
    )


@lru_cache(maxsize=8)
def _names(data_dir: Path) -> dict[str, str]:
    """Address -> name from the development consortium's file, if there is one."""
    try:
        raw = json.loads((demo_dir(data_dir) / "consortium.json").read_text())
        return {str(o["address"]).lower(): str(name) for name, o in raw["orgs"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
