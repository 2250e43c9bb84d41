"""BatchAnchor under random batches from two hospitals, read back through the batch index as any
other member reads them: A writes its records' versions honestly, each batch with its manifest;
B is hostile and, with raw transactions signed by its own key, anchors batches that repeat or skip
versions of its own records, put leaves in A's records, or name a manifest that is not the batch.

Invariants (issue 13, item 2): every version of A's records stands as A anchored it and nothing of
B's touches them; of B's records exactly the first leaf for each version stands, provided its
predecessor stood before it, and every other leaf is reported; a batch whose manifest does not
rebuild its root contributes nothing."""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from contract_helpers import (
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    OTHER_ADMIN,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    admit,
    chain_client,
    register,
)
from eth_account.signers.local import LocalAccount
from hostile_records_rpc import artifact_contract, send_raw
from hypothesis import settings, strategies as st
from hypothesis.stateful import invariant, precondition, rule, run_state_machine_as_test
from stateful_helpers import ContractMachine, machine_settings
from web3 import Web3
from web3.contract import Contract

from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment
from ledger.crypto.merkle import MerkleTree
from ledger.records.batch_index import BatchIndex, standing_leaves
from ledger.records.batch_manifest import encode_manifest
from ledger.records.batch_proof import RECORD_BATCH_KIND, BatchedVersion
from ledger.store import EmbeddedStore, cid_of, cid_to_bytes
from ledger.types import OrgKind
from tests.conftest import BATTERY_TIMEOUT_S, PROFILE

pytestmark = pytest.mark.security

PATIENT = Web3.to_checksum_address("0x" + "5a" * 20)
DEFAULT_EXAMPLES = 12

#: (record id, version, commitment) of one leaf.
Leaf = tuple[bytes, int, bytes]


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract) -> None:
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE)


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path_factory.mktemp("batches") / "store") as store:
        yield store


def new_id(hospital: LocalAccount) -> bytes:
    return bytes.fromhex(hospital.address[2:]) + secrets.token_bytes(12)


def item(hospital: LocalAccount, author: LocalAccount, leaf: Leaf) -> BatchedVersion:
    record, version, commitment = leaf
    return BatchedVersion(
        record, version, commitment, cid_of(commitment), hospital.address, PATIENT, author.address
    )


class HostileBatchesMachine(ContractMachine):
    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        contracts: dict[str, Contract],
        store: EmbeddedStore,
    ) -> None:
        super().__init__(w3, deployment, contracts)
        self.store = store
        # A fresh index per example: the chain is reverted to the deployment under it.
        self.index = BatchIndex(Chain(w3, deployment), store, ":memory:")
        self.a_versions: dict[bytes, list[bytes]] = {}  # A's record -> commitments, in order
        self.b_records: list[bytes] = []
        self.b_leaves: list[Leaf] = []  # in chain order, from batches whose manifest is honest
        self.checked = 0

    def teardown(self) -> None:
        self.index.close()
        super().teardown()

    # -- hospital A, honest ------------------------------------------------------------------

    @rule(new=st.integers(0, 2), amend=st.booleans())
    def a_writes_a_batch(self, new: int, amend: bool) -> None:
        leaves: list[Leaf] = []
        for _ in range(new):
            record = new_id(HOSPITAL)
            self.a_versions[record] = []
            leaves.append((record, 1, secrets.token_bytes(32)))
        if amend and self.a_versions:
            record = sorted(self.a_versions)[0]
            done = len(self.a_versions[record]) + sum(1 for r, _, _ in leaves if r == record)
            if done:
                leaves.append((record, done + 1, secrets.token_bytes(32)))
        if not leaves:
            return
        self._anchor(HOSPITAL, DOCTOR, leaves)
        for record, _, commitment in leaves:
            self.a_versions[record].append(commitment)

    # -- hospital B, hostile -----------------------------------------------------------------

    @rule(data=st.data(), size=st.integers(1, 3))
    def b_batches_its_own_records(self, data: st.DataObject, size: int) -> None:
        leaves: list[Leaf] = []
        for _ in range(size):
            if self.b_records and data.draw(st.booleans(), label="an existing record"):
                record = data.draw(st.sampled_from(self.b_records), label="record")
            else:
                record = new_id(OTHER_HOSPITAL)
                self.b_records.append(record)
            version = data.draw(st.integers(1, 4), label="version")  # repeats and skips
            leaves.append((record, version, secrets.token_bytes(32)))
        self._anchor(OTHER_HOSPITAL, OTHER_DOCTOR, leaves, raw=True)
        self.b_leaves += leaves

    @precondition(lambda self: self.a_versions)
    @rule(data=st.data())
    def b_puts_a_leaf_in_as_record(self, data: st.DataObject) -> None:
        """B lists a version of A's record in a batch of its own: the manifest names a record
        outside B's namespace, so the whole batch is refused by every reader."""
        record = data.draw(st.sampled_from(sorted(self.a_versions)), label="A's record")
        mine = (new_id(OTHER_HOSPITAL), 1, secrets.token_bytes(32))
        version = len(self.a_versions[record]) + 1
        self._anchor(
            OTHER_HOSPITAL, OTHER_DOCTOR, [mine, (record, version, secrets.token_bytes(32))],
            raw=True,
        )  # fmt: skip
        self.outcomes["leaf in A's record"] += 1

    @rule(size=st.integers(1, 3))
    def b_names_a_manifest_that_is_not_the_batch(self, size: int) -> None:
        record = new_id(OTHER_HOSPITAL)
        self.b_records.append(record)
        leaves = [(record, v, secrets.token_bytes(32)) for v in range(1, size + 1)]
        decoy = [(record, 1, secrets.token_bytes(32))]
        self._anchor(OTHER_HOSPITAL, OTHER_DOCTOR, leaves, raw=True, manifest_of=decoy)
        self.outcomes["lying manifest"] += 1

    # -- what must hold ----------------------------------------------------------------------

    @invariant()
    def as_records_stand_as_a_anchored_them(self) -> None:
        self.index.sync()
        for record, commitments in self.a_versions.items():
            standing, refused = standing_leaves(self.index.leaves(record))
            assert refused == {}, f"A's record {record.hex()} shows refused leaves"
            assert [standing[v].item.commitment for v in sorted(standing)] == commitments
            assert all(standing[v].item.hospital == HOSPITAL.address for v in standing)
            self.checked += 1

    @invariant()
    def bs_own_records_follow_the_first_anchoring_rule(self) -> None:
        self.index.sync()
        for record in self.b_records:
            expected: dict[int, bytes] = {}
            reported = 0
            for rid, version, commitment in self.b_leaves:
                if rid != record:
                    continue
                if version in expected or (version > 1 and version - 1 not in expected):
                    reported += 1
                else:
                    expected[version] = commitment
            standing, refused = standing_leaves(self.index.leaves(record))
            assert {v: leaf.item.commitment for v, leaf in standing.items()} == expected
            assert len(refused) == reported
            self.outcomes["leaves reported"] += reported
            self.checked += 1

    def _anchor(
        self,
        hospital: LocalAccount,
        author: LocalAccount,
        leaves: list[Leaf],
        *,
        raw: bool = False,
        manifest_of: list[Leaf] | None = None,
    ) -> None:
        items = [item(hospital, author, leaf) for leaf in leaves]
        listed = [item(hospital, author, leaf) for leaf in manifest_of or leaves]
        manifest = cid_to_bytes(self.store.put(encode_manifest(hospital.address, listed)))
        args = (RECORD_BATCH_KIND, MerkleTree([i.leaf() for i in items]).root, len(items), manifest)
        if raw:
            receipt = send_raw(
                self.w3, hospital, self.contracts["BatchAnchor"], "anchorBatch", *args
            )
            assert int(receipt["status"], 16) == 1
        else:
            self.act(hospital).transact(self.contracts["BatchAnchor"].functions.anchorBatch(*args))
        self.outcomes[f"batch by {'B' if raw else 'A'}"] += 1


@pytest.mark.timeout(BATTERY_TIMEOUT_S)
def test_a_hostile_hospital_contradicting_itself_is_seen_by_every_reader(
    w3: Web3,
    deployment: Deployment,
    content: EmbeddedStore,
    battery_report: Callable[[str], None],
) -> None:
    anchor = artifact_contract(w3, "BatchAnchor", deployment.address("BatchAnchor"))
    machines: list[HostileBatchesMachine] = []

    def build() -> HostileBatchesMachine:
        machine = HostileBatchesMachine(w3, deployment, {"BatchAnchor": anchor}, content)
        machines.append(machine)
        return machine

    budget = settings(
        machine_settings(), max_examples=DEFAULT_EXAMPLES if PROFILE == "test" else 400
    )
    run_state_machine_as_test(build, settings=budget)  # type: ignore[arg-type]
    outcomes = sum((m.outcomes for m in machines), start=Counter())
    checked = sum(m.checked for m in machines)
    battery_report(
        f"hostile hospital contradicting itself across its batches: {len(machines)} sequences, "
        f"{dict(outcomes)}, {checked} records checked through the batch index"
    )
    # The invariants were put to the test only if the attacks happened and were reported.
    assert outcomes["batch by B"] > 0, outcomes
    assert outcomes["leaves reported"] > 0, outcomes
    assert checked > 0
