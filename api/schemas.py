"""Wire shapes, one family per resource. No ...Public model carries key material or ciphertext."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Address = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x" + "ab" * 20])]
Bytes32 = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{64}$", examples=["0x" + "00" * 32])]
Signature = Annotated[str, Field(pattern=r"^0x[0-9a-fA-F]{130}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProblemPublic(_Model):
    """An RFC 9457 problem: the body of every error response, with a stable machine code."""

    type: str = Field(examples=["about:blank"])
    title: str
    status: int = Field(ge=400, le=599)
    detail: str
    code: str = Field(examples=["auth.expired"])
    error: str | None = Field(default=None, description="a contract revert: its custom error")
    arguments: dict[str, str | bool] | None = Field(
        default=None, description="a contract revert: its arguments by name"
    )


class DomainPublic(_Model):
    name: str
    version: str
    chainId: int
    verifyingContract: str
    salt: str  # the gateway's organisation address, left-padded: binds a signature to this gateway


class HealthPublic(_Model):
    status: str
    organisation: str
    chain_id: int
    block: int


class PatientEnrol(_Model):
    """A patient's pseudonym and encryption key for this hospital, signed by the pseudonym key."""

    pseudonym: Address
    encryption_key: Bytes32
    signature: Signature


class PatientPublic(_Model):
    pseudonym: str
    encryption_key: str
    enrolled_at: int


class RecordReceiptPublic(_Model):
    """What a write returns once the version is anchored."""

    record_id: str
    version: int
    cid: str
    commitment: str
    transaction: str
    block: int


class RecordDocumentPublic(_Model):
    """A decrypted version with what `medledger verify` needs to check it against the chain."""

    record_id: str
    version: int
    hospital: str
    patient: str
    cid: str
    salt: str
    resource: dict[str, Any]


class VersionPublic(_Model):
    version: int
    commitment: str
    cid: str
    hospital: str
    author: str
    anchored_at: int
    block: int
    content: str | None


class VerificationPublic(_Model):
    """What any member may learn about a record: that it is anchored, by whom, when, and intact."""

    record_id: str
    anchored: bool
    hospital: str
    patient: str
    latest_version: int
    intact: bool
    versions: list[VersionPublic]
