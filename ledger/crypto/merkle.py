"""Merkle trees exactly as OpenZeppelin's MerkleProof verifies them: sorted pairs, keccak256, and
double-hashed leaves, so that no 64-byte leaf can ever pass for an inner node."""

from __future__ import annotations

from collections.abc import Sequence

# safe-pysha3's C keccak: ~7x eth-hash's per call on 32-64 byte inputs, and a proof is a dozen
# calls; verification rate is bounded by it.
from sha3 import keccak_256  # type: ignore[import-untyped]


def keccak(data: bytes) -> bytes:
    """keccak256, as the EVM computes it."""
    digest: bytes = keccak_256(data).digest()
    return digest


def leaf_hash(item: bytes) -> bytes:
    """The leaf for a 32-byte item digest: keccak256(keccak256(abi.encode(bytes32 item)))."""
    if len(item) != 32:
        raise ValueError(f"an item digest is 32 bytes, not {len(item)}")
    return keccak(keccak(item))


def _parent(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A tree over leaves (already leaf-hashed), in the order given; proofs for OZ's verify()."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        if not leaves:
            raise ValueError("a Merkle tree needs at least one leaf")
        self._layers: list[list[bytes]] = [list(leaves)]
        while len(self._layers[-1]) > 1:
            below = self._layers[-1]
            # An odd node out moves up unpaired; its proofs simply have no sibling at that level.
            above = [_parent(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
            if len(below) % 2:
                above.append(below[-1])
            self._layers.append(above)

    @property
    def root(self) -> bytes:
        return self._layers[-1][0]

    def __len__(self) -> int:
        return len(self._layers[0])

    def proof(self, index: int) -> list[bytes]:
        """The sibling hashes from leaf ``index`` up to the root."""
        if not 0 <= index < len(self):
            raise IndexError(f"leaf {index} of {len(self)}")
        path = []
        for layer in self._layers[:-1]:
            sibling = index ^ 1
            if sibling < len(layer):
                path.append(layer[sibling])
            index //= 2
        return path


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """OpenZeppelin's MerkleProof.verify, in Python."""
    node = leaf
    for sibling in proof:
        node = _parent(node, sibling)
    return node == root
