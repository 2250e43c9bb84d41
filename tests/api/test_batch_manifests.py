"""Issue 13, item 2's last gap: a hospital contradicting itself in its own batches. Every batch
names its manifest on chain, so any member rebuilds each batch and sees two leaves for one
version (the first stands) or a version that skips one. The attacks are raw transactions signed by
the hostile hospital's key; the checks run on another organisation's gateway and in
`medledger verify`."""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.crypto.commitment import commit, new_salt
from ledger.crypto.merkle import MerkleTree
from ledger.gateway.client import GatewayError
from ledger.payload import canonicalize
from ledger.records.batch_index import BatchIndex
from ledger.records.batch_manifest import ManifestInvalid, decode_manifest, encode_manifest
from ledger.records.batch_proof import RECORD_BATCH_KIND, BatchedVersion
from ledger.records.document import BatchInclusion, RecordDocument, Verdict
from ledger.records.verify import verify_against_ledger
from ledger.store import ContentStore, cid_of, cid_to_bytes
from ledger.types import Cid
from tests.api.hostile import OBSERVATION, anchoring, resynchronised  # noqa: F401
from tests.contracts.hostile_records_rpc import artifact_contract, send_raw
from tests.world import Patient, World

pytestmark = pytest.mark.usefixtures("anchoring", "resynchronised")


def hostile(world: World) -> LocalAccount:
    return world.consortium.account(world.consortium.orgs["hospital-b"].key_file)


def chain(world: World) -> Chain:
    return world.gateways["insurer"].gateway.chain


def store(world: World) -> ContentStore:
    return world.gateways["insurer"].gateway.store


def own_id(org: LocalAccount) -> bytes:
    return bytes.fromhex(org.address[2:]) + secrets.token_bytes(12)


def anchor_batch(
    world: World, org: LocalAccount, items: list[BatchedVersion], *, manifest: bytes | None = None
) -> tuple[int, MerkleTree]:
    """``org`` anchors ``items`` as one batch by a raw transaction, its manifest published in the
    content network first (or ``manifest``, bytes of the attacker's choosing); the batch id."""
    tree = MerkleTree([i.leaf() for i in items])
    published = store(world).put(manifest or encode_manifest(org.address, items))
    batches = artifact_contract(
        world.w3, "BatchAnchor", chain(world).deployment.address("BatchAnchor")
    )
    receipt = send_raw(
        world.w3,
        org,
        batches,
        "anchorBatch",
        RECORD_BATCH_KIND,
        tree.root,
        len(items),
        cid_to_bytes(published),
    )
    assert int(receipt["status"], 16) == 1
    return int(receipt["logs"][0]["topics"][1], 16), tree


def version(
    world: World, org: LocalAccount, record: bytes, number: int
) -> tuple[BatchedVersion, Any]:
    """A version of ``record`` with a resource and salt that its commitment opens to."""
    salt = new_salt()
    resource = {**OBSERVATION, "id": secrets.token_hex(4)}
    item = BatchedVersion(
        record,
        number,
        commit(salt, canonicalize(resource)),
        cid_of(secrets.token_bytes(48)),
        org.address,
        Web3().eth.account.create().address,
        world.staff("hospital-b", "doctor").address,
    )
    return item, (salt, resource)


def document(
    item: BatchedVersion, opening: Any, batch_id: int, tree: MerkleTree, index: int
) -> RecordDocument:
    salt, resource = opening
    return RecordDocument(
        record_id="0x" + item.record_id.hex(),
        version=item.version,
        hospital=item.hospital,
        patient=item.patient,
        cid=item.cid,
        salt="0x" + salt.hex(),
        resource=resource,
        batch_inclusion=BatchInclusion(
            batch=batch_id, author=item.author, proof=["0x" + p.hex() for p in tree.proof(index)]
        ),
    )


def verification(world: World, record: bytes) -> dict[str, Any]:
    """The insurer's own gateway's verification: it wrote nothing of this record."""
    with world.as_staff("insurer", "auditor", gateway="insurer") as auditor:
        answer: dict[str, Any] = auditor.get_json(f"/v1/records/0x{record.hex()}/verification")
    return answer


def test_a_manifest_rebuilds_its_root_and_nothing_else_does(world: World) -> None:
    org = hostile(world)
    items = [version(world, org, own_id(org), 1)[0] for _ in range(3)]
    root = MerkleTree([i.leaf() for i in items]).root
    manifest = encode_manifest(org.address, items)
    assert decode_manifest(manifest, root=root, count=3, org=org.address) == items
    with pytest.raises(ManifestInvalid, match="rebuild"):
        decode_manifest(manifest, root=secrets.token_bytes(32), count=3, org=org.address)
    with pytest.raises(ManifestInvalid, match="lists 3"):
        decode_manifest(manifest, root=root, count=4, org=org.address)
    with pytest.raises(ManifestInvalid, match="names"):
        decode_manifest(manifest, root=root, count=3, org=world.org_address("hospital-a"))
    with pytest.raises(ManifestInvalid, match="unreadable"):
        decode_manifest(b"{not json", root=root, count=3, org=org.address)
    foreign = version(world, org, bytes.fromhex(world.org_address("hospital-a")[2:]) + bytes(12), 1)
    other = encode_manifest(org.address, [foreign[0]])
    with pytest.raises(ManifestInvalid, match="namespace"):
        decode_manifest(other, root=MerkleTree([foreign[0].leaf()]).root, count=1, org=org.address)


def test_an_honest_bulk_write_names_a_manifest_that_any_member_reads(
    world: World, patient: Patient
) -> None:
    """Hospital-a writes in bulk through its gateway; the insurer's gateway, which holds no outbox
    of it, finds the version from the batch's manifest and verifies it intact."""
    item = {"patient": patient.pseudonym.address, "resource": OBSERVATION}
    with world.as_staff("hospital-a", "doctor") as doctor:
        (receipt,) = doctor.post_json("/v1/records:bulk", {"items": [item]})["receipts"]
        done = doctor.get_json(f"/v1/receipts/{receipt['receipt_id']}", params={"wait": "20"})
    assert done["status"] == "anchored"
    record = bytes.fromhex(receipt["record_id"][2:])
    answer = verification(world, record)
    assert answer["intact"] is True, answer
    assert answer["conflict"] is False
    (v1,) = answer["versions"]
    assert v1["batch"] is not None
    assert v1["commitment"] == receipt["commitment"]


def test_two_leaves_for_one_version_are_a_conflict_and_the_first_stands(world: World) -> None:
    org = hostile(world)
    record = own_id(org)
    first, first_opening = version(world, org, record, 1)
    second, second_opening = version(world, org, record, 1)
    filler = version(world, org, own_id(org), 1)[0]
    first_batch, first_tree = anchor_batch(world, org, [first, filler])
    second_batch, second_tree = anchor_batch(world, org, [filler, second])

    answer = verification(world, record)
    assert answer["conflict"] is True
    assert answer["intact"] is False
    (v1,) = answer["versions"]
    assert v1["commitment"] == "0x" + first.commitment.hex()
    assert v1["batch"] == first_batch

    stood = document(first, first_opening, first_batch, first_tree, 0)
    assert verify_against_ledger(stood, chain(world), store(world)) is Verdict.INTACT
    rival = document(second, second_opening, second_batch, second_tree, 1)
    assert verify_against_ledger(rival, chain(world), store(world)) is Verdict.VERSION_CONFLICT


def test_two_leaves_for_one_version_in_one_batch_are_a_conflict(world: World) -> None:
    org = hostile(world)
    record = own_id(org)
    first, first_opening = version(world, org, record, 1)
    second, second_opening = version(world, org, record, 1)
    batch, tree = anchor_batch(world, org, [first, second])
    assert verification(world, record)["conflict"] is True
    rival = document(second, second_opening, batch, tree, 1)
    assert verify_against_ledger(rival, chain(world), store(world)) is Verdict.VERSION_CONFLICT
    stood = document(first, first_opening, batch, tree, 0)
    assert verify_against_ledger(stood, chain(world), store(world)) is Verdict.INTACT


def test_a_version_that_skips_one_is_reported(world: World) -> None:
    org = hostile(world)
    record = own_id(org)
    v1, _ = version(world, org, record, 1)
    v3, v3_opening = version(world, org, record, 3)
    batch, tree = anchor_batch(world, org, [v1, v3])
    answer = verification(world, record)
    assert answer["latest_version"] == 1
    assert answer["conflict"] is True
    assert answer["intact"] is False
    skipped = document(v3, v3_opening, batch, tree, 1)
    assert verify_against_ledger(skipped, chain(world), store(world)) is Verdict.VERSION_SKIPPED


def test_a_manifest_that_is_not_its_batch_is_reported_never_trusted(world: World) -> None:
    """The hostile hospital names, as the manifest of a batch holding a second version 1 of a
    record, a manifest listing something else: the batch is reported invalid, and its leaf
    cannot pass for the record's version on a gateway that did not write it."""
    org = hostile(world)
    record = own_id(org)
    honest, _ = version(world, org, record, 1)
    hidden, _ = version(world, org, own_id(org), 1)
    decoy = encode_manifest(org.address, [honest])
    batch, _tree = anchor_batch(world, org, [hidden, honest], manifest=decoy)
    index = BatchIndex(chain(world), store(world), ":memory:", hospital=org.address)
    try:
        index.sync()
        (unread,) = [u for u in index.unread() if u.batch_id == batch]
        assert unread.state == "invalid"
        assert "lists 1" in unread.reason
        assert index.leaves(record) == []
    finally:
        index.close()
    with pytest.raises(GatewayError) as refused:
        verification(world, record)
    assert refused.value.status == 404


def test_a_one_by_one_anchoring_after_a_batch_of_the_same_record_is_a_conflict(
    world: World,
) -> None:
    """The hospital batch-anchors version 1 of its record, then anchors the id again one by one:
    `medledger verify` of the later RecordRegistry version finds the earlier leaf and reports a
    conflict; a RecordRegistry version with no batch before it is no conflict."""
    org = hostile(world)
    registry = artifact_contract(
        world.w3, "RecordRegistry", chain(world).deployment.address("RecordRegistry")
    )

    def one_by_one(record: bytes) -> RecordDocument:
        item, (salt, resource) = version(world, org, record, 1)
        receipt = send_raw(
            world.w3,
            org,
            registry,
            "anchorRecord",
            record,
            item.commitment,
            cid_to_bytes(item.cid),
            item.patient,
            item.author,
        )
        assert int(receipt["status"], 16) == 1
        return RecordDocument(
            record_id="0x" + record.hex(),
            version=1,
            hospital=org.address,
            patient=item.patient,
            cid=item.cid,
            salt="0x" + salt.hex(),
            resource=resource,
        )

    batched = own_id(org)
    anchor_batch(world, org, [version(world, org, batched, 1)[0]])
    later = one_by_one(batched)
    assert verify_against_ledger(later, chain(world), store(world)) is Verdict.VERSION_CONFLICT
    assert verification(world, batched)["conflict"] is True

    alone = one_by_one(own_id(org))
    assert verify_against_ledger(alone, chain(world), store(world)) is not Verdict.VERSION_CONFLICT


class CountingStore(ContentStore):
    """The insurer's store, counting the reads of each CID (to see what the index asks for)."""

    def __init__(self, inner: ContentStore) -> None:
        self.inner, self.reads = inner, Counter[str]()

    def put(self, data: bytes) -> Cid:
        return self.inner.put(data)

    def get(self, cid: str) -> bytes:
        self.reads[cid] += 1
        return self.inner.get(cid)

    def pin(self, cid: str) -> None:
        self.inner.pin(cid)

    def unpin(self, cid: str) -> None:
        self.inner.unpin(cid)

    def has(self, cid: str) -> bool:
        return self.inner.has(cid)

    def remove(self, cid: str) -> None:
        self.inner.remove(cid)

    def close(self) -> None:
        pass


def test_a_manifest_nobody_has_is_asked_for_again_only_after_the_retry_interval(
    world: World,
) -> None:
    """A hostile hospital names a manifest no node has: each ask may wait a whole fetch timeout,
    so the index asks again only after its retry interval, not on every verification."""
    org = hostile(world)
    items = [version(world, org, own_id(org), 1)[0]]
    nowhere = cid_of(secrets.token_bytes(40))
    batches = artifact_contract(
        world.w3, "BatchAnchor", chain(world).deployment.address("BatchAnchor")
    )
    root = MerkleTree([i.leaf() for i in items]).root
    receipt = send_raw(
        world.w3, org, batches, "anchorBatch", RECORD_BATCH_KIND, root, 1, cid_to_bytes(nowhere)
    )
    assert int(receipt["status"], 16) == 1
    for retry_after_s, asks in ((3600.0, 1), (0.0, 3)):
        counting = CountingStore(store(world))
        index = BatchIndex(
            chain(world), counting, ":memory:", hospital=org.address, retry_after_s=retry_after_s
        )
        try:
            for _ in range(3):
                index.sync()
            assert counting.reads[nowhere] == asks
            assert any(u.manifest == nowhere and u.state == "unavailable" for u in index.unread())
        finally:
            index.close()
