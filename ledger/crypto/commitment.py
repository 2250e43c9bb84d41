"""Hiding commitments to a payload: HMAC-SHA256 keyed by a fresh 32-byte salt per version."""

from __future__ import annotations

import secrets

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, hmac

__all__ = ["SALT_BYTES", "commit", "new_salt", "salt_check", "verify_commitment"]

SALT_BYTES = 32
_SALT_CHECK_MESSAGE = b"medledger/v1/salt-check"


def new_salt() -> bytes:
    """A fresh salt from the OS's CSPRNG; never reuse one across versions."""
    return secrets.token_bytes(SALT_BYTES)


def commit(salt: bytes, canonical: bytes) -> bytes:
    """The 32-byte commitment to ``canonical`` under ``salt``."""
    return _hmac(salt, canonical).finalize()


def verify_commitment(salt: bytes, canonical: bytes, commitment: bytes) -> bool:
    """Whether ``commitment`` commits to ``canonical`` under ``salt``, compared in constant time."""
    try:
        _hmac(salt, canonical).verify(commitment)
    except InvalidSignature:
        return False
    return True


def salt_check(salt: bytes) -> bytes:
    """A value that identifies ``salt`` without revealing it or anything about the payload.

    The envelope carries it so a verifier can tell a wrong salt from an altered payload.
    """
    return _hmac(salt, _SALT_CHECK_MESSAGE).finalize()


def _hmac(salt: bytes, message: bytes) -> hmac.HMAC:
    if len(salt) != SALT_BYTES:
        # A short salt weakens the hiding property; it can only come from a caller's bug.
        raise ValueError(f"salt must be {SALT_BYTES} bytes, got {len(salt)}")
    mac = hmac.HMAC(salt, hashes.SHA256())
    mac.update(message)
    return mac
