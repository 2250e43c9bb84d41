"""RecordRegistry: hospitals anchor and amend records written by their doctors and clerks."""

from __future__ import annotations

import pytest
from contract_helpers import (
    AUDITOR,
    AUDITOR_ROLE,
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    OTHER_ADMIN,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    OUTSIDER,
    PATIENT,
    PHARMACIST,
    PHARMACIST_ROLE,
    Act,
    admit,
    chain_client,
    emitted,
    record_id,
    refusal,
    refused,
    register,
    remove,
    suspend,
)
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain.deploy import Deployment
from ledger.errors import ContractRevert
from ledger.types import OrgKind

RECORD = record_id(HOSPITAL.address, "record 1")
V1, V2, V3 = (Web3.keccak(text=f"commitment {n}") for n in (1, 2, 3))
CID1, CID2, CID3 = (f"bafkreicid{n}".encode() for n in (1, 2, 3))
ZERO = "0x" + "00" * 20


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract) -> None:
    """Two hospitals, an insurer, and hospital staff in every role; built once per module."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    for member, role in (
        (DOCTOR, DOCTOR_ROLE),
        (CLERK, CLERK_ROLE),
        (PHARMACIST, PHARMACIST_ROLE),
        (AUDITOR, AUDITOR_ROLE),
    ):
        register(act, membership, HOSPITAL_ADMIN, HOSPITAL, member, role)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE)


def _anchor(act: Act, registry: Contract, author: LocalAccount = DOCTOR) -> TxReceipt:
    return act(HOSPITAL).transact(
        registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, author.address)
    )


def _amend(act: Act, registry: Contract, expected: int, commitment: bytes, cid: bytes) -> TxReceipt:
    return act(HOSPITAL).transact(
        registry.functions.amendRecord(RECORD, expected, commitment, cid, DOCTOR.address)
    )


# Anchoring


def test_hospital_anchors_a_record_written_by_its_doctor(
    act: Act, w3: Web3, registry: Contract
) -> None:
    receipt = _anchor(act, registry)
    assert emitted(registry, receipt) == [
        (
            "RecordAnchored",
            {
                "recordId": RECORD,
                "version": 1,
                "hospital": HOSPITAL.address,
                "commitment": V1,
                "cid": CID1,
                "patient": PATIENT.address,
                "author": DOCTOR.address,
            },
        )
    ]
    block = w3.eth.get_block(receipt["blockNumber"])
    assert registry.functions.latestVersion(RECORD).call() == 1
    assert registry.functions.recordVersion(RECORD, 1).call() == (
        V1,
        HOSPITAL.address,
        PATIENT.address,
        DOCTOR.address,
        block["timestamp"],
        receipt["blockNumber"],
        CID1,
    )


def test_anchoring_returns_version_one(act: Act, registry: Contract) -> None:
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, DOCTOR.address)
    assert fn.call({"from": HOSPITAL.address}) == 1


def test_hospital_anchors_a_record_written_by_its_clerk(act: Act, registry: Contract) -> None:
    receipt = _anchor(act, registry, author=CLERK)
    assert emitted(registry, receipt)[0][1]["author"] == CLERK.address


@pytest.mark.parametrize("author", [PHARMACIST, AUDITOR], ids=["pharmacist", "auditor"])
def test_staff_without_a_writing_role_cannot_author_a_record(
    act: Act, registry: Contract, author: LocalAccount
) -> None:
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, author.address)
    assert refused(act(HOSPITAL), fn) == (
        "RecordAuthorNotPermitted",
        {"author": author.address, "hospital": HOSPITAL.address},
    )


def test_another_hospitals_doctor_cannot_author_a_record(act: Act, registry: Contract) -> None:
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, OTHER_DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == (
        "RecordAuthorNotPermitted",
        {"author": OTHER_DOCTOR.address, "hospital": HOSPITAL.address},
    )


def test_a_removed_doctor_cannot_author_a_record(
    act: Act, membership: Contract, registry: Contract
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == (
        "RecordAuthorNotPermitted",
        {"author": DOCTOR.address, "hospital": HOSPITAL.address},
    )


def test_a_suspended_hospital_cannot_anchor(
    act: Act, membership: Contract, registry: Contract
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordCallerNotHospital", {"caller": HOSPITAL.address})


def test_an_insurer_cannot_anchor_even_for_its_own_doctor(
    act: Act, membership: Contract, registry: Contract
) -> None:
    register(act, membership, INSURER_ADMIN, INSURER, OUTSIDER, DOCTOR_ROLE)
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, OUTSIDER.address)
    assert refused(act(INSURER), fn) == ("RecordCallerNotHospital", {"caller": INSURER.address})


def test_a_doctor_cannot_anchor_without_the_hospital(act: Act, registry: Contract) -> None:
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, PATIENT.address, DOCTOR.address)
    assert refused(act(DOCTOR), fn) == ("RecordCallerNotHospital", {"caller": DOCTOR.address})


def test_anchoring_a_record_twice_is_refused(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.anchorRecord(RECORD, V2, CID2, PATIENT.address, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordAlreadyAnchored", {"recordId": RECORD})


def test_another_hospital_cannot_anchor_a_taken_record_id(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.anchorRecord(RECORD, V2, CID2, PATIENT.address, OTHER_DOCTOR.address)
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "RecordIdOfAnotherHospital",
        {"recordId": RECORD, "hospital": OTHER_HOSPITAL.address},
    )


def test_anchoring_a_zero_commitment_is_refused(act: Act, registry: Contract) -> None:
    fn = registry.functions.anchorRecord(RECORD, bytes(32), CID1, PATIENT.address, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordEmptyCommitment", {})


def test_anchoring_an_empty_cid_is_refused(act: Act, registry: Contract) -> None:
    fn = registry.functions.anchorRecord(RECORD, V1, b"", PATIENT.address, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordEmptyCid", {})


def test_anchoring_for_a_zero_patient_is_refused(act: Act, registry: Contract) -> None:
    fn = registry.functions.anchorRecord(RECORD, V1, CID1, ZERO, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordZeroPatient", {})


# Amending


def test_hospital_amends_its_record(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    receipt = _amend(act, registry, 1, V2, CID2)
    assert emitted(registry, receipt) == [
        (
            "RecordAmended",
            {
                "recordId": RECORD,
                "version": 2,
                "hospital": HOSPITAL.address,
                "commitment": V2,
                "cid": CID2,
                "previousCommitment": V1,
                "author": DOCTOR.address,
            },
        )
    ]
    assert registry.functions.latestVersion(RECORD).call() == 2


def test_an_amendment_keeps_the_patient_and_the_earlier_version(
    act: Act, registry: Contract
) -> None:
    _anchor(act, registry)
    _amend(act, registry, 1, V2, CID2)
    first = registry.functions.recordVersion(RECORD, 1).call()
    second = registry.functions.recordVersion(RECORD, 2).call()
    assert (first[0], first[6]) == (V1, CID1)
    assert (second[0], second[2], second[6]) == (V2, PATIENT.address, CID2)


def test_an_amendment_links_the_latest_versions_commitment(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    _amend(act, registry, 1, V2, CID2)
    receipt = _amend(act, registry, 2, V3, CID3)
    (_, args), *_ = emitted(registry, receipt)
    assert (args["version"], args["previousCommitment"]) == (3, V2)


def test_amending_returns_the_new_version(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.amendRecord(RECORD, 1, V2, CID2, DOCTOR.address)
    assert fn.call({"from": HOSPITAL.address}) == 2


def test_amending_an_unknown_record_is_refused(act: Act, registry: Contract) -> None:
    fn = registry.functions.amendRecord(RECORD, 1, V2, CID2, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordUnknown", {"recordId": RECORD})


def test_another_hospital_cannot_amend_a_record(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.amendRecord(RECORD, 1, V2, CID2, OTHER_DOCTOR.address)
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "RecordNotAuthoringHospital",
        {"recordId": RECORD, "caller": OTHER_HOSPITAL.address},
    )


def test_amending_from_a_stale_version_is_refused(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    _amend(act, registry, 1, V2, CID2)
    fn = registry.functions.amendRecord(RECORD, 1, V3, CID3, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == (
        "RecordVersionConflict",
        {"recordId": RECORD, "expected": 1, "latest": 2},
    )


def test_a_suspended_hospital_cannot_amend(
    act: Act, membership: Contract, registry: Contract
) -> None:
    _anchor(act, registry)
    suspend(act, membership, HOSPITAL)
    fn = registry.functions.amendRecord(RECORD, 1, V2, CID2, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordCallerNotHospital", {"caller": HOSPITAL.address})


def test_a_pharmacist_cannot_author_an_amendment(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.amendRecord(RECORD, 1, V2, CID2, PHARMACIST.address)
    assert refused(act(HOSPITAL), fn) == (
        "RecordAuthorNotPermitted",
        {"author": PHARMACIST.address, "hospital": HOSPITAL.address},
    )


def test_amending_with_a_zero_commitment_is_refused(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.amendRecord(RECORD, 1, bytes(32), CID2, DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordEmptyCommitment", {})


def test_amending_with_an_empty_cid_is_refused(act: Act, registry: Contract) -> None:
    _anchor(act, registry)
    fn = registry.functions.amendRecord(RECORD, 1, V2, b"", DOCTOR.address)
    assert refused(act(HOSPITAL), fn) == ("RecordEmptyCid", {})


# Reading


def test_an_unknown_record_has_latest_version_zero(registry: Contract) -> None:
    assert registry.functions.latestVersion(RECORD).call() == 0


@pytest.mark.parametrize("version", [0, 2], ids=["zero", "past-latest"])
def test_reading_a_version_that_does_not_exist_is_refused(
    act: Act, registry: Contract, version: int
) -> None:
    _anchor(act, registry)
    with pytest.raises(ContractRevert) as info:
        act(OUTSIDER).call(registry.functions.recordVersion(RECORD, version))
    assert refusal(info.value) == (
        "RecordUnknownVersion",
        {"recordId": RECORD, "version": version},
    )


def test_registry_names_the_membership_it_consults(
    registry: Contract, membership: Contract
) -> None:
    assert registry.functions.membership().call() == membership.address
