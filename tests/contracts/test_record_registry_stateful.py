"""RecordRegistry under random sequences of anchors, amendments and membership changes: a version is
anchored at most once and never changes, only the authoring hospital amends, only its doctors and
clerks write, and a suspended hospital writes nothing. Checked call by call against a reference
model, and every stored version after every change."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from contract_helpers import (
    AUDITOR,
    AUDITOR_ROLE,
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    INSURER,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    OUTSIDER,
    PATIENT,
    PHARMACIST,
    PHARMACIST_ROLE,
    REGULATOR,
    OrgKind,
    account,
    chain_client,
    joined,
    record_id,
)
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from stateful_helpers import (
    LICENSED_ROLES,
    ZERO32,
    ZERO_ADDRESS,
    ContractMachine,
    Emits,
    Expected,
    MembershipModel,
    Probe,
    Refused,
    Reverted,
    run_machine,
)
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from tests.conftest import BATTERY_TIMEOUT_S

pytestmark = pytest.mark.security

OTHER_CLERK = account("other-clerk")
HOSPITALS = (HOSPITAL, OTHER_HOSPITAL)
# Who sends writes: two hospitals (one of them may be suspended), an insurer, and an outsider.
SENDERS = (HOSPITAL, OTHER_HOSPITAL, INSURER, OUTSIDER)
AUTHORS = (DOCTOR, CLERK, PHARMACIST, AUDITOR, OTHER_DOCTOR, OTHER_CLERK, OUTSIDER)
# Each organisation is its own admin here, so the org account also manages its staff.
STAFF = {
    DOCTOR.address: (HOSPITAL, DOCTOR_ROLE),
    CLERK.address: (HOSPITAL, CLERK_ROLE),
    PHARMACIST.address: (HOSPITAL, PHARMACIST_ROLE),
    AUDITOR.address: (HOSPITAL, AUDITOR_ROLE),
    OTHER_DOCTOR.address: (OTHER_HOSPITAL, DOCTOR_ROLE),
    OTHER_CLERK.address: (OTHER_HOSPITAL, CLERK_ROLE),
}
# Two ids in each hospital's namespace: each may anchor only its own, and try the other's.
RECORDS = tuple(
    record_id(h.address, f"record {n}") for h in (HOSPITAL, OTHER_HOSPITAL) for n in (0, 1)
)
PATIENTS = (PATIENT.address, account("second-patient").address, ZERO_ADDRESS)
MAX_AMEND_GUESS = 6
WRITER_ROLES = (bytes(DOCTOR_ROLE), bytes(CLERK_ROLE))
LICENCE = bytes(Web3.keccak(text="licence"))
_UNKNOWN_VERSION = (
    "0x" + function_signature_to_4byte_selector("RecordUnknownVersion(bytes32,uint32)").hex()
)

good_commitments = st.binary(min_size=32, max_size=32).filter(any)
good_cids = st.binary(min_size=1, max_size=80)
any_commitments = st.one_of(good_commitments, st.just(ZERO32))
any_cids = st.one_of(good_cids, st.just(b""))


def _licence(role: bytes) -> bytes:
    return LICENCE if role in LICENSED_ROLES else ZERO32


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract) -> None:
    """Two hospitals with staff in every role, and an insurer; each organisation its own admin."""
    act = chain_client(w3, deployment)
    for org, kind in ((HOSPITAL, OrgKind.HOSPITAL), (OTHER_HOSPITAL, OrgKind.HOSPITAL)):
        act(REGULATOR).transact(
            membership.functions.admitOrganisation(org.address, kind, org.address)
        )
    act(REGULATOR).transact(
        membership.functions.admitOrganisation(INSURER.address, OrgKind.INSURER, INSURER.address)
    )
    for member, (org, role) in STAFF.items():
        act(org).transact(joined(membership, org.address, member, role, _licence(bytes(role))))


def _seeded_model() -> MembershipModel:
    """The membership model in the state `consortium` leaves the chain in."""
    model = MembershipModel(REGULATOR.address)
    for org, kind in ((HOSPITAL, OrgKind.HOSPITAL), (OTHER_HOSPITAL, OrgKind.HOSPITAL)):
        model.admit(REGULATOR.address, org.address, kind, org.address)
    model.admit(REGULATOR.address, INSURER.address, OrgKind.INSURER, INSURER.address)
    for member, (org, role) in STAFF.items():
        model.register(org.address, org.address, member, bytes(role), _licence(bytes(role)))
    return model


@dataclass(frozen=True)
class Version:
    commitment: bytes
    hospital: str
    patient: str
    author: str
    anchored_at: int
    block: int
    cid: bytes


class RegistryModel:
    """RecordRegistry as it must behave, its checks in the contract's order."""

    def __init__(self, membership: MembershipModel) -> None:
        self.membership = membership
        self.versions: dict[bytes, list[Version]] = {}

    def _may_write(self, hospital: str, author: str) -> Refused | None:
        org = self.membership.orgs.get(hospital)
        if (
            not self.membership.is_active_org(hospital)
            or org is None
            or org.kind != OrgKind.HOSPITAL
        ):
            return Refused("RecordCallerNotHospital", {"caller": hospital})
        if not any(self.membership.has_staff_role(hospital, author, role) for role in WRITER_ROLES):
            return Refused("RecordAuthorNotPermitted", {"author": author, "hospital": hospital})
        return None

    @staticmethod
    def _content(commitment: bytes, cid: bytes) -> Refused | None:
        if commitment == ZERO32:
            return Refused("RecordEmptyCommitment")
        if not cid:
            return Refused("RecordEmptyCid")
        return None

    def anchor(
        self, sender: str, record: bytes, commitment: bytes, cid: bytes, patient: str, author: str
    ) -> Expected:
        if refusal := self._may_write(sender, author):
            return refusal
        if record[:20] != bytes.fromhex(sender[2:]):
            return Refused("RecordIdOfAnotherHospital", {"recordId": record, "hospital": sender})
        if record in self.versions:
            return Refused("RecordAlreadyAnchored", {"recordId": record})
        if refusal := self._content(commitment, cid):
            return refusal
        if patient == ZERO_ADDRESS:
            return Refused("RecordZeroPatient")
        args = {"recordId": record, "version": 1, "hospital": sender, "commitment": commitment}
        return Emits(
            [("RecordAnchored", {**args, "cid": cid, "patient": patient, "author": author})]
        )

    def amend(
        self, sender: str, record: bytes, expected: int, commitment: bytes, cid: bytes, author: str
    ) -> Expected:
        versions = self.versions.get(record)
        if not versions:
            return Refused("RecordUnknown", {"recordId": record})
        if versions[0].hospital != sender:
            return Refused("RecordNotAuthoringHospital", {"recordId": record, "caller": sender})
        if refusal := self._may_write(sender, author):
            return refusal
        if expected != len(versions):
            return Refused(
                "RecordVersionConflict",
                {"recordId": record, "expected": expected, "latest": len(versions)},
            )
        if refusal := self._content(commitment, cid):
            return refusal
        args = {"recordId": record, "version": len(versions) + 1, "hospital": sender}
        return Emits(
            [
                (
                    "RecordAmended",
                    {
                        **args,
                        "commitment": commitment,
                        "cid": cid,
                        "previousCommitment": versions[-1].commitment,
                        "author": author,
                    },
                )
            ]
        )

    def append(self, record: bytes, event: dict[str, Any], anchored_at: int, block: int) -> None:
        """Record the version an accepted call stored, stamped with the block it was mined in."""
        first = self.versions.get(record)
        patient = event["patient"] if first is None else first[0].patient
        version = Version(
            event["commitment"],
            event["hospital"],
            patient,
            event["author"],
            anchored_at,
            block,
            event["cid"],
        )
        self.versions.setdefault(record, []).append(version)


class RegistryMachine(ContractMachine):
    def __init__(
        self, w3: Web3, deployment: Deployment, membership: Contract, registry: Contract
    ) -> None:
        super().__init__(w3, deployment, {"Membership": membership, "RecordRegistry": registry})
        self.membership, self.registry = membership, registry
        self.members = _seeded_model()
        self.model = RegistryModel(self.members)

    def _writer(
        self, data: st.DataObject, hospital: str | None = None
    ) -> tuple[LocalAccount, LocalAccount]:
        """A (sender, author) pair: half the time one the membership model says may write (for
        ``hospital`` if given), else anyone with anyone."""
        entitled = self._entitled(hospital)
        use_entitled = data.draw(st.booleans(), label="entitled")
        if entitled and use_entitled:
            return data.draw(st.sampled_from(entitled), label="writer")
        return (
            data.draw(st.sampled_from(SENDERS), label="sender"),
            data.draw(st.sampled_from(AUTHORS), label="author"),
        )

    def _stored(self, expected: Expected, receipt: Any, record: bytes) -> None:
        if isinstance(expected, Emits) and receipt is not None:
            block = self.w3.eth.get_block(receipt["blockNumber"])
            self.model.append(record, expected.events[0][1], block["timestamp"], block["number"])

    # -- records ------------------------------------------------------------------------------

    def _content(self, data: st.DataObject) -> tuple[bytes, bytes]:
        """Half the time well-formed (so that entitled writes mostly go through), else anything."""
        well_formed = data.draw(st.booleans(), label="well_formed")
        commitment = data.draw(good_commitments if well_formed else any_commitments, "commitment")
        return commitment, data.draw(good_cids if well_formed else any_cids, label="cid")

    @rule(data=st.data(), record=st.sampled_from(RECORDS), patient=st.sampled_from(PATIENTS))
    def anchor(self, data: st.DataObject, record: bytes, patient: str) -> None:
        sender, author = self._writer(data)
        commitment, cid = self._content(data)
        fn = self.registry.functions.anchorRecord(record, commitment, cid, patient, author.address)
        expected = self.model.anchor(
            sender.address, record, commitment, cid, patient, author.address
        )
        self._stored(expected, self.expect("RecordRegistry", sender, fn, expected), record)

    @rule(data=st.data())
    def amend(self, data: st.DataObject) -> None:
        # Mostly a record that exists, by its own hospital, so that versions pile up.
        anchored = sorted(self.model.versions)
        existing = bool(anchored) and data.draw(st.booleans(), label="existing")
        record = data.draw(st.sampled_from(anchored if existing else RECORDS), label="record")
        owner = self.model.versions[record][0].hospital if existing else None
        sender, author = self._writer(data, owner)
        commitment, cid = self._content(data)
        latest = len(self.model.versions.get(record, []))
        expected_version = data.draw(
            st.one_of(st.just(latest), st.integers(0, MAX_AMEND_GUESS)), label="expected_version"
        )
        fn = self.registry.functions.amendRecord(
            record, expected_version, commitment, cid, author.address
        )
        expected = self.model.amend(
            sender.address, record, expected_version, commitment, cid, author.address
        )
        self._stored(expected, self.expect("RecordRegistry", sender, fn, expected), record)

    # -- the paths that move state: entitled writers, well-formed content ----------------------
    # The rules above mix anything with anything and are mostly refused; these make sure that
    # sequences also grow records several versions deep.

    def _entitled(self, hospital: str | None = None) -> list[tuple[LocalAccount, LocalAccount]]:
        return [
            (h, a)
            for h in HOSPITALS
            for a in AUTHORS
            if hospital in (None, h.address)
            and any(self.members.has_staff_role(h.address, a.address, r) for r in WRITER_ROLES)
        ]

    @precondition(lambda self: self._unanchored_of_entitled())
    @rule(data=st.data(), commitment=good_commitments, cid=good_cids)
    def anchor_a_new_record(self, data: st.DataObject, commitment: bytes, cid: bytes) -> None:
        record = data.draw(st.sampled_from(self._unanchored_of_entitled()), label="record")
        writers = self._entitled(Web3.to_checksum_address(record[:20]))
        sender, author = data.draw(st.sampled_from(writers), label="writer")
        patient = data.draw(st.sampled_from(PATIENTS[:2]), label="patient")
        fn = self.registry.functions.anchorRecord(record, commitment, cid, patient, author.address)
        expected = self.model.anchor(
            sender.address, record, commitment, cid, patient, author.address
        )
        self._stored(expected, self.expect("RecordRegistry", sender, fn, expected), record)

    def _unanchored_of_entitled(self) -> list[bytes]:
        """Ids not yet anchored in the namespace of a hospital that has a writer now."""
        owners = {bytes.fromhex(h.address[2:]) for h, _ in self._entitled()}
        return [r for r in RECORDS if r not in self.model.versions and r[:20] in owners]

    @precondition(lambda self: self.model.versions)
    @rule(data=st.data(), commitment=good_commitments, cid=good_cids)
    def amend_the_latest_version(self, data: st.DataObject, commitment: bytes, cid: bytes) -> None:
        record = data.draw(st.sampled_from(sorted(self.model.versions)), label="record")
        owner = self.model.versions[record][0].hospital
        writers = self._entitled(owner) or [(h, DOCTOR) for h in HOSPITALS if h.address == owner]
        sender, author = data.draw(st.sampled_from(writers), label="writer")
        latest = len(self.model.versions[record])
        fn = self.registry.functions.amendRecord(record, latest, commitment, cid, author.address)
        expected = self.model.amend(sender.address, record, latest, commitment, cid, author.address)
        self._stored(expected, self.expect("RecordRegistry", sender, fn, expected), record)

    # -- the membership changes that decide who may write -------------------------------------

    @rule(hospital=st.sampled_from(HOSPITALS))
    def suspend(self, hospital: LocalAccount) -> None:
        fn = self.membership.functions.suspendOrganisation(hospital.address)
        expected = self.members.suspend(REGULATOR.address, hospital.address)
        self.expect("Membership", REGULATOR, fn, expected)

    @rule(hospital=st.sampled_from(HOSPITALS))
    def reinstate(self, hospital: LocalAccount) -> None:
        fn = self.membership.functions.reinstateOrganisation(hospital.address)
        expected = self.members.reinstate(REGULATOR.address, hospital.address)
        self.expect("Membership", REGULATOR, fn, expected)

    @rule(member=st.sampled_from(AUTHORS[:-1]))
    def remove_staff(self, member: LocalAccount) -> None:
        org, _ = STAFF[member.address]
        fn = self.membership.functions.removeStaff(org.address, member.address)
        expected = self.members.remove(org.address, org.address, member.address)
        self.expect("Membership", org, fn, expected)

    @rule(member=st.sampled_from(AUTHORS[:-1]), org=st.sampled_from(HOSPITALS), data=st.data())
    def register_staff(self, member: LocalAccount, org: LocalAccount, data: st.DataObject) -> None:
        role = bytes(data.draw(st.sampled_from((DOCTOR_ROLE, CLERK_ROLE, AUDITOR_ROLE)), "role"))
        fn = joined(self.membership, org.address, member.address, role, _licence(role))
        expected = self.members.register(
            org.address, org.address, member.address, role, _licence(role)
        )
        self.expect("Membership", org, fn, expected)

    # -- what must hold after every change ----------------------------------------------------

    @invariant()
    def every_version_is_as_anchored(self) -> None:
        if not self.changed():
            return
        probe = Probe(self.w3)
        for record in RECORDS:
            count = len(self.model.versions.get(record, []))
            probe.add(("latest", record), self.registry, "latestVersion", record)
            for version in range(count + 2):  # 0 and count + 1 must not exist
                probe.add((record, version), self.registry, "recordVersion", record, version)
        seen = probe.read()
        for record in RECORDS:
            versions = self.model.versions.get(record, [])
            assert seen["latest", record] == len(versions), record.hex()
            for number in (0, len(versions) + 1):
                answer = seen[record, number]
                assert isinstance(answer, Reverted), (record.hex(), number, answer)
                assert answer.data.startswith(_UNKNOWN_VERSION), answer
            for number, v in enumerate(versions, start=1):
                stored = (
                    v.commitment,
                    v.hospital,
                    v.patient,
                    v.author,
                    v.anchored_at,
                    v.block,
                    v.cid,
                )
                assert seen[record, number] == stored, (record.hex(), number)


@pytest.mark.timeout(BATTERY_TIMEOUT_S)
def test_records_hold_their_invariants_under_random_calls(
    w3: Web3,
    deployment: Deployment,
    membership: Contract,
    registry: Contract,
    battery_report: Callable[[str], None],
) -> None:
    tally = run_machine(lambda: RegistryMachine(w3, deployment, membership, registry))
    battery_report(f"RecordRegistry state machine: {tally}")
    assert tally.accepted > 0, tally
    assert tally.refused > 0, tally
