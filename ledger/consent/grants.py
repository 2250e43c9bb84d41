"""Patient consent: the EIP-712 grants and revocations a pseudonym key signs for ConsentRegistry.

Typed data is defined here once; the patient's wallet, the CLI and the gateway all sign or read it
from here. Any member relays what a patient signed, so the patient needs no account balance.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_canonical_address, to_checksum_address

from ledger.crypto.typed_data import ContractDomain

__all__ = [
    "CONSENT_CONTRACT",
    "GRANT_TYPES",
    "REVOKE_TYPES",
    "ConsentDomain",
    "Grant",
    "Purpose",
    "Revocation",
    "Scope",
    "ScopeKind",
    "SignedGrant",
    "SignedRevocation",
    "sign_grant",
    "sign_revocation",
]

#: The contract's name in a `Deployment`.
CONSENT_CONTRACT = "ConsentRegistry"


class ScopeKind(IntEnum):
    """Mirrors IConsentRegistry.ScopeKind: what a grant opens."""

    RECORD = 1
    HOSPITAL_RECORDS = 2
    PRESCRIPTIONS = 3
    CLAIMS = 4


class Purpose(IntEnum):
    """Mirrors IConsentRegistry.Purpose: why the grantee may read."""

    TREATMENT = 1
    CLAIM_VERIFICATION = 2
    AUDIT = 3
    RESEARCH = 4


GRANT_TYPES: dict[str, list[dict[str, str]]] = {
    "Grant": [
        {"name": "patient", "type": "address"},
        {"name": "grantee", "type": "address"},
        {"name": "scopeKind", "type": "uint8"},
        {"name": "scope", "type": "bytes32"},
        {"name": "purpose", "type": "uint8"},
        {"name": "expiresAt", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
    ]
}
REVOKE_TYPES: dict[str, list[dict[str, str]]] = {
    "Revoke": [
        {"name": "grantId", "type": "bytes32"},
        {"name": "nonce", "type": "uint256"},
    ]
}
_DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
_UINT64_MAX = 2**64 - 1
_UINT256_MAX = 2**256 - 1


@dataclass(frozen=True)
class ConsentDomain(ContractDomain):
    """The EIP-712 domain consents are signed under: one ConsentRegistry on one chain."""

    NAME = "MedLedger Consent"
    CONTRACT = CONSENT_CONTRACT


@dataclass(frozen=True)
class Scope:
    """What a grant opens: one record (``ref`` = its id), or a category of what one hospital holds
    for the signing pseudonym (``ref`` = the hospital's address, left-padded to 32 bytes)."""

    kind: ScopeKind
    ref: bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ScopeKind(self.kind))
        if len(self.ref) != 32:
            raise ValueError(f"a scope is 32 bytes, got {len(self.ref)}")
        if self.kind is not ScopeKind.RECORD and any(self.ref[:12]):
            raise ValueError(f"a {self.kind.name} scope is a left-padded hospital address")

    @classmethod
    def record(cls, record_id: bytes | str) -> Scope:
        """One record, by its 32-byte id (``bytes`` or ``0x`` + 64 hex digits)."""
        if isinstance(record_id, str):
            record_id = bytes.fromhex(record_id.removeprefix("0x"))
        return cls(ScopeKind.RECORD, bytes(record_id))

    @classmethod
    def category(cls, kind: ScopeKind, hospital: str) -> Scope:
        """Category ``kind`` of what ``hospital`` holds for the pseudonym the patient has there."""
        if ScopeKind(kind) is ScopeKind.RECORD:
            raise ValueError("RECORD is not a category; use Scope.record")
        return cls(kind, bytes(12) + to_canonical_address(_address(hospital)))

    @property
    def hospital(self) -> ChecksumAddress | None:
        """The hospital a category scope names; None for a record."""
        if self.kind is ScopeKind.RECORD:
            return None
        return to_checksum_address(self.ref[12:])


@dataclass(frozen=True)
class Grant:
    """The terms a patient signs: IConsentRegistry.Grant. Its id is their EIP-712 ``hashStruct``."""

    patient: ChecksumAddress
    grantee: ChecksumAddress
    scope: Scope
    purpose: Purpose
    expires_at: int
    nonce: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "patient", _address(self.patient))
        object.__setattr__(self, "grantee", _address(self.grantee))
        object.__setattr__(self, "purpose", Purpose(self.purpose))
        _check_range("expires_at", self.expires_at, _UINT64_MAX)
        _check_range("nonce", self.nonce, _UINT256_MAX)

    def message(self) -> dict[str, Any]:
        """The EIP-712 message."""
        return {
            "patient": self.patient,
            "grantee": self.grantee,
            "scopeKind": int(self.scope.kind),
            "scope": self.scope.ref,
            "purpose": int(self.purpose),
            "expiresAt": self.expires_at,
            "nonce": self.nonce,
        }

    def typed_data(self, domain: ConsentDomain) -> dict[str, Any]:
        """The whole EIP-712 document the patient's key signs, in Python values (bytes, ints)."""
        return _typed_data(domain, GRANT_TYPES, "Grant", self.message())

    @property
    def grant_id(self) -> bytes:
        """The id ConsentRegistry stores the grant under; the same under every domain."""
        return bytes(_signable(_typed_data(None, GRANT_TYPES, "Grant", self.message())).body)

    def as_args(self) -> tuple[ChecksumAddress, ChecksumAddress, int, bytes, int, int, int]:
        """The contract's ``Grant`` struct."""
        return (
            self.patient,
            self.grantee,
            int(self.scope.kind),
            self.scope.ref,
            int(self.purpose),
            self.expires_at,
            self.nonce,
        )


@dataclass(frozen=True)
class Revocation:
    """A revocation a patient signs: IConsentRegistry.Revocation."""

    grant_id: bytes
    nonce: int

    def __post_init__(self) -> None:
        if len(self.grant_id) != 32:
            raise ValueError(f"a grant id is 32 bytes, got {len(self.grant_id)}")
        _check_range("nonce", self.nonce, _UINT256_MAX)

    def message(self) -> dict[str, Any]:
        """The EIP-712 message."""
        return {"grantId": self.grant_id, "nonce": self.nonce}

    def typed_data(self, domain: ConsentDomain) -> dict[str, Any]:
        """The whole EIP-712 document the patient's key signs, in Python values (bytes, ints)."""
        return _typed_data(domain, REVOKE_TYPES, "Revoke", self.message())

    def as_args(self) -> tuple[bytes, int]:
        """The contract's ``Revocation`` struct."""
        return (self.grant_id, self.nonce)


@dataclass(frozen=True)
class SignedGrant:
    """A grant with the patient's signature and the domain it was made for, ready to relay."""

    grant: Grant
    domain: ConsentDomain
    signature: bytes

    @property
    def grant_id(self) -> bytes:
        return self.grant.grant_id

    def as_args(self) -> tuple[tuple[Any, ...], tuple[int, ChecksumAddress], bytes]:
        """The arguments of ``ConsentRegistry.grantConsent``."""
        return (self.grant.as_args(), self.domain.as_args(), self.signature)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of the gateway's ``POST /v1/consents`` (nonce as a decimal string: it
        may exceed what JSON numbers carry exactly)."""
        grant = self.grant
        return {
            "patient": grant.patient,
            "grantee": grant.grantee,
            "scope_kind": grant.scope.kind.name.lower(),
            "scope": "0x" + grant.scope.ref.hex(),
            "purpose": grant.purpose.name.lower(),
            "expires_at": grant.expires_at,
            "nonce": str(grant.nonce),
            "domain": self.domain.to_wire(),
            "signature": "0x" + self.signature.hex(),
        }


@dataclass(frozen=True)
class SignedRevocation:
    """A revocation with the patient's signature and the domain it was made for, ready to relay."""

    revocation: Revocation
    domain: ConsentDomain
    signature: bytes

    def as_args(self) -> tuple[tuple[bytes, int], tuple[int, ChecksumAddress], bytes]:
        """The arguments of ``ConsentRegistry.revokeConsent``."""
        return (self.revocation.as_args(), self.domain.as_args(), self.signature)

    def to_wire(self) -> dict[str, Any]:
        """The JSON body of the gateway's ``POST /v1/consents/revocations``."""
        return {
            "grant_id": "0x" + self.revocation.grant_id.hex(),
            "nonce": str(self.revocation.nonce),
            "domain": self.domain.to_wire(),
            "signature": "0x" + self.signature.hex(),
        }


def sign_grant(
    pseudonym: LocalAccount,
    domain: ConsentDomain,
    *,
    grantee: str,
    scope: Scope,
    purpose: Purpose,
    expires_at: int,
    nonce: int | None = None,
    patient: str | None = None,
) -> SignedGrant:
    """The patient's side: sign a grant with the pseudonym key the scope's hospital knows them by.

    An agent (guardian, proxy) signs with its own key and names the ``patient`` it acts for; the
    contract takes its signature while its appointment is in force (``ledger.consent.agents``).
    ``nonce`` defaults to a random 256-bit number: nonces are unordered, so grants signed offline
    can be relayed in any order without the wallet asking the chain which nonce comes next.
    """
    grant = Grant(
        patient=_address(patient) if patient is not None else pseudonym.address,
        grantee=_address(grantee),
        scope=scope,
        purpose=purpose,
        expires_at=expires_at,
        nonce=_new_nonce() if nonce is None else nonce,
    )
    return SignedGrant(grant, domain, _sign(pseudonym, grant.typed_data(domain)))


def sign_revocation(
    pseudonym: LocalAccount, domain: ConsentDomain, grant_id: bytes, *, nonce: int | None = None
) -> SignedRevocation:
    """The patient's side: revoke ``grant_id`` with the pseudonym key that signed the grant."""
    revocation = Revocation(grant_id, _new_nonce() if nonce is None else nonce)
    return SignedRevocation(revocation, domain, _sign(pseudonym, revocation.typed_data(domain)))


def _typed_data(
    domain: ConsentDomain | None,
    types: dict[str, list[dict[str, str]]],
    primary_type: str,
    message: dict[str, Any],
) -> dict[str, Any]:
    # Without a domain the document still hashes its message: hashStruct never depends on it.
    return {
        "types": {"EIP712Domain": [] if domain is None else _DOMAIN_TYPE, **types},
        "primaryType": primary_type,
        "domain": {} if domain is None else domain.as_eip712(),
        "message": message,
    }


def _signable(typed_data: dict[str, Any]) -> SignableMessage:
    return encode_typed_data(full_message=typed_data)


def _sign(account: LocalAccount, typed_data: dict[str, Any]) -> bytes:
    # eth-account signs with low s (EIP-2) and v of 27 or 28: the only form the contract accepts.
    return bytes(account.sign_message(_signable(typed_data)).signature)


def _new_nonce() -> int:
    return secrets.randbits(256)


def _address(value: str) -> ChecksumAddress:
    if not is_address(value):
        raise ValueError(f"not an Ethereum address: {value!r}")
    return to_checksum_address(value)


def _check_range(name: str, value: int, maximum: int) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        raise ValueError(f"{name} must be an integer from 0 to {maximum}, got {value!r}")
