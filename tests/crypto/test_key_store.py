"""ledger.crypto.key_store: one random KEK per patient, kept across restarts, destroyed for good."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ledger.crypto.key_store import KekStore

PATIENT = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
OTHER = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"


def test_a_kek_is_made_once_per_patient_and_survives_a_restart(tmp_path: Path) -> None:
    store = KekStore(tmp_path / "keks")
    key = store.get_or_create(PATIENT)
    assert len(key) == 32
    assert store.get_or_create(PATIENT) == key
    assert KekStore(tmp_path / "keks").get(PATIENT.lower()) == key
    assert store.get_or_create(OTHER) != key
    (path,) = [p for p in (tmp_path / "keks").iterdir() if p.name.startswith(PATIENT.lower())]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_destroyed_kek_is_gone(tmp_path: Path) -> None:
    store = KekStore(tmp_path / "keks")
    key = store.get_or_create(PATIENT)
    assert store.destroy(PATIENT)
    assert store.get(PATIENT) is None
    assert not store.destroy(PATIENT)
    assert not any(key in p.read_bytes() for p in (tmp_path / "keks").iterdir())
    assert store.get_or_create(PATIENT) != key


def test_a_name_that_is_no_pseudonym_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a pseudonym"):
        KekStore(tmp_path).get("../../etc/passwd")
