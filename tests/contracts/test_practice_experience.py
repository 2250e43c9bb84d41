"""PracticeRegistry's 3-year rule (2018 internet diagnosis measures, art. 25): a filing for internet
diagnosis needs a doctor with the regulator's number of years of independent practice by the time
it takes effect. The hostile hospital files with its own raw JSON-RPC transactions."""

from __future__ import annotations

import pytest
from contract_helpers import (
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    LICENCE,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    REGULATOR,
    Act,
    OrgKind,
    admit,
    chain_client,
    emitted,
    latest_timestamp,
    record_registration,
    register,
)
from hostile_prescription_helpers import refused_raw
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import MIN_INTERNET_PRACTICE_YEARS, Deployment
from ledger.prescribing import PracticeScope

DAY = 86_400
MEAN_YEAR = 31_556_952  # 365.2425 days
DIAGNOSIS, PRESCRIBING = int(PracticeScope.INTERNET_DIAGNOSIS), int(PracticeScope.PRESCRIBING)
FILING = Web3.keccak(text="experience filing")


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract) -> None:
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)


@pytest.fixture
def now(w3: Web3) -> int:
    return latest_timestamp(w3)


def _registered_since(act: Act, practice: Contract, now: int, since: int) -> None:
    record_registration(
        act, practice, DOCTOR, HOSPITAL, now - DAY, now + 10 * MEAN_YEAR, LICENCE, since
    )


def _file(
    w3: Web3, practice: Contract, scope: int, valid_from: int
) -> tuple[str, dict[str, object]]:
    return refused_raw(
        w3,
        OTHER_HOSPITAL,
        practice,
        "fileForPractice",
        FILING,
        DOCTOR.address,
        OTHER_HOSPITAL.address,
        scope,
        valid_from,
        valid_from + 30 * DAY,
    )


def test_the_deployment_seeds_three_years(practice: Contract) -> None:
    assert practice.functions.minInternetPracticeYears().call() == MIN_INTERNET_PRACTICE_YEARS == 3


@pytest.mark.parametrize("scope", [DIAGNOSIS, DIAGNOSIS | PRESCRIBING], ids=["diagnosis", "both"])
def test_a_hostile_hospital_cannot_file_a_two_year_doctor_for_internet_diagnosis(
    w3: Web3, act: Act, practice: Contract, now: int, scope: int
) -> None:
    since = now - 2 * MEAN_YEAR
    _registered_since(act, practice, now, since)
    assert _file(w3, practice, scope, now) == (
        "PracticeTooLittleExperience",
        {"doctor": DOCTOR.address, "practisingSince": since, "eligibleFrom": since + 3 * MEAN_YEAR},
    )
    assert practice.functions.filingsOf(DOCTOR.address, OTHER_HOSPITAL.address).call() == []


def test_backdating_the_filing_does_not_help(
    w3: Web3, act: Act, practice: Contract, now: int
) -> None:
    since = now - 3 * MEAN_YEAR
    _registered_since(act, practice, now, since)
    assert (
        _file(w3, practice, DIAGNOSIS, since + 3 * MEAN_YEAR - 1)[0]
        == "PracticeTooLittleExperience"
    )


def test_the_years_are_counted_to_when_the_filing_takes_effect(
    w3: Web3, act: Act, practice: Contract, now: int
) -> None:
    since = now - 2 * MEAN_YEAR
    _registered_since(act, practice, now, since)
    receipt = send_raw(
        w3,
        OTHER_HOSPITAL,
        practice,
        "fileForPractice",
        FILING,
        DOCTOR.address,
        OTHER_HOSPITAL.address,
        DIAGNOSIS,
        since + 3 * MEAN_YEAR,
        since + 4 * MEAN_YEAR,
    )
    assert receipt["status"] == 1
    assert [name for name, _ in emitted(practice, receipt)] == ["PracticeFilingSubmitted"]


def test_prescribing_alone_needs_no_years(w3: Web3, act: Act, practice: Contract, now: int) -> None:
    _registered_since(act, practice, now, now - DAY)
    receipt = send_raw(
        w3,
        OTHER_HOSPITAL,
        practice,
        "fileForPractice",
        FILING,
        DOCTOR.address,
        OTHER_HOSPITAL.address,
        PRESCRIBING,
        now,
        now + 30 * DAY,
    )
    assert receipt["status"] == 1


def test_only_a_regulator_sets_the_years(w3: Web3, practice: Contract) -> None:
    assert refused_raw(w3, OTHER_HOSPITAL, practice, "setMinInternetPracticeYears", 0) == (
        "PracticeCallerNotRegulator",
        {"caller": OTHER_HOSPITAL.address},
    )
    assert practice.functions.minInternetPracticeYears().call() == 3


def test_the_regulator_raises_the_years_and_the_rule_follows(
    w3: Web3, act: Act, practice: Contract, now: int
) -> None:
    receipt = send_raw(w3, REGULATOR, practice, "setMinInternetPracticeYears", 5)
    assert emitted(practice, receipt) == [
        ("PracticeMinInternetYearsSet", {"minYears": 5, "by": REGULATOR.address})
    ]
    since = now - 4 * MEAN_YEAR
    _registered_since(act, practice, now, since)
    assert _file(w3, practice, DIAGNOSIS, now) == (
        "PracticeTooLittleExperience",
        {"doctor": DOCTOR.address, "practisingSince": since, "eligibleFrom": since + 5 * MEAN_YEAR},
    )


def test_a_registration_without_a_practice_start_is_refused(
    w3: Web3, practice: Contract, now: int
) -> None:
    assert refused_raw(
        w3,
        REGULATOR,
        practice,
        "recordRegistration",
        DOCTOR.address,
        HOSPITAL.address,
        LICENCE,
        now,
        now + DAY,
        0,
    ) == ("PracticeUnknownPracticeStart", {})
