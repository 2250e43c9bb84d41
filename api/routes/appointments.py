"""Guardians and proxies: the gateway relays the appointments a patient signs and lists them."""

from __future__ import annotations

import time

from fastapi import APIRouter, status

from api.agent_schemas import (
    AgentKindName,
    AppointmentCreate,
    AppointmentPublic,
    AppointmentReceiptPublic,
    AppointmentRevocationCreate,
)
from api.audit import CurrentTrace
from api.deps import GatewayDep, Signer, lookup_member
from api.gateway import Gateway
from api.problems import SIGNED_PROBLEMS, Forbidden, NotFound, responses
from api.schemas import ConsentDomainPublic
from ledger.consent.agents import (
    AgentKind,
    Appointment,
    AppointmentRevocation,
    SignedAppointment,
    SignedAppointmentRevocation,
)
from ledger.consent.grants import ConsentDomain

#: The contract's own code for it (ConsentUnknownAppointment), which a relay would get anyway.
_UNKNOWN = "consent.unknown_appointment"

router = APIRouter(
    prefix="/v1/consents/appointments",
    tags=["consent"],
    responses=responses(*SIGNED_PROBLEMS),
)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=AppointmentReceiptPublic)
def relay_appointment(
    body: AppointmentCreate, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> AppointmentReceiptPublic:
    """Relay a patient's signed appointment of a guardian or proxy; sent by the patient, the
    agent it names, or this organisation's staff. The contract checks the patient signed it."""
    _may_relay(gateway, signer, body.patient, body.agent)
    appointment = Appointment(
        patient=body.patient,  # type: ignore[arg-type]
        agent=body.agent,  # type: ignore[arg-type]
        kind=AgentKind[body.kind.upper()],
        expires_at=body.expires_at,
        nonce=int(body.nonce),
    )
    appointment_id = "0x" + appointment.appointment_id.hex()
    trace.patient, trace.grant = appointment.patient, f"appointment:{appointment_id}"
    signed = SignedAppointment(appointment, _domain(body.domain), bytes.fromhex(body.signature[2:]))
    fn = gateway.chain.contract("ConsentRegistry").functions.appointAgent(*signed.as_args())
    gateway.chain.preflight(fn)
    receipt = gateway.chain.transact(fn)
    return AppointmentReceiptPublic(
        appointment_id=appointment_id,
        transaction=receipt["transactionHash"].to_0x_hex(),
        block=receipt["blockNumber"],
    )


@router.post(
    "/revocations", status_code=status.HTTP_201_CREATED, response_model=AppointmentReceiptPublic
)
def relay_appointment_revocation(
    body: AppointmentRevocationCreate, signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> AppointmentReceiptPublic:
    """Relay a patient's signed end of an appointment; the agent's grants lapse with it."""
    consent = gateway.chain.contract("ConsentRegistry")
    appointment_id = bytes.fromhex(body.appointment_id[2:])
    patient, _kind, _expires_at, _revoked, agent = gateway.chain.call(
        consent.functions.appointment(appointment_id)
    )
    if int(patient, 16) == 0:
        raise NotFound(f"appointment {body.appointment_id} was never relayed", _UNKNOWN)
    _may_relay(gateway, signer, patient, agent)
    trace.patient, trace.grant = patient, f"appointment:{body.appointment_id}"
    signed = SignedAppointmentRevocation(
        AppointmentRevocation(appointment_id, int(body.nonce)),
        _domain(body.domain),
        bytes.fromhex(body.signature[2:]),
    )
    fn = consent.functions.revokeAppointment(*signed.as_args())
    gateway.chain.preflight(fn)
    receipt = gateway.chain.transact(fn)
    return AppointmentReceiptPublic(
        appointment_id=body.appointment_id,
        transaction=receipt["transactionHash"].to_0x_hex(),
        block=receipt["blockNumber"],
    )


@router.get("", response_model=list[AppointmentPublic])
def list_appointments(
    signer: Signer, gateway: GatewayDep, trace: CurrentTrace
) -> list[AppointmentPublic]:
    """The appointments the signer made as a patient, and those naming the signer as agent."""
    trace.view = "appointments"
    consent = gateway.chain.contract("ConsentRegistry")
    event = consent.events.AgentAppointed()
    start = gateway.chain.deployment.block_number
    logs = [
        *event.get_logs(from_block=start, argument_filters={"patient": signer}),
        *event.get_logs(from_block=start, argument_filters={"agent": signer}),
    ]
    now = int(time.time())
    found: list[AppointmentPublic] = []
    for log in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
        appointment_id = bytes(log["args"]["appointmentId"])
        patient, kind, expires_at, revoked, agent = gateway.chain.call(
            consent.functions.appointment(appointment_id)
        )
        found.append(
            AppointmentPublic(
                appointment_id="0x" + appointment_id.hex(),
                patient=patient,
                agent=agent,
                kind=_kind_name(AgentKind(kind)),
                expires_at=expires_at,
                status="revoked" if revoked else "expired" if expires_at <= now else "active",
            )
        )
    return found


def _may_relay(gateway: Gateway, signer: str, patient: str, agent: str) -> None:
    if signer.lower() in (str(patient).lower(), str(agent).lower()):
        return
    member = lookup_member(gateway, signer)
    if member is None or member.org != gateway.org.address:
        raise Forbidden(
            "consent.not_relayer", "only the patient, the agent or this organisation's staff"
        )


def _domain(domain: ConsentDomainPublic) -> ConsentDomain:
    return ConsentDomain(domain.chainId, domain.verifyingContract)  # type: ignore[arg-type]


def _kind_name(kind: AgentKind) -> AgentKindName:
    return kind.name.lower()  # type: ignore[return-value]
