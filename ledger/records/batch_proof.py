"""A batch-anchored record version as its batch commits to it, where it was anchored, and the check
of its inclusion proof against the batch the chain holds."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.crypto.merkle import keccak, leaf_hash, verify
from ledger.store import cid_to_bytes

#: The ``kind`` BatchAnchor records for batches of record versions.
RECORD_BATCH_KIND = keccak(b"medledger.record-versions.v1")


@dataclass(frozen=True)
class BatchedVersion:
    """One record version as its batch commits to it: the same facts RecordRegistry keeps."""

    record_id: bytes
    version: int
    commitment: bytes
    cid: str
    hospital: str
    patient: str
    author: str

    def digest(self) -> bytes:
        """keccak256(abi.encode(recordId, version, commitment, keccak256(cid), hospital, patient,
        author)): a contract can recompute it from the same facts."""
        return keccak(
            self.record_id
            + self.version.to_bytes(32, "big")
            + self.commitment
            + keccak(cid_to_bytes(self.cid))
            + b"".join(bytes(12) + bytes.fromhex(a[2:]) for a in self._addresses())
        )

    def leaf(self) -> bytes:
        return leaf_hash(self.digest())

    def _addresses(self) -> tuple[str, str, str]:
        return self.hospital, self.patient, self.author


@dataclass(frozen=True)
class Anchoring:
    """Where an item was anchored: the chain's batch, its root and transaction, the item's proof."""

    chain_batch_id: int
    root: bytes
    transaction: str
    block: int
    anchored_at: float
    leaf_index: int
    proof: list[bytes]


def item_problem(
    item: BatchedVersion, anchoring: Anchoring, onchain: tuple[bytes, str, bytes]
) -> str | None:
    """Why ``item`` is not proven by ``anchoring`` against the batch the chain holds, or None.

    ``onchain`` is BatchAnchor's (root, org, kind) for ``anchoring.chain_batch_id``.
    """
    root, org, kind = onchain
    if kind != RECORD_BATCH_KIND:
        return f"batch {anchoring.chain_batch_id} is not a batch of record versions"
    if org.lower() != item.hospital.lower():
        return f"batch {anchoring.chain_batch_id} was anchored by {org}, not by {item.hospital}"
    if item.record_id[:20] != bytes.fromhex(org[2:]):
        return f"the record id is not in the namespace of {org}, which anchored the batch"
    if root != anchoring.root:
        return "the root given differs from the root anchored on chain"
    if not verify(anchoring.proof, root, item.leaf()):
        return "the item is not in its anchored batch (altered, or its proof is wrong)"
    return None
