"""The access log: who touched what, under which grant, with proofs against the anchored roots."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from fastapi import APIRouter, Depends, Query

from api.agency import acting_for
from api.audit import CurrentTrace, Trace
from api.deps import AUDITOR_ROLE, GatewayDep, Signer, lookup_member
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, BadCursor, Forbidden, responses
from api.schemas import (
    AccessEntryPublic,
    AccessTrailPublic,
    Address,
    Bytes32,
    TrailVerificationPublic,
)
from ledger.audit.access_log import LoggedEntry, TrailItem, verify_trail
from ledger.audit.auditevent import audit_event
from ledger.consent.emergency import is_break_glass
from ledger.records.verify import access_batch_lookup
from ledger.types import OrgKind

router = APIRouter(
    prefix="/v1/access-log",
    tags=["audit"],
    responses=responses(*SIGNED_PROBLEMS),
)

_SQLITE_INT_MAX = 2**63 - 1
_CURSOR_DOC = "the next_after of the previous page: opaque, and good only for the one who got it"


@dataclass(frozen=True)
class TrailQuery:
    """Which entries a trail request asks for; what a caller may see narrows it further."""

    record_id: str | None
    patient: str | None
    actor: str | None
    org: str | None
    since: int | None
    until: int | None
    after: str | None


def trail_query(
    record_id: Bytes32 | None = None,
    patient: Address | None = None,
    actor: Address | None = None,
    org: Address | None = None,
    # Bounded by what SQLite stores: a larger time was a 500 from the database, not a 422.
    since: Annotated[int | None, Query(ge=0, le=_SQLITE_INT_MAX)] = None,
    until: Annotated[int | None, Query(ge=0, le=_SQLITE_INT_MAX)] = None,
    after: Annotated[str | None, Query(max_length=200, description=_CURSOR_DOC)] = None,
) -> TrailQuery:
    return TrailQuery(record_id, patient, actor, org, since, until, after)


Trail = Annotated[TrailQuery, Depends(trail_query)]


@router.get("", response_model=None)
def access_log(
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    query: Trail,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    format: Literal["json", "fhir"] = "json",
) -> AccessTrailPublic | dict[str, Any]:
    """The regulator and this organisation's auditors see every entry; a patient, signing with
    their pseudonym, sees the entries about their own data (and nothing about anyone else's)."""
    logged, is_member = _entries(signer, gateway, trace, query, limit)
    if format == "fhir":
        return _bundle(logged, gateway.org.address)
    return _page(gateway, signer, logged, show_seq=is_member, limit=limit)


@router.get("/verification", response_model=TrailVerificationPublic)
def verify_access_log(
    signer: Signer,
    gateway: GatewayDep,
    trace: CurrentTrace,
    query: Trail,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> TrailVerificationPublic:
    """Check a slice of the trail against the roots anchored on chain; names each mismatch.

    The same check `medledger audit verify` runs independently on an exported trail.
    """
    logged, is_member = _entries(signer, gateway, trace, query, limit)
    page = _page(gateway, signer, logged, show_seq=is_member, limit=limit)
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


def _entries(
    signer: str, gateway: Gateway, trace: Trace, query: TrailQuery, limit: int
) -> tuple[list[LoggedEntry], bool]:
    """The entries ``signer`` may see that match ``query``, and whether the signer is a member."""
    member = lookup_member(gateway, signer)
    trace.view = "audit"
    patient = query.patient
    if member is None:
        # A patient's own trail, whatever they asked for; or, for an agent in force, its patient's.
        patient = acting_for(gateway, signer, patient, trace) if patient else None
        patient = patient or signer
    elif not _may_audit(gateway, member.org, member.role):
        raise Forbidden("audit.forbidden", "only regulators and this organisation's auditors")
    else:
        trace.org = member.org
    logged = gateway.access_log.entries(
        record_id=query.record_id,
        patient=patient,
        actor=query.actor,
        org=query.org,
        since=query.since,
        until=query.until,
        after_seq=_open_cursor(gateway, signer, query.after),
        limit=limit,
    )
    return logged, member is not None


def _page(
    gateway: Gateway, signer: str, logged: list[LoggedEntry], *, show_seq: bool, limit: int
) -> AccessTrailPublic:
    proofs = {item.seq: item for item in gateway.access_log.trail(logged)}
    # A patient sees no gateway-wide sequence numbers: the gaps would count other people's entries.
    items = [_public(entry, proofs.get(entry.seq), show_seq=show_seq) for entry in logged]
    return AccessTrailPublic(
        gateway=gateway.org.address,
        items=items,
        next_after=_cursor(gateway, signer, logged[-1].seq) if len(logged) == limit else None,
    )


def _cursor_key(gateway: Gateway) -> AESGCM:
    secret = gateway.org_key.private_bytes_raw()
    key = HKDF(hashes.SHA256(), 32, salt=None, info=b"medledger/v1/access-log-cursor").derive(
        secret
    )
    return AESGCM(key)


def _cursor(gateway: Gateway, signer: str, seq: int) -> str:
    """Where the next page starts, sealed so that it reveals nothing and binds to ``signer``."""
    nonce = secrets.token_bytes(12)
    sealed = _cursor_key(gateway).encrypt(nonce, seq.to_bytes(8, "big"), signer.lower().encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _open_cursor(gateway: Gateway, signer: str, cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor.encode())
        opened = _cursor_key(gateway).decrypt(raw[:12], raw[12:], signer.lower().encode())
    except (ValueError, InvalidTag) as exc:
        raise BadCursor("this cursor was not issued to you by this gateway") from exc
    return int.from_bytes(opened, "big")


def _may_audit(gateway: Gateway, org: str | None, role: str | None) -> bool:
    if org == gateway.org.address and role == AUDITOR_ROLE:
        return True
    membership = gateway.chain.contract("Membership")
    kind, _status, _admin = gateway.chain.call(membership.functions.organisation(org))
    return int(kind) == OrgKind.REGULATOR


def _public(logged: LoggedEntry, proven: TrailItem | None, *, show_seq: bool) -> AccessEntryPublic:
    return AccessEntryPublic(
        seq=logged.seq if show_seq else None,
        **vars(logged.entry),
        chain_batch_id=proven.chain_batch_id if proven else None,
        root=proven.root if proven else None,
        proof=proven.proof if proven else None,
        break_glass=is_break_glass(logged.entry.purpose),
    )


def _bundle(logged: list[LoggedEntry], gateway: str) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": audit_event(item.entry, gateway=gateway)} for item in logged],
    }
