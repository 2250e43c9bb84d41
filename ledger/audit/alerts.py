"""The regulator's alerts and what its rules engine remembers between events, in one SQLite file
beside the gateway's others: the block followed to, the facts windowed rules count over, the
access-log batches already read, and every alert with its evidence.

An alert's id is derived from its rule and what it is about, and a round's facts, alerts and
cursor are committed together: a restart resumes from the cursor, and an event read twice raises
nothing twice.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Alert", "AlertStore", "alert_id"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS supervision_cursor (id INTEGER PRIMARY KEY CHECK (id = 1),
    block INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS supervision_alerts (seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE, rule TEXT NOT NULL, kind TEXT NOT NULL, severity TEXT NOT NULL,
    institution TEXT, subject TEXT NOT NULL, at INTEGER NOT NULL, summary TEXT NOT NULL,
    evidence TEXT NOT NULL, raised_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS alerts_by_subject ON supervision_alerts(rule, subject, at);
CREATE TABLE IF NOT EXISTS supervision_facts (kind TEXT NOT NULL, key TEXT NOT NULL,
    subject TEXT NOT NULL, at INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE INDEX IF NOT EXISTS facts_by_subject ON supervision_facts(kind, subject, at);
CREATE TABLE IF NOT EXISTS supervision_batches (chain_batch_id INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS supervision_unread (key TEXT PRIMARY KEY, data TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_try REAL NOT NULL);
"""


def alert_id(rule: str, key: str) -> str:
    """The id of rule ``rule``'s alert about ``key``: the same on every run."""
    return "0x" + hashlib.sha256(f"{rule}\0{key}".encode()).digest()[:16].hex()


@dataclass(frozen=True)
class Alert:
    """A rule's finding: about whom (``subject``, ``institution``), when on chain (``at``), and
    the transactions and access entries that show it (``evidence``)."""

    seq: int
    id: str
    rule: str
    kind: str
    severity: str
    institution: str | None
    subject: str
    at: int
    summary: str
    evidence: list[dict[str, Any]]
    raised_at: float


_ALERT_COLUMNS = (
    "seq, id, rule, kind, severity, institution, subject, at, summary, evidence, raised_at"
)


class AlertStore:
    """The engine's state and its alerts; safe to read from request threads while it writes."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything written inside is committed together, or not at all."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # -- the cursor ------------------------------------------------------------------------------

    def cursor(self) -> int | None:
        """The last block whose events were all read, or None before the first."""
        with self._lock:
            row = self._conn.execute("SELECT block FROM supervision_cursor").fetchone()
        return None if row is None else int(row[0])

    def set_cursor(self, block: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO supervision_cursor VALUES (1, ?)"
                " ON CONFLICT(id) DO UPDATE SET block = excluded.block",
                (block,),
            )

    # -- facts -----------------------------------------------------------------------------------

    def put_fact(self, kind: str, key: str, subject: str, at: int, data: Mapping[str, Any]) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO supervision_facts VALUES (?, ?, ?, ?, ?)",
                (kind, key, subject.lower(), at, json.dumps(data, sort_keys=True)),
            )

    def fact(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT data FROM supervision_facts WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def delete_fact(self, kind: str, key: str) -> None:
        with self._lock:
            self._conn.execute(
                "DELETE FROM supervision_facts WHERE kind = ? AND key = ?", (kind, key)
            )

    def facts(
        self, kind: str, subject: str | None = None, *, since: int = 0, until: int = 2**62
    ) -> list[dict[str, Any]]:
        """The facts of ``kind`` (about ``subject``) dated within [since, until], in the order they
        happened (by date, then as they were read: chain order)."""
        sql = "SELECT data FROM supervision_facts WHERE kind = ? AND at >= ? AND at <= ?"
        args: list[Any] = [kind, since, until]
        if subject is not None:
            sql += " AND subject = ?"
            args.append(subject.lower())
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY at, rowid", args).fetchall()
        return [dict(json.loads(row[0])) for row in rows]

    # -- access-log batches read, prescriptions not yet read ------------------------------------

    def batch_read(self, chain_batch_id: int) -> bool:
        with self._lock:
            row = self._conn.execute(
                "SELECT 1 FROM supervision_batches WHERE chain_batch_id = ?", (chain_batch_id,)
            ).fetchone()
        return row is not None

    def mark_batch_read(self, chain_batch_id: int) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO supervision_batches VALUES (?)", (chain_batch_id,)
            )

    def defer(self, key: str, data: Mapping[str, Any], *, retry_s: float) -> None:
        """Keep ``data`` to try again in ``retry_s`` (twice that each further time)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT attempts FROM supervision_unread WHERE key = ?", (key,)
            ).fetchone()
            attempts = 0 if row is None else int(row[0]) + 1
            self._conn.execute(
                "INSERT OR REPLACE INTO supervision_unread VALUES (?, ?, ?, ?)",
                (key, json.dumps(data), attempts, time.time() + retry_s * 2 ** min(attempts, 6)),
            )

    def due(self) -> list[tuple[str, dict[str, Any], int]]:
        """What was deferred and is due again: (key, data, attempts so far)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT key, data, attempts FROM supervision_unread WHERE next_try <= ?"
                " ORDER BY next_try",
                (time.time(),),
            ).fetchall()
        return [(str(k), dict(json.loads(d)), int(a)) for k, d, a in rows]

    def undefer(self, key: str) -> None:
        with self._lock:
            self._conn.execute("DELETE FROM supervision_unread WHERE key = ?", (key,))

    # -- alerts ----------------------------------------------------------------------------------

    def raise_alert(
        self,
        *,
        rule: str,
        kind: str,
        severity: str,
        key: str,
        institution: str | None,
        subject: str,
        at: int,
        summary: str,
        evidence: list[dict[str, Any]],
    ) -> bool:
        """Store the alert of ``rule`` about ``key``; False if it was raised already."""
        with self._lock:
            cursor = self._conn.execute(
                f"INSERT OR IGNORE INTO supervision_alerts ({_ALERT_COLUMNS})"  # noqa: S608
                " VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    alert_id(rule, key),
                    rule,
                    kind,
                    severity,
                    institution,
                    subject.lower(),
                    at,
                    summary,
                    json.dumps(evidence, sort_keys=True),
                    time.time(),
                ),
            )
        return cursor.rowcount == 1

    def last_alert_at(self, rule: str, subject: str) -> int | None:
        """When (chain time) ``rule`` last alerted about ``subject``."""
        with self._lock:
            row = self._conn.execute(
                "SELECT max(at) FROM supervision_alerts WHERE rule = ? AND subject = ?",
                (rule, subject.lower()),
            ).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def alerts(
        self,
        *,
        rule: str | None = None,
        severity: str | None = None,
        institution: str | None = None,
        since: int | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts matching every filter given, in the order raised, after sequence ``after``."""
        clauses, args = ["seq > ?"], list[object]([after])
        for column, value in (("rule", rule), ("severity", severity)):
            if value is not None:
                clauses.append(f"{column} = ?")
                args.append(value)
        if institution is not None:
            clauses.append("lower(institution) = lower(?)")
            args.append(institution)
        if since is not None:
            clauses.append("at >= ?")
            args.append(since)
        # Only fixed column names are joined in; every value is a bound parameter.
        sql = (
            f"SELECT {_ALERT_COLUMNS} FROM supervision_alerts WHERE "  # noqa: S608
            + " AND ".join(clauses)
            + " ORDER BY seq LIMIT ?"
        )
        with self._lock:
            rows = self._conn.execute(sql, [*args, limit]).fetchall()
        return [_alert(row) for row in rows]

    def alert(self, id_: str) -> Alert | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_ALERT_COLUMNS} FROM supervision_alerts WHERE id = ?",  # noqa: S608
                (id_.lower(),),
            ).fetchone()
        return None if row is None else _alert(row)

    def close(self) -> None:
        self._conn.close()


def _alert(row: tuple[Any, ...]) -> Alert:
    seq, id_, rule, kind, severity, institution, subject, at, summary, evidence, raised = row
    return Alert(
        int(seq),
        str(id_),
        str(rule),
        str(kind),
        str(severity),
        None if institution is None else str(institution),
        str(subject),
        int(at),
        str(summary),
        list(json.loads(evidence)),
        float(raised),
    )
