"""Envelopes: a payload under AES-256-GCM with a fresh data key, the key HPKE-wrapped per reader,
and for the writer (optionally) AES-256-GCM-wrapped under a key-encryption key only it holds.

The wire form is RFC 8785 JSON, byte-exact (one envelope has one encoding, as content addressing
wants): ``{"v":1,"record_id":"0x..","version":n,"nonce":b64,"ciphertext":b64,
"wrapped_keys":{label:b64},...extra header}``, base64 standard with padding.

Opening authenticates the ciphertext, the nonce, the opener's own wrapped key, and the record id
and version (bound as GCM associated data and HPKE ``info``). The other recipients' wrapped keys
and the extra header are not authenticated by the cipher: keys are added for new grantees without
re-encrypting, and the header's integrity comes from the CID the chain anchors.

A key-encryption-key (KEK) wrap sits in ``wrapped_keys`` under a label starting ``kek:``; its
bytes are a 12-byte nonce then AES-256-GCM of the data key, with the context and the label as
associated data. Destroying the KEK leaves that wrap unopenable (docs/architecture.md: the writer's
own key-encryption key).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from ledger.errors import CryptoError, DecryptionFailed, PayloadNotJson
from ledger.payload import canonicalize, load_json

__all__ = [
    "ENVELOPE_VERSION",
    "KEK_LABEL_PREFIX",
    "SALT_CHECK_HEADER",
    "Envelope",
    "associated_data",
    "kek_label",
    "open_envelope",
    "open_with_kek",
    "open_with_wrapped_key",
    "parse_envelope",
    "rewrap_data_key",
    "rewrap_with_kek",
    "seal",
    "unwrap_data_key",
    "unwrap_with_kek",
    "wrap_data_key",
    "wrap_with_kek",
]

ENVELOPE_VERSION = 1
SALT_CHECK_HEADER = "salt_check"
"""Extra-header field holding ``0x`` + hex of ``commitment.salt_check(salt)``."""
KEK_LABEL_PREFIX = "kek:"
"""The label prefix of a data key wrapped under a key-encryption key, not to a public key."""
_KEK_BYTES = 32

_CONTEXT_PREFIX = b"medledger/v1/record"
_RESERVED = frozenset({"v", "record_id", "version", "nonce", "ciphertext", "wrapped_keys"})
_DATA_KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_MAX_VERSION = 2**32 - 1
_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_HPKE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)


@dataclass(frozen=True, slots=True)
class Envelope:
    """An envelope's fields, decoded; building one checks them, ``to_bytes`` encodes them."""

    record_id: bytes
    version: int
    nonce: bytes
    ciphertext: bytes
    wrapped_keys: Mapping[str, bytes]
    extra_header: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.record_id) != 32:
            raise _malformed("record_id is not 32 bytes")
        if type(self.version) is not int or not 1 <= self.version <= _MAX_VERSION:
            raise _malformed("version is not an integer from 1 to 2**32 - 1")
        if len(self.nonce) != _NONCE_BYTES:
            raise _malformed(f"nonce is not {_NONCE_BYTES} bytes")
        if len(self.ciphertext) < _TAG_BYTES:
            raise _malformed("ciphertext is shorter than its tag")
        if not self.wrapped_keys or not all(
            isinstance(label, str) and label and isinstance(key, bytes)
            for label, key in self.wrapped_keys.items()
        ):
            raise _malformed("wrapped_keys must map non-empty labels to keys, at least one")
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in self.extra_header.items()):
            raise _malformed("extra header fields must be strings")
        if _RESERVED & self.extra_header.keys():
            raise _malformed(f"extra header reuses {sorted(_RESERVED & self.extra_header.keys())}")
        check = self.extra_header.get(SALT_CHECK_HEADER)
        if check is not None and not _HEX32.fullmatch(check):
            raise _malformed(f"{SALT_CHECK_HEADER} is not 0x + 64 lowercase hex digits")

    @property
    def salt_check(self) -> bytes | None:
        """The salt check the sealer recorded, if any."""
        check = self.extra_header.get(SALT_CHECK_HEADER)
        return None if check is None else bytes.fromhex(check[2:])

    @property
    def context(self) -> bytes:
        """The associated data this envelope is sealed under."""
        return associated_data(self.record_id, self.version)

    def to_bytes(self) -> bytes:
        """The envelope's canonical wire form."""
        return canonicalize(
            {
                **self.extra_header,
                "v": ENVELOPE_VERSION,
                "record_id": "0x" + self.record_id.hex(),
                "version": self.version,
                "nonce": _b64(self.nonce),
                "ciphertext": _b64(self.ciphertext),
                "wrapped_keys": {label: _b64(key) for label, key in self.wrapped_keys.items()},
            }
        )


def associated_data(record_id: bytes, version: int) -> bytes:
    """The context a version is sealed under: AES-GCM associated data and HPKE ``info``."""
    if len(record_id) != 32:
        raise ValueError(f"record_id must be 32 bytes, got {len(record_id)}")
    if not 1 <= version <= _MAX_VERSION:
        raise ValueError(f"version must be from 1 to 2**32 - 1, got {version}")
    return _CONTEXT_PREFIX + record_id + version.to_bytes(4, "big")


def seal(
    plaintext: bytes,
    *,
    record_id: bytes,
    version: int,
    recipients: Mapping[str, X25519PublicKey],
    extra_header: Mapping[str, str] | None = None,
    key_encryption_keys: Mapping[str, bytes] | None = None,
) -> bytes:
    """Encrypt ``plaintext`` for ``recipients`` (label -> X25519 key) and for the holders of
    ``key_encryption_keys`` (label, which must start ``kek:``, -> 32-byte AES key); the envelope's
    bytes."""
    context = associated_data(record_id, version)
    keks = dict(key_encryption_keys or {})
    if not recipients and not keks:
        raise ValueError("an envelope needs at least one recipient")
    data_key = AESGCM.generate_key(bit_length=8 * _DATA_KEY_BYTES)
    # A random nonce is safe here: each data key is fresh and encrypts exactly one message.
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return Envelope(
        record_id=record_id,
        version=version,
        nonce=nonce,
        ciphertext=AESGCM(data_key).encrypt(nonce, plaintext, context),
        wrapped_keys={
            **{
                label: wrap_data_key(data_key, public_key, context)
                for label, public_key in recipients.items()
            },
            **{label: wrap_with_kek(data_key, kek, context, label) for label, kek in keks.items()},
        },
        extra_header=dict(extra_header or {}),
    ).to_bytes()


def kek_label(holder: str) -> str:
    """The label under which ``holder`` (the writing organisation's address) wraps with its KEK."""
    return KEK_LABEL_PREFIX + holder


def open_envelope(
    blob: bytes,
    *,
    private_key: X25519PrivateKey,
    label: str,
    record_id: bytes,
    version: int,
) -> bytes:
    """The plaintext of ``blob`` for recipient ``label``, sealed for ``record_id`` at ``version``.

    Raises DecryptionFailed for a wrong key, label, record or version, or any alteration the
    cipher authenticates; CryptoError for bytes that are not an envelope at all.
    """
    sealed = _sealed_for(blob, record_id, version)
    return _decrypt(sealed, _own_key(sealed, private_key, label))


def rewrap_data_key(
    blob: bytes,
    *,
    private_key: X25519PrivateKey,
    label: str,
    record_id: bytes,
    version: int,
    recipient: X25519PublicKey,
) -> bytes:
    """The custodian's side of keys following consent: the version's data key, unwrapped with the
    custodian's key and wrapped anew for ``recipient``. The envelope is not changed (its CID is
    anchored), so the new wrapping travels beside it."""
    sealed = _sealed_for(blob, record_id, version)
    context = associated_data(record_id, version)
    return wrap_data_key(_own_key(sealed, private_key, label), recipient, context)


def open_with_wrapped_key(
    blob: bytes, *, wrapped: bytes, private_key: X25519PrivateKey, record_id: bytes, version: int
) -> bytes:
    """The plaintext of ``blob`` for a grantee holding a key re-wrapped for it."""
    sealed = _sealed_for(blob, record_id, version)
    return _decrypt(sealed, unwrap_data_key(wrapped, private_key, sealed.context))


def open_with_kek(blob: bytes, *, kek: bytes, label: str, record_id: bytes, version: int) -> bytes:
    """The plaintext of ``blob`` for the holder of ``kek``, whose wrap is under ``label``."""
    sealed = _sealed_for(blob, record_id, version)
    return _decrypt(sealed, _kek_key(sealed, kek, label))


def rewrap_with_kek(
    blob: bytes,
    *,
    kek: bytes,
    label: str,
    record_id: bytes,
    version: int,
    recipient: X25519PublicKey,
) -> bytes:
    """``rewrap_data_key`` for a custodian whose own wrap is under a key-encryption key."""
    sealed = _sealed_for(blob, record_id, version)
    return wrap_data_key(_kek_key(sealed, kek, label), recipient, sealed.context)


def _kek_key(sealed: Envelope, kek: bytes, label: str) -> bytes:
    wrapped = sealed.wrapped_keys.get(label)
    if wrapped is None:
        raise DecryptionFailed(f"no data key is wrapped for {label!r}")
    return unwrap_with_kek(wrapped, kek, sealed.context, label)


def _sealed_for(blob: bytes, record_id: bytes, version: int) -> Envelope:
    sealed = parse_envelope(blob)
    if (sealed.record_id, sealed.version) != (record_id, version):
        raise DecryptionFailed("the envelope is sealed for another record or version")
    return sealed


def _own_key(sealed: Envelope, private_key: X25519PrivateKey, label: str) -> bytes:
    wrapped = sealed.wrapped_keys.get(label)
    if wrapped is None:
        raise DecryptionFailed(f"no data key is wrapped for {label!r}")
    return unwrap_data_key(wrapped, private_key, sealed.context)


def _decrypt(sealed: Envelope, data_key: bytes) -> bytes:
    try:
        return AESGCM(data_key).decrypt(sealed.nonce, sealed.ciphertext, sealed.context)
    except InvalidTag as exc:
        raise DecryptionFailed("the ciphertext does not open in this record's context") from exc


def parse_envelope(blob: bytes) -> Envelope:
    """The envelope's fields, read without a key; CryptoError unless ``blob`` is well formed."""
    try:
        header = load_json(blob, max_depth=2)
        if not isinstance(header, dict):
            raise _malformed("not a JSON object")
        if canonicalize(header) != blob:
            raise _malformed("not in RFC 8785 canonical form")
    except PayloadNotJson as exc:
        raise _malformed(str(exc)) from exc
    missing = _RESERVED - header.keys()
    if missing:
        raise _malformed(f"missing {sorted(missing)}")
    if type(header["v"]) is not int or header["v"] != ENVELOPE_VERSION:
        raise _malformed(f"unsupported envelope format {header['v']!r}")
    if not isinstance(header["record_id"], str) or not _HEX32.fullmatch(header["record_id"]):
        raise _malformed("record_id is not 0x + 64 lowercase hex digits")
    wrapped_keys = header["wrapped_keys"]
    if not isinstance(wrapped_keys, dict):
        raise _malformed("wrapped_keys is not an object")
    return Envelope(
        record_id=bytes.fromhex(header["record_id"][2:]),
        version=header["version"],
        nonce=_unb64("nonce", header["nonce"]),
        ciphertext=_unb64("ciphertext", header["ciphertext"]),
        wrapped_keys={label: _unb64(f"key for {label!r}", k) for label, k in wrapped_keys.items()},
        extra_header={k: v for k, v in header.items() if k not in _RESERVED},
    )


def wrap_data_key(data_key: bytes, public_key: X25519PublicKey, info: bytes) -> bytes:
    """``data_key`` sealed to ``public_key`` with HPKE base mode; ``info`` binds the context."""
    if len(data_key) != _DATA_KEY_BYTES:
        raise ValueError(f"data key must be {_DATA_KEY_BYTES} bytes, got {len(data_key)}")
    return _HPKE.encrypt(data_key, public_key, info)


def unwrap_data_key(wrapped: bytes, private_key: X25519PrivateKey, info: bytes) -> bytes:
    """The data key in ``wrapped``; DecryptionFailed unless key and ``info`` are the sealer's."""
    try:
        data_key = _HPKE.decrypt(wrapped, private_key, info)
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("the wrapped data key does not open with this key") from exc
    if len(data_key) != _DATA_KEY_BYTES:
        raise _malformed(f"the wrapped data key is not {_DATA_KEY_BYTES} bytes")
    return data_key


def wrap_with_kek(data_key: bytes, kek: bytes, context: bytes, label: str) -> bytes:
    """``data_key`` under AES-256-GCM with ``kek``: nonce then ciphertext and tag; the context and
    ``label`` are associated data, so the wrap opens for this version and this holder only."""
    if len(data_key) != _DATA_KEY_BYTES:
        raise ValueError(f"data key must be {_DATA_KEY_BYTES} bytes, got {len(data_key)}")
    if len(kek) != _KEK_BYTES:
        raise ValueError(f"a key-encryption key must be {_KEK_BYTES} bytes, got {len(kek)}")
    if not label.startswith(KEK_LABEL_PREFIX):
        raise ValueError(f"a key-encryption-key label starts {KEK_LABEL_PREFIX!r}, not {label!r}")
    # A random nonce is safe: a KEK wraps one data key per version, far below GCM's 2**32 bound.
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, context + label.encode())


def unwrap_with_kek(wrapped: bytes, kek: bytes, context: bytes, label: str) -> bytes:
    """The data key in ``wrapped``; DecryptionFailed unless ``kek``, context and label are the
    sealer's."""
    if len(kek) != _KEK_BYTES:
        raise ValueError(f"a key-encryption key must be {_KEK_BYTES} bytes, got {len(kek)}")
    try:
        data_key = AESGCM(kek).decrypt(
            wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], context + label.encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise DecryptionFailed("the wrapped data key does not open with this KEK") from exc
    if len(data_key) != _DATA_KEY_BYTES:
        raise _malformed(f"the wrapped data key is not {_DATA_KEY_BYTES} bytes")
    return data_key


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(name: str, value: object) -> bytes:
    # Only the canonical encoding is accepted, so no two envelopes differ by spelling alone.
    if isinstance(value, str):
        try:
            decoded = base64.b64decode(value, validate=True)
        except binascii.Error:
            pass
        else:
            if _b64(decoded) == value:
                return decoded
    raise _malformed(f"{name} is not canonical base64")


def _malformed(reason: str) -> CryptoError:
    return CryptoError(f"malformed envelope: {reason}")
