"""PrescriptionRegistry: a hospital issues for a doctor with prescribing rights, for a follow-up
patient; a pharmacist reviews; one pharmacy dispenses, once, before expiry; the prescriber may
cancel before that."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
import requests
from contract_helpers import (
    AUDITOR,
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    FORCED_GAS,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    OTHER_ADMIN,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    OTHER_PATIENT,
    OTHER_PHARMACY,
    OTHER_PHARMACY_ADMIN,
    OTHER_PHARMACY_PHARMACIST,
    OUTSIDER,
    PATIENT,
    PHARMACIST,
    PHARMACIST_ROLE,
    PHARMACY,
    PHARMACY_ADMIN,
    PHARMACY_PHARMACIST,
    REGULATOR,
    Act,
    OrgKind,
    admit,
    chain_client,
    emitted,
    isolated,
    latest_timestamp,
    next_block_at,
    record_id,
    record_registration,
    refusal,
    refused,
    register,
    remove,
    suspend,
)
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, event, given, settings, strategies as st
from prescribe_signing import PRESCRIBER_SALT, as_tuple, prescriber_commitment, signed_fields
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment
from ledger.chain.node import Anvil
from ledger.errors import ContractRevert
from ledger.prescribing import PracticeScope, PrescriptionStatus, encode_reason

HOUR, DAY, YEAR = 3_600, 86_400, 365 * 86_400
WINDOW = 90 * DAY
ZERO = "0x" + "00" * 20

RX = Web3.keccak(text="prescription 1")
COMMITMENT, CID = Web3.keccak(text="medication request commitment"), b"bafkreimedicationrequest"
DISPENSE_COMMITMENT = Web3.keccak(text="medication dispense commitment")
DISPENSE_CID = b"bafkreimedicationdispense"
RECORD = record_id(HOSPITAL.address, "offline diagnosis of the patient at the hospital")
OTHER_PATIENTS_RECORD = record_id(HOSPITAL.address, "offline diagnosis of another patient")
OTHER_HOSPITALS_RECORD = record_id(
    OTHER_HOSPITAL.address, "offline diagnosis at the other hospital"
)
UNKNOWN_RECORD = Web3.keccak(text="never anchored")
FILING = Web3.keccak(text="multi-point filing")

#: The insurer's staff pharmacist: the right role, at an organisation that may not dispense.
INSURER_PHARMACIST = AUDITOR

PENDING, APPROVED, REJECTED = (
    PrescriptionStatus.PENDING,
    PrescriptionStatus.APPROVED,
    PrescriptionStatus.REJECTED,
)
CANCELLED, DISPENSED = PrescriptionStatus.CANCELLED, PrescriptionStatus.DISPENSED

#: Who reviews and dispenses, and through which pharmacist.
DISPENSARIES = {
    "hospital": (HOSPITAL, PHARMACIST),
    "pharmacy": (PHARMACY, PHARMACY_PHARMACIST),
    "other-pharmacy": (OTHER_PHARMACY, OTHER_PHARMACY_PHARMACIST),
}


@pytest.fixture(scope="module")
def t0(w3: Web3, deployment: Deployment) -> int:
    """The chain's time when the module starts; registrations are counted from it."""
    return latest_timestamp(w3)


@pytest.fixture(scope="module", autouse=True)
def consortium(
    w3: Web3,
    deployment: Deployment,
    membership: Contract,
    registry: Contract,
    practice: Contract,
    prescriptions: Contract,
    t0: int,
) -> None:
    """Two hospitals with a registered doctor each, two pharmacies and an insurer, each with a
    pharmacist; the hospital's follow-up window is 90 days; three offline diagnosis records."""
    act = chain_client(w3, deployment)
    for org, kind, admin in (
        (HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN),
        (OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN),
        (PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN),
        (OTHER_PHARMACY, OrgKind.PHARMACY, OTHER_PHARMACY_ADMIN),
        (INSURER, OrgKind.INSURER, INSURER_ADMIN),
    ):
        admit(act, membership, org, kind, admin)
    for admin, org, member, role in (
        (HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE),
        (HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE),
        (HOSPITAL_ADMIN, HOSPITAL, PHARMACIST, PHARMACIST_ROLE),
        (OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE),
        (PHARMACY_ADMIN, PHARMACY, PHARMACY_PHARMACIST, PHARMACIST_ROLE),
        (OTHER_PHARMACY_ADMIN, OTHER_PHARMACY, OTHER_PHARMACY_PHARMACIST, PHARMACIST_ROLE),
        (INSURER_ADMIN, INSURER, INSURER_PHARMACIST, PHARMACIST_ROLE),
    ):
        register(act, membership, admin, org, member, role)
    record_registration(act, practice, DOCTOR, HOSPITAL, t0 - DAY, t0 + YEAR)
    record_registration(act, practice, OTHER_DOCTOR, OTHER_HOSPITAL, t0 - DAY, t0 + YEAR)
    act(HOSPITAL_ADMIN).transact(
        prescriptions.functions.setFollowUpWindow(HOSPITAL.address, WINDOW)
    )
    for record, hospital, patient, author in (
        (RECORD, HOSPITAL, PATIENT, DOCTOR),
        (OTHER_PATIENTS_RECORD, HOSPITAL, OTHER_PATIENT, DOCTOR),
        (OTHER_HOSPITALS_RECORD, OTHER_HOSPITAL, PATIENT, OTHER_DOCTOR),
    ):
        act(hospital).transact(
            registry.functions.anchorRecord(
                record, Web3.keccak(record), b"bafkreirecord", patient.address, author.address
            )
        )


@pytest.fixture(scope="module")
def anchored_at(registry: Contract, consortium: None) -> int:
    """When RECORD, the patient's offline diagnosis at the hospital, was anchored."""
    return int(registry.functions.recordVersion(RECORD, 1).call()[4])


@dataclass(frozen=True)
class Issued:
    issued_at: int
    expires_at: int


def _issuance(
    prescriptions: Contract,
    rx: bytes = RX,
    *,
    sender: LocalAccount = HOSPITAL,
    online: bool = True,
    record: bytes = RECORD,
    prescriber: LocalAccount = DOCTOR,
    patient: str = PATIENT.address,
    commitment: bytes = COMMITMENT,
    cid: bytes = CID,
) -> tuple[Any, ...]:
    """An ``IPrescriptionRegistry.Issuance`` in field order, signed by ``prescriber`` for
    ``sender`` to relay."""
    return as_tuple(
        signed_fields(
            prescriptions,
            prescriber,
            rx,
            sender.address,
            commitment=commitment,
            cid=cid,
            patient=patient,
            online=online,
            record=record,
        )
    )


def _issue_fn(prescriptions: Contract, rx: bytes = RX, **fields: Any) -> ContractFunction:
    return prescriptions.functions.issuePrescription(rx, _issuance(prescriptions, rx, **fields))


def _at(w3: Web3, timestamp: int | None = None) -> int:
    """Mine the next block at ``timestamp`` (default: a second after the latest); returns it."""
    at = latest_timestamp(w3) + 1 if timestamp is None else timestamp
    next_block_at(w3, at)
    return at


def _issue(
    act: Act,
    w3: Web3,
    prescriptions: Contract,
    *,
    rx: bytes = RX,
    sender: LocalAccount = HOSPITAL,
    at: int | None = None,
    **fields: Any,
) -> tuple[TxReceipt, Issued]:
    """Issue at ``at`` (default: a second after the latest block); the contract sets the expiry,
    by the local-day rule (test_hostile_prescriptions.py walks its edges)."""
    issued_at = _at(w3, at)
    fn = _issue_fn(prescriptions, rx, sender=sender, **fields)
    receipt = act(sender).transact(fn, gas=FORCED_GAS)
    return receipt, Issued(issued_at, int(prescriptions.functions.prescription(rx).call()[5]))


def _review_fn(
    prescriptions: Contract, verdict: str, pharmacist: LocalAccount, rx: bytes = RX
) -> ContractFunction:
    review = (
        prescriptions.functions.approvePrescription
        if verdict == "approve"
        else prescriptions.functions.rejectPrescription
    )
    return review(rx, pharmacist.address)


def _approve(act: Act, prescriptions: Contract, by: str = "pharmacy", rx: bytes = RX) -> TxReceipt:
    org, pharmacist = DISPENSARIES[by]
    return act(org).transact(
        prescriptions.functions.approvePrescription(rx, pharmacist.address), gas=FORCED_GAS
    )


def _dispense_fn(
    prescriptions: Contract,
    pharmacist: LocalAccount,
    rx: bytes = RX,
    commitment: bytes = DISPENSE_COMMITMENT,
    cid: bytes = DISPENSE_CID,
) -> ContractFunction:
    return prescriptions.functions.dispensePrescription(rx, pharmacist.address, commitment, cid)


def _dispense(act: Act, prescriptions: Contract, by: str = "pharmacy") -> TxReceipt:
    org, pharmacist = DISPENSARIES[by]
    return act(org).transact(_dispense_fn(prescriptions, pharmacist), gas=FORCED_GAS)


def _cancel_fn(
    prescriptions: Contract, prescriber: LocalAccount = DOCTOR, salt: bytes = PRESCRIBER_SALT
) -> ContractFunction:
    return prescriptions.functions.cancelPrescription(RX, prescriber.address, salt)


def _status(prescriptions: Contract, rx: bytes = RX) -> PrescriptionStatus:
    return PrescriptionStatus(prescriptions.functions.prescription(rx).call()[7])


@pytest.fixture
def issued(act: Act, w3: Web3, prescriptions: Contract) -> Issued:
    """RX issued by the hospital for its doctor, online, valid for 6 hours."""
    return _issue(act, w3, prescriptions)[1]


@pytest.fixture
def approved(act: Act, prescriptions: Contract, issued: Issued) -> Issued:
    """RX approved by the member pharmacy's pharmacist."""
    _approve(act, prescriptions)
    return issued


@pytest.fixture
def dispensed(act: Act, prescriptions: Contract, approved: Issued) -> Issued:
    """RX dispensed by the member pharmacy."""
    _dispense(act, prescriptions)
    return approved


# Follow-up windows


def test_the_hospital_admin_sets_its_follow_up_window(act: Act, prescriptions: Contract) -> None:
    receipt = act(OTHER_ADMIN).transact(
        prescriptions.functions.setFollowUpWindow(OTHER_HOSPITAL.address, 61 * DAY)
    )
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionFollowUpWindowSet",
            {"hospital": OTHER_HOSPITAL.address, "window": 61 * DAY, "by": OTHER_ADMIN.address},
        )
    ]
    assert prescriptions.functions.followUpPolicy(OTHER_HOSPITAL.address).call() == (
        True,
        61 * DAY,
    )


def test_the_regulator_sets_a_hospitals_follow_up_window(act: Act, prescriptions: Contract) -> None:
    receipt = act(REGULATOR).transact(
        prescriptions.functions.setFollowUpWindow(OTHER_HOSPITAL.address, 0)
    )
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionFollowUpWindowSet",
            {"hospital": OTHER_HOSPITAL.address, "window": 0, "by": REGULATOR.address},
        )
    ]
    assert prescriptions.functions.followUpPolicy(OTHER_HOSPITAL.address).call() == (True, 0)


def test_a_window_never_set_reads_as_unset(prescriptions: Contract) -> None:
    assert prescriptions.functions.followUpPolicy(OTHER_HOSPITAL.address).call() == (False, 0)


@pytest.mark.parametrize(
    "caller",
    [OTHER_HOSPITAL, HOSPITAL_ADMIN, DOCTOR, OUTSIDER],
    ids=["the-org-account", "another-admin", "its-doctor", "outsider"],
)
def test_setting_a_window_by_anyone_else_is_refused(
    act: Act, prescriptions: Contract, caller: LocalAccount
) -> None:
    fn = prescriptions.functions.setFollowUpWindow(OTHER_HOSPITAL.address, 0)
    assert refused(act(caller), fn) == (
        "PrescriptionNotHospitalAdminOrRegulator",
        {"caller": caller.address, "hospital": OTHER_HOSPITAL.address},
    )


@pytest.mark.parametrize("hospital", [PHARMACY, OUTSIDER], ids=["pharmacy", "unknown"])
def test_setting_a_window_for_a_non_hospital_is_refused(
    act: Act, prescriptions: Contract, hospital: LocalAccount
) -> None:
    fn = prescriptions.functions.setFollowUpWindow(hospital.address, WINDOW)
    assert refused(act(REGULATOR), fn) == (
        "PrescriptionNotHospital",
        {"hospital": hospital.address},
    )


def test_setting_a_window_for_a_suspended_hospital_is_refused(
    act: Act, membership: Contract, prescriptions: Contract
) -> None:
    suspend(act, membership, OTHER_HOSPITAL)
    fn = prescriptions.functions.setFollowUpWindow(OTHER_HOSPITAL.address, WINDOW)
    assert refused(act(OTHER_ADMIN), fn) == (
        "PrescriptionNotHospital",
        {"hospital": OTHER_HOSPITAL.address},
    )


# Issuing


def test_hospital_issues_a_prescription_for_a_follow_up_patient(
    act: Act, w3: Web3, prescriptions: Contract
) -> None:
    receipt, rx = _issue(act, w3, prescriptions)
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionIssued",
            {
                "prescriptionId": RX,
                "institution": HOSPITAL.address,
                "prescriberCommitment": prescriber_commitment(DOCTOR.address),
                "commitment": COMMITMENT,
                "cid": CID,
                "patient": PATIENT.address,
                "expiresAt": rx.expires_at,
                "online": True,
                "followUpRecordId": RECORD,
            },
        ),
    ]
    assert prescriptions.functions.prescription(RX).call() == (
        COMMITMENT,
        HOSPITAL.address,
        prescriber_commitment(DOCTOR.address),
        PATIENT.address,
        rx.issued_at,
        rx.expires_at,
        True,
        PENDING,
        RECORD,
        CID,
    )


@pytest.mark.parametrize(
    "caller",
    [PHARMACY, INSURER, DOCTOR, HOSPITAL_ADMIN],
    ids=["pharmacy", "insurer", "doctor", "hospital-admin"],
)
def test_issuing_by_anyone_but_a_hospital_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, caller: LocalAccount
) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions)
    assert refused(act(caller), fn) == (
        "PrescriptionCallerNotHospital",
        {"caller": caller.address},
    )


def test_issuing_by_a_suspended_hospital_is_refused(
    act: Act, w3: Web3, membership: Contract, prescriptions: Contract
) -> None:
    suspend(act, membership, HOSPITAL)
    _at(w3)
    fn = _issue_fn(prescriptions)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionCallerNotHospital",
        {"caller": HOSPITAL.address},
    )


def test_issuing_twice_under_one_id_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, issued: Issued
) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions)
    assert refused(act(HOSPITAL), fn) == ("PrescriptionAlreadyIssued", {"prescriptionId": RX})


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"commitment": bytes(32)}, "PrescriptionEmptyCommitment"),
        ({"cid": b""}, "PrescriptionEmptyCid"),
        ({"patient": ZERO}, "PrescriptionZeroPatient"),
    ],
    ids=["commitment", "cid", "patient"],
)
def test_issuing_without_content_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, fields: dict[str, Any], error: str
) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, **fields)
    assert refused(act(HOSPITAL), fn) == (error, {})


@pytest.mark.parametrize(
    "prescriber",
    [OTHER_DOCTOR, CLERK, PHARMACIST],
    ids=["doctor-without-filing", "clerk", "pharmacist"],
)
def test_issuing_for_someone_without_prescribing_rights_here_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, prescriber: LocalAccount
) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, prescriber=prescriber)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": prescriber.address, "institution": HOSPITAL.address},
    )


# The prescriber's own signature (issue #16, item 3): the caller relays, the signer prescribes.


def test_the_prescriber_is_the_signer_and_the_chain_keeps_only_a_commitment(
    act: Act, w3: Web3, prescriptions: Contract
) -> None:
    """Neither the event nor the stored prescription carries the doctor's address."""
    receipt, _ = _issue(act, w3, prescriptions)
    ((_, args),) = emitted(prescriptions, receipt)
    stored = prescriptions.functions.prescription(RX).call()
    doctor = bytes.fromhex(DOCTOR.address[2:].lower())
    assert DOCTOR.address not in args.values()
    assert DOCTOR.address not in stored
    assert all(doctor not in bytes(log["data"]) for log in receipt["logs"])
    assert all(doctor not in bytes(t)[-20:] for log in receipt["logs"] for t in log["topics"])


def test_a_signature_past_its_deadline_is_refused(
    act: Act, w3: Web3, prescriptions: Contract
) -> None:
    at = _at(w3)
    fields = signed_fields(
        prescriptions,
        DOCTOR,
        RX,
        HOSPITAL.address,
        commitment=COMMITMENT,
        cid=CID,
        patient=PATIENT.address,
        online=True,
        record=RECORD,
        deadline=at - 1,
    )
    fn = prescriptions.functions.issuePrescription(RX, as_tuple(fields))
    assert refused(act(HOSPITAL), fn) == ("PrescriptionSignatureExpired", {"deadline": at - 1})


@pytest.mark.parametrize(
    "signature",
    [b"", b"\x01" * 64, b"\x00" * 65],
    ids=["none", "64-bytes", "zero"],
)
def test_issuing_without_a_signature_that_recovers_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, signature: bytes
) -> None:
    _at(w3)
    fields = list(_issuance(prescriptions))
    fields[-1] = signature
    fn = prescriptions.functions.issuePrescription(RX, tuple(fields))
    assert refused(act(HOSPITAL), fn) == ("PrescriptionSignatureInvalid", {})


def test_a_zero_prescriber_commitment_is_refused(
    act: Act, w3: Web3, prescriptions: Contract
) -> None:
    _at(w3)
    fields = list(_issuance(prescriptions))
    fields[3] = bytes(32)
    fn = prescriptions.functions.issuePrescription(RX, tuple(fields))
    assert refused(act(HOSPITAL), fn) == ("PrescriptionEmptyPrescriberCommitment", {})


def test_the_doctors_signature_for_one_hospital_does_not_issue_at_another(
    act: Act, w3: Web3, practice: Contract, prescriptions: Contract, t0: int
) -> None:
    """OTHER_DOCTOR may prescribe at both hospitals; a signature names the one that relays it."""
    _file_for_other_doctor(act, practice, t0, t0 + 30 * DAY)
    act(OTHER_ADMIN).transact(prescriptions.functions.setFollowUpWindow(OTHER_HOSPITAL.address, 0))
    _at(w3)
    fn = _issue_fn(prescriptions, sender=HOSPITAL, prescriber=OTHER_DOCTOR, record=bytes(32))
    name, args = refused(act(OTHER_HOSPITAL), fn)
    assert name == "PrescriptionPrescriberNotPermitted"
    assert args["prescriber"] != OTHER_DOCTOR.address


def test_issuing_for_a_doctor_whose_registration_is_revoked_is_refused(
    act: Act, w3: Web3, practice: Contract, prescriptions: Contract
) -> None:
    act(REGULATOR).transact(
        practice.functions.revokeRegistration(DOCTOR.address, encode_reason("struck-off"))
    )
    _at(w3)
    fn = _issue_fn(prescriptions)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": DOCTOR.address, "institution": HOSPITAL.address},
    )


def test_issuing_for_a_doctor_removed_from_the_staff_is_refused(
    act: Act, w3: Web3, membership: Contract, prescriptions: Contract
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    _at(w3)
    fn = _issue_fn(prescriptions)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": DOCTOR.address, "institution": HOSPITAL.address},
    )


def _file_for_other_doctor(act: Act, practice: Contract, valid_from: int, valid_to: int) -> None:
    """The hospital files for OTHER_DOCTOR (registered at the other hospital); approved."""
    act(HOSPITAL).transact(
        practice.functions.fileForPractice(
            FILING,
            OTHER_DOCTOR.address,
            HOSPITAL.address,
            int(PracticeScope.PRESCRIBING),
            valid_from,
            valid_to,
        )
    )
    act(REGULATOR).transact(practice.functions.approveFiling(FILING))


def test_a_doctor_with_a_filing_in_force_prescribes_at_the_filing_hospital(
    act: Act, w3: Web3, practice: Contract, prescriptions: Contract, t0: int
) -> None:
    _file_for_other_doctor(act, practice, t0, t0 + 30 * DAY)
    receipt, _ = _issue(act, w3, prescriptions, prescriber=OTHER_DOCTOR)
    commitment = prescriber_commitment(OTHER_DOCTOR.address)
    assert emitted(prescriptions, receipt)[0][1]["prescriberCommitment"] == commitment


def test_a_doctor_whose_filing_lapsed_may_not_prescribe(
    act: Act, w3: Web3, practice: Contract, prescriptions: Contract, t0: int
) -> None:
    _file_for_other_doctor(act, practice, t0, t0 + DAY)
    _at(w3, t0 + DAY + 1)
    fn = _issue_fn(prescriptions, prescriber=OTHER_DOCTOR)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": OTHER_DOCTOR.address, "institution": HOSPITAL.address},
    )


def test_a_doctor_whose_filing_was_revoked_may_not_prescribe(
    act: Act, w3: Web3, practice: Contract, prescriptions: Contract, t0: int
) -> None:
    _file_for_other_doctor(act, practice, t0, t0 + 30 * DAY)
    act(REGULATOR).transact(practice.functions.revokeFiling(FILING, encode_reason("audit")))
    _at(w3)
    fn = _issue_fn(prescriptions, prescriber=OTHER_DOCTOR)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": OTHER_DOCTOR.address, "institution": HOSPITAL.address},
    )


@pytest.mark.parametrize(
    ("online", "valid_for"), [(True, 2 * DAY - 1), (False, DAY - 1)], ids=["online", "offline"]
)
def test_the_expiry_is_the_end_of_the_local_day_the_rule_gives(
    act: Act, w3: Web3, prescriptions: Contract, online: bool, valid_for: int
) -> None:
    """Issued at 00:00:00 China Standard Time, the deployment's default offset."""
    midnight = ((latest_timestamp(w3) + 8 * HOUR) // DAY + 1) * DAY - 8 * HOUR
    _, rx = _issue(act, w3, prescriptions, online=online, at=midnight)
    assert rx.expires_at == midnight + valid_for


# Follow-up eligibility


def test_a_first_diagnosis_patient_is_refused(act: Act, w3: Web3, prescriptions: Contract) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, record=bytes(32))
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionFirstDiagnosis",
        {"hospital": HOSPITAL.address, "patient": PATIENT.address},
    )


def test_a_hospital_that_never_set_its_window_cannot_issue(
    act: Act, w3: Web3, prescriptions: Contract
) -> None:
    _at(w3)
    fn = _issue_fn(
        prescriptions,
        sender=OTHER_HOSPITAL,
        prescriber=OTHER_DOCTOR,
        record=OTHER_HOSPITALS_RECORD,
    )
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "PrescriptionFollowUpWindowUnset",
        {"hospital": OTHER_HOSPITAL.address},
    )


def test_an_unknown_follow_up_record_is_refused(
    act: Act, w3: Web3, prescriptions: Contract
) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, record=UNKNOWN_RECORD)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionFollowUpRecordUnknown",
        {"recordId": UNKNOWN_RECORD},
    )


def test_another_patients_record_is_refused(act: Act, w3: Web3, prescriptions: Contract) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, record=OTHER_PATIENTS_RECORD)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionFollowUpRecordMismatch",
        {
            "recordId": OTHER_PATIENTS_RECORD,
            "hospital": HOSPITAL.address,
            "patient": OTHER_PATIENT.address,
        },
    )


def test_another_hospitals_record_is_refused(act: Act, w3: Web3, prescriptions: Contract) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, record=OTHER_HOSPITALS_RECORD)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionFollowUpRecordMismatch",
        {
            "recordId": OTHER_HOSPITALS_RECORD,
            "hospital": OTHER_HOSPITAL.address,
            "patient": PATIENT.address,
        },
    )


def test_a_record_anchored_exactly_the_window_ago_qualifies(
    act: Act, w3: Web3, prescriptions: Contract, anchored_at: int
) -> None:
    _issue(act, w3, prescriptions, at=anchored_at + WINDOW)
    assert _status(prescriptions) == PENDING


def test_a_record_anchored_a_second_longer_ago_is_too_old(
    act: Act, w3: Web3, prescriptions: Contract, anchored_at: int
) -> None:
    _at(w3, anchored_at + WINDOW + 1)
    fn = _issue_fn(prescriptions)
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionFollowUpRecordTooOld",
        {"recordId": RECORD, "anchoredAt": anchored_at, "window": WINDOW},
    )


def test_amending_a_record_does_not_renew_its_window(
    act: Act, w3: Web3, registry: Contract, prescriptions: Contract, anchored_at: int
) -> None:
    _at(w3, anchored_at + WINDOW - DAY)
    act(HOSPITAL).transact(
        registry.functions.amendRecord(
            RECORD, 1, Web3.keccak(text="amended"), b"bafkreiamended", DOCTOR.address
        ),
        gas=FORCED_GAS,
    )
    _at(w3, anchored_at + WINDOW + 1)
    fn = _issue_fn(prescriptions)
    assert refused(act(HOSPITAL), fn)[0] == "PrescriptionFollowUpRecordTooOld"


@pytest.fixture
def no_record_required(act: Act, prescriptions: Contract) -> None:
    """The other hospital requires no offline record (window 0)."""
    act(OTHER_ADMIN).transact(prescriptions.functions.setFollowUpWindow(OTHER_HOSPITAL.address, 0))


def test_a_hospital_with_window_zero_issues_without_a_record(
    act: Act, w3: Web3, prescriptions: Contract, no_record_required: None
) -> None:
    receipt, _ = _issue(
        act, w3, prescriptions, sender=OTHER_HOSPITAL, prescriber=OTHER_DOCTOR, record=bytes(32)
    )
    assert emitted(prescriptions, receipt)[0][1]["followUpRecordId"] == bytes(32)


def test_a_hospital_with_window_zero_accepts_a_record_of_any_age(
    act: Act, w3: Web3, prescriptions: Contract, no_record_required: None, anchored_at: int
) -> None:
    _issue(
        act,
        w3,
        prescriptions,
        sender=OTHER_HOSPITAL,
        prescriber=OTHER_DOCTOR,
        record=OTHER_HOSPITALS_RECORD,
        at=anchored_at + 300 * DAY,
    )
    assert _status(prescriptions) == PENDING


def test_a_hospital_with_window_zero_still_refuses_a_record_not_its_own(
    act: Act, w3: Web3, prescriptions: Contract, no_record_required: None
) -> None:
    _at(w3)
    fn = _issue_fn(prescriptions, sender=OTHER_HOSPITAL, prescriber=OTHER_DOCTOR, record=RECORD)
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "PrescriptionFollowUpRecordMismatch",
        {"recordId": RECORD, "hospital": HOSPITAL.address, "patient": PATIENT.address},
    )


# Reviewing


@pytest.mark.parametrize(
    "by", ["hospital", "pharmacy"], ids=["hospital-pharmacy", "member-pharmacy"]
)
def test_a_pharmacist_approves_a_prescription(
    act: Act, w3: Web3, prescriptions: Contract, issued: Issued, by: str
) -> None:
    org, pharmacist = DISPENSARIES[by]
    at = _at(w3)
    receipt = act(org).transact(
        prescriptions.functions.approvePrescription(RX, pharmacist.address), gas=FORCED_GAS
    )
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionApproved",
            {
                "prescriptionId": RX,
                "org": org.address,
                "pharmacist": pharmacist.address,
            },
        )
    ]
    assert _status(prescriptions) == APPROVED
    assert prescriptions.functions.review(RX).call() == (
        org.address,
        pharmacist.address,
        True,
        at,
    )


@pytest.mark.parametrize(
    "by", ["hospital", "pharmacy"], ids=["hospital-pharmacy", "member-pharmacy"]
)
def test_a_pharmacist_rejects_a_prescription(
    act: Act, prescriptions: Contract, issued: Issued, by: str
) -> None:
    org, pharmacist = DISPENSARIES[by]
    receipt = act(org).transact(prescriptions.functions.rejectPrescription(RX, pharmacist.address))
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionRejected",
            {
                "prescriptionId": RX,
                "org": org.address,
                "pharmacist": pharmacist.address,
            },
        )
    ]
    assert _status(prescriptions) == REJECTED
    assert prescriptions.functions.review(RX).call()[:3] == (org.address, pharmacist.address, False)


@pytest.mark.parametrize("verdict", ["approve", "reject"])
@pytest.mark.parametrize(
    ("org", "pharmacist"),
    [
        (HOSPITAL, CLERK),
        (HOSPITAL, DOCTOR),
        (PHARMACY, PHARMACIST),
        (PHARMACY, OTHER_PHARMACY_PHARMACIST),
    ],
    ids=["clerk", "doctor", "hospital-pharmacist-for-pharmacy", "other-pharmacys-pharmacist"],
)
def test_a_review_by_a_non_pharmacist_of_the_caller_is_refused(
    act: Act,
    prescriptions: Contract,
    issued: Issued,
    verdict: str,
    org: LocalAccount,
    pharmacist: LocalAccount,
) -> None:
    fn = _review_fn(prescriptions, verdict, pharmacist)
    assert refused(act(org), fn) == (
        "PrescriptionPharmacistNotPermitted",
        {"pharmacist": pharmacist.address, "org": org.address},
    )


@pytest.mark.parametrize("verdict", ["approve", "reject"])
@pytest.mark.parametrize(
    ("org", "pharmacist"),
    [
        (INSURER, INSURER_PHARMACIST),
        (OTHER_HOSPITAL, OTHER_DOCTOR),
        (PHARMACIST, PHARMACIST),
        (PHARMACY_ADMIN, PHARMACY_PHARMACIST),
    ],
    ids=["insurer", "another-hospital", "pharmacist-itself", "pharmacy-admin"],
)
def test_a_review_by_an_organisation_that_is_no_pharmacy_is_refused(
    act: Act,
    prescriptions: Contract,
    issued: Issued,
    verdict: str,
    org: LocalAccount,
    pharmacist: LocalAccount,
) -> None:
    fn = _review_fn(prescriptions, verdict, pharmacist)
    assert refused(act(org), fn) == ("PrescriptionCallerNotPharmacy", {"caller": org.address})


def test_a_review_by_a_suspended_pharmacy_is_refused(
    act: Act, membership: Contract, prescriptions: Contract, issued: Issued
) -> None:
    suspend(act, membership, PHARMACY)
    fn = _review_fn(prescriptions, "approve", PHARMACY_PHARMACIST)
    assert refused(act(PHARMACY), fn) == (
        "PrescriptionCallerNotPharmacy",
        {"caller": PHARMACY.address},
    )


@pytest.mark.parametrize("verdict", ["approve", "reject"])
def test_reviewing_an_unknown_prescription_is_refused(
    act: Act, prescriptions: Contract, verdict: str
) -> None:
    fn = _review_fn(prescriptions, verdict, PHARMACY_PHARMACIST)
    assert refused(act(PHARMACY), fn) == ("PrescriptionUnknown", {"prescriptionId": RX})


@pytest.mark.parametrize("verdict", ["approve", "reject"])
@pytest.mark.parametrize(
    ("state", "status"),
    [("approved", APPROVED), ("rejected", REJECTED), ("cancelled", CANCELLED)],
)
def test_reviewing_a_prescription_no_longer_pending_is_refused(
    act: Act,
    prescriptions: Contract,
    issued: Issued,
    verdict: str,
    state: str,
    status: PrescriptionStatus,
) -> None:
    if state == "approved":
        _approve(act, prescriptions)
    elif state == "rejected":
        act(PHARMACY).transact(_review_fn(prescriptions, "reject", PHARMACY_PHARMACIST))
    else:
        act(HOSPITAL).transact(_cancel_fn(prescriptions))
    fn = _review_fn(prescriptions, verdict, OTHER_PHARMACY_PHARMACIST)
    assert refused(act(OTHER_PHARMACY), fn) == (
        "PrescriptionUnexpectedStatus",
        {"prescriptionId": RX, "current": status},
    )


@pytest.mark.parametrize("verdict", ["approve", "reject"])
def test_reviewing_a_dispensed_prescription_is_refused(
    act: Act, prescriptions: Contract, dispensed: Issued, verdict: str
) -> None:
    fn = _review_fn(prescriptions, verdict, PHARMACY_PHARMACIST)
    assert refused(act(PHARMACY), fn) == ("PrescriptionAlreadyDispensed", {"prescriptionId": RX})


def test_approving_after_expiry_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, issued: Issued
) -> None:
    _at(w3, issued.expires_at + 1)
    fn = _review_fn(prescriptions, "approve", PHARMACY_PHARMACIST)
    assert refused(act(PHARMACY), fn) == (
        "PrescriptionExpired",
        {"prescriptionId": RX, "expiresAt": issued.expires_at},
    )


def test_approving_in_the_last_second_is_accepted(
    act: Act, w3: Web3, prescriptions: Contract, issued: Issued
) -> None:
    _at(w3, issued.expires_at)
    _approve(act, prescriptions)
    assert _status(prescriptions) == APPROVED


# Dispensing


@pytest.mark.parametrize(
    "by", ["pharmacy", "other-pharmacy", "hospital"], ids=["approving", "another", "hospital"]
)
def test_a_pharmacy_dispenses_an_approved_prescription(
    act: Act, w3: Web3, prescriptions: Contract, approved: Issued, by: str
) -> None:
    org, pharmacist = DISPENSARIES[by]
    at = _at(w3)
    receipt = act(org).transact(_dispense_fn(prescriptions, pharmacist), gas=FORCED_GAS)
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionDispensed",
            {
                "prescriptionId": RX,
                "pharmacy": org.address,
                "pharmacist": pharmacist.address,
                "commitment": DISPENSE_COMMITMENT,
                "cid": DISPENSE_CID,
            },
        )
    ]
    assert _status(prescriptions) == DISPENSED
    assert prescriptions.functions.dispensing(RX).call() == (
        org.address,
        pharmacist.address,
        DISPENSE_COMMITMENT,
        at,
        DISPENSE_CID,
    )


@pytest.mark.parametrize("by", ["pharmacy", "other-pharmacy", "hospital"])
def test_dispensing_twice_is_refused(
    act: Act, prescriptions: Contract, dispensed: Issued, by: str
) -> None:
    org, pharmacist = DISPENSARIES[by]
    assert refused(act(org), _dispense_fn(prescriptions, pharmacist)) == (
        "PrescriptionAlreadyDispensed",
        {"prescriptionId": RX},
    )


def test_dispensing_a_pending_prescription_is_refused(
    act: Act, prescriptions: Contract, issued: Issued
) -> None:
    assert refused(act(PHARMACY), _dispense_fn(prescriptions, PHARMACY_PHARMACIST)) == (
        "PrescriptionUnexpectedStatus",
        {"prescriptionId": RX, "current": PENDING},
    )


def test_dispensing_a_rejected_prescription_is_refused(
    act: Act, prescriptions: Contract, issued: Issued
) -> None:
    act(PHARMACY).transact(_review_fn(prescriptions, "reject", PHARMACY_PHARMACIST))
    assert refused(act(PHARMACY), _dispense_fn(prescriptions, PHARMACY_PHARMACIST)) == (
        "PrescriptionUnexpectedStatus",
        {"prescriptionId": RX, "current": REJECTED},
    )


def test_dispensing_a_cancelled_prescription_is_refused(
    act: Act, prescriptions: Contract, approved: Issued
) -> None:
    act(HOSPITAL).transact(_cancel_fn(prescriptions))
    assert refused(act(PHARMACY), _dispense_fn(prescriptions, PHARMACY_PHARMACIST)) == (
        "PrescriptionUnexpectedStatus",
        {"prescriptionId": RX, "current": CANCELLED},
    )


def test_dispensing_an_unknown_prescription_is_refused(act: Act, prescriptions: Contract) -> None:
    assert refused(act(PHARMACY), _dispense_fn(prescriptions, PHARMACY_PHARMACIST)) == (
        "PrescriptionUnknown",
        {"prescriptionId": RX},
    )


@pytest.mark.parametrize(
    ("org", "pharmacist"),
    [
        (INSURER, INSURER_PHARMACIST),
        (OTHER_HOSPITAL, OTHER_DOCTOR),
        (PHARMACY_PHARMACIST, PHARMACY_PHARMACIST),
    ],
    ids=["insurer", "another-hospital", "pharmacist-itself"],
)
def test_dispensing_by_an_organisation_that_is_no_pharmacy_is_refused(
    act: Act, prescriptions: Contract, approved: Issued, org: LocalAccount, pharmacist: LocalAccount
) -> None:
    assert refused(act(org), _dispense_fn(prescriptions, pharmacist)) == (
        "PrescriptionCallerNotPharmacy",
        {"caller": org.address},
    )


def test_dispensing_by_a_suspended_pharmacy_is_refused(
    act: Act, membership: Contract, prescriptions: Contract, approved: Issued
) -> None:
    suspend(act, membership, OTHER_PHARMACY)
    fn = _dispense_fn(prescriptions, OTHER_PHARMACY_PHARMACIST)
    assert refused(act(OTHER_PHARMACY), fn) == (
        "PrescriptionCallerNotPharmacy",
        {"caller": OTHER_PHARMACY.address},
    )


@pytest.mark.parametrize(
    ("org", "pharmacist"),
    [(PHARMACY, OTHER_PHARMACY_PHARMACIST), (HOSPITAL, CLERK)],
    ids=["another-pharmacys-pharmacist", "hospital-clerk"],
)
def test_dispensing_through_a_non_pharmacist_of_the_caller_is_refused(
    act: Act, prescriptions: Contract, approved: Issued, org: LocalAccount, pharmacist: LocalAccount
) -> None:
    assert refused(act(org), _dispense_fn(prescriptions, pharmacist)) == (
        "PrescriptionPharmacistNotPermitted",
        {"pharmacist": pharmacist.address, "org": org.address},
    )


def test_dispensing_through_a_removed_pharmacist_is_refused(
    act: Act, membership: Contract, prescriptions: Contract, approved: Issued
) -> None:
    remove(act, membership, PHARMACY_ADMIN, PHARMACY, PHARMACY_PHARMACIST)
    assert refused(act(PHARMACY), _dispense_fn(prescriptions, PHARMACY_PHARMACIST)) == (
        "PrescriptionPharmacistNotPermitted",
        {"pharmacist": PHARMACY_PHARMACIST.address, "org": PHARMACY.address},
    )


@pytest.mark.parametrize(
    ("content", "error"),
    [
        ({"commitment": bytes(32)}, "PrescriptionEmptyCommitment"),
        ({"cid": b""}, "PrescriptionEmptyCid"),
    ],
    ids=["commitment", "cid"],
)
def test_dispensing_without_content_is_refused(
    act: Act, prescriptions: Contract, approved: Issued, content: dict[str, bytes], error: str
) -> None:
    fn = _dispense_fn(prescriptions, PHARMACY_PHARMACIST, **content)
    assert refused(act(PHARMACY), fn) == (error, {})


@pytest.mark.parametrize("offset", [-1, 0], ids=["a-second-before", "the-last-second"])
def test_dispensing_until_the_last_second_is_accepted(
    act: Act, w3: Web3, prescriptions: Contract, approved: Issued, offset: int
) -> None:
    _at(w3, approved.expires_at + offset)
    _dispense(act, prescriptions)
    assert prescriptions.functions.dispensing(RX).call()[3] == approved.expires_at + offset


def test_dispensing_a_second_after_expiry_is_refused(
    act: Act, w3: Web3, prescriptions: Contract, approved: Issued
) -> None:
    _at(w3, approved.expires_at + 1)
    assert refused(act(PHARMACY), _dispense_fn(prescriptions, PHARMACY_PHARMACIST)) == (
        "PrescriptionExpired",
        {"prescriptionId": RX, "expiresAt": approved.expires_at},
    )


# Cancelling


@pytest.mark.parametrize("state", ["issued", "approved"])
def test_the_prescribers_institution_cancels_before_dispense(
    act: Act, prescriptions: Contract, issued: Issued, state: str
) -> None:
    if state == "approved":
        _approve(act, prescriptions)
    receipt = act(HOSPITAL).transact(_cancel_fn(prescriptions))
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionCancelled",
            {"prescriptionId": RX, "institution": HOSPITAL.address},
        )
    ]
    assert _status(prescriptions) == CANCELLED


def test_cancelling_after_dispense_is_refused(
    act: Act, prescriptions: Contract, dispensed: Issued
) -> None:
    assert refused(act(HOSPITAL), _cancel_fn(prescriptions)) == (
        "PrescriptionAlreadyDispensed",
        {"prescriptionId": RX},
    )


@pytest.mark.parametrize(("state", "status"), [("rejected", REJECTED), ("cancelled", CANCELLED)])
def test_cancelling_a_closed_prescription_is_refused(
    act: Act, prescriptions: Contract, issued: Issued, state: str, status: PrescriptionStatus
) -> None:
    if state == "rejected":
        act(PHARMACY).transact(_review_fn(prescriptions, "reject", PHARMACY_PHARMACIST))
    else:
        act(HOSPITAL).transact(_cancel_fn(prescriptions))
    assert refused(act(HOSPITAL), _cancel_fn(prescriptions)) == (
        "PrescriptionUnexpectedStatus",
        {"prescriptionId": RX, "current": status},
    )


@pytest.mark.parametrize(
    "caller",
    [OTHER_HOSPITAL, PHARMACY, DOCTOR, HOSPITAL_ADMIN],
    ids=["hospital", "pharmacy", "doctor", "admin"],
)
def test_cancelling_by_anyone_but_the_issuing_institution_is_refused(
    act: Act, prescriptions: Contract, issued: Issued, caller: LocalAccount
) -> None:
    assert refused(act(caller), _cancel_fn(prescriptions)) == (
        "PrescriptionNotIssuingInstitution",
        {"prescriptionId": RX, "caller": caller.address},
    )


def test_cancelling_for_another_doctor_is_refused(
    act: Act, prescriptions: Contract, issued: Issued
) -> None:
    assert refused(act(HOSPITAL), _cancel_fn(prescriptions, CLERK)) == (
        "PrescriptionNotPrescriber",
        {"prescriptionId": RX, "prescriber": CLERK.address},
    )


def test_cancelling_with_the_prescriber_but_a_wrong_salt_is_refused(
    act: Act, prescriptions: Contract, issued: Issued
) -> None:
    """The commitment opens only with its salt: naming the right doctor is not enough."""
    fn = _cancel_fn(prescriptions, DOCTOR, Web3.keccak(text="guessed salt"))
    assert refused(act(HOSPITAL), fn) == (
        "PrescriptionNotPrescriber",
        {"prescriptionId": RX, "prescriber": DOCTOR.address},
    )


def test_cancelling_by_a_suspended_hospital_is_refused(
    act: Act, membership: Contract, prescriptions: Contract, issued: Issued
) -> None:
    suspend(act, membership, HOSPITAL)
    assert refused(act(HOSPITAL), _cancel_fn(prescriptions)) == (
        "PrescriptionCallerNotHospital",
        {"caller": HOSPITAL.address},
    )


def test_cancelling_an_unknown_prescription_is_refused(act: Act, prescriptions: Contract) -> None:
    assert refused(act(HOSPITAL), _cancel_fn(prescriptions)) == (
        "PrescriptionUnknown",
        {"prescriptionId": RX},
    )


# Reading


def test_an_unknown_prescription_reads_as_zero(prescriptions: Contract) -> None:
    assert prescriptions.functions.prescription(RX).call() == (
        bytes(32),
        ZERO,
        bytes(32),
        ZERO,
        0,
        0,
        False,
        PrescriptionStatus.NONE,
        bytes(32),
        b"",
    )
    assert prescriptions.functions.review(RX).call() == (ZERO, ZERO, False, 0)
    assert prescriptions.functions.dispensing(RX).call() == (ZERO, ZERO, bytes(32), 0, b"")


def test_prescription_registry_names_what_it_consults(
    prescriptions: Contract, membership: Contract, registry: Contract, practice: Contract
) -> None:
    assert prescriptions.functions.membership().call() == membership.address
    assert prescriptions.functions.recordRegistry().call() == registry.address
    assert prescriptions.functions.practiceRegistry().call() == practice.address


# Two pharmacies at the same moment

ROUNDS = 50


def _rpc(w3: Web3, method: str, *params: Any) -> Any:
    return w3.provider.make_request(method, list(params))["result"]  # type: ignore[arg-type]


def _wait_for_pool(w3: Web3, pending: int, senders: list[Future[Any]]) -> None:
    """Wait until ``pending`` transactions wait in the pool (a sender that failed says why)."""
    deadline = time.monotonic() + 10
    while int(_rpc(w3, "txpool_status")["pending"], 16) < pending:
        for future in senders:
            if future.done():
                future.result()  # re-raises what went wrong before the transaction was sent
        assert time.monotonic() < deadline, "a dispense never reached the pool"
        time.sleep(0.005)


def _outcome(send: Callable[[], TxReceipt]) -> TxReceipt | ContractRevert:
    try:
        return send()
    except ContractRevert as refusal_:
        return refusal_


def test_two_pharmacies_dispensing_in_one_block_dispense_exactly_once(
    anvil: Anvil, w3: Web3, deployment: Deployment, act: Act, prescriptions: Contract
) -> None:
    """Each round, both pharmacies send a dispense of the same approved prescription before a
    block is mined; exactly one is dispensed, and the other is told it already was."""
    with requests.Session() as first_session, requests.Session() as second_session:
        racers = {
            org: (
                Chain(Web3(Web3.HTTPProvider(anvil.url, session=session)), deployment, org),
                pharmacist,
            )
            for (org, pharmacist), session in zip(
                (DISPENSARIES["pharmacy"], DISPENSARIES["other-pharmacy"]),
                (first_session, second_session),
                strict=True,
            )
        }
        wins = {PHARMACY.address: 0, OTHER_PHARMACY.address: 0}
        for round_ in range(ROUNDS):
            rx = Web3.keccak(text=f"race {round_}")
            _issue(act, w3, prescriptions, rx=rx)
            # The hospital's pharmacy approves: each racing account has one client, one nonce count.
            _approve(act, prescriptions, by="hospital", rx=rx)
            order = list(racers.values()) if round_ % 2 == 0 else list(racers.values())[::-1]
            _rpc(w3, "evm_setAutomine", False)
            try:
                with ThreadPoolExecutor(max_workers=2) as pool:
                    senders: list[Future[TxReceipt | ContractRevert]] = []
                    for chain, pharmacist in order:
                        contract = chain.contract("PrescriptionRegistry")
                        fn = _dispense_fn(contract, pharmacist, rx=rx)
                        senders.append(pool.submit(_outcome, partial(chain.transact, fn)))
                        _wait_for_pool(w3, len(senders), senders)
                    _rpc(w3, "evm_mine")
                    outcomes = [sender.result(timeout=30) for sender in senders]
            finally:
                _rpc(w3, "evm_setAutomine", True)

            receipts = [o for o in outcomes if not isinstance(o, ContractRevert)]
            refusals = [refusal(o) for o in outcomes if isinstance(o, ContractRevert)]
            assert len(receipts) == 1
            assert refusals == [("PrescriptionAlreadyDispensed", {"prescriptionId": rx})]
            (won,) = receipts
            block = w3.eth.get_block_receipts(won["blockNumber"])
            assert sorted(r["status"] for r in block) == [0, 1]
            assert [r["logs"] for r in block if r["status"] == 0] == [[]]
            logged = [entry for r in block for entry in emitted(prescriptions, r)]
            assert [(name, args["prescriptionId"]) for name, args in logged] == [
                ("PrescriptionDispensed", rx)
            ]
            winner = logged[0][1]["pharmacy"]
            assert prescriptions.functions.dispensing(rx).call()[0] == winner
            wins[winner] += 1
    # The order of sending alternates, so each pharmacy both won and lost: both outcomes were
    # exercised for each (the node's pool takes equal-priced transactions in arrival order).
    assert sum(wins.values()) == ROUNDS
    assert min(wins.values()) > 0


# Any sequence of actions

# Weighted towards approving and dispensing, so that sequences reach a dispense and try another;
# the hospital acts for cancel, whoever is drawn.
_ACTIONS = st.tuples(
    st.sampled_from(["approve", "dispense", "approve", "dispense", "dispense", "reject", "cancel"]),
    st.sampled_from(sorted(DISPENSARIES)),
)


@dataclass
class _Model:
    """What the contract should do, by the rules as the issue states them."""

    status: PrescriptionStatus
    expires_at: int

    def allows(self, action: str, at: int) -> bool:
        live = at <= self.expires_at
        return {
            "approve": self.status is PENDING and live,
            "reject": self.status is PENDING,
            "dispense": self.status is APPROVED and live,
            "cancel": self.status in (PENDING, APPROVED),
        }[action]

    def apply(self, action: str) -> None:
        self.status = {
            "approve": APPROVED,
            "reject": REJECTED,
            "dispense": DISPENSED,
            "cancel": CANCELLED,
        }[action]


def _action_fn(prescriptions: Contract, action: str, pharmacist: LocalAccount) -> ContractFunction:
    if action == "dispense":
        return _dispense_fn(prescriptions, pharmacist)
    if action == "cancel":
        return _cancel_fn(prescriptions)
    return _review_fn(prescriptions, action, pharmacist)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.sampled_from(["approved", "pending"]),
    steps=st.lists(st.tuples(st.integers(1, 5 * HOUR), _ACTIONS), max_size=8),
)
def test_a_prescription_is_dispensed_at_most_once_under_any_sequence_of_actions(
    w3: Web3,
    deployment: Deployment,
    prescriptions: Contract,
    start: str,
    steps: list[tuple[int, tuple[str, str]]],
) -> None:
    with isolated(w3):
        act = chain_client(w3, deployment)  # fresh nonces after every revert
        receipt, rx = _issue(act, w3, prescriptions)
        model = _Model(PENDING, rx.expires_at)
        if start == "approved":
            _approve(act, prescriptions)
            model.apply("approve")
        at = latest_timestamp(w3)
        for delay, (action, who) in steps:
            org, pharmacist = DISPENSARIES["hospital" if action == "cancel" else who]
            at = _at(w3, at + delay)
            try:
                act(org).transact(_action_fn(prescriptions, action, pharmacist), gas=FORCED_GAS)
                done = True
            except ContractRevert:
                done = False
            assert done == model.allows(action, at), (action, who, at - rx.issued_at)
            if done:
                model.apply(action)
            assert _status(prescriptions) == model.status
        dispenses = prescriptions.events.PrescriptionDispensed().get_logs(
            from_block=receipt["blockNumber"]
        )
        assert len(dispenses) == (1 if model.status is DISPENSED else 0)
        event(f"ends {model.status.name.lower()}")
