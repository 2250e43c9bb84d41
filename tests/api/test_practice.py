"""Practice rights through the API: the regulator records a registration, a hospital files for a
doctor registered elsewhere, the regulator approves, rejects or revokes, and prescribing follows.

Each test registers a doctor of its own at hospital-b, so that what it approves or revokes never
changes what the seeded doctors may do in other tests.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.network.joining import join_args
from ledger.prescribing.signature import issue_signed
from tests.api.test_prescriptions import MEDICATION_REQUEST, diagnosis_record, refused
from tests.world import Patient, World

YEAR = 365 * 86_400
BOTH = ["internet_diagnosis", "prescribing"]


def register_staff(
    world: World, org: str, role: str = "DOCTOR_ROLE", staff: LocalAccount | None = None
) -> LocalAccount:
    """A member of ``org``'s staff (new unless given), registered by the organisation's account."""
    staff = staff or Account.create()
    record = world.consortium.orgs[org]
    admin = Chain(
        world.w3,
        world.gateways["hospital-a"].gateway.chain.deployment,
        world.consortium.account(record.key_file),
    )
    membership = admin.contract("Membership")
    licence = Web3.keccak(text=f"salted licence commitment {staff.address}")
    args = join_args(membership, staff, record.address, Web3.keccak(text=role), licence)
    admin.transact(membership.functions.registerStaff(*args))
    return staff


def now(world: World) -> int:
    return int(world.w3.eth.get_block("latest")["timestamp"])


def as_regulator(world: World) -> Any:
    return world.as_staff("regulator", "auditor", gateway="regulator")


def register(world: World, doctor: str, org: str = "hospital-b", **extra: Any) -> Any:
    start = now(world) - 60
    body = {
        "doctor": doctor,
        "institution": world.org_address(org),
        "valid_from": start,
        "valid_to": start + YEAR,
        "practising_since": start - 10 * YEAR,
        **extra,
    }
    with as_regulator(world) as regulator:
        return regulator.post_json("/v1/practice/registrations", body)


def file(world: World, doctor: str, scope: list[str] = BOTH, **extra: Any) -> Any:
    start = now(world) - 60
    body = {"doctor": doctor, "scope": scope, "valid_from": start, "valid_to": start + YEAR}
    with world.as_staff("hospital-a", "clerk") as clerk:
        return clerk.post_json("/v1/practice/filings", {**body, **extra})


def decide(world: World, filing_id: str, action: str, reason: str | None = None) -> Any:
    with as_regulator(world) as regulator:
        body = {"reason": reason} if reason else None
        return regulator.post_json(f"/v1/practice/filings/{filing_id}/{action}", body)


def prescribe(world: World, doctor: LocalAccount, patient: Patient, record: str) -> Any:
    with world.client(doctor, "hospital-a") as client:
        return issue_signed(
            client,
            json.dumps(MEDICATION_REQUEST).encode(),
            {"patient": patient.pseudonym.address, "follow_up_record": record},
        )


@pytest.fixture
def doctor(world: World) -> LocalAccount:
    """A doctor of hospital-b's staff, registered there by the regulator through the API."""
    staff = register_staff(world, "hospital-b")
    register(world, staff.address)
    return staff


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    return diagnosis_record(world, patient)


# -- registrations ------------------------------------------------------------------------------


def test_regulator_records_a_registration_with_the_licence_commitment_on_file(
    world: World,
) -> None:
    staff = register_staff(world, "hospital-b")
    receipt = register(world, staff.address)
    assert receipt["status"] == "active"
    assert receipt["institution"] == world.org_address("hospital-b")
    assert receipt["transaction"].startswith("0x")
    licence = Web3.keccak(text=f"salted licence commitment {staff.address}").to_0x_hex()
    assert receipt["licence_commitment"] == licence


def test_a_registration_says_since_when_the_doctor_practises(world: World) -> None:
    staff = register_staff(world, "hospital-b")
    since = now(world) - 5 * YEAR
    assert register(world, staff.address, practising_since=since)["practising_since"] == since


def test_a_doctor_of_two_years_is_not_filed_for_internet_diagnosis(world: World) -> None:
    """2018 measures art. 25: three years of independent practice; prescribing alone needs none."""
    staff = register_staff(world, "hospital-b")
    register(world, staff.address, practising_since=now(world) - 2 * YEAR)
    assert refused(lambda: file(world, staff.address)) == (409, "practice.too_little_experience")
    assert refused(lambda: file(world, staff.address, ["internet_diagnosis"])) == (
        409,
        "practice.too_little_experience",
    )
    assert file(world, staff.address, ["prescribing"])["status"] == "pending"


def test_a_registration_without_a_practice_start_is_refused(world: World) -> None:
    staff = register_staff(world, "hospital-b")
    call = lambda: register(world, staff.address, practising_since=0)  # noqa: E731
    assert refused(call) == (422, "practice.unknown_practice_start")


def test_registration_with_an_empty_window_is_refused(world: World) -> None:
    staff = register_staff(world, "hospital-b")
    call = lambda: register(world, staff.address, valid_to=now(world) - 120)  # noqa: E731
    assert refused(call) == (422, "practice.invalid_window")


def test_registration_at_a_pharmacy_is_refused(world: World) -> None:
    staff = register_staff(world, "hospital-b")
    assert refused(lambda: register(world, staff.address, org="pharmacy")) == (
        422,
        "practice.not_hospital",
    )


def test_a_revoked_registration_stops_prescribing_at_home(
    world: World, doctor: LocalAccount
) -> None:
    practice = world.gateways["regulator"].gateway.chain.contract("PracticeRegistry")
    hospital_b = world.org_address("hospital-b")
    assert practice.functions.canPrescribe(doctor.address, hospital_b, now(world)).call()
    with as_regulator(world) as regulator:
        revoked = regulator.post_json(
            f"/v1/practice/registrations/{doctor.address}/revoke", {"reason": "licence-suspended"}
        )
    assert revoked["status"] == "revoked"
    assert not practice.functions.canPrescribe(doctor.address, hospital_b, now(world)).call()


def test_revoking_an_unknown_registration_is_404(world: World) -> None:
    nobody = Account.create().address
    with as_regulator(world) as regulator:
        call = lambda: regulator.post_json(  # noqa: E731
            f"/v1/practice/registrations/{nobody}/revoke", {"reason": "x"}
        )
        assert refused(call) == (404, "practice.unknown_registration")


# -- filings, end to end ------------------------------------------------------------------------


def test_filing_approved_then_revoked_opens_then_closes_prescribing(
    world: World, doctor: LocalAccount, patient: Patient, record: str
) -> None:
    filed = file(world, doctor.address)
    assert (filed["status"], filed["scope"]) == ("pending", BOTH)
    assert filed["institution"] == world.org_address("hospital-a")
    # Pending is not in force.
    assert refused(lambda: prescribe(world, doctor, patient, record)) == (
        403,
        "prescription.prescriber_not_permitted",
    )
    assert decide(world, filed["filing_id"], "approve")["status"] == "approved"
    issued = prescribe(world, doctor, patient, record)
    assert issued["pre_review"]["outcome"] == "passed"
    revoked = decide(world, filed["filing_id"], "revoke", "practice-ended")
    assert revoked["status"] == "revoked"
    assert refused(lambda: prescribe(world, doctor, patient, record)) == (
        403,
        "prescription.prescriber_not_permitted",
    )
    # The regulator's view of the doctor shows the whole story.
    with as_regulator(world) as regulator:
        practice = regulator.get_json(f"/v1/practice/doctors/{doctor.address}")
    assert [f["status"] for f in practice["filings"]] == ["revoked"]
    assert [p["prescription_id"] for p in practice["prescriptions"]] == [issued["prescription_id"]]


def test_a_diagnosis_only_filing_does_not_allow_prescribing(
    world: World, doctor: LocalAccount, patient: Patient, record: str
) -> None:
    filed = file(world, doctor.address, scope=["internet_diagnosis"])
    decide(world, filed["filing_id"], "approve")
    assert refused(lambda: prescribe(world, doctor, patient, record)) == (
        403,
        "prescription.prescriber_not_permitted",
    )


def test_a_lapsed_filing_does_not_allow_prescribing(
    world: World, doctor: LocalAccount, patient: Patient, record: str
) -> None:
    start = now(world) - 3600
    filed = file(world, doctor.address, valid_from=start, valid_to=start + 60)
    decide(world, filed["filing_id"], "approve")
    assert refused(lambda: prescribe(world, doctor, patient, record)) == (
        403,
        "prescription.prescriber_not_permitted",
    )


def test_rejection_needs_a_reason_and_is_final(world: World, doctor: LocalAccount) -> None:
    filed = file(world, doctor.address)
    with as_regulator(world) as regulator:
        call = lambda: regulator.post_json(  # noqa: E731
            f"/v1/practice/filings/{filed['filing_id']}/reject", {}
        )
        assert refused(call) == (422, "request.invalid")
    assert decide(world, filed["filing_id"], "reject", "scope-too-wide")["status"] == "rejected"
    call = lambda: decide(world, filed["filing_id"], "approve")  # noqa: E731
    assert refused(call) == (409, "practice.filing_unexpected_status")


def test_filing_at_the_doctors_own_hospital_is_refused(world: World) -> None:
    own = world.staff("hospital-a", "doctor").address
    assert refused(lambda: file(world, own)) == (409, "practice.filing_at_registered_institution")


def test_filing_for_an_unregistered_doctor_is_refused(world: World) -> None:
    staff = register_staff(world, "hospital-b")
    assert refused(lambda: file(world, staff.address)) == (
        409,
        "practice.registration_not_active",
    )


def test_a_filing_window_that_ends_before_it_starts_is_refused(
    world: World, doctor: LocalAccount
) -> None:
    call = lambda: file(world, doctor.address, valid_to=now(world) - 3600)  # noqa: E731
    assert refused(call) == (422, "practice.invalid_window")


def test_unknown_filing_is_404(world: World) -> None:
    assert refused(lambda: decide(world, "0x" + "ab" * 32, "approve")) == (
        404,
        "practice.unknown_filing",
    )


# -- who may do what ----------------------------------------------------------------------------


def test_only_a_clerk_files(world: World, doctor: LocalAccount) -> None:
    with world.as_staff("hospital-a", "doctor") as other_doctor:
        call = lambda: other_doctor.post_json(  # noqa: E731
            "/v1/practice/filings",
            {"doctor": doctor.address, "scope": BOTH, "valid_from": 1, "valid_to": 2},
        )
        assert refused(call) == (403, "auth.role_forbidden")


def test_a_hospital_may_not_decide_its_own_filing(world: World, doctor: LocalAccount) -> None:
    filed = file(world, doctor.address)
    with world.as_staff("hospital-a", "clerk") as clerk:
        call = lambda: clerk.post_json(  # noqa: E731
            f"/v1/practice/filings/{filed['filing_id']}/approve"
        )
        assert refused(call) == (403, "auth.not_regulator")


def test_regulator_staff_act_only_at_the_regulators_gateway(
    world: World, doctor: LocalAccount
) -> None:
    filed = file(world, doctor.address)
    with world.as_staff("regulator", "auditor", gateway="hospital-a") as regulator:
        call = lambda: regulator.post_json(  # noqa: E731
            f"/v1/practice/filings/{filed['filing_id']}/approve"
        )
        assert refused(call) == (403, "auth.wrong_organisation")


def test_a_hospital_may_not_register_doctors(world: World) -> None:
    staff = register_staff(world, "hospital-b")
    with world.as_staff("hospital-a", "clerk") as clerk:
        call = lambda: clerk.post_json(  # noqa: E731
            "/v1/practice/registrations",
            {
                "doctor": staff.address,
                "institution": world.org_address("hospital-a"),
                "valid_from": 1,
                "valid_to": int(time.time()) + YEAR,
                "practising_since": 1,
            },
        )
        assert refused(call) == (403, "auth.not_regulator")


def test_a_filing_is_read_by_the_regulator_the_doctor_and_the_institution_only(
    world: World, doctor: LocalAccount
) -> None:
    filed = file(world, doctor.address)
    path = f"/v1/practice/filings/{filed['filing_id']}"
    with as_regulator(world) as regulator:
        assert regulator.get_json(path)["status"] == "pending"
    with world.client(doctor, "hospital-b") as self_:
        assert self_.get_json(path)["doctor"] == doctor.address
    with world.as_staff("hospital-a", "clerk") as clerk:
        assert clerk.get_json(path)["filing_id"] == filed["filing_id"]
    with world.as_staff("pharmacy", "pharmacist", gateway="pharmacy") as pharmacist:
        assert refused(lambda: pharmacist.get_json(path)) == (403, "auth.not_regulator")
