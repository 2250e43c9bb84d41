"""Key material: V3 keystore files, X25519 keys derived from Ethereum keys, patient pseudonyms.

Every derivation is HKDF-SHA256 with a ``medledger/v1/...`` label, so each key has one use.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import TypedDict

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_keys.constants import SECPK1_N
from eth_utils.address import is_address, to_canonical_address

from ledger.errors import CryptoError, KeyFileError
from ledger.types import Address

__all__ = [
    "PatientKeys",
    "PublicIdentity",
    "load_key",
    "new_key_file",
    "pseudonym_key",
    "x25519_from_eth_key",
    "x25519_public_from_hex",
    "x25519_public_hex",
]

_X25519_INFO = b"medledger/v1/x25519"
_PSEUDONYM_INFO = b"medledger/v1/pseudonym/"
_KEY_BYTES = 32
_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


class PublicIdentity(TypedDict):
    """What a patient hands a hospital: the pseudonym's address and its X25519 key."""

    address: Address
    encryption_key: str


def x25519_from_eth_key(private_key_bytes: bytes) -> X25519PrivateKey:
    """The X25519 key that belongs to an Ethereum private key."""
    return X25519PrivateKey.from_private_bytes(
        _hkdf(_secret(private_key_bytes, "private key"), _X25519_INFO)
    )


def pseudonym_key(master_secret: bytes, hospital: str) -> LocalAccount:
    """The patient's account at ``hospital``: unlinkable to their accounts at other hospitals.

    HKDF output outside 1..n-1 of secp256k1 (probability about 2**-128) raises CryptoError
    rather than being re-derived: a silent retry would make two implementations disagree.
    """
    if not is_address(hospital):
        raise ValueError(f"hospital must be an Ethereum address, got {hospital!r}")
    info = _PSEUDONYM_INFO + to_canonical_address(hospital)
    key = _hkdf(_secret(master_secret, "master secret"), info)
    if not 0 < int.from_bytes(key, "big") < SECPK1_N:
        raise CryptoError("derived pseudonym key is outside the secp256k1 range")
    account: LocalAccount = Account.from_key(key)
    return account


def x25519_public_hex(public_key: X25519PublicKey) -> str:
    """``0x`` + hex of the raw 32-byte key."""
    return "0x" + public_key.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def x25519_public_from_hex(text: str) -> X25519PublicKey:
    """The key ``x25519_public_hex`` wrote; ValueError for anything else."""
    if not _HEX32.fullmatch(text):
        raise ValueError("an X25519 public key is 0x + 64 hex digits")
    return X25519PublicKey.from_public_bytes(bytes.fromhex(text[2:]))


class PatientKeys:
    """A patient's keys at every hospital, derived from the one secret in their key file."""

    __slots__ = ("_master",)

    def __init__(self, master_secret: bytes) -> None:
        self._master = _secret(master_secret, "master secret")

    def pseudonym(self, hospital: str) -> LocalAccount:
        """The account the chain records as this patient at ``hospital``."""
        return pseudonym_key(self._master, hospital)

    def encryption_key(self, hospital: str) -> X25519PrivateKey:
        """The X25519 key of the pseudonym at ``hospital``, for opening its envelopes."""
        return x25519_from_eth_key(bytes(self.pseudonym(hospital).key))

    def public_identity(self, hospital: str) -> PublicIdentity:
        """The pseudonym's address and encryption key, for enrolment at ``hospital``."""
        return PublicIdentity(
            address=Address(self.pseudonym(hospital).address),
            encryption_key=x25519_public_hex(self.encryption_key(hospital).public_key()),
        )


def new_key_file(
    path: str | os.PathLike[str], passphrase: str, *, iterations: int | None = None
) -> Address:
    """Write a new random key to ``path`` as a V3 keystore (scrypt) and return its address.

    The file is written whole or not at all, readable by its owner only, and never replaces an
    existing file. ``iterations`` is scrypt's ``n``; leave it to eth-account's default except in
    tests.
    """
    target = Path(path)
    account = Account.create()
    keystore = Account.encrypt(account.key, passphrase, kdf="scrypt", iterations=iterations)
    try:
        _write_new_private(target, json.dumps(keystore).encode())
    except FileExistsError as exc:
        raise KeyFileError(f"{target} already exists; a key file is never overwritten") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot write {target}: {exc.strerror}") from exc
    return Address(account.address)


def load_key(path: str | os.PathLike[str], passphrase: str) -> bytes:
    """The private key in the V3 keystore at ``path``."""
    target = Path(path)
    try:
        keystore = json.loads(target.read_bytes())
    except OSError as exc:
        raise KeyFileError(f"cannot read {target}: {exc.strerror}") from exc
    except ValueError as exc:
        raise KeyFileError(f"{target} is not a JSON keystore") from exc
    try:
        return bytes(Account.decrypt(keystore, passphrase))
    except ValueError as exc:
        # The MAC cannot tell a wrong passphrase from damaged ciphertext.
        raise KeyFileError(f"wrong passphrase, or {target} is damaged") from exc
    except (KeyError, TypeError, NotImplementedError) as exc:
        raise KeyFileError(f"{target} is not a V3 keystore eth-account can read") from exc


def _hkdf(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=_KEY_BYTES, salt=None, info=info).derive(secret)


def _secret(secret: bytes, name: str) -> bytes:
    if len(secret) != _KEY_BYTES:
        raise ValueError(f"{name} must be {_KEY_BYTES} bytes, got {len(secret)}")
    return bytes(secret)


def _write_new_private(target: Path, content: bytes) -> None:
    # mkstemp creates the file 0600; link() publishes it atomically and fails if the name exists.
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
