"""ledger.crypto.merkle against OpenZeppelin's rules, without a chain (the chain check is in
tests/contracts/test_batch_anchor.py)."""

from __future__ import annotations

import hashlib

import pytest
from eth_utils.crypto import keccak
from hypothesis import given, strategies as st

from ledger.crypto.merkle import MerkleTree, leaf_hash, verify


def leaves(n: int) -> list[bytes]:
    return [leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


def test_a_leaf_is_the_double_keccak_of_the_item() -> None:
    item = b"\x01" * 32
    assert leaf_hash(item) == keccak(keccak(item))


def test_an_item_that_is_not_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        leaf_hash(b"short")


def test_a_one_leaf_tree_has_the_leaf_as_root_and_an_empty_proof() -> None:
    (leaf,) = leaves(1)
    tree = MerkleTree([leaf])
    assert tree.root == leaf
    assert tree.proof(0) == []


def test_two_leaves_hash_as_a_sorted_pair() -> None:
    a, b = leaves(2)
    assert MerkleTree([a, b]).root == keccak(min(a, b) + max(a, b)) == MerkleTree([b, a]).root


def test_an_empty_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one leaf"):
        MerkleTree([])


@given(n=st.integers(min_value=1, max_value=300), data=st.data())
def test_every_leaf_proves_and_no_other_leaf_does(n: int, data: st.DataObject) -> None:
    tree = MerkleTree(leaves(n))
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = tree.proof(index)
    assert verify(proof, tree.root, leaves(n)[index])
    assert not verify(proof, tree.root, leaf_hash(b"\xff" * 32))


def test_an_inner_node_preimage_cannot_be_submitted_as_an_item() -> None:
    # The second-preimage attack presents an inner node's 64-byte preimage (two children) as a leaf
    # item, with the proof shortened by one level. Items are 32-byte digests, so it is refused.
    a, b = leaves(2)
    with pytest.raises(ValueError, match="32 bytes"):
        leaf_hash(min(a, b) + max(a, b))
