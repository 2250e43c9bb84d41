"""The access log: who touched what, under which grant, with proofs against the anchored roots."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.audit import CurrentTrace
from api.deps import AUDITOR_ROLE, GatewayDep, Signer, lookup_member
from api.gateway import Gateway
from api.problems import Forbidden
from api.schemas import (
    AccessEntryPublic,
    AccessTrailPublic,
    Address,
    Bytes32,
    TrailVerificationPublic,
)
from ledger.accesslog import LoggedEntry, TrailItem, verify_trail
from ledger.auditevent import audit_event
from ledger.types import OrgKind
from ledger.verify import access_batch_lookup

router = APIRouter(prefix="/v1/access-log", tags=["audit"])


@router.get("", response_model=None)
def access_log(
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    record_id: Bytes32 | None = None,
    patient: Address | None = None,
    actor: Address | None = None,
    org: Address | None = None,
    since: Annotated[int | None, Query(ge=0)] = None,
    until: Annotated[int | None, Query(ge=0)] = None,
    after: Annotated[int, Query(ge=0, description="the last seq of the previous page")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Literal["json", "fhir"] = "json",
) -> AccessTrailPublic | dict[str, Any]:
    """The regulator and this organisation's auditors see every entry; a patient, signing with
    their pseudonym, sees the entries about their own data (and nothing about anyone else's)."""
    member = lookup_member(gateway, signer)
    trace.view = "audit"
    if member is None:
        patient = signer  # a patient's own trail, whatever they asked for
    elif not _may_audit(gateway, member.org, member.role):
        raise Forbidden("audit.forbidden", "only regulators and this organisation's auditors")
    else:
        trace.org = member.org
    logged = gateway.access_log.entries(
        record_id=record_id,
        patient=patient,
        actor=actor,
        org=org,
        since=since,
        until=until,
        after_seq=after,
        limit=limit,
    )
    if format == "fhir":
        return _bundle(logged, gateway.org.address)
    proofs = {item.seq: item for item in gateway.access_log.trail(logged)}
    items = [_public(entry, proofs.get(entry.seq)) for entry in logged]
    return AccessTrailPublic(
        gateway=gateway.org.address,
        items=items,
        next_after=logged[-1].seq if len(logged) == limit else None,
    )


@router.get("/verification", response_model=TrailVerificationPublic)
def verify_access_log(
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    record_id: Bytes32 | None = None,
    patient: Address | None = None,
    actor: Address | None = None,
    org: Address | None = None,
    since: Annotated[int | None, Query(ge=0)] = None,
    until: Annotated[int | None, Query(ge=0)] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> TrailVerificationPublic:
    """Check a slice of the trail against the roots anchored on chain; names each mismatch.

    The same check `medledger audit verify` runs independently on an exported trail.
    """
    page = access_log(
        signer, gateway, trace, record_id, patient, actor, org, since, until, after, limit
    )
    assert isinstance(page, AccessTrailPublic)
    checked, unanchored, mismatches = verify_trail(
        (item.model_dump() for item in page.items),
        access_batch_lookup(gateway.chain),
        gateway.org.address,
    )
    return TrailVerificationPublic(
        checked=checked,
        unanchored=unanchored,
        mismatches=[{"seq": seq, "reason": reason} for seq, reason in mismatches],
    )


def _may_audit(gateway: Gateway, org: str | None, role: str | None) -> bool:
    if org == gateway.org.address and role == AUDITOR_ROLE:
        return True
    membership = gateway.chain.contract("Membership")
    kind, _status, _admin = gateway.chain.call(membership.functions.organisation(org))
    return int(kind) == OrgKind.REGULATOR


def _public(logged: LoggedEntry, proven: TrailItem | None) -> AccessEntryPublic:
    return AccessEntryPublic(
        seq=logged.seq,
        **vars(logged.entry),
        chain_batch_id=proven.chain_batch_id if proven else None,
        root=proven.root if proven else None,
        proof=proven.proof if proven else None,
    )


def _bundle(logged: list[LoggedEntry], gateway: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": audit_event(item.entry, seq=item.seq, gateway=gateway)} for item in logged
        ],
    }
