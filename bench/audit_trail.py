"""What publishing the access log costs: the size of a published batch, the time to seal it for the
regulators and each patient, to open and check it at the regulator, a patient's trial opening, and
the regulator's index per entry. CPU and SQLite only (no chain, no node). Usage:
python bench/audit_trail.py [entries] [patients]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.audit.access_log import AccessEntry, new_salt
from ledger.audit.manifest import (
    build_manifest,
    open_for_patient,
    open_for_regulator,
    parse_manifest,
)
from ledger.audit.trail_index import _SCHEMA

REGULATOR = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"


def main(count: int, patients: int) -> None:
    regulator = X25519PrivateKey.generate()
    keys = [X25519PrivateKey.generate() for _ in range(patients)]
    pseudonyms = [f"0x{i:040x}" for i in range(patients)]
    entries = [
        AccessEntry(
            at=1_700_000_000 + i,
            actor="0x617F2E2fD72FD9D5503197092aC168c91465E7f2",
            org=HOSPITAL,
            action="GET /v1/records/{record_id}",
            record_id="0x" + f"{i % 997:064x}",
            version=1,
            view="full",
            patient=pseudonyms[i % patients],
            grant=None,
            purpose=None,
            outcome="allowed",
            salt=new_salt(),
        )
        for i in range(count)
    ]
    started = time.perf_counter()
    blob = build_manifest(
        HOSPITAL,
        entries,
        regulators={REGULATOR: regulator.public_key()},
        patient_keys={p: k.public_key() for p, k in zip(pseudonyms, keys, strict=True)},
    )
    sealed_s = time.perf_counter() - started
    started = time.perf_counter()
    opened = open_for_regulator(parse_manifest(blob), regulator, REGULATOR)
    regulator_s = time.perf_counter() - started
    assert opened == entries
    started = time.perf_counter()
    own = open_for_patient(parse_manifest(blob), keys[-1])  # the last copy: the most tries
    patient_s = time.perf_counter() - started
    assert own
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "index.sqlite"
        conn = sqlite3.connect(db)
        conn.executescript(_SCHEMA)
        conn.executemany(
            "INSERT INTO trail_entries VALUES (1, ?, ?, ?, ?)",
            [(i, e.canonical().decode(), e.record_id, e.patient) for i, e in enumerate(entries)],
        )
        conn.execute(
            "INSERT INTO trail_batches VALUES (1, ?, ?, ?, 'bafy', 'ok', NULL, ?, 1)",
            (HOSPITAL, b"\0" * 32, count, b"\0" * 32 * count),
        )
        conn.commit()
        conn.execute("VACUUM")
        conn.close()
        index_bytes = db.stat().st_size
    print(f"batch of {count} entries, {patients} patients")
    print(f"manifest: {len(blob)} bytes ({len(blob) / count:.0f} bytes/entry)")
    print(f"seal for regulator + patients: {sealed_s * 1000:.1f} ms")
    print(f"regulator parse+open+check: {regulator_s * 1000:.1f} ms")
    print(f"patient trial-open (worst case, {patients} copies): {patient_s * 1000:.1f} ms")
    print(f"regulator index: {index_bytes / count:.0f} bytes/entry")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
        int(sys.argv[2]) if len(sys.argv) > 2 else 100,
    )
