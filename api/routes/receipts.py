"""Receipts of bulk writes: poll, or wait up to ``?wait=`` seconds, until a version is anchored."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

from fastapi import APIRouter, Path, Query
from starlette.concurrency import run_in_threadpool

from api.audit import CurrentTrace
from api.deps import CLERK_ROLE, DOCTOR_ROLE, GatewayDep, OwnStaff, require_role
from api.problems import NotFound, responses
from api.schemas import AnchoringPublic, ReceiptPublic
from ledger.records.outbox import Receipt

router = APIRouter(prefix="/v1/receipts", tags=["records"])

#: How often a waiting request looks at the outbox again.
_POLL_S = 0.05


@router.get(
    "/{receipt_id}", response_model=ReceiptPublic, responses=responses(401, 403, 404, 422, 503)
)
async def read_receipt(
    receipt_id: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
    wait: Annotated[
        float,
        Query(ge=0, le=3600, description="seconds to wait for anchoring (capped by a setting)"),
    ] = 0,
) -> ReceiptPublic:
    """The receipt, once anchored with its batch, root, transaction and proof. With ``wait``
    the answer comes as soon as it is anchored, or when the wait is over, whichever is first."""
    require_role(staff, DOCTOR_ROLE, CLERK_ROLE)
    trace.view = "receipt"
    deadline = time.monotonic() + min(wait, gateway.settings.receipt_max_wait_s)
    while True:
        receipt = await run_in_threadpool(gateway.outbox.receipt, receipt_id)
        if receipt is None:
            raise NotFound(f"no receipt {receipt_id} at this gateway")
        if receipt.status == "anchored" or time.monotonic() >= deadline:
            break
        await asyncio.sleep(_POLL_S)
    trace.record_id = "0x" + receipt.item.record_id.hex()
    trace.version, trace.patient = receipt.item.version, receipt.item.patient
    return _public(receipt)


def _public(receipt: Receipt) -> ReceiptPublic:
    item, anchoring = receipt.item, receipt.anchoring
    return ReceiptPublic(
        receipt_id=receipt.receipt_id,
        status=receipt.status,
        record_id="0x" + item.record_id.hex(),
        version=item.version,
        commitment="0x" + item.commitment.hex(),
        cid=item.cid,
        hospital=item.hospital,
        patient=item.patient,
        author=item.author,
        leaf="0x" + item.leaf().hex(),
        accepted_at=receipt.accepted_at,
        anchoring=None
        if anchoring is None
        else AnchoringPublic(
            batch=anchoring.chain_batch_id,
            root="0x" + anchoring.root.hex(),
            transaction=anchoring.transaction,
            block=anchoring.block,
            anchored_at=anchoring.anchored_at,
            leaf_index=anchoring.leaf_index,
            proof=["0x" + p.hex() for p in anchoring.proof],
        ),
    )
