"""Dispenses: what a pharmacy dispensed, from chain events, for a regulator or the pharmacy; and
one dispense opened, for the dispensing pharmacy or the issuing hospital, on its own gateway (the
MedicationDispense is sealed for both, the hospital under the key it published in the directory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from web3 import Web3

from api.audit import CurrentTrace
from api.deps import CurrentMember, GatewayDep, OwnStaff, require_regulator_or
from api.problems import SIGNED_PROBLEMS, Forbidden, NotFound, responses
from api.schemas import Address, DispenseContentPublic, DispensePublic

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


@router.get("/{prescription_id}", response_model=DispenseContentPublic)
def read_dispense(
    prescription_id: Annotated[
        str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="32-byte prescription id")
    ],
    staff: OwnStaff,
    gateway: GatewayDep,
    trace: CurrentTrace,
) -> DispenseContentPublic:
    """The MedicationDispense of a prescription, whole, for staff of the organisation whose
    gateway this is when it dispensed the prescription or issued it."""
    pid = bytes.fromhex(prescription_id[2:])
    book = gateway.prescriptions
    prescription = book.onchain(pid)
    trace.record_id, trace.patient = prescription_id, prescription.patient
    dispense = book.dispense_of(pid)
    if dispense is None:
        raise NotFound(f"prescription {prescription_id} is not dispensed", "dispense.not_found")
    if gateway.org.address not in (dispense.pharmacy, prescription.institution):
        raise Forbidden(
            "dispense.forbidden",
            f"{gateway.org.address} neither dispensed nor issued this prescription",
        )
    trace.view = "dispense:read"
    resource, salt = book.read_dispense(dispense)
    return DispenseContentPublic(**vars(dispense), salt=salt, resource=resource)
