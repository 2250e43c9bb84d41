"""The writer's key-encryption-key wrap in an envelope: it opens for the KEK's holder only, for
its own version and label; without the KEK the other recipients' wraps still open."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.crypto.envelope import (
    kek_label,
    open_envelope,
    open_with_kek,
    open_with_wrapped_key,
    parse_envelope,
    rewrap_with_kek,
    seal,
)
from ledger.errors import DecryptionFailed

RECORD = bytes(range(32))
HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
PATIENT = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
PATIENT_KEY = X25519PrivateKey.generate()
KEK = secrets.token_bytes(32)
LABEL = kek_label(HOSPITAL)
PLAINTEXT = b'{"resource":{"resourceType":"Patient"},"salt":"0x00"}'


def _seal(version: int = 1, kek: bytes = KEK) -> bytes:
    return seal(
        PLAINTEXT,
        record_id=RECORD,
        version=version,
        recipients={PATIENT: PATIENT_KEY.public_key()},
        key_encryption_keys={LABEL: kek},
    )


def test_the_kek_holder_and_the_patient_both_open_it() -> None:
    blob = _seal()
    assert open_with_kek(blob, kek=KEK, label=LABEL, record_id=RECORD, version=1) == PLAINTEXT
    assert (
        open_envelope(blob, private_key=PATIENT_KEY, label=PATIENT, record_id=RECORD, version=1)
        == PLAINTEXT
    )
    assert set(parse_envelope(blob).wrapped_keys) == {PATIENT, LABEL}
    assert len(parse_envelope(blob).wrapped_keys[LABEL]) == 12 + 32 + 16


def test_another_kek_does_not_open_it() -> None:
    with pytest.raises(DecryptionFailed, match="does not open with this KEK"):
        open_with_kek(
            _seal(), kek=secrets.token_bytes(32), label=LABEL, record_id=RECORD, version=1
        )


def test_the_wrap_is_bound_to_its_version() -> None:
    """Moved under another version's context (same KEK), the wrap no longer opens."""
    one, two = parse_envelope(_seal(1)), parse_envelope(_seal(2))
    moved = type(two)(
        two.record_id,
        two.version,
        two.nonce,
        two.ciphertext,
        {**two.wrapped_keys, LABEL: one.wrapped_keys[LABEL]},
    ).to_bytes()
    with pytest.raises(DecryptionFailed):
        open_with_kek(moved, kek=KEK, label=LABEL, record_id=RECORD, version=2)


def test_the_wrap_is_bound_to_its_label() -> None:
    sealed = parse_envelope(_seal())
    other = kek_label(PATIENT)
    relabelled = type(sealed)(
        sealed.record_id,
        sealed.version,
        sealed.nonce,
        sealed.ciphertext,
        {other: sealed.wrapped_keys[LABEL]},
    ).to_bytes()
    with pytest.raises(DecryptionFailed):
        open_with_kek(relabelled, kek=KEK, label=other, record_id=RECORD, version=1)


def test_the_custodian_rewraps_from_its_kek_for_a_grantee() -> None:
    grantee = X25519PrivateKey.generate()
    blob = _seal()
    wrapped = rewrap_with_kek(
        blob, kek=KEK, label=LABEL, record_id=RECORD, version=1, recipient=grantee.public_key()
    )
    assert (
        open_with_wrapped_key(
            blob, wrapped=wrapped, private_key=grantee, record_id=RECORD, version=1
        )
        == PLAINTEXT
    )


@pytest.mark.parametrize(
    ("label", "kek", "problem"),
    [(HOSPITAL, KEK, "starts 'kek:'"), (LABEL, bytes(16), "must be 32 bytes")],
    ids=["label-without-prefix", "short-kek"],
)
def test_a_misused_kek_is_refused_at_sealing(label: str, kek: bytes, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        seal(
            PLAINTEXT, record_id=RECORD, version=1, recipients={}, key_encryption_keys={label: kek}
        )
