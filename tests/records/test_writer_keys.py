"""ledger.records.writer_keys: the writer opens what it sealed under a patient's KEK, still opens
envelopes wrapped to its org key, and after erasure opens neither the KEK-wrapped versions nor hands
their keys over."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.crypto.envelope import seal
from ledger.crypto.key_store import KekStore
from ledger.records.retention import RetentionIndex, RetentionPeriods
from ledger.records.writer_keys import RecordErased, WriterKeys

HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
PATIENT = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
ORG_KEY, PATIENT_KEY = X25519PrivateKey.generate(), X25519PrivateKey.generate()
RECORD = bytes(range(32))
PLAINTEXT = b'{"resource":{"resourceType":"Observation"},"salt":"0x00"}'


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[WriterKeys]:
    retention = RetentionIndex(tmp_path / "r.sqlite", RetentionPeriods())
    yield WriterKeys(HOSPITAL, ORG_KEY, KekStore(tmp_path / "keks"), retention)
    retention.close()


def _sealed(keys: WriterKeys, version: int = 1) -> bytes:
    recipients, keks = keys.recipients(PATIENT, PATIENT_KEY.public_key())
    return seal(
        PLAINTEXT,
        record_id=RECORD,
        version=version,
        recipients=recipients,
        key_encryption_keys=keks,
    )


def test_the_writer_opens_its_kek_wrapped_version(keys: WriterKeys) -> None:
    blob = _sealed(keys)
    assert keys.open(blob, patient=PATIENT, record_id=RECORD, version=1) == PLAINTEXT


def test_an_envelope_wrapped_to_the_org_key_still_opens(keys: WriterKeys) -> None:
    old = seal(
        PLAINTEXT,
        record_id=RECORD,
        version=1,
        recipients={HOSPITAL: ORG_KEY.public_key(), PATIENT: PATIENT_KEY.public_key()},
    )
    assert keys.open(old, patient=PATIENT, record_id=RECORD, version=1) == PLAINTEXT


def test_after_erasure_the_version_neither_opens_nor_rewraps(keys: WriterKeys) -> None:
    blob = _sealed(keys)
    keys.erase(PATIENT)
    with pytest.raises(RecordErased):
        keys.open(blob, patient=PATIENT, record_id=RECORD, version=1)
    grantee = X25519PrivateKey.generate().public_key()
    with pytest.raises(RecordErased):
        keys.rewrap(blob, patient=PATIENT, record_id=RECORD, version=1, recipient=grantee)
    # A version written after the erasure is under a new KEK and opens; the old one still not.
    later = _sealed(keys, version=2)
    assert keys.open(later, patient=PATIENT, record_id=RECORD, version=2) == PLAINTEXT
    with pytest.raises(RecordErased):
        keys.open(blob, patient=PATIENT, record_id=RECORD, version=1)
