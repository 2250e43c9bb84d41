"""PracticeRegistry: the regulator records registrations and decides the filings institutions make;
canPrescribe answers from both, and from the membership, for any time."""

from __future__ import annotations

import pytest
from contract_helpers import (
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    LICENCE,
    OTHER_ADMIN,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    OUTSIDER,
    PHARMACY,
    PHARMACY_ADMIN,
    PRACTISING_SINCE,
    REGULATOR,
    Act,
    OrgKind,
    admit,
    chain_client,
    emitted,
    latest_timestamp,
    record_registration,
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
from ledger.prescribing import FilingStatus, PracticeScope, RegistrationStatus, encode_reason

DAY, YEAR = 86_400, 365 * 86_400
ZERO = "0x" + "00" * 20
FILING, SECOND_FILING = Web3.keccak(text="filing 1"), Web3.keccak(text="filing 2")
REASON = encode_reason("licence-suspended")
OTHER_LICENCE = Web3.keccak(text="another salted licence commitment")
# Plain ints: web3 takes an IntFlag (iterable since Python 3.11) for a sequence.
DIAGNOSIS, PRESCRIBING = int(PracticeScope.INTERNET_DIAGNOSIS), int(PracticeScope.PRESCRIBING)
BOTH = DIAGNOSIS | PRESCRIBING


@pytest.fixture(scope="module")
def t0(w3: Web3, deployment: Deployment) -> int:
    """The chain's time when the module starts; every window is counted from it."""
    return latest_timestamp(w3)


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, t0: int) -> None:
    """Two hospitals with a doctor each, a clerk, an insurer and a pharmacy; no registrations."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    admit(act, membership, PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE)


@pytest.fixture
def registered(act: Act, practice: Contract, t0: int) -> None:
    """DOCTOR registered at HOSPITAL from a day before the module started, for a year."""
    record_registration(act, practice, DOCTOR, HOSPITAL, t0 - DAY, t0 + YEAR)


def _file(
    act: Act,
    practice: Contract,
    t0: int,
    *,
    filing_id: bytes = FILING,
    scope: int = PRESCRIBING,
    window: tuple[int, int] | None = None,
    sender: LocalAccount = OTHER_HOSPITAL,
) -> TxReceipt:
    """OTHER_HOSPITAL files for DOCTOR (registered at HOSPITAL), by default for 30 days from t0."""
    valid_from, valid_to = window or (t0, t0 + 30 * DAY)
    return act(sender).transact(
        practice.functions.fileForPractice(
            filing_id, DOCTOR.address, OTHER_HOSPITAL.address, scope, valid_from, valid_to
        )
    )


@pytest.fixture
def approved(act: Act, practice: Contract, t0: int, registered: None) -> None:
    """FILING for DOCTOR at OTHER_HOSPITAL, prescribing, t0 to t0 + 30 days, approved."""
    _file(act, practice, t0)
    act(REGULATOR).transact(practice.functions.approveFiling(FILING))


def _can_prescribe(practice: Contract, doctor: LocalAccount, at: LocalAccount, time: int) -> bool:
    result: bool = practice.functions.canPrescribe(doctor.address, at.address, time).call()
    return result


# Registrations


def test_regulator_records_a_registration(act: Act, practice: Contract, t0: int) -> None:
    receipt = record_registration(act, practice, DOCTOR, HOSPITAL, t0 - DAY, t0 + YEAR)
    assert emitted(practice, receipt) == [
        (
            "PracticeRegistrationRecorded",
            {
                "doctor": DOCTOR.address,
                "institution": HOSPITAL.address,
                "licenceCommitment": LICENCE,
                "validFrom": t0 - DAY,
                "validTo": t0 + YEAR,
                "practisingSince": PRACTISING_SINCE,
                "by": REGULATOR.address,
            },
        )
    ]
    assert practice.functions.registration(DOCTOR.address).call() == (
        HOSPITAL.address,
        LICENCE,
        t0 - DAY,
        t0 + YEAR,
        PRACTISING_SINCE,
        RegistrationStatus.ACTIVE,
    )


def test_a_registered_doctor_may_practise_in_every_scope_at_the_institution(
    practice: Contract, t0: int, registered: None
) -> None:
    assert _can_prescribe(practice, DOCTOR, HOSPITAL, t0)
    for scope in (DIAGNOSIS, PRESCRIBING, BOTH):
        assert practice.functions.canPractise(DOCTOR.address, HOSPITAL.address, scope, t0).call()


def test_a_registration_is_in_force_from_its_first_to_its_last_second(
    practice: Contract, t0: int, registered: None
) -> None:
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0 - DAY - 1)
    assert _can_prescribe(practice, DOCTOR, HOSPITAL, t0 - DAY)
    assert _can_prescribe(practice, DOCTOR, HOSPITAL, t0 + YEAR)
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0 + YEAR + 1)


def test_a_registration_gives_no_rights_at_another_institution(
    practice: Contract, t0: int, registered: None
) -> None:
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_an_unregistered_doctor_may_not_prescribe_even_as_staff(
    practice: Contract, t0: int
) -> None:
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0)


def test_a_registered_doctor_removed_from_the_staff_may_not_prescribe(
    act: Act, membership: Contract, practice: Contract, t0: int, registered: None
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0)


def test_a_registered_clerk_may_not_prescribe(act: Act, practice: Contract, t0: int) -> None:
    record_registration(act, practice, CLERK, HOSPITAL, t0 - DAY, t0 + YEAR)
    assert not _can_prescribe(practice, CLERK, HOSPITAL, t0)


def test_the_doctors_of_a_suspended_hospital_may_not_prescribe(
    act: Act, membership: Contract, practice: Contract, t0: int, registered: None
) -> None:
    suspend(act, membership, HOSPITAL)
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0)


def test_a_new_registration_replaces_the_earlier_one(
    act: Act, membership: Contract, practice: Contract, t0: int, registered: None
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, DOCTOR, DOCTOR_ROLE)
    receipt = record_registration(
        act, practice, DOCTOR, OTHER_HOSPITAL, t0, t0 + 2 * YEAR, OTHER_LICENCE
    )
    assert [name for name, _ in emitted(practice, receipt)] == ["PracticeRegistrationRecorded"]
    assert practice.functions.registration(DOCTOR.address).call()[:2] == (
        OTHER_HOSPITAL.address,
        OTHER_LICENCE,
    )
    assert _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0)


@pytest.mark.parametrize(
    "caller",
    [HOSPITAL, HOSPITAL_ADMIN, DOCTOR, OUTSIDER],
    ids=["org", "admin", "doctor", "outsider"],
)
def test_recording_a_registration_by_a_non_regulator_is_refused(
    act: Act, practice: Contract, t0: int, caller: LocalAccount
) -> None:
    fn = practice.functions.recordRegistration(
        DOCTOR.address, HOSPITAL.address, LICENCE, t0, t0 + YEAR, PRACTISING_SINCE
    )
    assert refused(act(caller), fn) == (
        "PracticeCallerNotRegulator",
        {"caller": caller.address},
    )


def test_recording_a_registration_for_the_zero_address_is_refused(
    act: Act, practice: Contract, t0: int
) -> None:
    fn = practice.functions.recordRegistration(
        ZERO, HOSPITAL.address, LICENCE, t0, t0 + YEAR, PRACTISING_SINCE
    )
    assert refused(act(REGULATOR), fn) == ("PracticeZeroDoctor", {})


@pytest.mark.parametrize(
    "institution", [INSURER, PHARMACY, OUTSIDER], ids=["insurer", "pharmacy", "unknown"]
)
def test_recording_a_registration_at_a_non_hospital_is_refused(
    act: Act, practice: Contract, t0: int, institution: LocalAccount
) -> None:
    fn = practice.functions.recordRegistration(
        DOCTOR.address, institution.address, LICENCE, t0, t0 + YEAR, PRACTISING_SINCE
    )
    assert refused(act(REGULATOR), fn) == (
        "PracticeNotHospital",
        {"institution": institution.address},
    )


def test_recording_a_registration_at_a_suspended_hospital_is_refused(
    act: Act, membership: Contract, practice: Contract, t0: int
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = practice.functions.recordRegistration(
        DOCTOR.address, HOSPITAL.address, LICENCE, t0, t0 + YEAR, PRACTISING_SINCE
    )
    assert refused(act(REGULATOR), fn) == (
        "PracticeNotHospital",
        {"institution": HOSPITAL.address},
    )


def test_recording_a_registration_without_a_licence_is_refused(
    act: Act, practice: Contract, t0: int
) -> None:
    fn = practice.functions.recordRegistration(
        DOCTOR.address, HOSPITAL.address, bytes(32), t0, t0 + YEAR, PRACTISING_SINCE
    )
    assert refused(act(REGULATOR), fn) == ("PracticeEmptyLicence", {})


@pytest.mark.parametrize("length", [0, -1], ids=["empty", "reversed"])
def test_recording_a_registration_with_an_empty_window_is_refused(
    act: Act, practice: Contract, t0: int, length: int
) -> None:
    fn = practice.functions.recordRegistration(
        DOCTOR.address, HOSPITAL.address, LICENCE, t0, t0 + length, PRACTISING_SINCE
    )
    assert refused(act(REGULATOR), fn) == (
        "PracticeInvalidWindow",
        {"validFrom": t0, "validTo": t0 + length},
    )


def test_regulator_revokes_a_registration(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    receipt = act(REGULATOR).transact(practice.functions.revokeRegistration(DOCTOR.address, REASON))
    assert emitted(practice, receipt) == [
        (
            "PracticeRegistrationRevoked",
            {
                "doctor": DOCTOR.address,
                "institution": HOSPITAL.address,
                "reason": REASON,
                "by": REGULATOR.address,
            },
        )
    ]
    assert practice.functions.registration(DOCTOR.address).call()[-1] == RegistrationStatus.REVOKED
    assert not _can_prescribe(practice, DOCTOR, HOSPITAL, t0)


def test_revoking_a_registration_by_a_non_regulator_is_refused(
    act: Act, practice: Contract, registered: None
) -> None:
    fn = practice.functions.revokeRegistration(DOCTOR.address, REASON)
    assert refused(act(HOSPITAL_ADMIN), fn) == (
        "PracticeCallerNotRegulator",
        {"caller": HOSPITAL_ADMIN.address},
    )


def test_revoking_a_registration_without_a_reason_is_refused(
    act: Act, practice: Contract, registered: None
) -> None:
    fn = practice.functions.revokeRegistration(DOCTOR.address, bytes(32))
    assert refused(act(REGULATOR), fn) == ("PracticeReasonRequired", {})


def test_revoking_a_registration_never_recorded_is_refused(act: Act, practice: Contract) -> None:
    fn = practice.functions.revokeRegistration(DOCTOR.address, REASON)
    assert refused(act(REGULATOR), fn) == (
        "PracticeRegistrationNotActive",
        {"doctor": DOCTOR.address},
    )


def test_revoking_a_revoked_registration_is_refused(
    act: Act, practice: Contract, registered: None
) -> None:
    act(REGULATOR).transact(practice.functions.revokeRegistration(DOCTOR.address, REASON))
    fn = practice.functions.revokeRegistration(DOCTOR.address, REASON)
    assert refused(act(REGULATOR), fn) == (
        "PracticeRegistrationNotActive",
        {"doctor": DOCTOR.address},
    )


def test_a_revoked_doctor_is_registered_again_by_a_new_registration(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    act(REGULATOR).transact(practice.functions.revokeRegistration(DOCTOR.address, REASON))
    record_registration(act, practice, DOCTOR, HOSPITAL, t0, t0 + YEAR)
    assert _can_prescribe(practice, DOCTOR, HOSPITAL, t0)


# Filings


@pytest.mark.parametrize("sender", [OTHER_HOSPITAL, OTHER_ADMIN], ids=["org", "admin"])
def test_the_target_institution_files_for_a_doctor_registered_elsewhere(
    act: Act, practice: Contract, t0: int, registered: None, sender: LocalAccount
) -> None:
    receipt = _file(act, practice, t0, scope=BOTH, sender=sender)
    assert emitted(practice, receipt) == [
        (
            "PracticeFilingSubmitted",
            {
                "filingId": FILING,
                "doctor": DOCTOR.address,
                "institution": OTHER_HOSPITAL.address,
                "scope": BOTH,
                "validFrom": t0,
                "validTo": t0 + 30 * DAY,
                "filedBy": sender.address,
            },
        )
    ]
    assert practice.functions.filing(FILING).call() == (
        DOCTOR.address,
        OTHER_HOSPITAL.address,
        BOTH,
        t0,
        t0 + 30 * DAY,
        FilingStatus.PENDING,
    )
    assert practice.functions.filingsOf(DOCTOR.address, OTHER_HOSPITAL.address).call() == [FILING]


def test_a_pending_filing_gives_no_rights(
    practice: Contract, act: Act, t0: int, registered: None
) -> None:
    _file(act, practice, t0)
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


@pytest.mark.parametrize(
    "sender",
    [HOSPITAL, HOSPITAL_ADMIN, DOCTOR, REGULATOR, OUTSIDER],
    ids=["registered-institution", "its-admin", "doctor", "regulator", "outsider"],
)
def test_filing_for_another_institution_is_refused(
    act: Act, practice: Contract, t0: int, registered: None, sender: LocalAccount
) -> None:
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(sender), fn) == (
        "PracticeNotInstitution",
        {"caller": sender.address, "institution": OTHER_HOSPITAL.address},
    )


@pytest.mark.parametrize(
    ("institution", "sender"),
    [(INSURER, INSURER), (PHARMACY, PHARMACY_ADMIN)],
    ids=["insurer", "pharmacy-admin"],
)
def test_filing_at_a_non_hospital_is_refused(
    act: Act,
    practice: Contract,
    t0: int,
    registered: None,
    institution: LocalAccount,
    sender: LocalAccount,
) -> None:
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, institution.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(sender), fn) == (
        "PracticeNotHospital",
        {"institution": institution.address},
    )


def test_filing_by_a_suspended_hospital_is_refused(
    act: Act, membership: Contract, practice: Contract, t0: int, registered: None
) -> None:
    suspend(act, membership, OTHER_HOSPITAL)
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(OTHER_ADMIN), fn) == (
        "PracticeNotHospital",
        {"institution": OTHER_HOSPITAL.address},
    )


def test_filing_twice_under_one_id_is_refused(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    _file(act, practice, t0)
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(OTHER_HOSPITAL), fn) == ("PracticeFilingExists", {"filingId": FILING})


def test_filing_for_an_unregistered_doctor_is_refused(
    act: Act, practice: Contract, t0: int
) -> None:
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "PracticeRegistrationNotActive",
        {"doctor": DOCTOR.address},
    )


def test_filing_for_a_doctor_whose_registration_is_revoked_is_refused(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    act(REGULATOR).transact(practice.functions.revokeRegistration(DOCTOR.address, REASON))
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "PracticeRegistrationNotActive",
        {"doctor": DOCTOR.address},
    )


def test_filing_at_the_doctors_own_institution_is_refused(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, HOSPITAL.address, PRESCRIBING, t0, t0 + DAY
    )
    assert refused(act(HOSPITAL), fn) == (
        "PracticeFilingAtRegisteredInstitution",
        {"doctor": DOCTOR.address, "institution": HOSPITAL.address},
    )


@pytest.mark.parametrize("scope", [0, 4, 255], ids=["none", "unknown-bit", "all-bits"])
def test_filing_with_an_invalid_scope_is_refused(
    act: Act, practice: Contract, t0: int, registered: None, scope: int
) -> None:
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, scope, t0, t0 + DAY
    )
    assert refused(act(OTHER_HOSPITAL), fn) == ("PracticeInvalidScope", {"scope": scope})


def test_filing_with_an_empty_window_is_refused(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    fn = practice.functions.fileForPractice(
        FILING, DOCTOR.address, OTHER_HOSPITAL.address, PRESCRIBING, t0, t0
    )
    assert refused(act(OTHER_HOSPITAL), fn) == (
        "PracticeInvalidWindow",
        {"validFrom": t0, "validTo": t0},
    )


# Decisions


def test_regulator_approves_a_filing(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    _file(act, practice, t0)
    receipt = act(REGULATOR).transact(practice.functions.approveFiling(FILING))
    assert emitted(practice, receipt) == [
        (
            "PracticeFilingApproved",
            {
                "filingId": FILING,
                "doctor": DOCTOR.address,
                "institution": OTHER_HOSPITAL.address,
                "by": REGULATOR.address,
            },
        )
    ]
    assert practice.functions.filing(FILING).call()[5] == FilingStatus.APPROVED


def test_an_approved_filing_is_in_force_from_its_first_to_its_last_second(
    practice: Contract, t0: int, approved: None
) -> None:
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0 - 1)
    assert _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)
    assert _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0 + 30 * DAY)
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0 + 30 * DAY + 1)


def test_a_filing_gives_only_its_scope(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    _file(act, practice, t0, scope=DIAGNOSIS)
    act(REGULATOR).transact(practice.functions.approveFiling(FILING))
    can = practice.functions.canPractise
    assert can(DOCTOR.address, OTHER_HOSPITAL.address, DIAGNOSIS, t0).call()
    assert not can(DOCTOR.address, OTHER_HOSPITAL.address, BOTH, t0).call()
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_a_filing_in_force_gives_nothing_once_the_registration_is_revoked(
    act: Act, practice: Contract, t0: int, approved: None
) -> None:
    act(REGULATOR).transact(practice.functions.revokeRegistration(DOCTOR.address, REASON))
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_a_filing_in_force_gives_nothing_after_the_registration_lapsed(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    _file(act, practice, t0, window=(t0, t0 + 2 * YEAR))
    act(REGULATOR).transact(practice.functions.approveFiling(FILING))
    assert _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0 + YEAR)
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0 + YEAR + 1)


def test_a_filing_in_force_gives_nothing_while_the_target_hospital_is_suspended(
    act: Act, membership: Contract, practice: Contract, t0: int, approved: None
) -> None:
    suspend(act, membership, OTHER_HOSPITAL)
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_a_filing_in_force_gives_nothing_once_the_doctor_left_the_registered_hospital(
    act: Act, membership: Contract, practice: Contract, t0: int, approved: None
) -> None:
    remove(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR)
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_regulator_rejects_a_filing(
    act: Act, practice: Contract, t0: int, registered: None
) -> None:
    _file(act, practice, t0)
    receipt = act(REGULATOR).transact(practice.functions.rejectFiling(FILING, REASON))
    assert emitted(practice, receipt) == [
        (
            "PracticeFilingRejected",
            {
                "filingId": FILING,
                "doctor": DOCTOR.address,
                "institution": OTHER_HOSPITAL.address,
                "reason": REASON,
                "by": REGULATOR.address,
            },
        )
    ]
    assert practice.functions.filing(FILING).call()[5] == FilingStatus.REJECTED
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_regulator_revokes_an_approved_filing(
    act: Act, practice: Contract, t0: int, approved: None
) -> None:
    receipt = act(REGULATOR).transact(practice.functions.revokeFiling(FILING, REASON))
    assert emitted(practice, receipt) == [
        (
            "PracticeFilingRevoked",
            {
                "filingId": FILING,
                "doctor": DOCTOR.address,
                "institution": OTHER_HOSPITAL.address,
                "reason": REASON,
                "by": REGULATOR.address,
            },
        )
    ]
    assert practice.functions.filing(FILING).call()[5] == FilingStatus.REVOKED
    assert not _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


def test_a_second_approved_filing_is_in_force_after_the_first_is_revoked(
    act: Act, practice: Contract, t0: int, approved: None
) -> None:
    act(REGULATOR).transact(practice.functions.revokeFiling(FILING, REASON))
    _file(act, practice, t0, filing_id=SECOND_FILING)
    act(REGULATOR).transact(practice.functions.approveFiling(SECOND_FILING))
    assert practice.functions.filingsOf(DOCTOR.address, OTHER_HOSPITAL.address).call() == [
        FILING,
        SECOND_FILING,
    ]
    assert _can_prescribe(practice, DOCTOR, OTHER_HOSPITAL, t0)


@pytest.mark.parametrize(
    "decision",
    [
        lambda practice: practice.functions.approveFiling(FILING),
        lambda practice: practice.functions.rejectFiling(FILING, REASON),
        lambda practice: practice.functions.revokeFiling(FILING, REASON),
    ],
    ids=["approve", "reject", "revoke"],
)
@pytest.mark.parametrize("caller", [OTHER_HOSPITAL, OTHER_ADMIN], ids=["org", "admin"])
def test_the_filing_institution_cannot_decide_its_filing(
    act: Act, practice: Contract, t0: int, registered: None, decision: object, caller: LocalAccount
) -> None:
    _file(act, practice, t0)
    fn = decision(practice)  # type: ignore[operator]
    assert refused(act(caller), fn) == ("PracticeCallerNotRegulator", {"caller": caller.address})


@pytest.mark.parametrize(
    "decision",
    [
        lambda practice: practice.functions.approveFiling(FILING),
        lambda practice: practice.functions.rejectFiling(FILING, REASON),
        lambda practice: practice.functions.revokeFiling(FILING, REASON),
    ],
    ids=["approve", "reject", "revoke"],
)
def test_deciding_an_unknown_filing_is_refused(
    act: Act, practice: Contract, decision: object
) -> None:
    fn = decision(practice)  # type: ignore[operator]
    assert refused(act(REGULATOR), fn) == ("PracticeUnknownFiling", {"filingId": FILING})


@pytest.mark.parametrize(
    ("first", "then", "status"),
    [
        ("approve", "approve", FilingStatus.APPROVED),
        ("approve", "reject", FilingStatus.APPROVED),
        ("reject", "approve", FilingStatus.REJECTED),
        ("reject", "revoke", FilingStatus.REJECTED),
        (None, "revoke", FilingStatus.PENDING),
        ("revoke", "approve", FilingStatus.REVOKED),
    ],
    ids=[
        "approve-approved",
        "reject-approved",
        "approve-rejected",
        "revoke-rejected",
        "revoke-pending",
        "approve-revoked",
    ],
)
def test_a_decision_out_of_order_is_refused(
    act: Act,
    practice: Contract,
    t0: int,
    registered: None,
    first: str | None,
    then: str,
    status: FilingStatus,
) -> None:
    decisions = {
        "approve": practice.functions.approveFiling(FILING),
        "reject": practice.functions.rejectFiling(FILING, REASON),
        "revoke": practice.functions.revokeFiling(FILING, REASON),
    }
    _file(act, practice, t0)
    if first == "revoke":
        act(REGULATOR).transact(decisions["approve"])
    if first is not None:
        act(REGULATOR).transact(decisions[first])
    assert refused(act(REGULATOR), decisions[then]) == (
        "PracticeFilingUnexpectedStatus",
        {"filingId": FILING, "current": status},
    )


@pytest.mark.parametrize("decision", ["reject", "revoke"])
def test_a_refusal_without_a_reason_is_refused(
    act: Act, practice: Contract, t0: int, approved: None, decision: str
) -> None:
    fn = (
        practice.functions.rejectFiling(FILING, bytes(32))
        if decision == "reject"
        else practice.functions.revokeFiling(FILING, bytes(32))
    )
    assert refused(act(REGULATOR), fn) == ("PracticeReasonRequired", {})


# Reading


@pytest.mark.parametrize("scope", [0, 4], ids=["none", "unknown-bit"])
def test_asking_about_an_invalid_scope_is_refused(
    act: Act, practice: Contract, t0: int, scope: int
) -> None:
    with pytest.raises(ContractRevert) as info:
        act(OUTSIDER).call(
            practice.functions.canPractise(DOCTOR.address, HOSPITAL.address, scope, t0)
        )
    assert refusal(info.value) == ("PracticeInvalidScope", {"scope": scope})


def test_unknown_registrations_and_filings_read_as_zero(practice: Contract) -> None:
    assert practice.functions.registration(DOCTOR.address).call() == (
        ZERO,
        bytes(32),
        0,
        0,
        0,
        0,
    )
    assert practice.functions.filing(FILING).call() == (ZERO, ZERO, 0, 0, 0, 0)
    assert practice.functions.filingsOf(DOCTOR.address, HOSPITAL.address).call() == []


def test_scope_constants_match_the_python_flags(practice: Contract) -> None:
    assert practice.functions.INTERNET_DIAGNOSIS().call() == DIAGNOSIS
    assert practice.functions.PRESCRIBING().call() == PRESCRIBING


def test_practice_registry_names_the_membership_it_consults(
    practice: Contract, membership: Contract
) -> None:
    assert practice.functions.membership().call() == membership.address
