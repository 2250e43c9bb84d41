"""The consortium's access trail as this gateway has gathered it: every access-log batch anchored on
chain (by any organisation), its manifest fetched by CID from this gateway's own IPFS node (which
asks its peers), checked against the anchored root, and, where a copy is sealed for this
organisation (a regulator), decrypted and each entry checked against its leaf.

Kept in the gateway's SQLite database so that a request reads only what was anchored since the
last one. Size: a row per batch (with its leaves, 32 bytes an entry) and, at a regulator, a row
per entry (its JSON, about 0.5 KB, and two index entries): about 0.6 KB per access in the whole
consortium. Batches with no manifest to be had (no peer holds it in time) stay ``unavailable`` and
are asked for again on the next sync; a manifest that does not match its batch is ``rejected``
with the reason, and never read.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from web3 import Web3

from ledger.audit.access_log import ACCESS_LOG_KIND, AccessEntry, BatchLookup, entry_from_wire
from ledger.audit.manifest import (
    MANIFEST_KIND as ACCESS_LOG_MANIFEST_KIND,
    Enrolment,
    Manifest,
    ManifestInvalid,
    check_anchored,
    open_for_regulator,
    parse_manifest,
)
from ledger.chain.connection import Chain
from ledger.crypto.envelope import parse_envelope
from ledger.crypto.merkle import MerkleTree, leaf_hash, verify
from ledger.errors import CryptoError, LedgerError, StoreError
from ledger.gateway.auth import GatewayDomain
from ledger.store import ContentStore, cid_from_bytes

PENDING, OK, UNAVAILABLE, REJECTED = "pending", "ok", "unavailable", "rejected"
#: A batch sealed before batches were published: its manifest names the batch only.
LOCAL_ONLY = "local_only"
_LOCAL_ONLY_REASON = (
    "sealed before batches were published: its entries are in its gateway's log only"
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trail_synced (id INTEGER PRIMARY KEY CHECK (id = 1),
    block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS trail_batches (chain_batch_id INTEGER PRIMARY KEY,
    org TEXT NOT NULL, root BLOB NOT NULL, count INTEGER NOT NULL, cid TEXT,
    status TEXT NOT NULL, reason TEXT, leaves BLOB, readable INTEGER NOT NULL DEFAULT 0,
    tried_at REAL);
CREATE TABLE IF NOT EXISTS trail_entries (chain_batch_id INTEGER NOT NULL,
    leaf_index INTEGER NOT NULL, body TEXT NOT NULL, record_id TEXT, patient TEXT,
    PRIMARY KEY (chain_batch_id, leaf_index));
CREATE INDEX IF NOT EXISTS trail_by_record ON trail_entries(record_id);
CREATE INDEX IF NOT EXISTS trail_by_patient ON trail_entries(patient);
CREATE TABLE IF NOT EXISTS trail_enrolments (pseudonym TEXT PRIMARY KEY,
    hospital TEXT NOT NULL, key TEXT NOT NULL, signature TEXT NOT NULL);
"""


@dataclass(frozen=True)
class IndexedBatch:
    """An access-log batch as anchored, and what came of fetching and checking its manifest."""

    chain_batch_id: int
    org: str
    root: bytes
    count: int
    cid: str | None
    status: str
    reason: str | None
    readable: bool


@dataclass(frozen=True)
class IndexedEntry:
    """A decrypted entry with where it sits: its batch, its leaf, and its proof to the root."""

    chain_batch_id: int
    org: str
    leaf_index: int
    entry: AccessEntry
    root: bytes
    proof: list[bytes]


class TrailIndex:
    """Gathers and checks the consortium's published access-log batches, for one organisation."""

    def __init__(
        self,
        path: Path,
        chain: Chain,
        store: ContentStore,
        *,
        org: str,
        key: X25519PrivateKey,
        retry_after_s: float = 60.0,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._chain = chain
        self._store = store
        self._org = Web3.to_checksum_address(org)
        self._key = key
        self._retry_after_s = retry_after_s

    def sync(self, *, retry_unavailable: bool = True) -> None:
        """Read the batches anchored since the last sync, and fetch and check every manifest not
        yet had; those that were unavailable too, unless ``retry_unavailable`` is False, once
        ``retry_after_s`` has passed since they were last asked for (each costs the node's fetch
        timeout: a request must not wait that long for every missing batch, every time)."""
        with self._sync_lock:
            self._follow_chain()
            for batch in self._due(retry_unavailable):
                self._gather(batch)

    def _follow_chain(self) -> None:
        head = self._chain.head()
        with self._lock:
            row = self._conn.execute("SELECT block FROM trail_synced").fetchone()
        start = 0 if row is None else row[0] + 1
        if start > head:
            return
        anchor = self._chain.contract("BatchAnchor")
        events = anchor.events.BatchAnchored().get_logs(
            from_block=start, to_block=head, argument_filters={"kind": ACCESS_LOG_KIND}
        )
        rows = []
        for event in events:
            args = event["args"]
            try:
                cid: str | None = cid_from_bytes(bytes(args["manifest"]))
            except (ValueError, LedgerError):
                cid = None
            rows.append(
                (
                    int(args["batchId"]),
                    str(args["org"]),
                    bytes(args["root"]),
                    int(args["count"]),
                    cid,
                    PENDING if cid else REJECTED,
                    None if cid else "the batch names no manifest CID",
                )
            )
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR IGNORE INTO trail_batches"
                " (chain_batch_id, org, root, count, cid, status, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            self._conn.execute(
                "INSERT INTO trail_synced VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET block = ?",
                (head, head),
            )
            self._conn.execute("COMMIT")

    def _gather(self, batch: IndexedBatch) -> None:
        assert batch.cid is not None
        try:
            blob = self._store.get(batch.cid)
        except StoreError as exc:
            self._mark(batch.chain_batch_id, UNAVAILABLE, f"no node had the manifest: {exc}")
            return
        try:
            manifest = parse_manifest(blob)
            check_anchored(manifest, root=batch.root, count=batch.count, org=batch.org)
            entries = self._readable(manifest)
        except ManifestInvalid as exc:
            if _names_the_batch_only(blob, batch):
                self._mark(batch.chain_batch_id, LOCAL_ONLY, _LOCAL_ONLY_REASON)
            else:
                self._mark(batch.chain_batch_id, REJECTED, str(exc))
            return
        enrolments = [e for e in manifest.enrolments if self._enrolled(e, batch.org)]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(
                "INSERT OR IGNORE INTO trail_entries VALUES (?, ?, ?, ?, ?)",
                [
                    (batch.chain_batch_id, i, e.canonical().decode(), e.record_id, e.patient)
                    for i, e in enumerate(entries or ())
                ],
            )
            self._conn.executemany(
                "INSERT OR REPLACE INTO trail_enrolments VALUES (?, ?, ?, ?)",
                [(e.pseudonym, batch.org, e.key, e.signature) for e in enrolments],
            )
            self._conn.execute(
                "UPDATE trail_batches SET status = ?, reason = NULL, leaves = ?, readable = ?"
                " WHERE chain_batch_id = ?",
                (OK, b"".join(manifest.leaves), entries is not None, batch.chain_batch_id),
            )
            self._conn.execute("COMMIT")

    def _readable(self, manifest: Manifest) -> list[AccessEntry] | None:
        """The batch's entries if a copy is sealed for this organisation, else None."""
        if manifest.regulators is None:
            return None
        if self._org not in parse_envelope(manifest.regulators).wrapped_keys:
            return None
        try:
            return open_for_regulator(manifest, self._key, self._org)
        except CryptoError as exc:
            raise ManifestInvalid(f"the regulators' copy does not open: {exc}") from exc

    def _enrolled(self, enrolment: Enrolment, hospital: str) -> bool:
        """Whether ``enrolment`` is signed by its pseudonym under ``hospital``'s gateway domain."""
        try:
            enrolment.public_key()
        except ValueError:
            return False
        domain = GatewayDomain(
            chain_id=self._chain.chain_id,
            verifying_contract=self._chain.deployment.address("Membership"),
            gateway=Web3.to_checksum_address(hospital),
        )
        signer = enrolment.signed_by(domain.as_eip712(), Web3.to_checksum_address(hospital))
        return signer is not None and signer.lower() == enrolment.pseudonym.lower()

    def _mark(self, chain_batch_id: int, status: str, reason: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE trail_batches SET status = ?, reason = ?, tried_at = ?"
                " WHERE chain_batch_id = ?",
                (status, reason, time.time(), chain_batch_id),
            )

    def _due(self, retry_unavailable: bool) -> list[IndexedBatch]:
        # With retries off, no unavailable batch is due: no time it was tried at is before -inf.
        before = time.time() - self._retry_after_s if retry_unavailable else -math.inf
        with self._lock:
            rows = self._conn.execute(
                "SELECT chain_batch_id, org, root, count, cid, status, reason, readable"
                " FROM trail_batches WHERE status = ? OR (status = ? AND tried_at <= ?)"
                " ORDER BY chain_batch_id",
                (PENDING, UNAVAILABLE, before),
            ).fetchall()
        return [_batch(row) for row in rows]

    def batches(self, *, after: int = -1, limit: int = 1000) -> list[IndexedBatch]:
        """Every access-log batch anchored so far, after batch id ``after``, in chain order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT chain_batch_id, org, root, count, cid, status, reason, readable"
                " FROM trail_batches WHERE chain_batch_id > ? ORDER BY chain_batch_id LIMIT ?",
                (after, limit),
            ).fetchall()
        return [_batch(row) for row in rows]

    def entries(
        self,
        *,
        record_id: str | None = None,
        patient: str | None = None,
        org: str | None = None,
        batch: int | None = None,
    ) -> Iterator[IndexedEntry]:
        """The decrypted entries matching every filter given, in chain order, with their proofs."""
        clauses, args = ["1 = 1"], list[object]()
        if batch is not None:  # one batch's, as the regulator's rules engine reads them
            clauses.append("e.chain_batch_id = ?")
            args.append(batch)
        for column, value in (("e.record_id", record_id), ("e.patient", patient), ("b.org", org)):
            if value is not None:
                clauses.append(f"lower({column}) = lower(?)")
                args.append(value)
        # Only fixed column names are joined in; every value is a bound parameter.
        sql = (
            "SELECT e.chain_batch_id, b.org, e.leaf_index, e.body, b.root, b.leaves"  # noqa: S608
            " FROM trail_entries e JOIN trail_batches b USING (chain_batch_id) WHERE "
            + " AND ".join(clauses)
            + " ORDER BY e.chain_batch_id, e.leaf_index"
        )
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        trees: dict[int, MerkleTree] = {}
        for batch_id, org, index, body, root, leaves in rows:
            if batch_id not in trees:
                raw = bytes(leaves)
                trees[batch_id] = MerkleTree([raw[i : i + 32] for i in range(0, len(raw), 32)])
            yield IndexedEntry(
                batch_id,
                org,
                index,
                entry_from_wire(json.loads(body)),
                bytes(root),
                trees[batch_id].proof(index),
            )

    def enrolment(self, pseudonym: str) -> X25519PublicKey | None:
        """The encryption key ``pseudonym`` signed for at its hospital, as published, if seen."""
        with self._lock:
            row = self._conn.execute(
                "SELECT key FROM trail_enrolments WHERE lower(pseudonym) = lower(?)", (pseudonym,)
            ).fetchone()
        return None if row is None else X25519PublicKey.from_public_bytes(bytes.fromhex(row[0][2:]))

    def close(self) -> None:
        self._conn.close()


def _names_the_batch_only(blob: bytes, batch: IndexedBatch) -> bool:
    """Whether ``blob`` is the manifest gateways wrote before they published their entries
    (``{"format", "org", "count", "root"}``), for this very batch."""
    try:
        raw = json.loads(blob)
    except ValueError:
        return False
    return isinstance(raw, dict) and raw == {
        "format": ACCESS_LOG_MANIFEST_KIND,
        "org": raw.get("org") if str(raw.get("org")).lower() == batch.org.lower() else None,
        "count": batch.count,
        "root": "0x" + batch.root.hex(),
    }


def _batch(row: tuple[object, ...]) -> IndexedBatch:
    batch_id, org, root, count, cid, status, reason, readable = row
    return IndexedBatch(
        int(batch_id),  # type: ignore[call-overload]
        str(org),
        bytes(root),  # type: ignore[call-overload]
        int(count),  # type: ignore[call-overload]
        None if cid is None else str(cid),
        str(status),
        None if reason is None else str(reason),
        bool(readable),
    )


def verify_consortium_trail(
    items: Iterable[Mapping[str, Any]], batch: BatchLookup
) -> tuple[int, list[tuple[int, str]]]:
    """Check a consortium trail as GET /v1/audit/trail serves it against the chain, independently
    of the gateway that served it: (entries checked, and each that does not match, by position,
    with why)."""
    checked, mismatches = 0, []
    for position, raw in enumerate(items):
        checked += 1
        try:
            entry = entry_from_wire(raw["entry"])
            root, org, kind = batch(int(raw["chain_batch_id"]))
            proof = [bytes.fromhex(str(p)[2:]) for p in raw["proof"]]
        except (KeyError, TypeError, ValueError) as exc:
            mismatches.append((position, f"malformed entry: {exc}"))
            continue
        if kind != ACCESS_LOG_KIND:
            mismatches.append((position, "its batch is not an access-log batch"))
        elif org.lower() != str(raw["org"]).lower():
            mismatches.append((position, f"its batch was anchored by {org}, not {raw['org']}"))
        elif not verify(proof, root, leaf_hash(entry.digest())):
            mismatches.append((position, "the entry is not in its anchored batch"))
    return checked, mismatches
