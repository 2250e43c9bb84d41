"""PrescriptionRegistry against a hostile member organisation (issue #13, items 5 and 6): an
admitted hospital calling the contract directly with its own key, no gateway in between.

Every attack is a raw transaction signed by the attacker's key (hostile_prescription_helpers);
the consortium it attacks is set up with the ledger's own client, as an honest one would be.
"""

from __future__ import annotations

import pytest
from contract_helpers import (
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    PATIENT,
    PHARMACIST_ROLE,
    PHARMACY,
    PHARMACY_ADMIN,
    PHARMACY_PHARMACIST,
    REGULATOR,
    OrgKind,
    admit,
    chain_client,
    emitted,
    latest_timestamp,
    next_block_at,
    record_registration,
    register,
)
from eth_account.signers.local import LocalAccount
from hostile_prescription_helpers import field_names, issuance, refused_raw
from prescribe_signing import signed_fields
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain.deploy import Deployment

#: Every field name the registry's ABI may carry: ids, parties, times, commitments, content ids,
#: statuses and settings. A new name must be added here on purpose, after asking whether it tells a
#: member something clinical about the patient beside their pseudonym.
NON_CLINICAL_FIELDS = {
    "",
    "account",
    "approved",
    "by",
    "caller",
    "cid",
    "commitment",
    "current",
    "deadline",
    "dispensedAt",
    "doctor",
    "expiresAt",
    "followUpRecordId",
    "hospital",
    "institution",
    "issuance",
    "issuedAt",
    "latest",
    "membership_",
    "online",
    "org",
    "patient",
    "pharmacist",
    "pharmacy",
    "practice_",
    "prescriber",
    "prescriberCommitment",
    "prescriberSalt",
    "prescriptionId",
    "recordId",
    "records_",
    "reviewedAt",
    "set",
    "signature",
    "status",
    "window",
    "anchoredAt",
    "offset",
    "onlineDays_",
    "offlineDays_",
    "defaultUtcOffset_",
}


def test_the_registry_has_no_field_for_a_clinical_fact(prescriptions: Contract) -> None:
    """No pre-review outcome, no reason code, in any call, view or event a member can read."""
    assert field_names(prescriptions) - NON_CLINICAL_FIELDS == set()


# -- validity: computed on chain, in the hospital's local day (issue #13, item 6) ---------------

DAY, HOUR, MINUTE, YEAR = 86_400, 3_600, 60, 365 * 86_400
CST = 8 * HOUR
RX, OTHER_RX = Web3.keccak(text="hostile rx 1"), Web3.keccak(text="hostile rx 2")
COMMITMENT, CID = Web3.keccak(text="medication request"), b"bafkreihostilerequest"
#: The longest expiry the registry used to accept from an issuer: issue + 172,799 s.
OLD_BOUND = 2 * DAY - 1
LAST_SECOND, MIDNIGHT = DAY - 1, 0


@pytest.fixture(scope="module", autouse=True)
def consortium(
    w3: Web3,
    deployment: Deployment,
    membership: Contract,
    practice: Contract,
    prescriptions: Contract,
) -> None:
    """Two hospitals and a pharmacy; the hospital's doctor registered there, its follow-up window 0
    (no offline record needed), so that issuing depends on nothing but the clock."""
    act = chain_client(w3, deployment)
    for org, kind, admin in (
        (HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN),
        (OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN),
        (PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN),
    ):
        admit(act, membership, org, kind, admin)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, PHARMACY_ADMIN, PHARMACY, PHARMACY_PHARMACIST, PHARMACIST_ROLE)
    now = latest_timestamp(w3)
    record_registration(act, practice, DOCTOR, HOSPITAL, now - DAY, now + YEAR)
    act(HOSPITAL_ADMIN).transact(prescriptions.functions.setFollowUpWindow(HOSPITAL.address, 0))


def _local(w3: Web3, offset: int, second_of_day: int) -> int:
    """The first Unix second, a minute or more after the chain's latest block, at ``second_of_day``
    of a local day at UTC ``offset``."""
    after = latest_timestamp(w3) + MINUTE
    return ((after + offset) // DAY + 1) * DAY + second_of_day - offset


def _issue_at(
    w3: Web3, prescriptions: Contract, at: int, *, online: bool, wish: int, rx: bytes = RX
) -> TxReceipt:
    """The hostile hospital issues at ``at``, asking, where the ABI lets it, for expiry ``wish``."""
    next_block_at(w3, at)
    wanted = signed_fields(
        prescriptions,
        DOCTOR,
        rx,
        HOSPITAL.address,
        commitment=COMMITMENT,
        cid=CID,
        patient=PATIENT.address,
        online=online,
        record=bytes(32),
    )
    wanted["expiresAt"] = wish
    receipt = send_raw(
        w3, HOSPITAL, prescriptions, "issuePrescription", rx, issuance(prescriptions, **wanted)
    )
    assert receipt["status"] == 1
    return receipt


def _expiry(prescriptions: Contract, rx: bytes = RX) -> int:
    return int(prescriptions.functions.prescription(rx).call()[5])


def _set_offset(w3: Web3, prescriptions: Contract, offset: int) -> None:
    receipt = send_raw(w3, REGULATOR, prescriptions, "setUtcOffset", HOSPITAL.address, offset)
    assert receipt["status"] == 1


def test_a_hostile_hospital_cannot_extend_online_validity_past_the_next_local_midnight(
    w3: Web3, prescriptions: Contract
) -> None:
    at = _local(w3, CST, LAST_SECOND)
    _issue_at(w3, prescriptions, at, online=True, wish=at + OLD_BOUND)
    assert _expiry(prescriptions) == at + DAY  # 23:59:59 of the next local day


def test_a_hostile_hospital_cannot_extend_offline_validity_past_local_midnight(
    w3: Web3, prescriptions: Contract
) -> None:
    at = _local(w3, CST, LAST_SECOND)
    _issue_at(w3, prescriptions, at, online=False, wish=at + OLD_BOUND)
    assert _expiry(prescriptions) == at  # its own last second


@pytest.mark.parametrize(
    "offset",
    [CST, 0, -5 * HOUR, 5 * HOUR + 45 * MINUTE],
    ids=["utc+8", "utc", "utc-5", "utc+5:45"],
)
@pytest.mark.parametrize(
    ("second_of_day", "online", "valid_for"),
    [
        (LAST_SECOND, True, DAY),
        (MIDNIGHT, True, 2 * DAY - 1),
        (LAST_SECOND, False, 0),
        (MIDNIGHT, False, DAY - 1),
    ],
    ids=["online-at-23:59:59", "online-at-00:00:00", "offline-at-23:59:59", "offline-at-00:00:00"],
)
def test_validity_ends_at_24_00_local_time_of_the_hospitals_offset(
    w3: Web3,
    prescriptions: Contract,
    offset: int,
    second_of_day: int,
    online: bool,
    valid_for: int,
) -> None:
    _set_offset(w3, prescriptions, offset)
    at = _local(w3, offset, second_of_day)
    receipt = _issue_at(w3, prescriptions, at, online=online, wish=at + OLD_BOUND)
    expected = at + valid_for
    assert _expiry(prescriptions) == expected
    ((name, args),) = emitted(prescriptions, receipt)
    assert (name, args["expiresAt"]) == ("PrescriptionIssued", expected)
    assert prescriptions.functions.expiryOf(HOSPITAL.address, online, at).call() == expected


def test_the_last_local_second_dispenses_and_the_next_is_refused(
    w3: Web3, prescriptions: Contract
) -> None:
    _set_offset(w3, prescriptions, 5 * HOUR + 45 * MINUTE)
    at = _local(w3, 5 * HOUR + 45 * MINUTE, 10 * HOUR)
    _issue_at(w3, prescriptions, at, online=False, wish=0, rx=RX)
    _issue_at(w3, prescriptions, at + 1, online=False, wish=0, rx=OTHER_RX)
    for rx in (RX, OTHER_RX):
        send_raw(
            w3, PHARMACY, prescriptions, "approvePrescription", rx, PHARMACY_PHARMACIST.address
        )
    expiry = _expiry(prescriptions)
    assert expiry == _expiry(prescriptions, OTHER_RX) == at + 14 * HOUR - 1
    next_block_at(w3, expiry)
    dispense = ("dispensePrescription", PHARMACY_PHARMACIST.address, COMMITMENT, CID)
    assert send_raw(w3, PHARMACY, prescriptions, dispense[0], RX, *dispense[1:])["status"] == 1
    next_block_at(w3, expiry + 1)
    assert refused_raw(w3, PHARMACY, prescriptions, dispense[0], OTHER_RX, *dispense[1:]) == (
        "PrescriptionExpired",
        {"prescriptionId": OTHER_RX, "expiresAt": expiry},
    )


# -- who records a hospital's UTC offset ---------------------------------------------------------


def test_a_hospital_without_an_offset_of_its_own_counts_in_the_deployments(
    prescriptions: Contract,
) -> None:
    assert prescriptions.functions.utcOffset(HOSPITAL.address).call() == CST


def test_the_regulator_records_a_hospitals_utc_offset(w3: Web3, prescriptions: Contract) -> None:
    receipt = send_raw(w3, REGULATOR, prescriptions, "setUtcOffset", HOSPITAL.address, -5 * HOUR)
    assert emitted(prescriptions, receipt) == [
        (
            "PrescriptionUtcOffsetSet",
            {"hospital": HOSPITAL.address, "offset": -5 * HOUR, "by": REGULATOR.address},
        )
    ]
    assert prescriptions.functions.utcOffset(HOSPITAL.address).call() == -5 * HOUR
    assert prescriptions.functions.utcOffset(OTHER_HOSPITAL.address).call() == CST


@pytest.mark.parametrize(
    "attacker",
    [HOSPITAL, HOSPITAL_ADMIN, OTHER_HOSPITAL, PHARMACY],
    ids=["the-hospital", "its-admin", "another-hospital", "a-pharmacy"],
)
def test_a_member_may_not_move_a_hospitals_midnight(
    w3: Web3, prescriptions: Contract, attacker: LocalAccount
) -> None:
    """A hospital that set its own offset to +14:00 would lengthen validity by six hours."""
    assert refused_raw(
        w3, attacker, prescriptions, "setUtcOffset", HOSPITAL.address, 14 * HOUR
    ) == ("PrescriptionCallerNotRegulator", {"caller": attacker.address})
    assert prescriptions.functions.utcOffset(HOSPITAL.address).call() == CST


@pytest.mark.parametrize(
    "offset",
    [-12 * HOUR - 15 * MINUTE, 14 * HOUR + 15 * MINUTE, 8 * HOUR + 1, 5 * HOUR + 10 * MINUTE],
    ids=["below-12:00", "above+14:00", "a-second-off", "not-a-quarter-hour"],
)
def test_an_offset_that_is_no_utc_offset_is_refused(
    w3: Web3, prescriptions: Contract, offset: int
) -> None:
    assert refused_raw(w3, REGULATOR, prescriptions, "setUtcOffset", HOSPITAL.address, offset) == (
        "PrescriptionUtcOffsetInvalid",
        {"offset": offset},
    )


@pytest.mark.parametrize("offset", [-12 * HOUR, 14 * HOUR, -(9 * HOUR + 30 * MINUTE)])
def test_the_extreme_offsets_in_use_are_accepted(
    w3: Web3, prescriptions: Contract, offset: int
) -> None:
    _set_offset(w3, prescriptions, offset)
    assert prescriptions.functions.utcOffset(HOSPITAL.address).call() == offset


def test_an_offset_for_a_non_hospital_is_refused(w3: Web3, prescriptions: Contract) -> None:
    assert refused_raw(w3, REGULATOR, prescriptions, "setUtcOffset", PHARMACY.address, 0) == (
        "PrescriptionNotHospital",
        {"hospital": PHARMACY.address},
    )


def test_a_new_offset_leaves_issued_prescriptions_their_expiry(
    w3: Web3, prescriptions: Contract
) -> None:
    at = _local(w3, CST, 12 * HOUR)
    _issue_at(w3, prescriptions, at, online=True, wish=0)
    before = _expiry(prescriptions)
    _set_offset(w3, prescriptions, -12 * HOUR)
    assert _expiry(prescriptions) == before


def test_the_expiry_of_an_instant_on_a_local_day_before_the_epoch_is_floored(
    w3: Web3, prescriptions: Contract
) -> None:
    """At UTC-5, Unix second 0 is 19:00 on 31 December 1969: offline, valid until 05:00 UTC."""
    _set_offset(w3, prescriptions, -5 * HOUR)
    assert prescriptions.functions.expiryOf(HOSPITAL.address, False, 0).call() == 5 * HOUR - 1
    assert prescriptions.functions.expiryOf(HOSPITAL.address, True, 0).call() == 5 * HOUR + DAY - 1
