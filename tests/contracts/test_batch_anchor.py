"""BatchAnchor: roots anchored by active organisations only; proofs from ledger.crypto.merkle
verify."""

from __future__ import annotations

import hashlib

import pytest
from contract_helpers import HOSPITAL, HOSPITAL_ADMIN, REGULATOR, Act, admit, refused, suspend
from hypothesis import HealthCheck, given, settings, strategies as st
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from ledger.chain import _artifacts
from ledger.chain.deploy import Deployment
from ledger.crypto.merkle import MerkleTree, leaf_hash, verify
from ledger.types import OrgKind

KIND = Web3.keccak(text="access-log")
ROOT = b"\x11" * 32
#: A manifest's CID bytes (the contract names it, never reads it).
MANIFEST = bytes.fromhex("01551220") + b"\x22" * 32


@pytest.fixture(scope="module")
def anchor(w3: Web3, deployment: Deployment) -> Contract:
    return w3.eth.contract(
        address=deployment.address("BatchAnchor"), abi=_artifacts.load("BatchAnchor").abi
    )


@pytest.fixture
def hospital(act: Act, membership: Contract) -> None:
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)


def items(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


def test_an_active_organisation_anchors_a_batch(act: Act, anchor: Contract, hospital: None) -> None:
    receipt = act(HOSPITAL).transact(anchor.functions.anchorBatch(KIND, ROOT, 3, MANIFEST))
    (event,) = anchor.events.BatchAnchored().process_receipt(receipt)
    assert dict(event["args"]) == {
        "batchId": 1,
        "org": HOSPITAL.address,
        "kind": KIND,
        "root": ROOT,
        "count": 3,
        "manifest": MANIFEST,
    }
    stored = anchor.functions.batch(1).call()
    assert stored[:4] == (ROOT, HOSPITAL.address, KIND, 3)
    assert anchor.functions.batchCount().call() == 1


def test_a_non_member_cannot_anchor(act: Act, anchor: Contract) -> None:
    fn = anchor.functions.anchorBatch(KIND, ROOT, 1, MANIFEST)
    assert refused(act(REGULATOR), fn) == ("BatchCallerNotMember", {"caller": REGULATOR.address})


def test_a_suspended_organisation_cannot_anchor(
    act: Act, membership: Contract, anchor: Contract, hospital: None
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = anchor.functions.anchorBatch(KIND, ROOT, 1, MANIFEST)
    assert refused(act(HOSPITAL), fn) == ("BatchCallerNotMember", {"caller": HOSPITAL.address})


def test_an_empty_root_is_refused(act: Act, anchor: Contract, hospital: None) -> None:
    fn = anchor.functions.anchorBatch(KIND, bytes(32), 1, MANIFEST)
    assert refused(act(HOSPITAL), fn) == ("BatchEmptyRoot", {})


def test_an_empty_batch_is_refused(act: Act, anchor: Contract, hospital: None) -> None:
    assert refused(act(HOSPITAL), anchor.functions.anchorBatch(KIND, ROOT, 0, MANIFEST)) == (
        "BatchEmpty",
        {},
    )


def test_a_batch_without_its_manifest_is_refused(
    act: Act, anchor: Contract, hospital: None
) -> None:
    fn = anchor.functions.anchorBatch(KIND, ROOT, 1, b"")
    assert refused(act(HOSPITAL), fn) == ("BatchEmptyManifest", {})


def test_an_unknown_batch_is_refused(anchor: Contract) -> None:
    with pytest.raises(ContractCustomError):
        anchor.functions.batch(99).call()


# Function-scoped fixtures are shared across examples on purpose: each example anchors a batch.
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(min_value=1, max_value=70), data=st.data())
def test_every_proof_from_ledger_merkle_verifies_on_chain(
    act: Act, anchor: Contract, hospital: None, n: int, data: st.DataObject
) -> None:
    leaves = [leaf_hash(item) for item in items(n)]
    tree = MerkleTree(leaves)
    receipt = act(HOSPITAL).transact(anchor.functions.anchorBatch(KIND, tree.root, n, MANIFEST))
    (event,) = anchor.events.BatchAnchored().process_receipt(receipt)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    proof = tree.proof(index)
    batch_id = event["args"]["batchId"]
    assert verify(proof, tree.root, leaves[index])
    assert anchor.functions.verifyItem(batch_id, leaves[index], proof).call()
    other = leaf_hash(hashlib.sha256(b"not in the batch").digest())
    assert not anchor.functions.verifyItem(batch_id, other, proof).call()
