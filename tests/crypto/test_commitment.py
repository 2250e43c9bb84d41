"""Commitments: HMAC-SHA256 keyed by the salt, checked in constant time, and the salt check."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, strategies as st

from ledger.crypto.commitment import SALT_BYTES, commit, new_salt, salt_check, verify_commitment

SALT = bytes(range(32))
CANONICAL = b'{"resourceType":"Patient"}'


def test_new_salt_is_32_fresh_bytes() -> None:
    salts = {new_salt() for _ in range(8)}
    assert len(salts) == 8
    assert all(len(salt) == SALT_BYTES for salt in salts)


def test_commitment_is_hmac_sha256_keyed_by_the_salt() -> None:
    assert commit(SALT, CANONICAL) == hmac.new(SALT, CANONICAL, hashlib.sha256).digest()


def test_commitment_verifies_for_its_salt_and_payload() -> None:
    assert verify_commitment(SALT, CANONICAL, commit(SALT, CANONICAL))


def test_commitment_does_not_verify_under_another_salt() -> None:
    assert not verify_commitment(new_salt(), CANONICAL, commit(SALT, CANONICAL))


def test_truncated_commitment_does_not_verify() -> None:
    assert not verify_commitment(SALT, CANONICAL, commit(SALT, CANONICAL)[:16])


@given(position=st.integers(min_value=0, max_value=len(CANONICAL) - 1), bit=st.integers(0, 7))
def test_any_altered_payload_bit_breaks_the_commitment(position: int, bit: int) -> None:
    altered = bytearray(CANONICAL)
    altered[position] ^= 1 << bit
    assert not verify_commitment(SALT, bytes(altered), commit(SALT, CANONICAL))


def test_salt_check_is_hmac_of_its_label_under_the_salt() -> None:
    expected = hmac.new(SALT, b"medledger/v1/salt-check", hashlib.sha256).digest()
    assert salt_check(SALT) == expected


def test_salt_check_differs_per_salt() -> None:
    assert salt_check(SALT) != salt_check(new_salt())


@pytest.mark.parametrize("salt", [b"", bytes(16), bytes(33)], ids=["empty", "short", "long"])
def test_salt_of_the_wrong_length_is_refused(salt: bytes) -> None:
    with pytest.raises(ValueError, match="salt must be 32 bytes"):
        commit(salt, CANONICAL)
