"""Enrolling a patient's pseudonym at this hospital, on the patient's own signature."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.deps import CLERK_ROLE, DOCTOR_ROLE, GatewayDep, OwnStaff, require_role
from api.problems import Forbidden, responses
from api.schemas import PatientEnrol, PatientPublic
from ledger.consent.patients import ENROLMENT_TYPES
from ledger.gateway.auth import recover_typed_data

router = APIRouter(prefix="/v1/patients", tags=["patients"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PatientPublic,
    responses=responses(401, 403, 413, 422, 503),
)
def enrol(body: PatientEnrol, staff: OwnStaff, gateway: GatewayDep) -> PatientPublic:
    """Bind a pseudonym to the encryption key it signed for; a clerk or doctor relays it."""
    require_role(staff, DOCTOR_ROLE, CLERK_ROLE)
    signed_by = recover_typed_data(
        gateway.domain.as_eip712(),
        ENROLMENT_TYPES,
        "Enrolment",
        {"hospital": gateway.org.address, "encryptionKey": bytes.fromhex(body.encryption_key[2:])},
        body.signature,
    )
    if signed_by.lower() != body.pseudonym.lower():
        raise Forbidden(
            "patient.bad_enrolment_signature", "the enrolment is not signed by the pseudonym"
        )
    enrolment = gateway.patients.enrol(
        signed_by, bytes.fromhex(body.encryption_key[2:]), body.signature
    )
    return PatientPublic(
        pseudonym=enrolment.pseudonym,
        encryption_key=body.encryption_key,
        enrolled_at=enrolment.enrolled_at,
    )
