"""Envelopes: sealing for several recipients, opening, and refusing every tamper and misuse."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from hypothesis import given, settings, strategies as st

from ledger.crypto import commitment
from ledger.crypto.envelope import (
    Envelope,
    associated_data,
    open_envelope,
    parse_envelope,
    seal,
    unwrap_data_key,
    wrap_data_key,
)
from ledger.errors import CryptoError, DecryptionFailed
from ledger.payload import parse_payload

EXAMPLES = sorted((Path(__file__).parents[1] / "fixtures" / "fhir").glob("*.json"))
RECORD = bytes(range(32))
HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
PATIENT = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
KEYS = {HOSPITAL: X25519PrivateKey.generate(), PATIENT: X25519PrivateKey.generate()}
SALT = bytes(32)
PLAINTEXT = b'{"resource":{"resourceType":"Patient"},"salt":"0x00"}'


def _seal(plaintext: bytes = PLAINTEXT, version: int = 1) -> bytes:
    return seal(
        plaintext,
        record_id=RECORD,
        version=version,
        recipients={label: key.public_key() for label, key in KEYS.items()},
        extra_header={"salt_check": "0x" + commitment.salt_check(SALT).hex()},
    )


def _open(blob: bytes, label: str = HOSPITAL, record_id: bytes = RECORD, version: int = 1) -> bytes:
    return open_envelope(
        blob, private_key=KEYS[label], label=label, record_id=record_id, version=version
    )


SEALED = _seal()


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_hl7_example_opens_for_every_recipient(example: Path) -> None:
    payload = parse_payload(example.read_bytes(), max_bytes=1 << 20)
    salt = commitment.new_salt()
    anchored = commitment.commit(salt, payload.canonical)
    blob = _seal(payload.canonical, version=3)
    for label in KEYS:
        opened = _open(blob, label=label, version=3)
        assert commitment.verify_commitment(salt, opened, anchored)


def test_envelope_is_canonical_json_with_the_documented_fields() -> None:
    header = json.loads(SEALED)
    assert set(header) == {
        "v",
        "record_id",
        "version",
        "nonce",
        "ciphertext",
        "wrapped_keys",
        "salt_check",
    }
    assert (header["v"], header["record_id"], header["version"]) == (1, "0x" + RECORD.hex(), 1)
    assert len(base64.b64decode(header["nonce"])) == 12
    assert set(header["wrapped_keys"]) == {HOSPITAL, PATIENT}
    assert json.dumps(header, sort_keys=True, separators=(",", ":")).encode() == SEALED


def test_parsed_envelope_encodes_to_the_same_bytes() -> None:
    assert parse_envelope(SEALED).to_bytes() == SEALED


def test_salt_check_is_readable_without_a_key() -> None:
    assert parse_envelope(SEALED).salt_check == commitment.salt_check(SALT)


def test_envelope_without_salt_check_reads_none() -> None:
    blob = seal(
        PLAINTEXT, record_id=RECORD, version=1, recipients={HOSPITAL: KEYS[HOSPITAL].public_key()}
    )
    assert parse_envelope(blob).salt_check is None


def test_sealing_twice_uses_a_fresh_nonce_and_key() -> None:
    first, second = parse_envelope(_seal()), parse_envelope(_seal())
    assert first.nonce != second.nonce
    assert first.ciphertext != second.ciphertext


def test_open_with_wrong_version_fails() -> None:
    with pytest.raises(DecryptionFailed):
        _open(SEALED, version=2)


def test_open_with_wrong_record_fails() -> None:
    with pytest.raises(DecryptionFailed):
        _open(SEALED, record_id=bytes(32))


def test_open_with_another_private_key_fails() -> None:
    with pytest.raises(DecryptionFailed):
        open_envelope(
            SEALED,
            private_key=X25519PrivateKey.generate(),
            label=HOSPITAL,
            record_id=RECORD,
            version=1,
        )


def test_open_with_another_recipients_key_fails() -> None:
    with pytest.raises(DecryptionFailed):
        open_envelope(
            SEALED, private_key=KEYS[PATIENT], label=HOSPITAL, record_id=RECORD, version=1
        )


def test_open_for_a_label_without_a_wrapped_key_fails() -> None:
    with pytest.raises(DecryptionFailed, match="no data key is wrapped"):
        open_envelope(
            SEALED,
            private_key=KEYS[HOSPITAL],
            label="0x0000000000000000000000000000000000000001",
            record_id=RECORD,
            version=1,
        )


def _flip(data: bytes, index: int = 0, bit: int = 0) -> bytes:
    altered = bytearray(data)
    altered[index % len(data)] ^= 1 << bit
    return bytes(altered)


TAMPERS: dict[str, Callable[[Envelope], Envelope]] = {
    "nonce": lambda e: dataclasses.replace(e, nonce=_flip(e.nonce)),
    "ciphertext": lambda e: dataclasses.replace(e, ciphertext=_flip(e.ciphertext, -1)),
    "own-wrapped-key": lambda e: dataclasses.replace(
        e, wrapped_keys={**e.wrapped_keys, HOSPITAL: _flip(e.wrapped_keys[HOSPITAL], 40)}
    ),
    "record_id": lambda e: dataclasses.replace(e, record_id=_flip(e.record_id)),
    "version": lambda e: dataclasses.replace(e, version=2),
}


@pytest.mark.parametrize("tamper", TAMPERS.values(), ids=TAMPERS.keys())
def test_tampered_envelope_field_fails_to_open(tamper: Callable[[Envelope], Envelope]) -> None:
    tampered = tamper(parse_envelope(SEALED))
    with pytest.raises(DecryptionFailed):
        _open(tampered.to_bytes())


@settings(max_examples=60)
@given(
    field=st.sampled_from(["nonce", "ciphertext", "wrapped_key"]),
    index=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_flipping_any_authenticated_bit_fails_to_open(field: str, index: int, bit: int) -> None:
    envelope = parse_envelope(SEALED)
    if field == "nonce":
        envelope = dataclasses.replace(envelope, nonce=_flip(envelope.nonce, index, bit))
    elif field == "ciphertext":
        ciphertext = _flip(envelope.ciphertext, index, bit)
        envelope = dataclasses.replace(envelope, ciphertext=ciphertext)
    else:
        own = _flip(envelope.wrapped_keys[HOSPITAL], index, bit)
        envelope = dataclasses.replace(
            envelope, wrapped_keys={**envelope.wrapped_keys, HOSPITAL: own}
        )
    with pytest.raises(DecryptionFailed):
        _open(envelope.to_bytes())


@settings(max_examples=150)
@given(index=st.integers(min_value=0, max_value=len(SEALED) - 1), value=st.integers(0, 255))
def test_altering_any_byte_never_yields_another_plaintext(index: int, value: int) -> None:
    altered = bytearray(SEALED)
    altered[index] = value
    try:
        opened = _open(bytes(altered))
    except CryptoError:
        return
    assert opened == PLAINTEXT


def test_other_recipients_keys_are_not_bound_to_the_ciphertext() -> None:
    # By design: a grantee's key is added later without re-encrypting the payload.
    envelope = parse_envelope(SEALED)
    replaced = {**envelope.wrapped_keys, PATIENT: b"\x00" * 80}
    assert _open(dataclasses.replace(envelope, wrapped_keys=replaced).to_bytes()) == PLAINTEXT


def test_data_key_rewrapped_for_a_new_grantee_opens_for_them() -> None:
    grantee_label, grantee_key = (
        "0x0000000000000000000000000000000000000002",
        X25519PrivateKey.generate(),
    )
    envelope = parse_envelope(SEALED)
    context = associated_data(RECORD, 1)
    data_key = unwrap_data_key(envelope.wrapped_keys[HOSPITAL], KEYS[HOSPITAL], context)
    granted = dataclasses.replace(
        envelope,
        wrapped_keys={
            **envelope.wrapped_keys,
            grantee_label: wrap_data_key(data_key, grantee_key.public_key(), context),
        },
    )
    opened = open_envelope(
        granted.to_bytes(),
        private_key=grantee_key,
        label=grantee_label,
        record_id=RECORD,
        version=1,
    )
    assert opened == PLAINTEXT


def test_wrapped_key_does_not_open_in_another_context() -> None:
    wrapped = wrap_data_key(bytes(32), KEYS[HOSPITAL].public_key(), associated_data(RECORD, 1))
    with pytest.raises(DecryptionFailed):
        unwrap_data_key(wrapped, KEYS[HOSPITAL], associated_data(RECORD, 2))


def test_associated_data_is_prefix_record_and_big_endian_version() -> None:
    assert associated_data(RECORD, 258) == b"medledger/v1/record" + RECORD + b"\x00\x00\x01\x02"


def _spelled_differently(data: bytes) -> str:
    """Base64 of ``data`` with a padding bit set: it decodes the same, so it must be refused."""
    text = base64.b64encode(data).decode()
    last = len(text.rstrip("=")) - 1
    assert last < len(text) - 1, "needs padding, hence spare bits"
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    return text[:last] + alphabet[alphabet.index(text[last]) + 1] + text[last + 1 :]


def _with(**changes: object) -> bytes:
    header = json.loads(SEALED)
    header.update(changes)
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


MALFORMED = {
    "empty": b"",
    "not-json": b"\x00\x01binary",
    "array": b"[]",
    "not-canonical": json.dumps(json.loads(SEALED), indent=1).encode(),
    "too-deep": b"[" * 100_000,
    "missing-nonce": _with(nonce=None).replace(b'"nonce":null,', b""),
    "format-2": _with(v=2),
    "format-true": _with(v=True),
    "uppercase-record-id": _with(record_id="0x" + RECORD.hex().upper()),
    "version-zero": _with(version=0),
    "version-string": _with(version="1"),
    "nonce-not-base64": _with(nonce="!!!!"),
    "key-not-canonical-base64": _with(
        wrapped_keys={
            **json.loads(SEALED)["wrapped_keys"],
            HOSPITAL: _spelled_differently(parse_envelope(SEALED).wrapped_keys[HOSPITAL]),
        }
    ),
    "short-nonce": _with(nonce=base64.b64encode(bytes(8)).decode()),
    "no-wrapped-keys": _with(wrapped_keys={}),
    "wrapped-keys-list": _with(wrapped_keys=[]),
    "salt-check-not-hex": _with(salt_check="not hex"),
    "header-not-string": _with(note=1),
}


@pytest.mark.parametrize("blob", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_envelope_is_refused_as_malformed(blob: bytes) -> None:
    with pytest.raises(CryptoError, match=r"^malformed envelope: "):
        parse_envelope(blob)


def test_opening_a_malformed_envelope_is_refused_as_malformed() -> None:
    with pytest.raises(CryptoError, match=r"^malformed envelope: "):
        _open(MALFORMED["format-2"])


def test_seal_refuses_a_header_field_that_shadows_a_reserved_one() -> None:
    with pytest.raises(CryptoError, match="reuses"):
        seal(
            PLAINTEXT,
            record_id=RECORD,
            version=1,
            recipients={HOSPITAL: KEYS[HOSPITAL].public_key()},
            extra_header={"version": "7"},
        )


@pytest.mark.parametrize(
    ("record_id", "version", "recipients"),
    [
        (bytes(31), 1, {HOSPITAL: KEYS[HOSPITAL].public_key()}),
        (RECORD, 0, {HOSPITAL: KEYS[HOSPITAL].public_key()}),
        (RECORD, 2**32, {HOSPITAL: KEYS[HOSPITAL].public_key()}),
        (RECORD, 1, {}),
    ],
    ids=["short-record-id", "version-zero", "version-past-uint32", "no-recipients"],
)
def test_seal_refuses_an_impossible_context(
    record_id: bytes, version: int, recipients: dict[str, X25519PublicKey]
) -> None:
    with pytest.raises(ValueError, match=r"must be|needs"):
        seal(PLAINTEXT, record_id=record_id, version=version, recipients=recipients)


def test_envelope_rejects_fields_it_cannot_encode() -> None:
    with pytest.raises(CryptoError):
        Envelope(
            record_id=RECORD, version=1, nonce=bytes(12), ciphertext=bytes(16), wrapped_keys={}
        )
