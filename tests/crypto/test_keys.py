"""Keys: HKDF derivations (stable, distinct per use and hospital), pseudonyms, key files."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from eth_account import Account

from ledger.crypto import keys
from ledger.crypto.keys import (
    PatientKeys,
    load_key,
    new_key_file,
    pseudonym_key,
    x25519_from_eth_key,
    x25519_public_from_hex,
    x25519_public_hex,
)
from ledger.errors import CryptoError, KeyFileError

ETH_KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
MASTER = bytes(range(1, 33))
HOSPITAL_A = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
HOSPITAL_B = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
FAST_SCRYPT = 2  # scrypt n for tests only; key files keep eth-account's default cost


def _hkdf_sha256(secret: bytes, info: bytes) -> bytes:
    """RFC 5869 with an empty salt and one output block, written out as a reference."""
    prk = hmac.new(bytes(32), secret, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def _raw(private_key: object) -> bytes:
    return private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())  # type: ignore[attr-defined,no-any-return]


def test_x25519_key_is_hkdf_of_the_eth_key() -> None:
    assert _raw(x25519_from_eth_key(ETH_KEY)) == _hkdf_sha256(ETH_KEY, b"medledger/v1/x25519")


def test_x25519_derivation_is_stable() -> None:
    assert _raw(x25519_from_eth_key(ETH_KEY)) == _raw(x25519_from_eth_key(ETH_KEY))


def test_x25519_keys_differ_per_eth_key() -> None:
    assert _raw(x25519_from_eth_key(ETH_KEY)) != _raw(x25519_from_eth_key(MASTER))


def test_x25519_derivation_refuses_a_key_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        x25519_from_eth_key(ETH_KEY[:31])


def test_pseudonym_is_hkdf_of_the_master_secret_and_hospital_address() -> None:
    info = b"medledger/v1/pseudonym/" + bytes.fromhex(HOSPITAL_A[2:])
    expected = Account.from_key(_hkdf_sha256(MASTER, info)).address
    assert pseudonym_key(MASTER, HOSPITAL_A).address == expected


def test_pseudonym_is_stable_for_a_hospital() -> None:
    assert pseudonym_key(MASTER, HOSPITAL_A).key == pseudonym_key(MASTER, HOSPITAL_A).key


def test_pseudonyms_differ_per_hospital() -> None:
    assert pseudonym_key(MASTER, HOSPITAL_A).address != pseudonym_key(MASTER, HOSPITAL_B).address


def test_pseudonyms_differ_per_master_secret() -> None:
    assert pseudonym_key(MASTER, HOSPITAL_A).address != pseudonym_key(ETH_KEY, HOSPITAL_A).address


def test_pseudonym_does_not_depend_on_address_case() -> None:
    lower = pseudonym_key(MASTER, HOSPITAL_A.lower())
    assert lower.address == pseudonym_key(MASTER, HOSPITAL_A).address


def test_pseudonym_refuses_a_hospital_that_is_not_an_address() -> None:
    with pytest.raises(ValueError, match="Ethereum address"):
        pseudonym_key(MASTER, "St. Elsewhere")


@pytest.mark.parametrize("derived", [bytes(32), bytes.fromhex("ff" * 32)], ids=["zero", "past-n"])
def test_pseudonym_outside_the_curve_order_raises_instead_of_retrying(
    derived: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keys, "_hkdf", lambda secret, info: derived)
    with pytest.raises(CryptoError, match="outside the secp256k1 range"):
        pseudonym_key(MASTER, HOSPITAL_A)


def test_patient_encryption_key_is_the_pseudonyms_x25519_key() -> None:
    patient = PatientKeys(MASTER)
    pseudonym = patient.pseudonym(HOSPITAL_A)
    assert _raw(patient.encryption_key(HOSPITAL_A)) == _raw(x25519_from_eth_key(pseudonym.key))


def test_public_identity_names_the_pseudonym_and_its_encryption_key() -> None:
    patient = PatientKeys(MASTER)
    identity = json.loads(json.dumps(patient.public_identity(HOSPITAL_A)))
    assert identity == {
        "address": patient.pseudonym(HOSPITAL_A).address,
        "encryption_key": x25519_public_hex(patient.encryption_key(HOSPITAL_A).public_key()),
    }


def test_patient_keys_do_not_show_the_secret() -> None:
    assert MASTER.hex() not in repr(PatientKeys(MASTER))


def test_public_key_hex_round_trips() -> None:
    public = x25519_from_eth_key(ETH_KEY).public_key()
    text = x25519_public_hex(public)
    assert len(text) == 66
    assert x25519_public_from_hex(text) == public


@pytest.mark.parametrize("text", ["", "0x" + "ab" * 31, "ab" * 32, "0x" + "zz" * 32])
def test_public_key_hex_refuses_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="0x \\+ 64 hex digits"):
        x25519_public_from_hex(text)


def test_key_file_round_trips(tmp_path: Path) -> None:
    address = new_key_file(tmp_path / "patient.json", "correct horse", iterations=FAST_SCRYPT)
    key = load_key(tmp_path / "patient.json", "correct horse")
    assert Account.from_key(key).address == address


def test_key_file_with_empty_passphrase_round_trips(tmp_path: Path) -> None:
    address = new_key_file(tmp_path / "dev.json", "", iterations=FAST_SCRYPT)
    assert Account.from_key(load_key(tmp_path / "dev.json", "")).address == address


def test_key_file_is_a_v3_scrypt_keystore(tmp_path: Path) -> None:
    address = new_key_file(tmp_path / "k.json", "pw", iterations=FAST_SCRYPT)
    keystore = json.loads((tmp_path / "k.json").read_text())
    assert keystore["version"] == 3
    assert keystore["crypto"]["kdf"] == "scrypt"
    assert keystore["address"].lower() == address[2:].lower()


def test_key_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    new_key_file(tmp_path / "k.json", "pw", iterations=FAST_SCRYPT)
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600


def test_key_file_leaves_no_temporary_file_behind(tmp_path: Path) -> None:
    new_key_file(tmp_path / "k.json", "pw", iterations=FAST_SCRYPT)
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]


def test_existing_key_file_is_never_overwritten(tmp_path: Path) -> None:
    new_key_file(tmp_path / "k.json", "pw", iterations=FAST_SCRYPT)
    before = (tmp_path / "k.json").read_bytes()
    with pytest.raises(KeyFileError, match="already exists"):
        new_key_file(tmp_path / "k.json", "pw", iterations=FAST_SCRYPT)
    assert (tmp_path / "k.json").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]


def test_key_file_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot write"):
        new_key_file(tmp_path / "nowhere" / "k.json", "pw", iterations=FAST_SCRYPT)


def test_wrong_passphrase_is_refused(tmp_path: Path) -> None:
    new_key_file(tmp_path / "k.json", "pw", iterations=FAST_SCRYPT)
    with pytest.raises(KeyFileError, match="wrong passphrase"):
        load_key(tmp_path / "k.json", "not the passphrase")


def test_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        load_key(tmp_path / "absent.json", "pw")


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", "{}", '{"version": 3}', '{"version": 3, "crypto": {}}'],
    ids=["not-json", "array", "empty-object", "no-crypto", "empty-crypto"],
)
def test_malformed_key_file_is_refused(tmp_path: Path, content: str) -> None:
    (tmp_path / "k.json").write_text(content)
    with pytest.raises(KeyFileError):
        load_key(tmp_path / "k.json", "pw")
