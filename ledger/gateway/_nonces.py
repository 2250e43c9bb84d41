"""Replay protection for signed requests: remembers each (signer, nonce) pair until it expires.

A nonce needs remembering only while its request timestamp is inside the skew window; then it goes.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from eth_typing import ChecksumAddress
from eth_utils.address import to_canonical_address

_SCHEMA = """
CREATE TABLE IF NOT EXISTS nonces (
    signer BLOB NOT NULL,
    nonce BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (signer, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS nonces_expires_at ON nonces (expires_at);
"""
# SQLite integers are signed 64-bit; a uint64 timestamp beyond that is "never expires" in practice.
_INT64_MAX = 2**63 - 1


class NonceStore(Protocol):
    """Where a verifier records nonces it has accepted."""

    def consume(self, signer: ChecksumAddress, nonce: bytes, expires_at: int) -> bool:
        """Record ``nonce`` for ``signer`` until ``expires_at``; False if already recorded."""
        ...


class SqliteNonceStore:
    """A `NonceStore` in one SQLite file, safe to share between threads and worker processes.

    ``":memory:"`` gives a private in-process store: all that tests and one-process tools need.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        prune_every: int = 1024,
        retain_s: int = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if prune_every < 1 or retain_s < 0:
            raise ValueError("prune_every must be >= 1 and retain_s >= 0")
        self._prune_every = prune_every
        # A handler reads its clock before it consumes; keeping rows a little past expiry means a
        # prune running just after that read cannot forget a nonce the handler still accepts.
        self._retain_s = retain_s
        self._clock = clock
        self._inserts = 0
        self._lock = threading.Lock()
        # Autocommit: each INSERT is its own transaction, so the UNIQUE check and the write are one
        # atomic step even across processes sharing the file.
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def consume(self, signer: ChecksumAddress, nonce: bytes, expires_at: int) -> bool:
        """Record ``nonce`` for ``signer`` until ``expires_at``; False if already recorded."""
        key = (to_canonical_address(signer), bytes(nonce))
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO nonces (signer, nonce, expires_at) VALUES (?, ?, ?)",
                    (*key, min(expires_at, _INT64_MAX)),
                )
            except sqlite3.IntegrityError:
                return False
            self._inserts += 1
            if self._inserts % self._prune_every == 0:
                self._prune_locked()
            return True

    def prune(self) -> int:
        """Forget nonces expired more than ``retain_s`` ago; return how many were forgotten."""
        with self._lock:
            return self._prune_locked()

    def __len__(self) -> int:
        with self._lock:
            (count,) = self._db.execute("SELECT count(*) FROM nonces").fetchone()
        return int(count)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteNonceStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _prune_locked(self) -> int:
        cutoff = int(self._clock()) - self._retain_s
        return self._db.execute("DELETE FROM nonces WHERE expires_at < ?", (cutoff,)).rowcount
