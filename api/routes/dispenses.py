"""Dispenses, from chain events: what a pharmacy dispensed, for a regulator or the pharmacy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from web3 import Web3

from api.audit import CurrentTrace
from api.deps import CurrentMember, GatewayDep, require_regulator_or
from api.problems import SIGNED_PROBLEMS, responses
from api.schemas import Address, DispensePublic

router = APIRouter(
    prefix="/v1/dispenses",
    tags=["prescriptions"],
    responses=responses(*SIGNED_PROBLEMS),
)


@router.get("", response_model=list[DispensePublic])
def list_dispenses(
    pharmacy: Annotated[Address, Query(description="the dispensing organisation")],
    member: CurrentMember,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> list[DispensePublic]:
    """Every dispense by ``pharmacy``, oldest first, without content."""
    require_regulator_or(gateway, member, pharmacy)
    trace.view = "metadata"
    dispensed = gateway.prescriptions.dispensed_by(Web3.to_checksum_address(pharmacy))
    return [DispensePublic(**vars(d)) for d in dispensed]
