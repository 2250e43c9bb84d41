"""Replication as a policy: every CID anchored on chain is kept by its writer and by
``REPLICATION_FACTOR`` other active organisations that rendezvous hashing picks (ledger.network.
holders). Each gateway whose store is its own IPFS node runs a ``Replicator``: it follows the
chain's CID events (ledger.network.anchored), pins on its own node what is assigned to its
organisation (the node fetches by bitswap from peers), retries what no peer has yet with backoff,
and, when membership or the directory changes, computes every assignment again: a newly assigned
holder pins, one no longer assigned unpins, unless the CID was anchored less than
``ReplicationPolicy.retain_s`` ago (the longest retention period: a holder cannot read a record's
class, so it keeps every CID that long). Cursor and pins live in the gateway's SQLite, so a
restart resumes where it stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from web3 import Web3

from ledger.chain.directory import OrgDirectory
from ledger.errors import (
    ContentNotFound,
    ContractRevert,
    LedgerError,
    StoreError,
    StoreUnavailable,
)
from ledger.network.anchored import AnchoredContent, ContentIndex
from ledger.network.holders import Candidates
from ledger.network.peers import NodeRpc, publish_entry, sync_peering
from ledger.records.batch_manifest import ManifestInvalid, decode_manifest
from ledger.store import ContentStore

__all__ = ["Placement", "ReplicationPolicy", "Replicator"]

log = logging.getLogger("medledger.replication")


@dataclass(frozen=True)
class ReplicationPolicy:
    """How many others hold each CID, and how the pinner paces itself."""

    factor: int = 2
    interval_s: float = 1.0
    retry_max_s: float = 60.0
    pin_workers: int = 4
    # No CID anchored less than this long ago is unpinned (0: unpinned when unassigned).
    retain_s: float = 0.0


@dataclass(frozen=True)
class Placement:
    """Who should hold an anchored CID now: its writer and its assigned holders."""

    content: AnchoredContent
    holders: list[str]
    candidates: Candidates


class Replicator:
    """Follows the chain and keeps this organisation's share of the consortium's content pinned."""

    def __init__(
        self,
        directory: OrgDirectory,
        store: ContentStore,
        index: ContentIndex,
        *,
        org: str,
        org_key: X25519PrivateKey,
        node: NodeRpc | None,
        policy: ReplicationPolicy,
        announce: Iterable[str] = (),
        block_time: Callable[[int], int] | None = None,
    ) -> None:
        self._block_time = block_time
        self.directory = directory
        self.store = store
        self.index = index
        self.org = Web3.to_checksum_address(org)
        self._org_key = org_key
        self.node = node
        self.policy = policy
        self._announce = list(announce)
        self._published = False
        self._candidates: Candidates | None = None
        self._membership_seen = -1
        self._assessed_row = 0
        self._round_lock = threading.Lock()
        self._wake = threading.Event()

    def placement(self, cid: str) -> Placement | None:
        """Where ``cid`` should be kept, from the chain as it is now; None if never anchored."""
        self.index.follow()
        content = self.index.get(cid)
        if content is None:
            return None
        candidates = Candidates.load(self.directory)
        return Placement(
            content,
            candidates.holders(content.binary, content.writer, self.policy.factor),
            candidates,
        )

    def run_once(self) -> int:
        """One round: publish this node if not yet done, follow the chain, assign, keep the
        peering set, pin what is due. Returns how many CIDs were pinned this round."""
        with self._round_lock:
            if self.node is not None and not self._published:
                try:
                    self._published = publish_entry(
                        self.directory, self._org_key, self.node, self._announce
                    )
                except ContractRevert as exc:  # suspended: nothing to publish, nothing to keep
                    log.info("node not published: %s", exc)
            self.index.follow()
            self._expand_batches()
            candidates = self._candidates
            new_rows = self.index.added_after(self._assessed_row)
            if candidates is None and self.node is not None:
                # First round of this process: what the node lost since (restored from an older
                # backup, or rebuilt) is fetched back from the other holders.
                lost = self.index.forget_pinned(self.node.pinned())
                if lost:
                    log.warning("%d pinned CIDs missing from the node; pinning again", len(lost))
            if candidates is None or self.index.membership_events != self._membership_seen:
                first = candidates is None
                self._membership_seen = self.index.membership_events
                candidates = self._candidates = Candidates.load(self.directory)
                self._assign(candidates, list(self.index.all()), stored_here=not first)
            else:
                self._assign(candidates, [content for _, content in new_rows], stored_here=True)
            if new_rows:
                self._assessed_row = new_rows[-1][0]
            if self.node is not None:
                added, removed = sync_peering(self.node, candidates.dial_addrs(self.org))
                if added or removed:
                    log.info("peering: added %s, dropped %s", added, removed)
            return self._pin_due()

    def _expand_batches(self) -> None:
        """Read the manifests of record batches not read yet, so that the envelopes they list
        (named on chain only through the manifest) are replicated like any other CID."""
        for batch in self.index.unexpanded(self.policy.pin_workers * 64):
            try:
                data = self.store.get(batch.manifest)
                items = decode_manifest(data, root=batch.root, count=batch.count, org=batch.org)
            except StoreUnavailable:
                raise
            except ManifestInvalid as exc:
                # Not what the chain anchored: nothing it lists can be trusted to be the batch's.
                log.warning("manifest %s of %s refused: %s", batch.manifest, batch.org, exc)
                self.index.expand(batch, [])
                continue
            except StoreError as exc:  # no peer has it yet
                log.info("manifest %s not read yet: %s", batch.manifest, exc)
                self.index.expand_failed(
                    batch, base_s=self.policy.interval_s, max_s=self.policy.retry_max_s
                )
                continue
            self.index.expand(batch, [item.cid for item in items])

    def _assign(
        self, candidates: Candidates, contents: list[AnchoredContent], *, stored_here: bool
    ) -> None:
        """Assign this node its share of ``contents``, in one transaction. ``stored_here``: they
        were anchored while this process ran, so what this organisation wrote of them its own
        gateway stored and pinned before anchoring (content goes first), and is recorded pinned
        rather than pinned again, one request a CID. A process's first round records its own as
        wanted instead: its node may have been rebuilt since."""
        assigned = self.index.assigned(content.cid for content in contents)
        own: list[str] = []
        wanted: list[str] = []
        for content in contents:
            # The writer keeps its own too (pinned when stored; a rebuilt node fetches it back
            # from the holders), and never lets it go.
            writer = content.writer == self.org
            mine = writer or self.org in candidates.holders(
                content.binary, content.writer, self.policy.factor
            )
            if mine and content.cid not in assigned:
                (own if writer and stored_here else wanted).append(content.cid)
            elif not mine and content.cid in assigned:
                # No longer this organisation's to keep: its new holders pin it from the writer
                # or the other holders, which still have it; but not within retention.
                if self._retained(content):
                    continue
                self.store.unpin(content.cid)
                self.index.drop(content.cid)
        self.index.want_many(own, pinned=True)
        self.index.want_many(wanted)

    def _retained(self, content: AnchoredContent) -> bool:
        """Whether ``content`` is within its retention, logging why it is kept if so."""
        if self.policy.retain_s <= 0:
            return False
        if self._block_time is None:
            log.info("keeping %s, unassigned: retention is on and its age is unknown", content.cid)
            return True
        until = self._block_time(content.block) + self.policy.retain_s
        if until <= time.time():
            return False
        log.info(
            "keeping %s, unassigned: within retention until %s",
            content.cid,
            time.strftime("%Y-%m-%d", time.gmtime(until)),
        )
        return True

    def _pin_due(self) -> int:
        """Pin everything due, a few at a time: a pinned CID is no longer due and a failed one
        is due again only after its backoff, so a backlog drains in this round."""
        pinned = 0
        with ThreadPoolExecutor(self.policy.pin_workers, "replication-pin") as pool:
            while due := self.index.due(self.policy.pin_workers * 4):
                done = [cid for cid, ok in zip(due, pool.map(self._pin, due), strict=True) if ok]
                self.index.pinned_many(done)
                pinned += len(done)
        return pinned

    def _pin(self, cid: str) -> bool:
        try:
            self.store.pin(cid)
        except StoreUnavailable:
            raise
        except (ContentNotFound, StoreError) as exc:
            # No peer had it within the node's fetch timeout: the writer's node may be down, or
            # the anchoring raced the upload. Tried again later, less often each time.
            self.index.failed(
                cid, str(exc), base_s=self.policy.interval_s, max_s=self.policy.retry_max_s
            )
            return False
        return True

    def nudge(self) -> None:
        """Start the next round now (after this gateway anchored something, say)."""
        self._wake.set()

    @contextmanager
    def running(self) -> Iterator[None]:
        """Replicate in a background thread while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.is_set():
                try:
                    self.run_once()
                except LedgerError as exc:  # chain or node down a while: the cursor waits
                    log.warning("replication round not finished: %s", exc)
                self._wake.wait(self.policy.interval_s)
                self._wake.clear()

        thread = threading.Thread(target=loop, name="replication", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            self._wake.set()
            thread.join()
