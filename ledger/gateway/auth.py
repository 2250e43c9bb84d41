"""Request signing for the gateway API (EIP-712), and strict recovery of any signed typed data.

    LedgerError
    └── AuthError
        ├── AuthMissing
        ├── AuthMalformed
        ├── AuthBadSignature
        ├── AuthSignerMismatch
        ├── AuthExpired
        └── AuthReplayed

Every ``AuthError`` is the caller's fault: the request or message does not prove who sent it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.exceptions import EncodingError
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_typing import ChecksumAddress
from eth_utils.address import is_checksum_address, to_checksum_address
from eth_utils.exceptions import ValidationError

from ledger.errors import LedgerError
from ledger.gateway._nonces import NonceStore, SqliteNonceStore

__all__ = [
    "NONCE_HEADER",
    "REQUEST_TYPES",
    "SIGNATURE_HEADER",
    "SIGNER_HEADER",
    "TIMESTAMP_HEADER",
    "AuthBadSignature",
    "AuthError",
    "AuthExpired",
    "AuthMalformed",
    "AuthMissing",
    "AuthReplayed",
    "AuthSignerMismatch",
    "GatewayDomain",
    "NonceStore",
    "SqliteNonceStore",
    "body_hash",
    "recover_request",
    "recover_typed_data",
    "request_target",
    "sign_request",
    "verify_request",
]


class AuthError(LedgerError):
    """A request or signed message does not authenticate."""

    code = "auth.error"


class AuthMissing(AuthError):
    """One or more of the signing headers is absent."""

    code = "auth.missing"


class AuthMalformed(AuthError):
    """A signing header or signed field is not in its required format."""

    code = "auth.malformed"


class AuthBadSignature(AuthError):
    """The signature does not recover, is malleable (high s), or has a v other than 27 or 28."""

    code = "auth.bad_signature"


class AuthSignerMismatch(AuthError):
    """The signature recovers to an account other than the one named as signer."""

    code = "auth.signer_mismatch"


class AuthExpired(AuthError):
    """The request's timestamp lies outside the allowed clock skew."""

    code = "auth.expired"


class AuthReplayed(AuthError):
    """The signer has already used this nonce."""

    code = "auth.replayed"


SIGNER_HEADER = "X-MedLedger-Signer"
TIMESTAMP_HEADER = "X-MedLedger-Timestamp"
NONCE_HEADER = "X-MedLedger-Nonce"
SIGNATURE_HEADER = "X-MedLedger-Signature"
_HEADERS = (SIGNER_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER)

REQUEST_TYPES: dict[str, list[dict[str, str]]] = {
    "Request": [
        {"name": "method", "type": "string"},
        {"name": "path", "type": "string"},
        {"name": "bodyHash", "type": "bytes32"},
        {"name": "timestamp", "type": "uint64"},
        {"name": "nonce", "type": "bytes32"},
    ]
}

_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_UINT64_MAX = 2**64 - 1
# Canonical decimal only, so one signature cannot travel under two spellings of its timestamp.
_TIMESTAMP_RE = re.compile(r"0|[1-9][0-9]{0,19}")
_ADDRESS_RE = re.compile(r"0x[0-9a-fA-F]{40}")
_NONCE_RE = re.compile(r"0x[0-9a-fA-F]{64}")
_SIGNATURE_RE = re.compile(r"0x[0-9a-fA-F]{130}")
# EIP-712 fixes this order for the domain's fields; only the ones present are part of the type.
_DOMAIN_FIELDS = (
    ("name", "string"),
    ("version", "string"),
    ("chainId", "uint256"),
    ("verifyingContract", "address"),
    ("salt", "bytes32"),
)


@dataclass(frozen=True)
class GatewayDomain:
    """The EIP-712 domain gateway requests are signed under: a chain, its Membership contract, and
    the organisation whose gateway is addressed (as the domain ``salt``), so that a request signed
    for one gateway cannot be replayed at another.
    """

    chain_id: int
    verifying_contract: ChecksumAddress
    gateway: ChecksumAddress

    NAME = "MedLedger Gateway"
    VERSION = "1"

    def __post_init__(self) -> None:
        if self.chain_id <= 0:
            raise ValueError(f"chain id must be positive, got {self.chain_id}")
        object.__setattr__(self, "verifying_contract", to_checksum_address(self.verifying_contract))
        object.__setattr__(self, "gateway", to_checksum_address(self.gateway))

    def as_eip712(self) -> dict[str, Any]:
        """The domain as EIP-712 names it; also the body of the gateway's ``GET /v1/domain``."""
        return {
            "name": self.NAME,
            "version": self.VERSION,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
            "salt": "0x" + bytes(12).hex() + self.gateway[2:].lower(),
        }

    @classmethod
    def from_eip712(cls, data: Mapping[str, Any]) -> GatewayDomain:
        """Parse `as_eip712` output; ValueError if it names another application or version."""
        if data.get("name") != cls.NAME or data.get("version") != cls.VERSION:
            raise ValueError(f"not a {cls.NAME!r} v{cls.VERSION} domain: {dict(data)!r}")
        chain_id, contract, salt = (
            data.get("chainId"),
            data.get("verifyingContract"),
            data.get("salt"),
        )
        if type(chain_id) is not int or not isinstance(contract, str) or not isinstance(salt, str):
            raise ValueError(
                f"domain needs an integer chainId, an address and a salt: {dict(data)!r}"
            )
        if len(salt) != 66 or salt[:26] != "0x" + "00" * 12:
            raise ValueError(f"domain salt must be a left-padded organisation address: {salt!r}")
        return cls(chain_id, to_checksum_address(contract), to_checksum_address("0x" + salt[26:]))


def request_target(raw_path: str | bytes, query_string: str | bytes = "") -> str:
    """The signed ``path``: the percent-encoded path as sent, plus ``?query`` if non-empty."""
    try:
        path = raw_path.decode("ascii") if isinstance(raw_path, bytes) else raw_path
        query = query_string.decode("ascii") if isinstance(query_string, bytes) else query_string
    except UnicodeDecodeError as exc:
        raise AuthMalformed("request target is not ASCII") from exc
    # An empty query is dropped because servers cannot tell "/x?" from "/x" once parsed.
    return f"{path}?{query}" if query else path


def body_hash(body: bytes) -> bytes:
    """SHA-256 of the raw body bytes; an absent body hashes as ``b""``."""
    return hashlib.sha256(body).digest()


def sign_request(
    account: LocalAccount,
    domain: GatewayDomain,
    method: str,
    path: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    nonce: bytes | None = None,
) -> dict[str, str]:
    """Sign one request; return the four headers to send with it."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = secrets.token_bytes(32) if nonce is None else nonce
    if len(nonce) != 32:
        raise ValueError("nonce must be 32 bytes")
    message = _request_message(method, path, body, timestamp, nonce)
    signable = encode_typed_data(domain.as_eip712(), REQUEST_TYPES, message)
    signature = bytes(account.sign_message(signable).signature)
    return {
        SIGNER_HEADER: account.address,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: "0x" + nonce.hex(),
        SIGNATURE_HEADER: "0x" + signature.hex(),
    }


def verify_request(
    headers: Mapping[str, str],
    domain: GatewayDomain,
    method: str,
    path: str,
    body: bytes,
    *,
    now: int,
    max_skew_s: int,
    nonces: NonceStore,
) -> ChecksumAddress:
    """Authenticate a request and return its signer; membership is the caller's to check.

    Checks run cheapest first, and the nonce is consumed last so a request that fails any other
    check cannot use up a nonce belonging to a genuine one.
    """
    signer, timestamp, nonce = _checked(headers, domain, method, path, body, now, max_skew_s)
    # Until its timestamp leaves the skew window the same request would pass every check above.
    if not nonces.consume(signer, nonce, timestamp + max_skew_s):
        raise AuthReplayed(f"nonce 0x{nonce.hex()} already used by {signer}")
    return signer


def recover_request(
    headers: Mapping[str, str],
    domain: GatewayDomain,
    method: str,
    path: str,
    body: bytes,
    *,
    now: int,
    max_skew_s: int,
) -> ChecksumAddress:
    """Every check of `verify_request` but the nonce: who signed a request addressed to another
    gateway (``domain`` is that gateway's), which a relay may check but must leave to that
    gateway to consume."""
    return _checked(headers, domain, method, path, body, now, max_skew_s)[0]


def _checked(
    headers: Mapping[str, str],
    domain: GatewayDomain,
    method: str,
    path: str,
    body: bytes,
    now: int,
    max_skew_s: int,
) -> tuple[ChecksumAddress, int, bytes]:
    signer, timestamp, nonce, signature = _parse_headers(headers)
    if abs(now - timestamp) > max_skew_s:
        raise AuthExpired(f"timestamp {timestamp} is more than {max_skew_s}s from {now}")
    message = _request_message(method, path, body, timestamp, nonce)
    recovered = recover_typed_data(domain.as_eip712(), REQUEST_TYPES, "Request", message, signature)
    if recovered != signer:
        raise AuthSignerMismatch(f"signature is by {recovered}, not {signer}")
    return signer, timestamp, nonce


def recover_typed_data(
    domain: Mapping[str, Any],
    types: Mapping[str, Sequence[Mapping[str, str]]],
    primary_type: str,
    message: Mapping[str, Any],
    signature: bytes | str,
) -> ChecksumAddress:
    """Recover who signed EIP-712 ``message``, refusing any signature not in canonical 65-byte form.

    ``types`` omits ``EIP712Domain``; it is derived from the fields ``domain`` has. A ``str``
    signature is the wire form, ``0x`` and 130 hex digits.
    """
    if isinstance(signature, str):
        if not _SIGNATURE_RE.fullmatch(signature):
            raise AuthMalformed("signature is not 0x and 130 hex digits")
        signature = bytes.fromhex(signature[2:])
    _check_signature_shape(signature)
    full_message = {
        "types": {"EIP712Domain": _domain_type(domain), **types},
        "primaryType": primary_type,
        "domain": dict(domain),
        "message": dict(message),
    }
    try:
        signable = encode_typed_data(full_message=full_message)
    except (ValueError, TypeError, EncodingError, ValidationError) as exc:
        raise AuthMalformed(f"typed data does not encode: {exc}") from exc
    try:
        return to_checksum_address(Account.recover_message(signable, signature=signature))
    except (BadSignature, ValidationError, ValueError) as exc:
        raise AuthBadSignature("signature does not recover to any account") from exc


def _parse_headers(headers: Mapping[str, str]) -> tuple[ChecksumAddress, int, bytes, bytes]:
    found: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in found:
            # A repeated header leaves "which one was signed" open; refuse rather than pick one.
            raise AuthMalformed(f"header {name} is repeated")
        found[name.lower()] = value.strip()
    missing = [name for name in _HEADERS if name.lower() not in found]
    if missing:
        raise AuthMissing(f"missing headers: {', '.join(missing)}")
    signer, timestamp, nonce, signature = (found[name.lower()] for name in _HEADERS)
    if not _is_address_text(signer):
        raise AuthMalformed(f"{SIGNER_HEADER} is not an address (or has a bad EIP-55 checksum)")
    if not _TIMESTAMP_RE.fullmatch(timestamp) or int(timestamp) > _UINT64_MAX:
        raise AuthMalformed(f"{TIMESTAMP_HEADER} is not a uint64 count of seconds")
    if not _NONCE_RE.fullmatch(nonce):
        raise AuthMalformed(f"{NONCE_HEADER} is not 0x and 64 hex digits")
    if not _SIGNATURE_RE.fullmatch(signature):
        raise AuthMalformed(f"{SIGNATURE_HEADER} is not 0x and 130 hex digits")
    return (
        to_checksum_address(signer),
        int(timestamp),
        bytes.fromhex(nonce[2:]),
        bytes.fromhex(signature[2:]),
    )


def _is_address_text(text: str) -> bool:
    if not _ADDRESS_RE.fullmatch(text):
        return False
    digits = text[2:]
    # Single-case hex carries no checksum; mixed case must be a correct EIP-55 checksum.
    return digits in (digits.lower(), digits.upper()) or is_checksum_address(text)


def _request_message(
    method: str, path: str, body: bytes, timestamp: int, nonce: bytes
) -> dict[str, Any]:
    return {
        "method": method.upper(),
        "path": path,
        "bodyHash": body_hash(body),
        "timestamp": timestamp,
        "nonce": nonce,
    }


def _domain_type(domain: Mapping[str, Any]) -> list[dict[str, str]]:
    unknown = set(domain) - {name for name, _ in _DOMAIN_FIELDS}
    if unknown:
        raise AuthMalformed(f"unknown EIP-712 domain fields: {sorted(unknown)}")
    return [{"name": name, "type": kind} for name, kind in _DOMAIN_FIELDS if name in domain]


def _check_signature_shape(signature: bytes) -> None:
    if len(signature) != 65:
        raise AuthMalformed(f"signature is {len(signature)} bytes, not 65")
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if v not in (27, 28):
        raise AuthBadSignature(f"signature v is {v}, not 27 or 28")
    if not 0 < r < _SECP256K1_N:
        raise AuthBadSignature("signature r is out of range")
    # EIP-2: (r, n - s) verifies too, so accepting both halves would give every signature a twin.
    if not 0 < s <= _SECP256K1_N // 2:
        raise AuthBadSignature("signature s is zero or above half the curve order (EIP-2)")
