"""The outbox on its own: what it acknowledges, how it seals, what a proof proves, and what it
keeps in memory."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from ledger.crypto.merkle import MerkleTree, keccak, verify
from ledger.errors import ContractRevert
from ledger.records.batch_proof import RECORD_BATCH_KIND, Anchoring, BatchedVersion, item_problem
from ledger.records.outbox import Outbox
from ledger.store import cid_of

HOSPITAL = "0x" + "aa" * 20


def version(n: int = 1, record_id: bytes | None = None) -> BatchedVersion:
    return BatchedVersion(
        record_id=record_id or bytes.fromhex(HOSPITAL[2:]) + secrets.token_bytes(12),
        version=n,
        commitment=secrets.token_bytes(32),
        cid=cid_of(secrets.token_bytes(100)),
        hospital=HOSPITAL,
        patient="0x" + "bb" * 20,
        author="0x" + "cc" * 20,
    )


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", tree_cache=2)


def test_a_batch_is_the_oldest_waiting_items_under_their_merkle_root(outbox: Outbox) -> None:
    items = [version() for _ in range(5)]
    outbox.accept([(v, b"envelope") for v in items])
    batch = outbox.seal(3)
    assert batch is not None
    assert (batch.count, batch.root) == (3, MerkleTree([v.leaf() for v in items[:3]]).root)
    assert outbox.unbatched() == 2


def test_a_receipt_goes_from_pending_to_sealed_to_anchored_with_a_proof(outbox: Outbox) -> None:
    items = [version() for _ in range(3)]
    ids = outbox.accept([(v, b"envelope") for v in items])
    assert outbox.receipt(ids[1]).status == "pending"  # type: ignore[union-attr]
    batch = outbox.seal(10)
    assert batch is not None
    assert outbox.receipt(ids[1]).status == "sealed"  # type: ignore[union-attr]
    outbox.mark_signed(batch.id, b"raw", b"\x01" * 32)
    outbox.mark_anchored(batch.id, chain_batch_id=7, block=42)
    receipt = outbox.receipt(ids[1])
    assert receipt is not None
    assert receipt.status == "anchored"
    assert receipt.anchoring is not None
    assert receipt.anchoring.chain_batch_id == 7
    assert verify(receipt.anchoring.proof, batch.root, items[1].leaf())


def test_a_version_taken_twice_refuses_the_whole_request(outbox: Outbox) -> None:
    first = version()
    outbox.accept([(first, b"e")])
    again = BatchedVersion(**{**vars(version()), "record_id": first.record_id})
    with pytest.raises(ContractRevert) as err:
        outbox.accept([(version(), b"e"), (again, b"e")])
    assert err.value.name == "RecordVersionConflict"
    assert outbox.unbatched() == 1


def test_a_stored_transaction_is_what_a_restart_finds(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox(path)
    outbox.accept([(version(), b"e")])
    batch = outbox.seal(10)
    assert batch is not None
    outbox.mark_signed(batch.id, b"signed bytes", b"\x02" * 32)
    outbox.close()
    (resumed,) = Outbox(path).unfinished()
    assert (resumed.id, resumed.raw_tx, resumed.tx_hash) == (
        batch.id,
        b"signed bytes",
        b"\x02" * 32,
    )


def test_envelopes_leave_the_outbox_once_anchored(outbox: Outbox) -> None:
    outbox.accept([(version(), b"one"), (version(), b"two")])
    batch = outbox.seal(10)
    assert batch is not None
    assert sorted(outbox.envelopes(batch.id)) == [b"one", b"two"]
    outbox.mark_signed(batch.id, b"raw", b"\x01" * 32)
    outbox.mark_anchored(batch.id, chain_batch_id=1, block=1)
    assert list(outbox.envelopes(batch.id)) == []


def test_only_the_last_few_trees_stay_in_memory(outbox: Outbox) -> None:
    ids = []
    for n in range(5):
        ids += outbox.accept([(version(), b"e"), (version(), b"e")])
        batch = outbox.seal(10)
        assert batch is not None
        outbox.mark_signed(batch.id, b"raw", bytes([n]) * 32)
        outbox.mark_anchored(batch.id, chain_batch_id=n + 1, block=n)
    for receipt_id in ids:
        assert outbox.receipt(receipt_id).anchoring is not None  # type: ignore[union-attr]
    assert len(outbox._trees) <= 2


def _anchoring(item: BatchedVersion, others: int = 3) -> Anchoring:
    leaves = [item.leaf()] + [version().leaf() for _ in range(others)]
    tree = MerkleTree(leaves)
    return Anchoring(1, tree.root, "0x", 1, 0.0, 0, tree.proof(0))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({}, None),
        ({"kind": keccak(b"other")}, "not a batch of record versions"),
        ({"org": "0x" + "dd" * 20}, "was anchored by"),
        ({"root": b"\x00" * 32}, "differs from the root anchored"),
    ],
)
def test_an_item_is_proven_only_against_its_own_batch_on_chain(
    change: dict[str, object], reason: str | None
) -> None:
    item = version()
    anchoring = _anchoring(item)
    onchain = {
        "root": anchoring.root,
        "org": HOSPITAL.upper().replace("0X", "0x"),
        "kind": RECORD_BATCH_KIND,
    }
    onchain |= change
    problem = item_problem(item, anchoring, (onchain["root"], onchain["org"], onchain["kind"]))  # type: ignore[arg-type]
    assert problem is None if reason is None else reason in (problem or "")


def test_an_altered_item_fails_its_proof() -> None:
    item = version()
    anchoring = _anchoring(item)
    altered = BatchedVersion(**{**vars(item), "patient": "0x" + "ee" * 20})
    problem = item_problem(altered, anchoring, (anchoring.root, HOSPITAL, RECORD_BATCH_KIND))
    assert problem is not None
    assert "not in its anchored batch" in problem


def test_an_item_whose_id_is_another_hospitals_is_not_proven() -> None:
    item = version(record_id=b"\xbb" * 20 + secrets.token_bytes(12))
    anchoring = _anchoring(item)
    problem = item_problem(item, anchoring, (anchoring.root, HOSPITAL, RECORD_BATCH_KIND))
    assert problem is not None
    assert "not in the namespace of" in problem
