"""Where a record's versions are found: RecordRegistry for those anchored one by one, and for
batch-anchored ones the writer's own outbox or, on any other member's gateway, the batch index
built from the manifests the chain names. Every batch-anchored version is proven against the root
its batch has on chain before it is returned."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ledger.chain.connection import Chain
from ledger.errors import ContractRevert, LedgerError
from ledger.records.batch_index import BatchIndex, IndexedLeaf, standing_leaves
from ledger.records.batch_proof import Anchoring, BatchedVersion, item_problem
from ledger.records.outbox import Outbox
from ledger.store import cid_from_bytes

__all__ = ["BatchProofInvalid", "VersionInfo", "VersionLookup"]

#: Batches whose on-chain root a lookup remembers (they never change; this bounds memory).
_BATCH_ROOTS_KEPT = 4096


class BatchProofInvalid(LedgerError):
    """A batch-anchored version's proof does not match the root its batch has on chain."""

    code = "record.batch_proof_invalid"


@dataclass(frozen=True)
class VersionInfo:
    """One anchored version as the chain records it, and the state of its content."""

    version: int
    commitment: str
    cid: str
    hospital: str
    patient: str
    author: str
    anchored_at: int
    block: int
    content: str | None = None  # a ContentState (intact, missing, unavailable, corrupt): history()
    batch: int | None = None  # BatchAnchor's batch id, for a batch-anchored version
    proof: tuple[str, ...] = ()  # and the version's Merkle proof in that batch


class VersionLookup:
    """A record's latest version number and each version's chain facts."""

    def __init__(
        self, chain: Chain, outbox: Outbox | None = None, index: BatchIndex | None = None
    ) -> None:
        self._chain = chain
        self._outbox = outbox
        self._index = index
        self._registry = chain.contract("RecordRegistry")
        self._batch_anchor = chain.contract("BatchAnchor")
        self._batch_roots: OrderedDict[int, tuple[bytes, str, bytes]] = OrderedDict()

    def latest(self, record_id: bytes) -> int:
        """The latest anchored version of ``record_id``; RecordUnknown if it has none."""
        latest = 0
        if self._outbox is not None:
            latest = self._outbox.latest_version(record_id, anchored_only=True)
        if latest == 0:
            latest = int(self._chain.call(self._registry.functions.latestVersion(record_id)))
        if latest == 0 and self._index is not None:
            latest = len(self._standing(record_id))
        if latest == 0:
            raise ContractRevert("RecordUnknown", {"recordId": "0x" + record_id.hex()})
        return latest

    def version(self, record_id: bytes, version: int) -> VersionInfo:
        """Version ``version``'s chain facts (a batch-anchored one proven against its root)."""
        if self._outbox is not None:
            found = self._outbox.anchored_version(record_id, version)
            if found is not None:
                return self._proven(*found)
        if self._index is not None:
            leaf = self._standing(record_id).get(version)
            if leaf is not None:
                return self._proven(leaf.item, self._index.anchoring(leaf))
        v = self._chain.call(self._registry.functions.recordVersion(record_id, version))
        commitment_, hospital, patient, author, anchored_at, block, cid_bytes = v
        return VersionInfo(
            version=version,
            commitment="0x" + bytes(commitment_).hex(),
            cid=cid_from_bytes(bytes(cid_bytes)),
            hospital=hospital,
            patient=patient,
            author=author,
            anchored_at=int(anchored_at),
            block=int(block),
        )

    def _standing(self, record_id: bytes) -> dict[int, IndexedLeaf]:
        assert self._index is not None
        self._index.sync()
        return standing_leaves(self._index.leaves(record_id))[0]

    def _proven(self, item: BatchedVersion, anchoring: Anchoring) -> VersionInfo:
        """A batch-anchored version, once its proof checks against the root its batch has on
        chain (batches never change, so each is read from the chain once)."""
        onchain = self._batch_roots.get(anchoring.chain_batch_id)
        if onchain is None:
            root, org, kind, _count, _at = self._chain.call(
                self._batch_anchor.functions.batch(anchoring.chain_batch_id)
            )
            onchain = self._batch_roots[anchoring.chain_batch_id] = (bytes(root), org, bytes(kind))
            if len(self._batch_roots) > _BATCH_ROOTS_KEPT:
                self._batch_roots.popitem(last=False)
        problem = item_problem(item, anchoring, onchain)
        if problem is not None:
            raise BatchProofInvalid(f"record 0x{item.record_id.hex()} v{item.version}: {problem}")
        return VersionInfo(
            version=item.version,
            commitment="0x" + item.commitment.hex(),
            cid=item.cid,
            hospital=item.hospital,
            patient=item.patient,
            author=item.author,
            anchored_at=int(anchoring.anchored_at),
            block=anchoring.block,
            batch=anchoring.chain_batch_id,
            proof=tuple("0x" + p.hex() for p in anchoring.proof),
        )
