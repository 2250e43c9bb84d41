"""A patient's erasure request at the hospital that wrote their records: refused while any of them
is within its retention period (409 ``retention.period_running``, the rule and the date it ends in
the detail); after, the hospital destroys the patient's key-encryption key, so the ciphertext it
stored and the chain's anchors stay but no longer open here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import GatewayDep, Signer
from api.problems import Forbidden, responses
from api.schemas import ErasurePublic

router = APIRouter(prefix="/v1/patients", tags=["patients"])

PseudonymPath = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$")]


@router.post(
    "/{pseudonym}/erasure",
    response_model=ErasurePublic,
    responses=responses(401, 403, 409, 422, 503),
)
def request_erasure(pseudonym: PseudonymPath, signer: Signer, gateway: GatewayDep) -> ErasurePublic:
    """The patient, signing with their pseudonym's key, asks this hospital to erase their
    records."""
    if signer.lower() != pseudonym.lower():
        raise Forbidden(
            "patient.not_the_patient", "only the patient may ask to erase their records"
        )
    erased = gateway.records.keys.erase(gateway.patients.get(signer).pseudonym)
    return ErasurePublic(
        patient=erased.patient, erased_at=erased.erased_at, versions=erased.versions
    )
