"""Every CID the chain names, followed from its events into this gateway's SQLite: which events
carry a CID and who wrote it, the block followed to, and this node's replication pins.

Adding an event that names content is one line in ``CID_EVENTS``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_typing import ChecksumAddress
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.errors import ChainUnavailable
from ledger.records.batch_proof import RECORD_BATCH_KIND
from ledger.store import cid_from_bytes, cid_to_bytes

__all__ = [
    "CID_EVENTS",
    "MEMBERSHIP_EVENTS",
    "AnchoredContent",
    "ContentIndex",
    "Followed",
    "RecordBatch",
]

#: (contract, event, the argument naming the writing organisation, the argument holding the CID).
CID_EVENTS: tuple[tuple[str, str, str, str], ...] = (
    ("RecordRegistry", "RecordAnchored", "hospital", "cid"),
    ("RecordRegistry", "RecordAmended", "hospital", "cid"),
    ("PrescriptionRegistry", "PrescriptionIssued", "institution", "cid"),
    ("PrescriptionRegistry", "PrescriptionDispensed", "pharmacy", "cid"),
    ("ClaimRegistry", "PaymentRecorded", "payee", "cid"),
    ("ClaimRegistry", "ClaimSubmitted", "insurer", "cid"),
    ("ClaimRegistry", "ClaimDecided", "insurer", "cid"),
    ("ClaimRegistry", "ClaimSettled", "insurer", "cid"),
    ("BatchAnchor", "BatchAnchored", "org", "manifest"),
)
#: Events after which the holders of everything are computed again, and the peers re-dialled.
MEMBERSHIP_EVENTS: tuple[tuple[str, str], ...] = (
    ("Membership", "OrganisationAdmitted"),
    ("Membership", "OrganisationSuspended"),
    ("Membership", "OrganisationReinstated"),
    ("OrgDirectory", "OrgDirectoryUpdated"),
)
#: Blocks asked for in one eth_getLogs, so that a long catch-up is several bounded queries.
MAX_BLOCK_SPAN = 2_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replication_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS replication_content (
    cid TEXT PRIMARY KEY,
    writer TEXT NOT NULL,
    event TEXT NOT NULL,
    block INTEGER NOT NULL,
    tx TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS replication_batches (
    manifest TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    root BLOB NOT NULL,
    count INTEGER NOT NULL,
    expanded INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS replication_pins (
    cid TEXT PRIMARY KEY REFERENCES replication_content(cid),
    pinned INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
"""


@dataclass(frozen=True)
class AnchoredContent:
    """A CID as the chain first named it."""

    cid: str
    writer: str
    event: str
    block: int
    tx: str

    @property
    def binary(self) -> bytes:
        return cid_to_bytes(self.cid)


@dataclass(frozen=True)
class RecordBatch:
    """A record-version batch whose manifest lists envelope CIDs the chain names only through it."""

    manifest: str
    org: str
    root: bytes
    count: int


@dataclass(frozen=True)
class Followed:
    """What one step of following found: new CIDs, and whether membership or the directory moved."""

    new: list[AnchoredContent]
    membership_changed: bool


class ContentIndex:
    """The CIDs anchored on ``chain`` up to the cursor, kept in the SQLite database at ``path``."""

    def __init__(self, chain: Chain, path: Path) -> None:
        self._chain = chain
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        # One connection shared by the worker and request threads: every use under this lock.
        self._lock = threading.RLock()
        self._follow_lock = threading.Lock()
        self._decoders: dict[tuple[str, bytes], tuple[Any, str | None, str | None]] = {}
        for contract, event, writer, cid in CID_EVENTS:
            self._add_decoder(contract, event, writer, cid)
        for contract, event in MEMBERSHIP_EVENTS:
            self._add_decoder(contract, event, None, None)
        self._addresses: list[ChecksumAddress] = sorted(
            {Web3.to_checksum_address(address) for address, _ in self._decoders}
        )
        #: How many membership or directory events this index has followed since it was opened.
        self.membership_events = 0

    def _add_decoder(self, contract: str, event: str, writer: str | None, cid: str | None) -> None:
        bound = self._chain.contract(contract)
        abi: Any = next(a for a in bound.abi if a.get("type") == "event" and a.get("name") == event)
        key = (str(bound.address).lower(), bytes(event_abi_to_log_topic(abi)))
        self._decoders[key] = (bound.events[event](), writer, cid)

    @property
    def cursor(self) -> int:
        """The last block whose events are in the index (the deployment's, before any)."""
        with self._lock:
            row = self._conn.execute("SELECT block FROM replication_cursor").fetchone()
        return int(row[0]) if row else self._chain.deployment.block_number - 1

    def follow(self) -> Followed:
        """Index the events from the cursor to the chain's head; safe from several threads."""
        with self._follow_lock:
            head = self._chain.head()
            new: list[AnchoredContent] = []
            changed = False
            start = self.cursor + 1
            while start <= head:
                end = min(head, start + MAX_BLOCK_SPAN - 1)
                found, moved = self._scan(start, end)
                new.extend(found)
                changed = changed or moved
                start = end + 1
            return Followed(new, changed)

    def _scan(self, start: int, end: int) -> tuple[list[AnchoredContent], bool]:
        try:
            logs = self._chain.w3.eth.get_logs(
                {"address": self._addresses, "fromBlock": start, "toBlock": end}
            )
        except (OSError, ValueError) as exc:
            raise ChainUnavailable(f"events of blocks {start}-{end} not read: {exc}") from exc
        found: list[AnchoredContent] = []
        batches: list[RecordBatch] = []
        changed = False
        for log in logs:
            key = (str(log["address"]).lower(), bytes(log["topics"][0]) if log["topics"] else b"")
            decoder = self._decoders.get(key)
            if decoder is None:
                continue
            event, writer_arg, cid_arg = decoder
            if writer_arg is None or cid_arg is None:
                changed = True
                continue
            args = event.process_log(log)["args"]
            raw = bytes(args[cid_arg])
            if not raw:
                continue  # an event with no content behind it (an empty manifest)
            try:
                cid = cid_from_bytes(raw)
            except ValueError:
                continue  # a CID the chain took but no store could hold: nothing to pin
            found.append(
                AnchoredContent(
                    cid=cid,
                    writer=Web3.to_checksum_address(args[writer_arg]),
                    event=str(event.event_name),
                    block=int(log["blockNumber"]),
                    tx=log["transactionHash"].to_0x_hex(),
                )
            )
            if event.event_name == "BatchAnchored" and bytes(args["kind"]) == RECORD_BATCH_KIND:
                batches.append(
                    RecordBatch(cid, found[-1].writer, bytes(args["root"]), int(args["count"]))
                )
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO replication_content (cid, writer, event, block, tx)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(c.cid, c.writer, c.event, c.block, c.tx) for c in found],
                )
                self._conn.executemany(
                    "INSERT OR IGNORE INTO replication_batches (manifest, org, root, count)"
                    " VALUES (?, ?, ?, ?)",
                    [(b.manifest, b.org, b.root, b.count) for b in batches],
                )
                self._conn.execute(
                    "INSERT INTO replication_cursor (id, block) VALUES (1, ?)"
                    " ON CONFLICT(id) DO UPDATE SET block = excluded.block",
                    (end,),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self.membership_events += int(changed)
        return found, changed

    def get(self, cid: str) -> AnchoredContent | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT cid, writer, event, block, tx FROM replication_content WHERE cid = ?",
                (cid,),
            ).fetchone()
        return AnchoredContent(*row) if row else None

    def all(self) -> Iterator[AnchoredContent]:
        return (content for _, content in self.added_after(0))

    def added_after(self, row: int) -> list[tuple[int, AnchoredContent]]:
        """The CIDs indexed after row ``row`` (0: all), each with its row, in the order indexed:
        a batch's items come after their manifest's block, when the manifest was read."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT rowid, cid, writer, event, block, tx FROM replication_content"
                " WHERE rowid > ? ORDER BY rowid",
                (row,),
            ).fetchall()
        return [(int(r[0]), AnchoredContent(*r[1:])) for r in rows]

    # Record batches: their items' envelope CIDs are indexed once the manifest has been read.

    def unexpanded(self, limit: int) -> list[RecordBatch]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT manifest, org, root, count FROM replication_batches"
                " WHERE expanded = 0 AND next_try <= ? ORDER BY next_try LIMIT ?",
                (time.time(), limit),
            ).fetchall()
        return [RecordBatch(str(m), str(o), bytes(r), int(c)) for m, o, r, c in rows]

    def expand(self, batch: RecordBatch, cids: list[str]) -> None:
        """Index ``cids`` as written by the batch's organisation, where its manifest was."""
        manifest = self.get(batch.manifest)
        assert manifest is not None
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT OR IGNORE INTO replication_content (cid, writer, event, block, tx)"
                    " VALUES (?, ?, ?, ?, ?)",
                    [(c, batch.org, "BatchItem", manifest.block, manifest.tx) for c in cids],
                )
                self._conn.execute(
                    "UPDATE replication_batches SET expanded = 1 WHERE manifest = ?",
                    (batch.manifest,),
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def expand_failed(self, batch: RecordBatch, *, base_s: float, max_s: float) -> None:
        with self._lock:
            self._conn.execute(
                "UPDATE replication_batches SET attempts = attempts + 1,"
                " next_try = ? + min(?, ? * (1 << attempts)) WHERE manifest = ?",
                (time.time(), max_s, base_s, batch.manifest),
            )

    # This node's replication pins: wanted (pinned = 0) until pinned, retried with backoff.

    def want_many(self, cids: Iterable[str], *, pinned: bool = False) -> None:
        """Assign ``cids`` to this node in one transaction (a batch's thousands of envelopes);
        ``pinned``: they are pinned here already (this gateway stored them itself)."""
        rows = [(cid, int(pinned)) for cid in cids]
        if not rows:
            return
        with self._lock, self._transaction():
            self._conn.executemany(
                "INSERT OR IGNORE INTO replication_pins (cid, pinned) VALUES (?, ?)", rows
            )

    def assigned(self, cids: Iterable[str]) -> set[str]:
        """Which of ``cids`` this node is assigned (pinned or not)."""
        query = "SELECT 1 FROM replication_pins WHERE cid = ?"
        with self._lock:
            return {c for c in cids if self._conn.execute(query, (c,)).fetchone() is not None}

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def drop(self, cid: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM replication_pins WHERE cid = ?", (cid,))

    def pins(self) -> dict[str, bool]:
        """Every CID this node is assigned, and whether it is pinned yet."""
        with self._lock:
            rows = self._conn.execute("SELECT cid, pinned FROM replication_pins").fetchall()
        return {str(cid): bool(pinned) for cid, pinned in rows}

    def forget_pinned(self, held: set[str]) -> list[str]:
        """Mark as wanted again every CID recorded as pinned that the node does not hold (a node
        restored from an older backup, or rebuilt); returns them."""
        with self._lock:
            rows = self._conn.execute("SELECT cid FROM replication_pins WHERE pinned = 1")
            lost = [str(r[0]) for r in rows.fetchall() if str(r[0]) not in held]
            self._conn.executemany(
                "UPDATE replication_pins SET pinned = 0, next_try = 0 WHERE cid = ?",
                [(c,) for c in lost],
            )
        return lost

    def pin_state(self, cid: str) -> tuple[bool, int, str | None] | None:
        """(pinned, failed attempts since the last success, the last failure) of an assigned
        CID; None if this node is not assigned it."""
        with self._lock:
            row = self._conn.execute(
                "SELECT pinned, attempts, last_error FROM replication_pins WHERE cid = ?", (cid,)
            ).fetchone()
        return (bool(row[0]), int(row[1]), row[2]) if row else None

    def due(self, limit: int) -> list[str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT cid FROM replication_pins WHERE pinned = 0 AND next_try <= ?"
                " ORDER BY next_try LIMIT ?",
                (time.time(), limit),
            ).fetchall()
        return [str(r[0]) for r in rows]

    def pinned_many(self, cids: Iterable[str]) -> None:
        """Record ``cids`` pinned, in one transaction."""
        rows = [(cid,) for cid in cids]
        if not rows:
            return
        with self._lock, self._transaction():
            self._conn.executemany(
                "UPDATE replication_pins SET pinned = 1, attempts = 0, last_error = NULL"
                " WHERE cid = ?",
                rows,
            )

    def failed(self, cid: str, error: str, *, base_s: float, max_s: float) -> None:
        """Try again after base_s * 2^attempts, at most max_s."""
        with self._lock:
            row = self._conn.execute(
                "SELECT attempts FROM replication_pins WHERE cid = ?", (cid,)
            ).fetchone()
            attempts = int(row[0]) if row else 0
            delay = min(max_s, base_s * 2**attempts)
            self._conn.execute(
                "UPDATE replication_pins SET attempts = ?, next_try = ?, last_error = ?"
                " WHERE cid = ?",
                (attempts + 1, time.time() + delay, error[:500], cid),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
