"""The durable outbox of batch-anchored record versions: accepted in one SQLite commit, sealed into
Merkle batches, and anchored one transaction a batch on BatchAnchor.

A version is acknowledged (HTTP 202, a receipt id) only once its row is committed. The states a
batch passes through are written before the step they guard, so a crash anywhere resumes from the
database: a batch is sealed (items and root fixed) before it is signed, and its signed transaction
is stored before it is sent, so a restart re-broadcasts those same bytes instead of signing again.
Only the batch's root goes on chain; its items stay here, each provable by its inclusion proof.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.crypto.merkle import MerkleTree
from ledger.errors import ContractRevert
from ledger.records.batch_proof import Anchoring, BatchedVersion

__all__ = ["Outbox", "PendingBatch", "Receipt"]


@dataclass(frozen=True)
class Receipt:
    """What a client polls: the item, when it was accepted, and its anchoring once there is one."""

    receipt_id: str
    item: BatchedVersion
    accepted_at: float
    status: str  # "pending" (accepted) | "sealed" (in a batch being anchored) | "anchored"
    anchoring: Anchoring | None


@dataclass(frozen=True)
class PendingBatch:
    """A sealed batch not yet anchored, with its signed transaction once one was stored."""

    id: int
    root: bytes
    count: int
    raw_tx: bytes | None
    tx_hash: bytes | None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS record_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, root BLOB NOT NULL, count INTEGER NOT NULL,
    raw_tx BLOB, tx_hash BLOB, chain_batch_id INTEGER UNIQUE, block INTEGER, anchored_at REAL);
CREATE TABLE IF NOT EXISTS record_outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, receipt_id TEXT NOT NULL UNIQUE,
    record_id BLOB NOT NULL, version INTEGER NOT NULL, commitment BLOB NOT NULL, cid TEXT NOT NULL,
    hospital TEXT NOT NULL, patient TEXT NOT NULL, author TEXT NOT NULL, leaf BLOB NOT NULL,
    accepted_at REAL NOT NULL, envelope BLOB,
    batch INTEGER REFERENCES record_batches(id), leaf_index INTEGER,
    UNIQUE (record_id, version));
CREATE INDEX IF NOT EXISTS outbox_unbatched ON record_outbox(seq) WHERE batch IS NULL;
CREATE INDEX IF NOT EXISTS outbox_by_batch ON record_outbox(batch, leaf_index);
"""
_ITEM = "record_id, version, commitment, cid, hospital, patient, author"


class Outbox:
    """Accept, seal and prove batch-anchored record versions; one instance per gateway database.

    Memory stays flat in the number of items: rows are streamed from SQLite, and only the trees of
    the few most recently proven batches are kept (``tree_cache``).
    """

    def __init__(self, path: Path, *, tree_cache: int = 8) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=30.0
        )
        # WAL with synchronous=FULL: a commit is on disk before it returns, so a 202 is durable.
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._trees: OrderedDict[int, MerkleTree] = OrderedDict()
        self._tree_cache = tree_cache

    # -- accepting ------------------------------------------------------------------------------

    def accept(self, items: Sequence[tuple[BatchedVersion, bytes]]) -> list[str]:
        """Commit ``items`` (each with its sealed envelope) in one transaction; their receipt ids.

        A version already taken (two amendments of the same record racing) refuses the whole
        request with RecordVersionConflict, as RecordRegistry would.
        """
        now = time.time()
        ids = [secrets.token_hex(16) for _ in items]
        rows = [
            (
                rid,
                v.record_id,
                v.version,
                v.commitment,
                v.cid,
                v.hospital,
                v.patient,
                v.author,
                v.leaf(),
                now,
                blob,
            )
            for rid, (v, blob) in zip(ids, items, strict=True)
        ]
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    f"INSERT INTO record_outbox (receipt_id, {_ITEM}, leaf, accepted_at, envelope)"  # noqa: S608
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._conn.execute("ROLLBACK")
                raise _conflict(items) from exc
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return ids

    def unbatched(self) -> int:
        """How many accepted items wait for a batch."""
        with self._lock:
            (count,) = self._conn.execute(
                "SELECT count(*) FROM record_outbox WHERE batch IS NULL"
            ).fetchone()
        return int(count)

    def accepted(self) -> int:
        """How many items were ever accepted here, waiting, sealed or anchored."""
        with self._lock:
            (count,) = self._conn.execute("SELECT count(*) FROM record_outbox").fetchone()
        return int(count)

    def latest_version(self, record_id: bytes, *, anchored_only: bool) -> int:
        """The highest version of ``record_id`` here (0 if none), anchored or merely accepted."""
        sql = "SELECT max(o.version) FROM record_outbox o"
        if anchored_only:
            sql += " JOIN record_batches b ON b.id = o.batch AND b.chain_batch_id IS NOT NULL"
        with self._lock:
            (latest,) = self._conn.execute(sql + " WHERE o.record_id = ?", (record_id,)).fetchone()
        return int(latest or 0)

    # -- sealing and anchoring ------------------------------------------------------------------

    def seal(self, batch_max: int) -> PendingBatch | None:
        """Fix the oldest waiting items (at most ``batch_max``) into a batch; None if none wait."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    "SELECT seq, leaf FROM record_outbox WHERE batch IS NULL ORDER BY seq LIMIT ?",
                    (batch_max,),
                ).fetchall()
                if not rows:
                    self._conn.execute("ROLLBACK")
                    return None
                tree = MerkleTree([bytes(leaf) for _, leaf in rows])
                cursor = self._conn.execute(
                    "INSERT INTO record_batches (root, count) VALUES (?, ?)", (tree.root, len(rows))
                )
                batch_id = cursor.lastrowid
                assert batch_id is not None
                self._conn.executemany(
                    "UPDATE record_outbox SET batch = ?, leaf_index = ? WHERE seq = ?",
                    [(batch_id, i, seq) for i, (seq, _) in enumerate(rows)],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._remember(batch_id, tree)
        return PendingBatch(batch_id, tree.root, len(rows), None, None)

    def unfinished(self) -> list[PendingBatch]:
        """Sealed batches not yet anchored, oldest first (a crash leaves these behind)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, root, count, raw_tx, tx_hash FROM record_batches"
                " WHERE chain_batch_id IS NULL ORDER BY id"
            ).fetchall()
        return [
            PendingBatch(
                i, bytes(r), c, None if t is None else bytes(t), None if h is None else bytes(h)
            )
            for i, r, c, t, h in rows
        ]

    def envelopes(self, batch_id: int) -> Iterator[bytes]:
        """The sealed envelopes of a batch still held here, for the content store."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT envelope FROM record_outbox WHERE batch = ? AND envelope IS NOT NULL",
                (batch_id,),
            ).fetchall()
        return (bytes(blob) for (blob,) in rows)

    def mark_signed(self, batch_id: int, raw_tx: bytes, tx_hash: bytes) -> None:
        """Store the batch's signed transaction: from now on only these bytes are ever sent."""
        with self._lock:
            self._conn.execute(
                "UPDATE record_batches SET raw_tx = ?, tx_hash = ? WHERE id = ?",
                (raw_tx, tx_hash, batch_id),
            )

    def forget_signed(self, batch_id: int) -> None:
        """Drop a signed transaction that can never be mined (its nonce went to another)."""
        with self._lock:
            self._conn.execute(
                "UPDATE record_batches SET raw_tx = NULL, tx_hash = NULL WHERE id = ?", (batch_id,)
            )

    def mark_anchored(self, batch_id: int, chain_batch_id: int, block: int) -> None:
        """Record where the batch landed; its envelopes now live in the content store only."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.execute(
                    "UPDATE record_batches SET chain_batch_id = ?, block = ?, anchored_at = ?"
                    " WHERE id = ?",
                    (chain_batch_id, block, time.time(), batch_id),
                )
                self._conn.execute(
                    "UPDATE record_outbox SET envelope = NULL WHERE batch = ?", (batch_id,)
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    # -- reading --------------------------------------------------------------------------------

    def receipt(self, receipt_id: str) -> Receipt | None:
        """The receipt ``receipt_id``, with its proof once its batch is anchored."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ITEM}, accepted_at, batch, leaf_index FROM record_outbox"  # noqa: S608
                " WHERE receipt_id = ?",
                (receipt_id,),
            ).fetchone()
        if row is None:
            return None
        item = _item(row[:7])
        accepted_at, batch, leaf_index = row[7:]
        anchoring = None if batch is None else self._anchoring(batch, leaf_index)
        status = "pending" if batch is None else "sealed" if anchoring is None else "anchored"
        return Receipt(receipt_id, item, accepted_at, status, anchoring)

    def anchored_version(
        self, record_id: bytes, version: int
    ) -> tuple[BatchedVersion, Anchoring] | None:
        """An anchored version of a batch-anchored record, with its proof; None if there is none."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ITEM}, batch, leaf_index FROM record_outbox"  # noqa: S608
                " WHERE record_id = ? AND version = ? AND batch IS NOT NULL",
                (record_id, version),
            ).fetchone()
        if row is None:
            return None
        anchoring = self._anchoring(row[7], row[8])
        return None if anchoring is None else (_item(row[:7]), anchoring)

    def batch_items(self, batch_id: int) -> list[BatchedVersion]:
        """A sealed batch's items in leaf order: what its manifest lists."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_ITEM} FROM record_outbox WHERE batch = ? ORDER BY leaf_index",  # noqa: S608
                (batch_id,),
            ).fetchall()
        return [_item(row) for row in rows]

    def version_item(self, record_id: bytes, version: int) -> BatchedVersion | None:
        """A version accepted here, anchored or not."""
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ITEM} FROM record_outbox WHERE record_id = ? AND version = ?",  # noqa: S608
                (record_id, version),
            ).fetchone()
        return None if row is None else _item(row)

    def anchored_count(self) -> int:
        with self._lock:
            (count,) = self._conn.execute(
                "SELECT coalesce(sum(count), 0) FROM record_batches"
                " WHERE chain_batch_id IS NOT NULL"
            ).fetchone()
        return int(count)

    def _anchoring(self, batch_id: int, leaf_index: int) -> Anchoring | None:
        with self._lock:
            chain_batch_id, root, tx_hash, block, at = self._conn.execute(
                "SELECT chain_batch_id, root, tx_hash, block, anchored_at FROM record_batches"
                " WHERE id = ?",
                (batch_id,),
            ).fetchone()
        if chain_batch_id is None:
            return None
        tree = self._tree(batch_id)
        return Anchoring(
            chain_batch_id=chain_batch_id,
            root=bytes(root),
            transaction="0x" + bytes(tx_hash).hex(),
            block=block,
            anchored_at=at,
            leaf_index=leaf_index,
            proof=tree.proof(leaf_index),
        )

    def _tree(self, batch_id: int) -> MerkleTree:
        with self._lock:
            tree = self._trees.get(batch_id)
            if tree is not None:
                self._trees.move_to_end(batch_id)
                return tree
            leaves = self._conn.execute(
                "SELECT leaf FROM record_outbox WHERE batch = ? ORDER BY leaf_index", (batch_id,)
            ).fetchall()
        tree = MerkleTree([bytes(leaf) for (leaf,) in leaves])
        with self._lock:
            self._remember(batch_id, tree)
        return tree

    def _remember(self, batch_id: int, tree: MerkleTree) -> None:
        self._trees[batch_id] = tree
        while len(self._trees) > self._tree_cache:
            self._trees.popitem(last=False)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _item(row: Sequence[Any]) -> BatchedVersion:
    record_id, version, commitment, cid, hospital, patient, author = row
    return BatchedVersion(
        record_id=bytes(record_id),
        version=int(version),
        commitment=bytes(commitment),
        cid=str(cid),
        hospital=str(hospital),
        patient=str(patient),
        author=str(author),
    )


def _conflict(items: Sequence[tuple[BatchedVersion, bytes]]) -> ContractRevert:
    first = items[0][0]
    return ContractRevert(
        "RecordVersionConflict",
        {"recordId": "0x" + first.record_id.hex(), "expected": first.version - 1},
    )
