"""The issued-prescription index (ledger/prescribing/issued.py) on the session's real chain: it
follows new issues, filters as the chain's indexed arguments did, recovers a transaction's signer
once, and keeps a prescription's state only once nothing can change it."""

from __future__ import annotations

from typing import Any

from ledger.prescribing.issued import IssuedIndex
from ledger.prescribing.onchain import OnchainPrescription
from ledger.prescribing.status import PrescriptionStatus
from tests.api.test_prescriptions import diagnosis_record, dispense, issue, review
from tests.world import Patient, World


def _index(world: World) -> IssuedIndex:
    chain = world.gateways["hospital-a"].gateway.chain
    return IssuedIndex(chain, chain.contract("PrescriptionRegistry"))


def test_a_new_prescription_is_followed_and_filtered_by_institution_and_id(
    world: World, patient: Patient
) -> None:
    index = _index(world)
    before = index.events()
    pid = str(issue(world, patient, record=diagnosis_record(world, patient))["prescription_id"])
    after = index.events()
    assert len(after) == len(before) + 1
    (new,) = [e for e in after if e not in before]
    assert ("0x" + new.prescription_id.hex(), new.institution) == (
        pid,
        world.org_address("hospital-a"),
    )
    assert index.events(prescription_id=pid) == [new]
    assert index.events(prescription_id=bytes.fromhex(pid[2:])) == [new]
    assert new in index.events(institution=world.org_address("hospital-a").lower())
    assert new not in index.events(institution=world.org_address("hospital-b"))
    # A second index, built later, finds the same history from the deployment block.
    assert _index(world).events() == index.events()


def test_a_signer_is_recovered_once_a_transaction(world: World, patient: Patient) -> None:
    index = _index(world)
    pid = str(issue(world, patient, record=diagnosis_record(world, patient))["prescription_id"])
    (event,) = index.events(prescription_id=pid)
    calls: list[str] = []

    def recover(transaction: Any, institution: str) -> str:
        calls.append(institution)
        return str(transaction["from"])

    first = index.signer(event, recover)
    assert index.signer(event, recover) == first == world.org_address("hospital-a")
    assert calls == [world.org_address("hospital-a")]


def test_only_a_final_state_is_kept(world: World, patient: Patient) -> None:
    index = _index(world)
    book = world.gateways["hospital-a"].gateway.prescriptions
    reads: list[bytes] = []

    def read(prescription_id: bytes) -> OnchainPrescription:
        reads.append(prescription_id)
        return book.onchain(prescription_id)

    pid = str(issue(world, patient, record=diagnosis_record(world, patient))["prescription_id"])
    raw = bytes.fromhex(pid[2:])
    now = 0  # long before expiry: only the status can make it final
    assert index.state(raw, read, now).status is PrescriptionStatus.PENDING
    review(world, pid)
    assert index.state(raw, read, now).status is PrescriptionStatus.APPROVED
    assert len(reads) == 2  # an open prescription is read each time
    dispense(world, pid)
    assert index.state(raw, read, now).status is PrescriptionStatus.DISPENSED
    assert index.state(raw, read, now).status is PrescriptionStatus.DISPENSED
    assert len(reads) == 3  # dispensed is for good: read once more, then kept


def test_an_open_prescription_long_expired_is_kept_as_it_was(
    world: World, patient: Patient
) -> None:
    index = _index(world)
    book = world.gateways["hospital-a"].gateway.prescriptions
    pid = str(issue(world, patient, record=diagnosis_record(world, patient))["prescription_id"])
    raw = bytes.fromhex(pid[2:])
    expires_at = book.onchain(raw).expires_at
    reads: list[bytes] = []

    def read(prescription_id: bytes) -> OnchainPrescription:
        reads.append(prescription_id)
        return book.onchain(prescription_id)

    index.state(raw, read, expires_at + 60)  # just past expiry: the chain's clock may lag ours
    index.state(raw, read, expires_at + 60)
    assert len(reads) == 2
    index.state(raw, read, expires_at + 7_200)  # an hour and more past: nothing can change it
    index.state(raw, read, expires_at + 7_200)
    assert len(reads) == 3
