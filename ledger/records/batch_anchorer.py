"""Moves the outbox to the chain: seal waiting record versions into batches, put their envelopes in
the content store, and anchor each batch's root in one BatchAnchor transaction.

Every step is idempotent against what the outbox recorded before it, so ``run_once`` after a crash
finishes what was left: a batch with a stored transaction is looked up by hash or re-broadcast as
the same bytes; a batch with none is signed (once) and sent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from ledger.chain.connection import Chain
from ledger.errors import ChainError, LedgerError
from ledger.records.batch_manifest import encode_manifest
from ledger.records.batch_proof import RECORD_BATCH_KIND
from ledger.records.outbox import Outbox, PendingBatch
from ledger.store import ContentStore, cid_to_bytes
from ledger.types import Cid

__all__ = ["BatchAnchorer"]

log = logging.getLogger("medledger.outbox")

#: Batches sent in one round before their receipts are awaited.
MAX_IN_FLIGHT = 32


class BatchAnchorer:
    """Seals and anchors the outbox: by size (``batch_max`` waiting) or every ``interval_s``."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        outbox: Outbox,
        *,
        batch_max: int,
        interval_s: float,
    ) -> None:
        self._chain = chain
        self._store = store
        self._outbox = outbox
        self._batch_max = batch_max
        self._interval_s = interval_s
        self._anchor = chain.contract("BatchAnchor")
        self._wake = threading.Event()
        self._run_lock = threading.Lock()

    def nudge(self, waiting: int) -> None:
        """Called after an accept: a full batch is sealed now rather than at the next interval."""
        if waiting >= self._batch_max:
            self._wake.set()

    def run_once(self) -> int:
        """Finish unfinished batches, then seal and anchor everything waiting; items anchored.

        Every batch is sent before any receipt is awaited, so a backlog costs one block, not one
        block a batch.
        """
        with self._run_lock:
            in_flight = [self._send(batch) for batch in self._outbox.unfinished()]
            # Bounded, so that under a sustained flood receipts are still awaited and recorded.
            while len(in_flight) < MAX_IN_FLIGHT:
                sealed = self._outbox.seal(self._batch_max)
                if sealed is None:
                    break
                in_flight.append(self._send(sealed))
            return sum(self._finish(batch) for batch in in_flight)

    def resume(self) -> None:
        """Hand every stored, unmined batch transaction back to the node (a restart's first act),
        so that its nonce is taken before this gateway signs anything else."""
        with self._run_lock:
            for batch in self._outbox.unfinished():
                if batch.raw_tx is not None:
                    self._chain.rebroadcast(batch.raw_tx)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Anchor in a background thread while the block runs; resume first, drain on the way out.

        Stored transactions are re-broadcast before the block starts, so one a crash left signed is
        back with the node before any other write of this gateway can take its nonce.
        """
        try:
            self.resume()
        except LedgerError as exc:
            log.warning("record batches not resumed at start: %s", exc)
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                self._wake.wait(self._interval_s)
                self._wake.clear()
                if not stop.is_set():
                    self._round()

        thread = threading.Thread(target=loop, name="record-batch-anchorer", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            self._wake.set()
            thread.join()
            self._round()

    def _round(self) -> None:
        try:
            self.run_once()
        except LedgerError as exc:  # the chain or store may be down a while; the outbox waits
            log.warning("record batches not anchored this round: %s", exc)

    def _send(self, batch: PendingBatch) -> PendingBatch:
        """The batch with its transaction sent: the stored one if it can still be mined (or was),
        else a newly signed one, stored before it is sent."""
        if batch.raw_tx is not None and batch.tx_hash is not None:
            if self._chain.receipt_of(batch.tx_hash) is not None:
                return batch
            if self._chain.rebroadcast(batch.raw_tx):
                return batch
            if self._chain.receipt_of(batch.tx_hash) is not None:
                return batch
            # Its nonce went to another transaction, so these bytes can never be mined.
            self._outbox.forget_signed(batch.id)
        manifest = self._store_content(batch.id)
        fn = self._anchor.functions.anchorBatch(
            RECORD_BATCH_KIND, batch.root, batch.count, cid_to_bytes(manifest)
        )
        self._chain.preflight(fn)
        raw, tx_hash = self._chain.send_recorded(
            fn, lambda raw, h: self._outbox.mark_signed(batch.id, raw, h)
        )
        return replace(batch, raw_tx=raw, tx_hash=bytes(tx_hash))

    def _finish(self, batch: PendingBatch) -> int:
        assert batch.raw_tx is not None
        assert batch.tx_hash is not None
        receipt = self._chain.await_receipt(batch.tx_hash, batch.raw_tx)
        if receipt["status"] != 1:
            # Mined and reverted (the organisation suspended, say): nothing was anchored and the
            # nonce is spent, so signing again later is safe.
            self._outbox.forget_signed(batch.id)
            raise ChainError(f"batch {batch.id}'s transaction reverted; it will be sent again")
        (event,) = self._anchor.events.BatchAnchored().process_receipt(receipt)
        self._outbox.mark_anchored(
            batch.id, int(event["args"]["batchId"]), int(receipt["blockNumber"])
        )
        return batch.count

    def _store_content(self, batch_id: int) -> Cid:
        """Content first: a root goes on chain only once everything under it can be read, its
        envelopes and its manifest (whose CID is returned, to be anchored with the root)."""
        self._store.put_many(self._outbox.envelopes(batch_id))
        items = self._outbox.batch_items(batch_id)
        return self._store.put(encode_manifest(items[0].hospital, items))
