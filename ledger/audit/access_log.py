"""The gateway's access log: every access decision, allowed or denied, sealed into Merkle batches
whose roots are anchored on chain, so that no entry can be dropped or altered unnoticed.

Entries live in the gateway's SQLite database; batch roots go on chain (BatchAnchor), each with the
CID of the batch as published, encrypted, to IPFS (ledger/audit/manifest.py).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from ledger.crypto.merkle import MerkleTree, leaf_hash, verify
from ledger.payload import canonicalize

#: The ``kind`` BatchAnchor records for access-log batches.
ACCESS_LOG_KIND = keccak(text="medledger.access-log.v1")

#: The action of the entry a bulk write logs for each version it wrote; every other entry's is the
#: request's "METHOD ROUTE".
BULK_ITEM_ACTION = "POST /v1/records:bulk item"


@dataclass(frozen=True)
class AccessEntry:
    """One access decision: who (member, organisation), what (record, version, view), why (grant,
    purpose), when, and the outcome (``allowed`` or ``denied:<problem code>``)."""

    at: int
    actor: str
    org: str | None
    action: str
    record_id: str | None
    version: int | None
    view: str | None
    patient: str | None
    grant: str | None
    purpose: str | None
    outcome: str
    #: 32 random bytes (``0x`` + hex) the log adds to every new entry, so that a leaf hash, which
    #: the published batch shows, cannot be matched against guessed entries (an entry's fields are
    #: few and guessable). Entries logged before salts have none, and their digest is unchanged.
    salt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Every field by name, ``salt`` included, as ``dataclasses.asdict`` gives it: the fields
        are all flat values, so a shallow dict is its deep copy, at a tenth of its cost (a bulk
        write logs an entry a version, and its batch's manifest writes each one twice)."""
        return {name: getattr(self, name) for name in _ENTRY_FIELDS}

    def canonical(self) -> bytes:
        body = self.as_dict()
        if self.salt is None:
            del body["salt"]
        return canonicalize(body)

    def digest(self) -> bytes:
        return _digest_of(self.canonical())


_ENTRY_FIELDS = tuple(f.name for f in fields(AccessEntry))


@dataclass(frozen=True)
class LoggedEntry:
    """An entry as stored, with where it was sealed (``batch`` None until sealed)."""

    seq: int
    entry: AccessEntry
    batch: int | None
    leaf_index: int | None


@dataclass(frozen=True)
class SealedBatch:
    """A local batch: its root, its entries' range, and (once anchored) the chain's batch id."""

    id: int
    root: bytes
    count: int
    chain_batch_id: int | None
    transaction: str | None


@dataclass(frozen=True)
class TrailItem:
    """An entry with everything needed to check it against the chain on its own."""

    seq: int
    entry: AccessEntry
    chain_batch_id: int
    root: str
    proof: list[str]


#: Publishes a batch (its root, its entries in leaf order) and anchors it on chain; returns (the
#: chain's batch id, the transaction hash).
AnchorFn = Callable[[bytes, Sequence[AccessEntry]], tuple[int, str]]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS access_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT, root BLOB NOT NULL, count INTEGER NOT NULL,
    chain_batch_id INTEGER, tx TEXT);
CREATE TABLE IF NOT EXISTS access_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL, digest BLOB NOT NULL,
    at INTEGER NOT NULL, actor TEXT NOT NULL, org TEXT, record_id TEXT, patient TEXT,
    batch INTEGER REFERENCES access_batches(id), leaf_index INTEGER);
CREATE INDEX IF NOT EXISTS access_by_record ON access_entries(record_id, seq);
CREATE INDEX IF NOT EXISTS access_by_patient ON access_entries(patient, seq);
CREATE INDEX IF NOT EXISTS access_by_actor ON access_entries(actor, seq);
CREATE INDEX IF NOT EXISTS access_by_org ON access_entries(org, seq);
CREATE INDEX IF NOT EXISTS access_unsealed ON access_entries(batch) WHERE batch IS NULL;
"""


class AccessLog:
    """Append, seal and prove access entries; one instance per gateway database."""

    def __init__(self, path: Path, *, batch_max: int = 1000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._seal_lock = threading.Lock()
        self._batch_max = batch_max

    def record(self, entry: AccessEntry) -> int:
        """Append ``entry`` durably, salted; returns its sequence number."""
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO access_entries (body, digest, at, actor, org, record_id, patient)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                _row(_salted(entry)),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def record_many(self, entries: Iterable[AccessEntry]) -> None:
        """Append ``entries`` durably in one transaction (one disk sync for a bulk write's
        thousand entries, not a thousand)."""
        rows = [_row(e) for e in map(_salted, entries)]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO access_entries (body, digest, at, actor, org, record_id, patient)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def seal(self, anchor: AnchorFn) -> SealedBatch | None:
        """Anchor the oldest unsealed entries (up to the batch size) as one batch; None if none.

        The batch is committed locally before it is sent, and a batch left unanchored by a crash is
        sent first on the next call, so no entry is ever left out of a batch.
        """
        with self._seal_lock:
            pending = self._unanchored_batch() or self._new_batch()
            if pending is None:
                return None
            chain_batch_id, tx = anchor(pending.root, self._batch_entries(pending.id))
            with self._lock:
                self._conn.execute(
                    "UPDATE access_batches SET chain_batch_id = ?, tx = ? WHERE id = ?",
                    (chain_batch_id, tx, pending.id),
                )
            return SealedBatch(pending.id, pending.root, pending.count, chain_batch_id, tx)

    def _new_batch(self) -> SealedBatch | None:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    "SELECT seq, digest FROM access_entries WHERE batch IS NULL"
                    " ORDER BY seq LIMIT ?",
                    (self._batch_max,),
                ).fetchall()
                if not rows:
                    self._conn.execute("ROLLBACK")
                    return None
                tree = MerkleTree([leaf_hash(bytes(digest)) for _, digest in rows])
                cursor = self._conn.execute(
                    "INSERT INTO access_batches (root, count) VALUES (?, ?)", (tree.root, len(rows))
                )
                batch_id = cursor.lastrowid
                self._conn.executemany(
                    "UPDATE access_entries SET batch = ?, leaf_index = ? WHERE seq = ?",
                    [(batch_id, i, seq) for i, (seq, _) in enumerate(rows)],
                )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        assert batch_id is not None
        return SealedBatch(batch_id, tree.root, len(rows), None, None)

    def _batch_entries(self, batch: int) -> list[AccessEntry]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT body FROM access_entries WHERE batch = ? ORDER BY leaf_index", (batch,)
            ).fetchall()
        return [_entry(body) for (body,) in rows]

    def _unanchored_batch(self) -> SealedBatch | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT id, root, count FROM access_batches WHERE chain_batch_id IS NULL"
                " ORDER BY id LIMIT 1"
            ).fetchone()
        return None if row is None else SealedBatch(row[0], bytes(row[1]), row[2], None, None)

    def entries(
        self,
        *,
        record_id: str | None = None,
        patient: str | None = None,
        actor: str | None = None,
        org: str | None = None,
        since: int | None = None,
        until: int | None = None,
        after_seq: int = 0,
        limit: int = 100,
    ) -> list[LoggedEntry]:
        """Entries matching every filter given, oldest first, after ``after_seq`` (for paging)."""
        clauses, args = ["seq > ?"], [after_seq]
        for column, value in (
            ("record_id", record_id),
            ("patient", patient),
            ("actor", actor),
            ("org", org),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)  # type: ignore[arg-type]
        if since is not None:
            clauses.append("at >= ?")
            args.append(since)
        if until is not None:
            clauses.append("at <= ?")
            args.append(until)
        # Only fixed column names are joined in; every value is a bound parameter.
        sql = (
            "SELECT seq, body, batch, leaf_index FROM access_entries WHERE "  # noqa: S608
            + " AND ".join(clauses)
            + " ORDER BY seq LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, [*args, limit]).fetchall()
        return [LoggedEntry(seq, _entry(body), batch, index) for seq, body, batch, index in rows]

    def trail(self, logged: list[LoggedEntry]) -> Iterator[TrailItem]:
        """Each anchored entry of ``logged`` with its proof; unanchored entries are skipped."""
        trees: dict[int, tuple[MerkleTree, int]] = {}
        for item in logged:
            if item.batch is None or item.leaf_index is None:
                continue
            if item.batch not in trees:
                tree_and_id = self._tree(item.batch)
                if tree_and_id is None:
                    continue
                trees[item.batch] = tree_and_id
            tree, chain_batch_id = trees[item.batch]
            yield TrailItem(
                seq=item.seq,
                entry=item.entry,
                chain_batch_id=chain_batch_id,
                root="0x" + tree.root.hex(),
                proof=["0x" + p.hex() for p in tree.proof(item.leaf_index)],
            )

    def _tree(self, batch: int) -> tuple[MerkleTree, int] | None:
        with self._lock:
            (chain_batch_id,) = self._conn.execute(
                "SELECT chain_batch_id FROM access_batches WHERE id = ?", (batch,)
            ).fetchone()
            digests = self._conn.execute(
                "SELECT digest FROM access_entries WHERE batch = ? ORDER BY leaf_index", (batch,)
            ).fetchall()
        if chain_batch_id is None:
            return None
        return MerkleTree([leaf_hash(bytes(d)) for (d,) in digests]), chain_batch_id

    def unsealed(self) -> int:
        with self._lock:
            (count,) = self._conn.execute(
                "SELECT count(*) FROM access_entries WHERE batch IS NULL"
            ).fetchone()
        return int(count)

    def close(self) -> None:
        self._conn.close()


def _entry(body: str) -> AccessEntry:
    return AccessEntry(**json.loads(body))


def _row(entry: AccessEntry) -> tuple[str, bytes, int, str, str | None, str | None, str | None]:
    """An entry's access_entries columns from body to patient, canonicalised once (``digest()``
    would canonicalise it a second time)."""
    body = entry.canonical()
    return (
        body.decode(),
        _digest_of(body),
        entry.at,
        entry.actor,
        entry.org,
        entry.record_id,
        entry.patient,
    )


def _digest_of(canonical: bytes) -> bytes:
    return hashlib.sha256(canonical).digest()


def _salted(entry: AccessEntry) -> AccessEntry:
    return entry if entry.salt is not None else replace(entry, salt=new_salt())


def new_salt() -> str:
    return "0x" + secrets.token_bytes(32).hex()


def entry_from_wire(raw: Mapping[str, Any]) -> AccessEntry:
    """An entry from its JSON fields (KeyError, TypeError or ValueError if they do not fit)."""
    entry = AccessEntry(
        **{f.name: raw[f.name] for f in fields(AccessEntry) if f.name != "salt"},
        salt=raw.get("salt"),
    )
    if entry.salt is not None and not isinstance(entry.salt, str):
        raise TypeError("salt is not a string")
    return entry


#: Looks up an anchored batch by its chain id: (root, anchoring organisation, kind).
BatchLookup = Callable[[int], tuple[bytes, str, bytes]]


def check_trail_item(item: TrailItem, batch: BatchLookup, gateway: str) -> str | None:
    """Why ``item`` does not match what the chain anchored, or None if it does."""
    root, org, kind = batch(item.chain_batch_id)
    if kind != ACCESS_LOG_KIND:
        return f"batch {item.chain_batch_id} is not an access-log batch"
    if org.lower() != gateway.lower():
        return f"batch {item.chain_batch_id} was anchored by {org}, not by {gateway}"
    if "0x" + root.hex() != item.root:
        return "its batch root differs from the root anchored on chain"
    proof = [bytes.fromhex(p[2:]) for p in item.proof]
    if not verify(proof, root, leaf_hash(item.entry.digest())):
        return "the entry is not in its anchored batch (altered, or its proof is wrong)"
    return None


def verify_trail(
    items: Iterable[Mapping[str, Any]], batch: BatchLookup, gateway: str
) -> tuple[int, int, list[tuple[int, str]]]:
    """Check a trail as the API serves it: (entries checked, entries not yet anchored, and each
    entry that does not match with why, named by its seq, or by its position when the trail was
    served to a patient without seqs)."""
    checked, unanchored, mismatches = 0, 0, []
    for position, raw in enumerate(items):
        if raw.get("chain_batch_id") is None:
            unanchored += 1
            continue
        checked += 1
        try:
            item = TrailItem(
                seq=int(raw["seq"]) if raw.get("seq") is not None else position,
                entry=entry_from_wire(raw),
                chain_batch_id=int(raw["chain_batch_id"]),
                root=str(raw["root"]),
                proof=[str(p) for p in raw["proof"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            mismatches.append((position, f"malformed entry: {exc}"))
            continue
        reason = check_trail_item(item, batch, gateway)
        if reason is not None:
            mismatches.append((item.seq, reason))
    return checked, unanchored, mismatches


def now() -> int:
    return int(time.time())
