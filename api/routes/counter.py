"""The pharmacist's counter (the browser console's #/pharmacy): what this pharmacy may dispense, the
chain's facts of one prescription, and its dispensing view relayed from the issuing hospital.

The list and the facts come from the chain alone (no content): every approved prescription, at any
hospital, not yet dispensed and not expired, for a pharmacist of this gateway's organisation.

The dispensing view (the MedicationRequest cut for a pharmacy) can only be opened by the issuing
hospital's gateway, which alone holds a key to it; the page speaks to its own gateway only (same
origin, a 'self' CSP). So the page signs twice: the relay request itself for this gateway's domain,
as every counter call (a pharmacist of this pharmacy, or no call to any hospital), and the
hospital's ``GET /v1/prescriptions/{id}`` for the hospital's domain (its salt is the hospital's
address), sent in ``X-Relay-``-prefixed signing headers. This gateway checks that the same key
signed both, then passes the hospital's four headers on, unprefixed, to the hospital's gateway as
``peer_gateways`` names it, and logs the relay in its own access trail. It can forge nothing: the
hospital checks the signature again, the signer's role and the view, as for any caller, and
consumes the relayed nonce.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse
from web3 import Web3

from api.audit import CurrentTrace
from api.deps import (
    PHARMACIST_ROLE,
    GatewayDep,
    OwnStaff,
    org_kind,
    require_role,
)
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, Upstream, responses
from api.routes.prescriptions import summary
from api.schemas import DispensePublic, PrescriptionSummaryPublic, ReviewPublic
from ledger.gateway.auth import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNER_HEADER,
    TIMESTAMP_HEADER,
    AuthError,
    AuthMalformed,
    GatewayDomain,
    recover_request,
)
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
#: The signing headers meant for the issuing hospital, each ``X-Relay-`` in place of ``X-``
#: (``X-Relay-MedLedger-Signer``, ...); passed on under their own names, and nothing else of the
#: request.
RELAY_PREFIX = "X-Relay-"
_SIGNING = (SIGNER_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)


def relay_name(header: str) -> str:
    """``X-MedLedger-Signer`` -> ``X-Relay-MedLedger-Signer``."""
    return RELAY_PREFIX + header.removeprefix("X-")


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


def relay_headers(
    _signer: Annotated[str | None, Header(alias=relay_name(SIGNER_HEADER))] = None,
    _timestamp: Annotated[str | None, Header(alias=relay_name(TIMESTAMP_HEADER))] = None,
    _nonce: Annotated[str | None, Header(alias=relay_name(NONCE_HEADER))] = None,
    _signature: Annotated[str | None, Header(alias=relay_name(SIGNATURE_HEADER))] = None,
) -> None:
    """Names the four relayed signing headers in the OpenAPI document; `_relayed` reads the raw
    headers itself, where a repeated one can be refused."""


def _relayed(
    request: Request, gateway: Gateway, hospital: GatewayDomain, path: str, pharmacist: str
) -> dict[str, str]:
    """The hospital's four signing headers, unprefixed, once checked to be ``pharmacist``'s
    signature of ``GET path`` for ``hospital``'s domain: else 401 ``auth.*`` (as for any
    signature) or 403 ``counter.relay_signer_mismatch``."""
    found: dict[str, str] = {}
    for name in _SIGNING:
        values = request.headers.getlist(relay_name(name))
        if len(values) > 1:
            raise AuthMalformed(f"header {relay_name(name)} is repeated")
        if values:
            found[name] = values[0]
    try:
        signer = recover_request(
            found,
            hospital,
            "GET",
            path,
            b"",
            now=int(time.time()),
            max_skew_s=gateway.settings.request_max_skew_s,
        )
    except AuthError as exc:
        raise type(exc)(f"the relayed signature ({RELAY_PREFIX}MedLedger-*): {exc}") from exc
    if signer != pharmacist:
        raise Forbidden(
            "counter.relay_signer_mismatch",
            f"the relayed request is signed by {signer}, the relay by {pharmacist}: "
            "a pharmacist relays only their own request",
        )
    return found


@router.get(
    "/prescriptions/{prescription_id}/view",
    dependencies=[Depends(relay_headers)],
    responses={
        200: {"description": "the issuing hospital's answer, passed on as it came"},
        **responses(504),
    },
)
def dispensing_view(
    prescription_id: PrescriptionIdPath,
    request: Request,
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> JSONResponse:
    """The issuing hospital's ``GET /v1/prescriptions/{id}``, signed by the pharmacist for the
    hospital's domain (salt: the hospital's address) in ``X-Relay-`` headers, passed on to that
    hospital's gateway and its answer back as it came (the dispensing view, or the hospital's
    refusal, logged here too). The relay itself is signed by the same pharmacist for this
    gateway. 502 ``counter.hospital_unknown`` if this gateway knows no gateway for the issuing
    hospital, ``counter.hospital_unreachable`` if it does not answer."""
    _require_counter(staff, gateway)
    prescription = gateway.prescriptions.onchain(bytes.fromhex(prescription_id[2:]))
    trace.record_id, trace.patient, trace.view = prescription_id, prescription.patient, "dispensing"
    institution = prescription.institution
    path = f"/v1/prescriptions/{prescription_id}"
    hospital = GatewayDomain(
        gateway.domain.chain_id,
        gateway.domain.verifying_contract,
        Web3.to_checksum_address(institution),
    )
    headers = _relayed(request, gateway, hospital, path, staff.address)
    peers = {str(Web3.to_checksum_address(k)): v for k, v in gateway.settings.peer_gateways.items()}
    base = peers.get(institution)
    if base is None:
        raise Upstream("counter.hospital_unknown", f"no gateway known for {institution}")
    try:
        answer = httpx.get(
            f"{base.rstrip('/')}{path}",
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
