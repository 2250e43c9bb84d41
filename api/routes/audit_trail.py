"""The consortium's access trail: every organisation's published access-log batches, gathered from
the chain and this gateway's IPFS node. A regulator reads it whole here; anyone signed gets the
encrypted batches, so that a patient opens their own entries with their own key, on their side."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from api.audit import CurrentTrace
from api.deps import GatewayDep, Signer, lookup_member, org_kind
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, responses
from api.schemas import Address, Bytes32
from ledger.audit.access_log import AccessEntry
from ledger.audit.auditevent import audit_event
from ledger.audit.trail_index import OK, IndexedBatch
from ledger.errors import StoreError
from ledger.types import OrgKind

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=responses(*SIGNED_PROBLEMS))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchProblemPublic(_Model):
    """A batch whose entries could not be read: ``unavailable`` (no node had its manifest in
    time: asked again next time), ``rejected`` (its manifest does not match what the chain
    anchored, or does not open), ``sealed_for_others`` (no copy for this regulator), or
    ``local_only`` (sealed before batches were published: its entries are in its gateway's log)."""

    chain_batch_id: int
    org: str
    status: str
    reason: str | None


class ConsortiumEntryPublic(_Model):
    """An entry of organisation ``org``'s log (its salt included, for checking it on one's own),
    with its leaf and its proof against the anchored root."""

    org: str
    chain_batch_id: int
    leaf_index: int
    entry: AccessEntry
    root: str
    proof: list[str]


class ConsortiumTrailPublic(_Model):
    """The consortium's trail matching the query: ``complete`` only if every batch anchored so
    far was read and checked (otherwise ``problems`` names the ones that were not)."""

    gateway: str
    complete: bool
    batches: int
    items: list[ConsortiumEntryPublic]
    problems: list[BatchProblemPublic]


class PublishedBatchPublic(_Model):
    """An anchored access-log batch and its manifest as published (ciphertext and leaves only)."""

    chain_batch_id: int
    org: str
    root: str
    count: int
    cid: str | None
    status: str
    reason: str | None
    manifest: str | None


class PublishedBatchesPublic(_Model):
    items: list[PublishedBatchPublic]
    next_after: int | None


@router.get("/trail", response_model=None)
def consortium_trail(
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    record_id: Bytes32 | None = None,
    patient: Address | None = None,
    org: Address | None = None,
    format: Literal["json", "fhir"] = "json",
) -> ConsortiumTrailPublic | dict[str, Any]:
    """Every organisation's entries matching the query, decrypted with this (a regulator's)
    gateway's key and each checked against its anchored root; hospital A's gateway need not be
    up, only some node holding its batches. ``format=fhir``: a Bundle of AuditEvents, each
    observed by the organisation whose log it is in."""
    member = lookup_member(gateway, signer)
    trace.view = "audit"
    if member is None or member.org is None or org_kind(gateway, member.org) != OrgKind.REGULATOR:
        raise Forbidden("audit.forbidden", "only a regulator reads the consortium's trail")
    trace.org, trace.record_id, trace.patient = member.org, record_id, patient
    gateway.trail.sync()
    batches = gateway.trail.batches(limit=2**62)
    problems = [_problem(b) for b in batches if b.status != OK or not b.readable]
    items = [
        ConsortiumEntryPublic(
            org=found.org,
            chain_batch_id=found.chain_batch_id,
            leaf_index=found.leaf_index,
            entry=found.entry,
            root="0x" + found.root.hex(),
            proof=["0x" + p.hex() for p in found.proof],
        )
        for found in gateway.trail.entries(record_id=record_id, patient=patient, org=org)
    ]
    if format == "fhir":
        return {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": audit_event(i.entry, gateway=i.org)} for i in items],
        }
    return ConsortiumTrailPublic(
        gateway=gateway.org.address,
        complete=not problems,
        batches=len(batches),
        items=items,
        problems=problems,
    )


@router.get("/batches", response_model=PublishedBatchesPublic)
def published_batches(
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    after: Annotated[int, Query(ge=-1, le=2**62)] = -1,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> PublishedBatchesPublic:
    """The access-log batches anchored after batch id ``after``, each with its manifest from this
    gateway's node: a patient opens their own entries in them with their key, client side (see
    ``ledger.audit.patient_trail``); the gateway never holds a patient's key."""
    del signer  # any signed caller: the manifests are ciphertext and salted leaves
    trace.view = "audit"
    gateway.trail.sync(retry_unavailable=False)
    batches = gateway.trail.batches(after=after, limit=limit)
    items = [_published(gateway, batch) for batch in batches]
    return PublishedBatchesPublic(
        items=items, next_after=batches[-1].chain_batch_id if len(batches) == limit else None
    )


def _published(gateway: Gateway, batch: IndexedBatch) -> PublishedBatchPublic:
    manifest = None
    if batch.status == OK and batch.cid is not None:
        try:
            manifest = gateway.store.get(batch.cid).decode()
        except StoreError:
            manifest = None
    return PublishedBatchPublic(
        chain_batch_id=batch.chain_batch_id,
        org=batch.org,
        root="0x" + batch.root.hex(),
        count=batch.count,
        cid=batch.cid,
        status=batch.status,
        reason=batch.reason,
        manifest=manifest,
    )


def _problem(batch: IndexedBatch) -> BatchProblemPublic:
    if batch.status == OK:
        return BatchProblemPublic(
            chain_batch_id=batch.chain_batch_id,
            org=batch.org,
            status="sealed_for_others",
            reason="no copy of this batch is sealed for this regulator",
        )
    return BatchProblemPublic(
        chain_batch_id=batch.chain_batch_id, org=batch.org, status=batch.status, reason=batch.reason
    )
