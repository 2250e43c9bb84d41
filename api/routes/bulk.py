"""Bulk record writes: many versions in one request, acknowledged (202) once durable in the outbox
and anchored later in Merkle batches; each gets a receipt to poll (api/routes/receipts.py)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, status

from api.agency import require_guardian_online
from api.audit import CurrentTrace
from api.deps import CLERK_ROLE, DOCTOR_ROLE, GatewayDep, OwnStaff, require_role
from api.gateway import Gateway
from api.problems import Unprocessable, responses
from api.schemas import BulkReceiptPublic, RecordBulkAcceptedPublic, RecordBulkCreate
from ledger.audit.access_log import BULK_ITEM_ACTION, AccessEntry, now
from ledger.consent.minors import GuardianRequired, is_online_consultation
from ledger.records.book import BulkVersion

router = APIRouter(prefix="/v1/records:bulk", tags=["records"])


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=RecordBulkAcceptedPublic,
    responses=responses(401, 403, 404, 409, 413, 422, 503),
)
def accept_bulk(
    body: RecordBulkCreate, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> RecordBulkAcceptedPublic:
    """Validate, encrypt and commit every version to the outbox in one transaction (all or
    none); 202 with a receipt per item, in order. New records are version 1; amendments name a
    batch-anchored record and the version last read (409 if it is not the latest)."""
    require_role(staff, DOCTOR_ROLE, CLERK_ROLE)
    trace.view = "write"
    limit = gateway.settings.bulk_max_items
    if len(body.items) > limit:
        raise Unprocessable("bulk.too_many_items", f"at most {limit} items a request")
    items = []
    for index, item in enumerate(body.items):
        if (item.patient is None) == (item.record_id is None):
            raise Unprocessable("bulk.bad_item", "each item names a patient or a record_id")
        if (item.record_id is None) != (item.expected_version is None):
            raise Unprocessable("bulk.bad_item", "an amendment names its expected_version")
        version = BulkVersion(
            resource=json.dumps(item.resource).encode(),
            patient=item.patient,
            record_id=None if item.record_id is None else bytes.fromhex(item.record_id[2:]),
            expected_version=item.expected_version,
        )
        _require_guardian(gateway, index, version, item.resource)
        items.append(version)
    accepted = gateway.records.accept_bulk(items, author=staff.address)
    gateway.anchorer.nudge(gateway.outbox.unbatched())
    # One access entry per version written, as a single write gets; the request's own entry
    # (the middleware's) says who sent the batch.
    at = now()
    gateway.access_log.record_many(
        AccessEntry(
            at=at,
            actor=staff.address,
            org=staff.org,
            action=BULK_ITEM_ACTION,
            record_id=a.record_id,
            version=a.version,
            view="write",
            patient=a.patient,
            grant=None,
            purpose=None,
            outcome="allowed",
        )
        for a in accepted
    )
    return RecordBulkAcceptedPublic(receipts=[BulkReceiptPublic(**vars(a)) for a in accepted])


def _require_guardian(
    gateway: Gateway, index: int, item: BulkVersion, content: dict[str, Any]
) -> None:
    """The single write's rule for a young child seen online (api/agency.py), per item: one item
    refused refuses the request, as any bad item does, its detail naming the item. ``content`` is
    the item's resource as the body parsed it, of which ``item.resource`` is the JSON: what is no
    online consultation there is none in ``item.resource`` either, and the rule, which would
    parse it again to find that, lets it pass."""
    if not is_online_consultation(content):
        return
    patient = item.patient
    if item.record_id is not None:
        first = gateway.outbox.version_item(item.record_id, 1)
        patient = first.patient if first is not None else None
    try:
        require_guardian_online(gateway, item.resource, patient=patient, record_id=item.record_id)
    except GuardianRequired as exc:
        raise GuardianRequired(f"item {index}: {exc}") from exc
