"""Sealing many record versions at once, across processes.

FHIR validation and sealing are CPU-bound Python: threads would share one interpreter lock, so a
bulk write spreads them over a process pool, and each worker also writes its envelopes into the
embedded store (not yet synced: the outbox holds every envelope durably until its batch is anchored,
and the anchorer puts anything missing and syncs before it anchors a root).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.payload import parse_payload
from ledger.records.anchoring import Sealed, seal_payload
from ledger.store.embedded import EmbeddedStore

__all__ = ["BulkSealer", "SealJob"]


@dataclass(frozen=True)
class SealJob:
    """One version to validate and seal: its raw resource, where it goes, and for whom (each
    recipient's raw X25519 public key, by label; and the writer's key-encryption key, by label)."""

    resource: bytes
    record_id: bytes
    version: int
    recipients: Mapping[str, bytes]
    key_encryption_keys: Mapping[str, bytes] | None = None


def seal_jobs(jobs: list[SealJob], max_bytes: int, store_root: str | None) -> list[Sealed]:
    """Validate and seal ``jobs`` in order; with ``store_root``, also write each envelope there."""
    store = EmbeddedStore(store_root, durable=False) if store_root is not None else None
    sealed = []
    # A request's items share a few recipients (the hospital, a patient each): each key is
    # loaded once, not once an item.
    keys: dict[bytes, X25519PublicKey] = {}
    for job in jobs:
        payload = parse_payload(job.resource, max_bytes=max_bytes)
        recipients = {}
        for label, raw in job.recipients.items():
            key = keys.get(raw)
            if key is None:
                key = keys[raw] = X25519PublicKey.from_public_bytes(raw)
            recipients[label] = key
        one = seal_payload(
            payload,
            context_id=job.record_id,
            version=job.version,
            recipients=recipients,
            key_encryption_keys=job.key_encryption_keys,
        )
        if store is not None:
            store.put(one.envelope)
        sealed.append(one)
    return sealed


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: leave when the gateway is gone. A gateway killed outright (SIGKILL, OOM)
    closes no pipes its workers would notice, since they hold both ends of their queues."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class BulkSealer:
    """Seals jobs in ``workers`` processes (0: in this process, storing nothing)."""

    def __init__(self, workers: int, *, max_bytes: int, store_root: Path | None) -> None:
        self._workers = workers
        self._max_bytes = max_bytes
        self._store_root = None if store_root is None else str(store_root)
        self._pool: Executor | None = None

    def seal(self, jobs: list[SealJob]) -> list[Sealed]:
        if self._workers == 0 or len(jobs) < 2:
            return seal_jobs(jobs, self._max_bytes, None)
        if self._pool is None:
            # Spawned, not forked: the gateway runs threads, which a fork would copy mid-state.
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        size = -(-len(jobs) // self._workers)
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        results = self._pool.map(
            seal_jobs, chunks, [self._max_bytes] * len(chunks), [self._store_root] * len(chunks)
        )
        return [one for chunk in results for one in chunk]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
