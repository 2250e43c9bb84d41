"""The pharmacist's counter (the browser console's #/pharmacy): what this pharmacy may dispense, the
chain's facts of one prescription, and its dispensing view relayed from the issuing hospital.

The list and the facts come from the chain alone (no content): every approved prescription, at any
hospital, not yet dispensed and not expired, for a pharmacist of this gateway's organisation.

The dispensing view (the MedicationRequest cut for a pharmacy) can only be opened by the issuing
hospital's gateway, which alone holds a key to it; the page speaks to its own gateway only (same
origin, a 'self' CSP). So the page signs the hospital's ``GET /v1/prescriptions/{id}`` for the
hospital's domain (its salt is the hospital's address) and this gateway passes it on byte for byte
to the hospital's gateway as ``peer_gateways`` names it. This gateway checks nothing and can forge
nothing: the hospital checks the signature, the signer's role and the view, as for any caller.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from web3 import Web3

from api.audit import CurrentTrace
from api.deps import (
    PHARMACIST_ROLE,
    GatewayDep,
    OwnStaff,
    org_kind,
    require_role,
    signing_headers,
)
from api.problems import SIGNED_PROBLEMS, Forbidden, Upstream, responses
from api.routes.prescriptions import summary
from api.schemas import DispensePublic, PrescriptionSummaryPublic, ReviewPublic
from ledger.prescribing import PrescriptionStatus
from ledger.types import OrgKind

router = APIRouter(
    prefix="/v1/counter",
    tags=["prescriptions"],
    responses=responses(*SIGNED_PROBLEMS),
)

PrescriptionIdPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte prescription id")
]
#: The signing headers passed on to the issuing hospital, and nothing else of the request.
_SIGNING = (
    "x-medledger-signer",
    "x-medledger-timestamp",
    "x-medledger-nonce",
    "x-medledger-signature",
)


class CounterPrescriptionPublic(PrescriptionSummaryPublic):
    """A prescription's chain facts as the counter shows them: whether it has expired, whether
    this pharmacy may dispense it now, its review and its dispense (by whichever pharmacy)."""

    expired: bool
    dispensable: bool
    review: ReviewPublic | None
    dispense: DispensePublic | None


def _require_counter(staff: OwnStaff, gateway: GatewayDep) -> None:
    require_role(staff, PHARMACIST_ROLE)
    if org_kind(gateway, gateway.org.address) is not OrgKind.PHARMACY:
        raise Forbidden("counter.not_pharmacy", "the counter is a pharmacy's gateway's only")


@router.get("/prescriptions", response_model=list[PrescriptionSummaryPublic])
def dispensable(
    staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> list[PrescriptionSummaryPublic]:
    """Every approved prescription, at any hospital, not dispensed and not expired: what this
    pharmacy's pharmacist may dispense now, soonest expiry first. Chain facts only."""
    _require_counter(staff, gateway)
    trace.view = "metadata"
    now = int(time.time())
    book = gateway.prescriptions
    open_ = [
        (p, prescriber)
        for p, prescriber in book.issued()
        if p.status is PrescriptionStatus.APPROVED and not p.expired(now)
    ]
    open_.sort(key=lambda pair: pair[0].expires_at)
    return [summary(p, prescriber) for p, prescriber in open_]


@router.get("/prescriptions/{prescription_id}", response_model=CounterPrescriptionPublic)
def facts(
    prescription_id: PrescriptionIdPath, staff: OwnStaff, gateway: GatewayDep, trace: CurrentTrace
) -> CounterPrescriptionPublic:
    """One prescription's chain facts for the counter: its validity, its review and its
    dispense, if any (which pharmacy, when), and whether this pharmacy may dispense it now."""
    _require_counter(staff, gateway)
    pid = bytes.fromhex(prescription_id[2:])
    book = gateway.prescriptions
    prescription = book.onchain(pid)  # 404 prescription.unknown if never issued
    trace.record_id, trace.patient, trace.view = prescription_id, prescription.patient, "metadata"
    review, dispense = book.review_of(pid), book.dispense_of(pid)
    expired = prescription.expired()
    return CounterPrescriptionPublic(
        **summary(prescription, None).model_dump(),
        expired=expired,
        dispensable=prescription.status is PrescriptionStatus.APPROVED and not expired,
        review=ReviewPublic(**vars(review)) if review else None,
        dispense=DispensePublic(**vars(dispense)) if dispense else None,
    )


@router.get(
    "/prescriptions/{prescription_id}/view",
    # Signed, but for the issuing hospital's domain: the hospital checks it, not this gateway.
    dependencies=[Depends(signing_headers)],
    responses={
        200: {"description": "the issuing hospital's answer, passed on as it came"},
        **responses(504),
    },
)
def dispensing_view(
    prescription_id: PrescriptionIdPath, request: Request, gateway: GatewayDep
) -> JSONResponse:
    """The issuing hospital's ``GET /v1/prescriptions/{id}``, signed by the pharmacist for the
    hospital's domain (salt: the hospital's address), passed on to that hospital's gateway and
    its answer back as it came (the dispensing view, or the hospital's refusal). 502
    ``counter.hospital_unknown`` if this gateway knows no gateway for the issuing hospital,
    ``counter.hospital_unreachable`` if it does not answer."""
    institution = gateway.prescriptions.onchain(bytes.fromhex(prescription_id[2:])).institution
    peers = {str(Web3.to_checksum_address(k)): v for k, v in gateway.settings.peer_gateways.items()}
    base = peers.get(institution)
    if base is None:
        raise Upstream("counter.hospital_unknown", f"no gateway known for {institution}")
    headers = {name: request.headers[name] for name in _SIGNING if name in request.headers}
    try:
        answer = httpx.get(
            f"{base.rstrip('/')}/v1/prescriptions/{prescription_id}",
            headers={**headers, "Accept": "application/json"},
            timeout=gateway.settings.tx_timeout_s,
            follow_redirects=False,
            trust_env=False,
        )
        body: Any = answer.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise Upstream("counter.hospital_unreachable", f"{institution}'s gateway: {exc}") from exc
    media = answer.headers.get("content-type", "application/json")
    return JSONResponse(body, status_code=answer.status_code, media_type=media.split(";")[0])
