"""BreakGlassRegistry: a hospital declares an emergency read of another hospital's record by its
own doctor, for a coded reason, at most the daily limit a day; the holder's auditor or a regulator
reviews it. Every refusal is an outside attacker's raw transaction, signed with its own key."""

from __future__ import annotations

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
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    OTHER_ADMIN,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    OUTSIDER,
    PATIENT,
    PHARMACY,
    PHARMACY_ADMIN,
    REGULATOR,
    Act,
    OrgKind,
    admit,
    chain_client,
    emitted,
    latest_timestamp,
    next_block_at,
    record_id,
    record_registration,
    register,
    suspend,
)
from eth_account.signers.local import LocalAccount
from hostile_prescription_helpers import refused_raw
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain import _artifacts
from ledger.chain.deploy import Deployment
from ledger.consent.break_glass import BreakGlassStatus, encode_note
from ledger.consent.emergency import load_reasons

HOUR, DAY, YEAR = 3_600, 86_400, 365 * 86_400
WINDOW, REVIEW_WINDOW, LIMIT = 4 * HOUR, 72 * HOUR, 3
RECORD = record_id(HOSPITAL.address, "the patient's discharge summary")
OTHER_RECORD = record_id(OTHER_HOSPITAL.address, "a record of the declaring hospital")
UNCONSCIOUS = 1
NOTE = encode_note("unconscious-on-arrival")


def _id(n: int) -> bytes:
    return Web3.keccak(text=f"break-glass access {n}")


@pytest.fixture(scope="module")
def break_glass(w3: Web3, deployment: Deployment) -> Contract:
    return w3.eth.contract(
        address=deployment.address("BreakGlassRegistry"),
        abi=_artifacts.load("BreakGlassRegistry").abi,
    )


@pytest.fixture(scope="module", autouse=True)
def consortium(
    w3: Web3,
    deployment: Deployment,
    membership: Contract,
    practice: Contract,
    registry: Contract,
) -> None:
    """HOSPITAL holds RECORD (its doctor, clerk and auditor); OTHER_HOSPITAL's doctor will need it.
    OTHER_HOSPITAL holds OTHER_RECORD. An insurer and a pharmacy, hostile."""
    act = chain_client(w3, deployment)
    for org, kind, admin in (
        (HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN),
        (OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN),
        (INSURER, OrgKind.INSURER, INSURER_ADMIN),
        (PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN),
    ):
        admit(act, membership, org, kind, admin)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, AUDITOR, AUDITOR_ROLE)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE)
    now = latest_timestamp(w3)
    record_registration(act, practice, DOCTOR, HOSPITAL, now - DAY, now + YEAR)
    record_registration(act, practice, OTHER_DOCTOR, OTHER_HOSPITAL, now - DAY, now + YEAR)
    cid = b"\x01\x55\x12\x20" + bytes(32)
    for org, rid, author in (
        (HOSPITAL, RECORD, DOCTOR),
        (OTHER_HOSPITAL, OTHER_RECORD, OTHER_DOCTOR),
    ):
        act(org).transact(
            registry.functions.anchorRecord(
                rid, Web3.keccak(rid), cid, PATIENT.address, author.address
            )
        )


def _declare(
    w3: Web3,
    break_glass: Contract,
    n: int = 1,
    *,
    org: LocalAccount = OTHER_HOSPITAL,
    doctor: LocalAccount = OTHER_DOCTOR,
    record: bytes = RECORD,
    reason: int = UNCONSCIOUS,
) -> Any:
    receipt = send_raw(
        w3, org, break_glass, "declareBreakGlass", _id(n), doctor.address, record, reason
    )
    assert receipt["status"] == 1
    return receipt


def _declaration(break_glass: Contract, n: int = 1) -> tuple[Any, ...]:
    return tuple(break_glass.functions.declaration(_id(n)).call())


def test_it_is_deployed_with_the_settings_defaults_and_the_reason_list(
    break_glass: Contract,
) -> None:
    assert break_glass.functions.dailyLimit().call() == LIMIT
    assert break_glass.functions.window().call() == WINDOW
    assert break_glass.functions.reviewWindow().call() == REVIEW_WINDOW
    mask = break_glass.functions.reasonCodes().call()
    assert [code for code in range(256) if mask >> code & 1] == sorted(load_reasons())


def test_a_hospital_declares_for_its_doctor_and_the_access_opens_for_the_window(
    w3: Web3, break_glass: Contract
) -> None:
    receipt = _declare(w3, break_glass)
    at = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    assert emitted(break_glass, receipt) == [
        (
            "BreakGlassDeclared",
            {
                "accessId": _id(1),
                "org": OTHER_HOSPITAL.address,
                "doctor": OTHER_DOCTOR.address,
                "recordId": RECORD,
                "reason": UNCONSCIOUS,
                "declaredAt": at,
                "expiresAt": at + WINDOW,
                "holder": HOSPITAL.address,
            },
        )
    ]
    assert _declaration(break_glass) == (
        OTHER_HOSPITAL.address,
        OTHER_DOCTOR.address,
        HOSPITAL.address,
        RECORD,
        UNCONSCIOUS,
        at,
        at + WINDOW,
    )
    in_force = break_glass.functions.isInForce
    assert in_force(_id(1), at).call()
    assert in_force(_id(1), at + WINDOW).call()
    assert not in_force(_id(1), at + WINDOW + 1).call()
    assert not in_force(_id(1), at - 1).call()
    assert break_glass.functions.statusOf(_id(1), at).call() == BreakGlassStatus.PENDING


@pytest.mark.parametrize(
    "attacker",
    [INSURER, PHARMACY, INSURER_ADMIN, OUTSIDER, REGULATOR, OTHER_DOCTOR, OTHER_ADMIN],
    ids=["insurer", "pharmacy", "insurer-admin", "outsider", "regulator", "doctor", "admin"],
)
def test_only_a_hospitals_own_account_may_declare(
    w3: Web3, break_glass: Contract, attacker: LocalAccount
) -> None:
    assert refused_raw(
        w3, attacker, break_glass, "declareBreakGlass", _id(1), OTHER_DOCTOR.address, RECORD, 1
    ) == ("BreakGlassCallerNotHospital", {"caller": attacker.address})


def test_a_suspended_hospital_may_not_declare(
    w3: Web3, break_glass: Contract, membership: Contract, act: Act
) -> None:
    suspend(act, membership, OTHER_HOSPITAL)
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        _id(1),
        OTHER_DOCTOR.address,
        RECORD,
        1,
    ) == ("BreakGlassCallerNotHospital", {"caller": OTHER_HOSPITAL.address})


def test_a_hospital_naming_another_hospitals_doctor_is_refused(
    w3: Web3, break_glass: Contract
) -> None:
    # OTHER_HOSPITAL names HOSPITAL's own doctor, to read HOSPITAL's record through them.
    assert refused_raw(
        w3, OTHER_HOSPITAL, break_glass, "declareBreakGlass", _id(1), DOCTOR.address, RECORD, 1
    ) == ("BreakGlassNotHospitalDoctor", {"doctor": DOCTOR.address, "org": OTHER_HOSPITAL.address})


@pytest.mark.parametrize("named", [CLERK, OUTSIDER], ids=["a clerk", "no staff at all"])
def test_a_hospital_naming_someone_who_is_no_doctor_of_its_own_is_refused(
    w3: Web3, break_glass: Contract, named: LocalAccount
) -> None:
    assert refused_raw(
        w3, HOSPITAL, break_glass, "declareBreakGlass", _id(1), named.address, OTHER_RECORD, 1
    ) == ("BreakGlassNotHospitalDoctor", {"doctor": named.address, "org": HOSPITAL.address})


def test_a_doctor_practising_there_under_a_filing_in_force_may_be_named(
    w3: Web3, break_glass: Contract, practice: Contract, act: Act
) -> None:
    """HOSPITAL's doctor, filed and approved for OTHER_HOSPITAL, declares there for HOSPITAL's
    record: the filing makes them OTHER_HOSPITAL's doctor too."""
    now = latest_timestamp(w3)
    filing = Web3.keccak(text="filing at the other hospital")
    act(OTHER_HOSPITAL).transact(
        practice.functions.fileForPractice(
            filing, DOCTOR.address, OTHER_HOSPITAL.address, 1, now - DAY, now + YEAR
        )
    )
    act(REGULATOR).transact(practice.functions.approveFiling(filing))
    _declare(w3, break_glass, doctor=DOCTOR)
    assert _declaration(break_glass)[1] == DOCTOR.address


def test_a_hospital_may_not_break_glass_on_its_own_record(w3: Web3, break_glass: Contract) -> None:
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        _id(1),
        OTHER_DOCTOR.address,
        OTHER_RECORD,
        1,
    ) == ("BreakGlassOwnRecord", {"recordId": OTHER_RECORD})


@pytest.mark.parametrize("namespace", ["pharmacy", "outsider"])
def test_an_id_in_no_hospitals_namespace_and_not_anchored_is_refused(
    w3: Web3, break_glass: Contract, namespace: str
) -> None:
    owner = {"pharmacy": PHARMACY, "outsider": OUTSIDER}[namespace]
    unknown = record_id(owner.address, "never anchored")
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        _id(1),
        OTHER_DOCTOR.address,
        unknown,
        1,
    ) == ("BreakGlassUnknownRecord", {"recordId": unknown})


def test_a_batch_anchored_record_is_held_by_the_hospital_its_id_names(
    w3: Web3, break_glass: Contract
) -> None:
    # A bulk-written record is a leaf under a BatchAnchor root that no contract reads: its id's
    # namespace names its holder, as RecordRegistry's does for one anchored by itself.
    batched = record_id(HOSPITAL.address, "a leaf of a batch")
    receipt = _declare(w3, break_glass, record=batched)
    ((name, args),) = emitted(break_glass, receipt)
    assert (name, args["holder"], args["recordId"]) == (
        "BreakGlassDeclared",
        HOSPITAL.address,
        batched,
    )
    # Its own namespace is still its own record, batched or not.
    own = record_id(OTHER_HOSPITAL.address, "its own leaf")
    assert refused_raw(
        w3, OTHER_HOSPITAL, break_glass, "declareBreakGlass", _id(2), OTHER_DOCTOR.address, own, 1
    ) == ("BreakGlassOwnRecord", {"recordId": own})


@pytest.mark.parametrize("reason", [0, 5, 255])
def test_a_reason_outside_the_coded_list_is_refused(
    w3: Web3, break_glass: Contract, reason: int
) -> None:
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        _id(1),
        OTHER_DOCTOR.address,
        RECORD,
        reason,
    ) == ("BreakGlassUnknownReason", {"reason": reason})


def test_an_access_id_is_declared_once_and_never_zero(w3: Web3, break_glass: Contract) -> None:
    _declare(w3, break_glass)
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        _id(1),
        OTHER_DOCTOR.address,
        RECORD,
        2,
    ) == ("BreakGlassExists", {"accessId": _id(1)})
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        bytes(32),
        OTHER_DOCTOR.address,
        RECORD,
        2,
    ) == ("BreakGlassZeroId", {})


def _local_midnight_after(w3: Web3, prescriptions: Contract, org: LocalAccount) -> int:
    """The first second of the next local day at ``org``, in its UTC offset."""
    offset = prescriptions.functions.utcOffset(org.address).call()
    now = latest_timestamp(w3)
    return ((now + offset) // DAY + 1) * DAY - offset


def test_a_fourth_declaration_on_one_local_day_is_refused_and_the_next_day_opens_again(
    w3: Web3, break_glass: Contract, prescriptions: Contract
) -> None:
    midnight = _local_midnight_after(w3, prescriptions, OTHER_HOSPITAL)
    # All four in the last minute of the local day, so that none straddles midnight.
    next_block_at(w3, midnight - 60)
    for n in range(1, LIMIT + 1):
        _declare(w3, break_glass, n)
    day = break_glass.functions.dayOf(OTHER_HOSPITAL.address, midnight - 1).call()
    assert break_glass.functions.declaredOn(OTHER_DOCTOR.address, day).call() == LIMIT
    assert refused_raw(
        w3,
        OTHER_HOSPITAL,
        break_glass,
        "declareBreakGlass",
        _id(9),
        OTHER_DOCTOR.address,
        RECORD,
        1,
    ) == (
        "BreakGlassDailyLimitReached",
        {"doctor": OTHER_DOCTOR.address, "day": day, "limit": LIMIT},
    )
    next_block_at(w3, midnight)
    _declare(w3, break_glass, 9)
    assert break_glass.functions.declaredOn(OTHER_DOCTOR.address, day + 1).call() == 1


def test_the_day_is_the_hospitals_local_calendar_day(
    w3: Web3, break_glass: Contract, prescriptions: Contract
) -> None:
    """Kathmandu is UTC+05:45: its day turns at 18:15 UTC, not at UTC midnight."""
    offset = 5 * HOUR + 45 * 60
    assert (
        send_raw(w3, REGULATOR, prescriptions, "setUtcOffset", OTHER_HOSPITAL.address, offset)[
            "status"
        ]
        == 1
    )
    midnight = _local_midnight_after(w3, prescriptions, OTHER_HOSPITAL)
    assert (midnight + offset) % DAY == 0
    assert midnight % DAY == DAY - offset
    assert break_glass.functions.dayOf(OTHER_HOSPITAL.address, midnight).call() == (
        break_glass.functions.dayOf(OTHER_HOSPITAL.address, midnight - 1).call() + 1
    )


def test_the_regulator_sets_the_daily_limit_and_no_member_may(
    w3: Web3, break_glass: Contract
) -> None:
    receipt = send_raw(w3, REGULATOR, break_glass, "setDailyLimit", 1)
    assert emitted(break_glass, receipt) == [
        ("BreakGlassDailyLimitSet", {"limit": 1, "by": REGULATOR.address})
    ]
    _declare(w3, break_glass, 1)
    assert (
        refused_raw(
            w3,
            OTHER_HOSPITAL,
            break_glass,
            "declareBreakGlass",
            _id(2),
            OTHER_DOCTOR.address,
            RECORD,
            1,
        )[0]
        == "BreakGlassDailyLimitReached"
    )
    for attacker in (OTHER_HOSPITAL, OTHER_ADMIN, HOSPITAL):
        assert refused_raw(w3, attacker, break_glass, "setDailyLimit", 100) == (
            "BreakGlassCallerNotRegulator",
            {"caller": attacker.address},
        )


@pytest.mark.parametrize(
    "declarer", [OTHER_HOSPITAL, OTHER_ADMIN, OTHER_DOCTOR], ids=["account", "admin", "doctor"]
)
def test_the_declaring_hospital_may_not_review_its_own_declaration(
    w3: Web3, break_glass: Contract, declarer: LocalAccount
) -> None:
    _declare(w3, break_glass)
    assert refused_raw(w3, declarer, break_glass, "reviewBreakGlass", _id(1), True, NOTE) == (
        "BreakGlassSelfReview",
        {"caller": declarer.address, "accessId": _id(1)},
    )


@pytest.mark.parametrize(
    "stranger", [INSURER, PHARMACY, CLERK, DOCTOR, OUTSIDER], ids=lambda a: a.address[:8]
)
def test_no_one_but_a_regulator_or_the_holders_auditor_reviews(
    w3: Web3, break_glass: Contract, stranger: LocalAccount
) -> None:
    _declare(w3, break_glass)
    assert refused_raw(w3, stranger, break_glass, "reviewBreakGlass", _id(1), True, NOTE) == (
        "BreakGlassNotReviewer",
        {"caller": stranger.address, "accessId": _id(1)},
    )


def test_the_holders_auditor_finds_it_justified_on_time(w3: Web3, break_glass: Contract) -> None:
    _declare(w3, break_glass)
    receipt = send_raw(w3, AUDITOR, break_glass, "reviewBreakGlass", _id(1), True, NOTE)
    at = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    assert emitted(break_glass, receipt) == [
        (
            "BreakGlassReviewed",
            {
                "accessId": _id(1),
                "reviewer": AUDITOR.address,
                "justified": True,
                "note": NOTE,
                "reviewedAt": at,
                "late": False,
            },
        )
    ]
    assert tuple(break_glass.functions.reviewOf(_id(1)).call()) == (
        AUDITOR.address,
        True,
        False,
        NOTE,
        at,
    )
    assert break_glass.functions.statusOf(_id(1), at).call() == BreakGlassStatus.JUSTIFIED
    assert break_glass.functions.isInForce(_id(1), at).call()


def test_the_regulator_finds_it_unjustified_with_a_note_and_the_access_closes(
    w3: Web3, break_glass: Contract
) -> None:
    _declare(w3, break_glass)
    assert refused_raw(
        w3, REGULATOR, break_glass, "reviewBreakGlass", _id(1), False, bytes(32)
    ) == (
        "BreakGlassNoteRequired",
        {},
    )
    receipt = send_raw(w3, REGULATOR, break_glass, "reviewBreakGlass", _id(1), False, NOTE)
    at = int(w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    assert break_glass.functions.statusOf(_id(1), at).call() == BreakGlassStatus.UNJUSTIFIED
    assert not break_glass.functions.isInForce(_id(1), at).call()
    assert refused_raw(w3, AUDITOR, break_glass, "reviewBreakGlass", _id(1), True, NOTE) == (
        "BreakGlassAlreadyReviewed",
        {"accessId": _id(1)},
    )


def test_the_holder_hospitals_own_account_may_review(w3: Web3, break_glass: Contract) -> None:
    """Its gateway sends the review its auditor signed for; the gateway checks the role."""
    _declare(w3, break_glass)
    assert (
        send_raw(w3, HOSPITAL, break_glass, "reviewBreakGlass", _id(1), True, NOTE)["status"] == 1
    )


def test_an_unreviewed_declaration_is_overdue_after_the_review_window_and_a_late_review_says_so(
    w3: Web3, break_glass: Contract
) -> None:
    declared_at = int(w3.eth.get_block(_declare(w3, break_glass)["blockNumber"])["timestamp"])
    status = break_glass.functions.statusOf
    assert status(_id(1), declared_at + REVIEW_WINDOW).call() == BreakGlassStatus.PENDING
    assert status(_id(1), declared_at + REVIEW_WINDOW + 1).call() == BreakGlassStatus.OVERDUE
    next_block_at(w3, declared_at + REVIEW_WINDOW + 1)
    receipt = send_raw(w3, REGULATOR, break_glass, "reviewBreakGlass", _id(1), True, NOTE)
    assert emitted(break_glass, receipt)[0][1]["late"] is True
    assert break_glass.functions.reviewOf(_id(1)).call()[2] is True


def test_an_unknown_declaration_cannot_be_reviewed(w3: Web3, break_glass: Contract) -> None:
    assert refused_raw(w3, REGULATOR, break_glass, "reviewBreakGlass", _id(7), True, NOTE) == (
        "BreakGlassUnknown",
        {"accessId": _id(7)},
    )


def test_a_declaration_of_a_hospital_suspended_since_opens_nothing(
    w3: Web3, break_glass: Contract, membership: Contract, act: Act
) -> None:
    at = int(w3.eth.get_block(_declare(w3, break_glass)["blockNumber"])["timestamp"])
    suspend(act, membership, OTHER_HOSPITAL)
    assert not break_glass.functions.isInForce(_id(1), at + 1).call()


def test_the_registry_holds_no_clinical_text(break_glass: Contract) -> None:
    """Only ids, addresses, a reason code, times and a review note code: no string or bytes field
    a declarer or reviewer could write prose into."""
    for item in break_glass.abi:
        if item["type"] in {"function", "event"} and item.get("stateMutability") != "view":
            kinds = {i["type"] for i in item.get("inputs", [])}
            assert not kinds & {"string", "bytes"}, item["name"]
