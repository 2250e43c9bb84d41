"""Every batch of record versions the chain holds, read from its manifest: where any member finds a
batch-anchored version it did not write, and sees a hospital that contradicts itself.

BatchAnchor keeps a root per batch and names the batch's manifest (``batch_manifest``). The index
follows BatchAnchored logs of record-version batches, fetches each manifest from the content
network, checks that it rebuilds the anchored root, and keeps every leaf. A (record id, version)
that two leaves name is a conflict, the first anchoring standing (chain order: block, log, leaf);
a version whose predecessor was not anchored before it skips one. A manifest no peer served in
time is asked for again after ``retry_after_s``; one that does not rebuild its root is kept as
``invalid``, reported, never trusted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from ledger.chain.connection import Chain
from ledger.crypto.merkle import MerkleTree
from ledger.errors import ChainUnavailable, StoreError
from ledger.records.batch_manifest import ManifestInvalid, decode_manifest
from ledger.records.batch_proof import RECORD_BATCH_KIND, Anchoring, BatchedVersion
from ledger.records.document import Verdict
from ledger.store import ContentStore, cid_from_bytes

__all__ = ["BatchIndex", "IndexedLeaf", "UnreadBatch", "leaf_verdict", "standing_leaves"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), next_block INTEGER);
CREATE TABLE IF NOT EXISTS index_batches (
    batch_id INTEGER PRIMARY KEY, org TEXT, root BLOB, count INTEGER, manifest TEXT,
    block INTEGER, log_index INTEGER, tx_hash TEXT, anchored_at INTEGER,
    state TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS index_leaves (
    record_id BLOB, version INTEGER, batch_id INTEGER, leaf_index INTEGER, commitment BLOB,
    cid TEXT, hospital TEXT, patient TEXT, author TEXT,
    PRIMARY KEY (batch_id, leaf_index));
CREATE INDEX IF NOT EXISTS index_leaves_record ON index_leaves (record_id, version);
"""

#: Trees kept rebuilt for proofs (a batch's tree is rebuilt from its leaves when it is not).
_TREES_KEPT = 8


@dataclass(frozen=True)
class IndexedLeaf:
    """A leaf of an indexed batch: the version it names and where it was anchored."""

    item: BatchedVersion
    batch_id: int
    leaf_index: int
    block: int
    log_index: int


@dataclass(frozen=True)
class UnreadBatch:
    """A batch of record versions whose manifest is not (yet) in the index, and why."""

    batch_id: int
    org: str
    manifest: str
    state: str  # "unavailable" (no peer served it in time) or "invalid" (it is not the batch's)
    reason: str


def standing_leaves(
    leaves: Sequence[IndexedLeaf],
) -> tuple[dict[int, IndexedLeaf], dict[tuple[int, int], Verdict]]:
    """Of one record's leaves in chain order: the leaf that stands for each version, and why each
    other does not, keyed by (batch id, leaf index): a version anchored before (the first stands),
    or a version whose predecessor had not been anchored."""
    standing: dict[int, IndexedLeaf] = {}
    refused: dict[tuple[int, int], Verdict] = {}
    for leaf in leaves:
        version = leaf.item.version
        if version in standing:
            refused[leaf.batch_id, leaf.leaf_index] = Verdict.VERSION_CONFLICT
        elif version != 1 and version - 1 not in standing:
            refused[leaf.batch_id, leaf.leaf_index] = Verdict.VERSION_SKIPPED
        else:
            standing[version] = leaf
    return standing, refused


def leaf_verdict(
    leaves: Sequence[IndexedLeaf],
    batch_id: int,
    item: BatchedVersion,
    refused: Mapping[tuple[int, int], Verdict] | None = None,
) -> Verdict | None:
    """Why ``item``, proven in batch ``batch_id``, does not stand for its version among its
    record's ``leaves`` (``refused``: their ``standing_leaves`` verdicts, when already at hand), or
    None: it stands, or the index has not read that batch (ask ``index.unread()``)."""
    mine = next((x for x in leaves if x.batch_id == batch_id and x.item == item), None)
    if mine is None:
        return None
    if refused is None:
        refused = standing_leaves(leaves)[1]
    return refused.get((mine.batch_id, mine.leaf_index))


class BatchIndex:
    """The record-version batches of every hospital (or of one, ``hospital``) in SQLite at
    ``path`` (``":memory:"`` for a one-off check)."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        path: Path | str,
        *,
        hospital: str | None = None,
        retry_after_s: float = 60.0,
    ) -> None:
        self._chain = chain
        self._store = store
        self._hospital = hospital
        # A manifest no peer served is asked for again only this long after: each ask can wait a
        # whole fetch timeout, on the request that makes it, and a hostile hospital could name a
        # manifest nobody has to make every verification wait.
        self._retry_after_s = retry_after_s
        self._retry_at: dict[int, float] = {}
        self._anchor = chain.contract("BatchAnchor")
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()

    # -- following the chain ----------------------------------------------------------------------

    def sync(self) -> None:
        """Index batches anchored since the last sync, and retry manifests not served before."""
        with self._sync_lock:
            latest = int(self._chain.w3.eth.block_number)
            start = self._next_block()
            if start <= latest:
                for log in self._logs(start, latest):
                    self._remember_batch(log)
                self._set_next_block(latest + 1)
            now = time.monotonic()
            for batch_id, org, root, count, manifest in self._to_read():
                if self._retry_at.get(batch_id, 0.0) <= now:
                    self._read(batch_id, org, bytes(root), count, manifest)

    def _logs(self, start: int, end: int) -> list[Any]:
        filters: dict[str, Any] = {"kind": RECORD_BATCH_KIND}
        if self._hospital is not None:
            filters["org"] = self._hospital
        try:
            return list(
                self._anchor.events.BatchAnchored().get_logs(
                    from_block=start, to_block=end, argument_filters=filters
                )
            )
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc

    def _remember_batch(self, log: Any) -> None:
        args = log["args"]
        block = self._chain.w3.eth.get_block(log["blockNumber"])
        try:
            manifest: str = cid_from_bytes(bytes(args["manifest"]))
            state, reason = "unread", ""
        except ValueError:
            manifest, state, reason = "", "invalid", "the batch names no CID as its manifest"
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO index_batches VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (
                    int(args["batchId"]),
                    str(args["org"]),
                    bytes(args["root"]),
                    int(args["count"]),
                    manifest,
                    int(log["blockNumber"]),
                    int(log["logIndex"]),
                    log["transactionHash"].to_0x_hex(),
                    int(block["timestamp"]),
                    state,
                    reason,
                ),
            )

    def _read(self, batch_id: int, org: str, root: bytes, count: int, manifest: str) -> None:
        try:
            items = decode_manifest(self._store.get(manifest), root=root, count=count, org=org)
        except ManifestInvalid as exc:
            self._set_state(batch_id, "invalid", str(exc))
            return
        except StoreError as exc:  # no peer served it in time, or the store failed: retried later
            self._retry_at[batch_id] = time.monotonic() + self._retry_after_s
            self._set_state(batch_id, "unavailable", str(exc))
            return
        rows = [
            (i.record_id, i.version, batch_id, n, i.commitment, i.cid, i.hospital, i.patient,
             i.author)
            for n, i in enumerate(items)
        ]  # fmt: skip
        with self._lock:
            self._conn.execute("BEGIN")
            self._conn.executemany(
                "INSERT OR IGNORE INTO index_leaves VALUES (?,?,?,?,?,?,?,?,?)", rows
            )
            self._conn.execute(
                "UPDATE index_batches SET state = 'indexed', reason = '' WHERE batch_id = ?",
                (batch_id,),
            )
            self._conn.execute("COMMIT")

    # -- reading --------------------------------------------------------------------------------

    def leaves(self, record_id: bytes) -> list[IndexedLeaf]:
        """Every indexed leaf naming ``record_id``, in the order the chain anchored them."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT l.record_id, l.version, l.commitment, l.cid, l.hospital, l.patient,"
                " l.author, l.batch_id, l.leaf_index, b.block, b.log_index"
                " FROM index_leaves l JOIN index_batches b ON b.batch_id = l.batch_id"
                " WHERE l.record_id = ? ORDER BY b.block, b.log_index, l.leaf_index",
                (record_id,),
            ).fetchall()
        return [
            IndexedLeaf(
                BatchedVersion(bytes(r[0]), int(r[1]), bytes(r[2]), r[3], r[4], r[5], r[6]),
                batch_id=r[7],
                leaf_index=r[8],
                block=r[9],
                log_index=r[10],
            )
            for r in rows
        ]

    def unread(self) -> list[UnreadBatch]:
        """Batches of record versions the index could not read: their leaves are unknown here."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT batch_id, org, manifest, state, reason FROM index_batches"
                " WHERE state != 'indexed' ORDER BY batch_id"
            ).fetchall()
        return [UnreadBatch(*row) for row in rows]

    def anchoring(self, leaf: IndexedLeaf) -> Anchoring:
        """Where ``leaf`` was anchored, with its proof rebuilt from the batch's manifest."""
        with self._lock:
            root, tx_hash, block, at = self._conn.execute(
                "SELECT root, tx_hash, block, anchored_at FROM index_batches WHERE batch_id = ?",
                (leaf.batch_id,),
            ).fetchone()
        return Anchoring(
            chain_batch_id=leaf.batch_id,
            root=bytes(root),
            transaction=tx_hash,
            block=block,
            anchored_at=at,
            leaf_index=leaf.leaf_index,
            proof=self._tree(leaf.batch_id).proof(leaf.leaf_index),
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # -- storage --------------------------------------------------------------------------------

    def _tree(self, batch_id: int) -> MerkleTree:
        with self._lock:
            tree = self._trees.get(batch_id)
            if tree is not None:
                self._trees.move_to_end(batch_id)
                return tree
            rows = self._conn.execute(
                "SELECT record_id, version, commitment, cid, hospital, patient, author"
                " FROM index_leaves WHERE batch_id = ? ORDER BY leaf_index",
                (batch_id,),
            ).fetchall()
        tree = MerkleTree(
            [BatchedVersion(bytes(r[0]), int(r[1]), bytes(r[2]), *r[3:]).leaf() for r in rows]
        )
        with self._lock:
            self._trees[batch_id] = tree
            while len(self._trees) > _TREES_KEPT:
                self._trees.popitem(last=False)
        return tree

    def _next_block(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT next_block FROM index_cursor").fetchone()
        return int(row[0]) if row else self._chain.deployment.block_number

    def _set_next_block(self, block: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO index_cursor VALUES (1, ?)"
                " ON CONFLICT (id) DO UPDATE SET next_block = excluded.next_block",
                (block,),
            )

    def _to_read(self) -> list[tuple[int, str, bytes, int, str]]:
        with self._lock:
            return self._conn.execute(
                "SELECT batch_id, org, root, count, manifest FROM index_batches"
                " WHERE state IN ('unread', 'unavailable') ORDER BY batch_id"
            ).fetchall()

    def _set_state(self, batch_id: int, state: str, reason: str) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE index_batches SET state = ?, reason = ? WHERE batch_id = ?",
                (state, reason, batch_id),
            )
