"""A version's content as a reader without its key judges it (ledger/records/content.py), on a real
embedded store and real envelopes: each way stored bytes can fail to be the anchored envelope."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ledger.crypto.commitment import new_salt, salt_check
from ledger.crypto.envelope import seal
from ledger.records.content import ContentState, content_state
from ledger.store import EmbeddedStore, cid_of

RECORD = bytes.fromhex("22" * 32)
HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
PATIENT = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
KEY = X25519PrivateKey.generate().public_key()
SALT_CHECK = {"salt_check": "0x" + salt_check(new_salt()).hex()}


def envelope(
    *,
    record_id: bytes = RECORD,
    version: int = 1,
    recipients: Mapping[str, X25519PublicKey] | None = None,
    header: Mapping[str, str] = SALT_CHECK,
) -> bytes:
    return seal(
        b'{"resource":{},"salt":"0x00"}',
        record_id=record_id,
        version=version,
        recipients=recipients or {HOSPITAL: KEY, PATIENT: KEY},
        extra_header=header,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "store") as opened:
        yield opened


def state(store: EmbeddedStore, blob: bytes) -> ContentState:
    cid = store.put(blob)
    return content_state(
        store, cid, record_id=RECORD, version=1, hospital=HOSPITAL, patient=PATIENT
    )


def test_the_anchored_envelope_of_this_version_is_intact(store: EmbeddedStore) -> None:
    assert state(store, envelope()) is ContentState.INTACT


def test_labels_in_another_case_still_name_the_hospital_and_patient(store: EmbeddedStore) -> None:
    blob = envelope(recipients={HOSPITAL.lower(): KEY, PATIENT.upper().replace("0X", "0x"): KEY})
    assert state(store, blob) is ContentState.INTACT


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(envelope(record_id=bytes.fromhex("33" * 32)), id="another-record"),
        pytest.param(envelope(version=2), id="another-version"),
        pytest.param(envelope(recipients={HOSPITAL: KEY}), id="not-sealed-for-the-patient"),
        pytest.param(envelope(recipients={PATIENT: KEY, "x": KEY}), id="not-for-the-hospital"),
        pytest.param(envelope(header={}), id="no-salt-check"),
        pytest.param(b'{"not": "an envelope"}', id="not-an-envelope"),
    ],
)
def test_bytes_that_are_not_this_versions_envelope_are_corrupt(
    store: EmbeddedStore, blob: bytes
) -> None:
    assert state(store, blob) is ContentState.CORRUPT


def test_content_the_store_does_not_hold_is_missing(store: EmbeddedStore) -> None:
    cid = cid_of(envelope())
    found = content_state(
        store, cid, record_id=RECORD, version=1, hospital=HOSPITAL, patient=PATIENT
    )
    assert found is ContentState.MISSING
