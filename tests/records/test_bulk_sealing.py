"""The bulk sealer's worker pool: same results as sealing in-process, errors come back as ours,
and no worker outlives a gateway killed outright."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.crypto import envelope
from ledger.errors import PayloadNotFhir
from ledger.payload import parse_payload
from ledger.records.anchoring import seal_payload
from ledger.records.bulk_sealing import BulkSealer, SealJob
from ledger.store import cid_of
from ledger.store.embedded import EmbeddedStore

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
}


def _jobs(
    key: X25519PrivateKey, n: int, resource: dict[str, object] = OBSERVATION
) -> list[SealJob]:
    recipients = {"org": key.public_key().public_bytes_raw()}
    raw = json.dumps(resource).encode()
    return [SealJob(raw, secrets.token_bytes(32), 1, recipients) for _ in range(n)]


def test_pool_workers_seal_and_store_what_the_recipient_opens(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate()
    jobs = _jobs(key, 5)
    sealer = BulkSealer(2, max_bytes=65536, store_root=tmp_path)
    try:
        sealed = sealer.seal(jobs)
    finally:
        sealer.close()
    store = EmbeddedStore(tmp_path)
    for job, one in zip(jobs, sealed, strict=True):
        blob = store.get(one.cid)
        assert blob == one.envelope
        opened = envelope.open_envelope(
            blob, private_key=key, label="org", record_id=job.record_id, version=1
        )
        assert json.loads(opened)["resource"] == OBSERVATION


def test_an_invalid_resource_in_a_worker_is_our_payload_error(tmp_path: Path) -> None:
    key = X25519PrivateKey.generate()
    jobs = _jobs(key, 3) + _jobs(key, 1, {"resourceType": "Observation"})
    sealer = BulkSealer(2, max_bytes=65536, store_root=tmp_path)
    try:
        with pytest.raises(PayloadNotFhir):
            sealer.seal(jobs)
    finally:
        sealer.close()


_GATEWAY = """
import os, sys, json, secrets
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from ledger.records.bulk_sealing import BulkSealer, SealJob
key = X25519PrivateKey.generate().public_key().public_bytes_raw()
raw = json.dumps({"resourceType": "Basic", "code": {"text": "x"}}).encode()
sealer = BulkSealer(2, max_bytes=65536, store_root=None)
sealer.seal([SealJob(raw, secrets.token_bytes(32), 1, {"org": key}) for _ in range(4)])
print(" ".join(str(p) for p in sealer._pool._processes), flush=True)
sys.stdin.read()
"""


def test_no_worker_outlives_a_killed_gateway() -> None:
    gateway = subprocess.Popen(
        [sys.executable, "-c", _GATEWAY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert gateway.stdout is not None
    workers = [int(p) for p in gateway.stdout.readline().split()]
    assert len(workers) == 2
    gateway.send_signal(signal.SIGKILL)
    gateway.wait()
    gateway.stdout.close()
    assert gateway.stdin is not None
    gateway.stdin.close()
    deadline = time.monotonic() + 15
    alive = workers
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [p for p in alive if _alive(p)]
    assert alive == []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; only its parent (gone) would reap it.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def test_the_sealed_plaintext_is_the_canonical_form_of_resource_and_salt() -> None:
    # seal_payload builds {"resource": ..., "salt": ...} from the payload's canonical bytes rather
    # than canonicalising again: what it seals must be exactly what RFC 8785 gives for it.
    key = X25519PrivateKey.generate()
    resource = {**OBSERVATION, "note": [{"text": 'é \u2028 \x01 "quoted"'}], "id": "x"}
    resource["valueQuantity"] = {"value": 98.6, "unit": "°F"}
    payload = parse_payload(json.dumps(resource).encode(), max_bytes=65536)
    record_id = secrets.token_bytes(32)
    sealed = seal_payload(
        payload, context_id=record_id, version=1, recipients={"org": key.public_key()}
    )
    plaintext = envelope.open_envelope(
        sealed.envelope, private_key=key, label="org", record_id=record_id, version=1
    )
    salt = json.loads(plaintext)["salt"]
    assert plaintext == rfc8785.dumps({"resource": resource, "salt": salt})
    assert sealed.cid == cid_of(sealed.envelope)
