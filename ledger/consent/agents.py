"""Guardians and proxies: the EIP-712 appointment a patient's pseudonym key signs for
ConsentRegistry, its revocation, and what the chain says is in force.

An agent has its own key: it signs grants and revocations for the patient (``sign_grant(...,
patient=...)``) and reads through the gateway as itself, so every log names it. What each kind may
do is in IConsentRegistry.AgentKind and docs/rules.md ("Guardians and proxies").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress

from ledger.consent.grants import (
    _UINT64_MAX,
    _UINT256_MAX,
    CONSENT_CONTRACT,
    ConsentDomain,
    _address,
    _check_range,
    _new_nonce,
    _sign,
    _signable,
    _typed_data,
)

if TYPE_CHECKING:
    from ledger.chain.connection import Chain

__all__ = [
    "APPOINTMENT_TYPES",
    "REVOKE_APPOINTMENT_TYPES",
    "AgentKind",
    "Appointment",
    "AppointmentRevocation",
    "SignedAppointment",
    "SignedAppointmentRevocation",
    "agent_in_force",
    "guardian_in_force",
    "sign_appointment",
    "sign_appointment_revocation",
]

APPOINTMENT_TYPES: dict[str, list[dict[str, str]]] = {
    "Appointment": [
        {"name": "patient", "type": "address"},
        {"name": "agent", "type": "address"},
        {"name": "kind", "type": "uint8"},
        {"name": "expiresAt", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ]
}
REVOKE_APPOINTMENT_TYPES: dict[str, list[dict[str, str]]] = {
    "RevokeAppointment": [
        {"name": "appointmentId", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
    ]
}


class AgentKind(IntEnum):
    """Mirrors IConsentRegistry.AgentKind. A guardian grants for any purpose and is the one a
    young child is seen online with; a proxy grants for treatment only. Both revoke and read."""

    GUARDIAN = 1
    PROXY = 2


@dataclass(frozen=True)
class Appointment:
    """What a patient signs: IConsentRegistry.Appointment. Its id is its EIP-712 ``hashStruct``."""

    patient: ChecksumAddress
    agent: ChecksumAddress
    kind: AgentKind
    expires_at: int
    nonce: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient", _address(self.patient))
        object.__setattr__(self, "agent", _address(self.agent))
        object.__setattr__(self, "kind", AgentKind(self.kind))
        _check_range("expires_at", self.expires_at, _UINT64_MAX)
        _check_range("nonce", self.nonce, _UINT256_MAX)

    def message(self) -> dict[str, Any]:
        return {
            "patient": self.patient,
            "agent": self.agent,
            "kind": int(self.kind),
            "expiresAt": self.expires_at,
            "nonce": self.nonce,
        }

    def typed_data(self, domain: ConsentDomain) -> dict[str, Any]:
        return _typed_data(domain, APPOINTMENT_TYPES, "Appointment", self.message())

    @property
    def appointment_id(self) -> bytes:
        """The id ConsentRegistry stores the appointment under; the same under every domain."""
        return bytes(
            _signable(_typed_data(None, APPOINTMENT_TYPES, "Appointment", self.message())).body
        )

    def as_args(self) -> tuple[ChecksumAddress, ChecksumAddress, int, int, int]:
        return (self.patient, self.agent, int(self.kind), self.expires_at, self.nonce)


@dataclass(frozen=True)
class AppointmentRevocation:
    """An appointment's end, signed by its patient: IConsentRegistry.AppointmentRevocation."""

    appointment_id: bytes
    nonce: int

    def __post_init__(self) -> None:
        if len(self.appointment_id) != 32:
            raise ValueError(f"an appointment id is 32 bytes, got {len(self.appointment_id)}")
        _check_range("nonce", self.nonce, _UINT256_MAX)

    def typed_data(self, domain: ConsentDomain) -> dict[str, Any]:
        message = {"appointmentId": self.appointment_id, "nonce": self.nonce}
        return _typed_data(domain, REVOKE_APPOINTMENT_TYPES, "RevokeAppointment", message)

    def as_args(self) -> tuple[bytes, int]:
        return (self.appointment_id, self.nonce)


@dataclass(frozen=True)
class SignedAppointment:
    """An appointment with the patient's signature and its domain, ready to relay."""

    appointment: Appointment
    domain: ConsentDomain
    signature: bytes

    def as_args(self) -> tuple[tuple[Any, ...], tuple[int, ChecksumAddress], bytes]:
        """The arguments of ``ConsentRegistry.appointAgent``."""
        return (self.appointment.as_args(), self.domain.as_args(), self.signature)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of the gateway's ``POST /v1/consents/appointments``."""
        a = self.appointment
        return {
            "patient": a.patient,
            "agent": a.agent,
            "kind": a.kind.name.lower(),
            "expires_at": a.expires_at,
            "nonce": str(a.nonce),
            "domain": self.domain.to_wire(),
            "signature": "0x" + self.signature.hex(),
        }


@dataclass(frozen=True)
class SignedAppointmentRevocation:
    """An appointment's end with the patient's signature, ready to relay."""

    revocation: AppointmentRevocation
    domain: ConsentDomain
    signature: bytes

    def as_args(self) -> tuple[tuple[bytes, int], tuple[int, ChecksumAddress], bytes]:
        """The arguments of ``ConsentRegistry.revokeAppointment``."""
        return (self.revocation.as_args(), self.domain.as_args(), self.signature)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of the gateway's ``POST /v1/consents/appointments/revocations``."""
        return {
            "appointment_id": "0x" + self.revocation.appointment_id.hex(),
            "nonce": str(self.revocation.nonce),
            "domain": self.domain.to_wire(),
            "signature": "0x" + self.signature.hex(),
        }


def sign_appointment(
    pseudonym: LocalAccount,
    domain: ConsentDomain,
    *,
    agent: str,
    kind: AgentKind,
    expires_at: int,
    nonce: int | None = None,
) -> SignedAppointment:
    """The patient's side: appoint ``agent`` with the pseudonym key a hospital knows them by."""
    appointment = Appointment(
        patient=pseudonym.address,
        agent=_address(agent),
        kind=kind,
        expires_at=expires_at,
        nonce=_new_nonce() if nonce is None else nonce,
    )
    return SignedAppointment(appointment, domain, _sign(pseudonym, appointment.typed_data(domain)))


def sign_appointment_revocation(
    pseudonym: LocalAccount,
    domain: ConsentDomain,
    appointment_id: bytes,
    *,
    nonce: int | None = None,
) -> SignedAppointmentRevocation:
    """The patient's side: end the appointment ``appointment_id``; its agent's grants lapse too."""
    revocation = AppointmentRevocation(appointment_id, _new_nonce() if nonce is None else nonce)
    return SignedAppointmentRevocation(
        revocation, domain, _sign(pseudonym, revocation.typed_data(domain))
    )


def agent_in_force(chain: Chain, patient: str, agent: str, at: int) -> tuple[AgentKind, str] | None:
    """The kind and id of ``agent``'s appointment for ``patient`` in force at ``at``, if any."""
    consent = chain.contract(CONSENT_CONTRACT)
    kind, appointment_id = chain.call(
        consent.functions.agentInForce(_address(patient), _address(agent), at)
    )
    return None if kind == 0 else (AgentKind(kind), "0x" + bytes(appointment_id).hex())


def guardian_in_force(chain: Chain, patient: str, at: int) -> str | None:
    """The id of a guardian's appointment for ``patient`` in force at ``at``, if any."""
    consent = chain.contract(CONSENT_CONTRACT)
    found, appointment_id = chain.call(consent.functions.guardianInForce(_address(patient), at))
    return "0x" + bytes(appointment_id).hex() if found else None
