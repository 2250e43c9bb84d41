"""Wire shapes of guardians' and proxies' appointments (EIP-712 `Appointment`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api.schemas import Address, Bytes32, ConsentDomainPublic, Signature, Uint256Text, _Model

AgentKindName = Literal["guardian", "proxy"]


class AppointmentCreate(_Model):
    """An appointment as the patient signed it, for the gateway to relay on chain."""

    patient: Address
    agent: Address
    kind: AgentKindName
    expires_at: int = Field(ge=0, le=2**53 - 1)
    nonce: Uint256Text
    domain: ConsentDomainPublic
    signature: Signature


class AppointmentRevocationCreate(_Model):
    """An appointment's end as the patient signed it (EIP-712 `RevokeAppointment`)."""

    appointment_id: Bytes32
    nonce: Uint256Text
    domain: ConsentDomainPublic
    signature: Signature


class AppointmentReceiptPublic(_Model):
    appointment_id: str
    transaction: str
    block: int


class AppointmentPublic(_Model):
    """An appointment as the chain holds it, and whether it is in force now."""

    appointment_id: str
    patient: str
    agent: str
    kind: AgentKindName
    expires_at: int
    status: Literal["active", "expired", "revoked"]
