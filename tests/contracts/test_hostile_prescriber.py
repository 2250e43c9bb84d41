"""A prescription is issued only by the treating doctor's own signature (issue #16, item 3): a
hostile hospital, calling PrescriptionRegistry with its own key and no gateway in between, cannot
issue in a doctor's name without that doctor's key, nor with a clerk's, its own or a replayed
signature; and the doctor it signs for must hold a registration, which carries a licence
commitment.

Every attack is a raw transaction signed by the attacker's key; the doctor's signature is built
from the contract's type string with eth_account (prescribe_signing), not the ledger's encoder.
"""

from __future__ import annotations

from typing import Any

import pytest
from contract_helpers import (
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    OTHER_DOCTOR,
    OTHER_PATIENT,
    PATIENT,
    PRACTISING_SINCE,
    REGULATOR,
    OrgKind,
    account,
    admit,
    chain_client,
    latest_timestamp,
    record_registration,
    register,
)
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hostile_prescription_helpers import refused_raw
from prescribe_signing import (
    PRESCRIBE_TYPES,
    as_tuple,
    prescribe_signature,
    prescriber_commitment,
    signed_fields,
)
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment

DAY, YEAR = 86_400, 365 * 86_400
COMMITMENT, CID = Web3.keccak(text="medication request"), b"bafkreisignedrequest"
#: A doctor on the hospital's staff with the doctor role, whom no regulator ever registered.
UNREGISTERED = OTHER_DOCTOR
#: A second registered doctor of the hospital's, for what a member can count per doctor.
SECOND_DOCTOR = account("second-doctor")


@pytest.fixture(scope="module", autouse=True)
def consortium(
    w3: Web3,
    deployment: Deployment,
    membership: Contract,
    practice: Contract,
    prescriptions: Contract,
) -> None:
    """A hospital with a registered doctor, an unregistered one and a clerk; window 0."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, UNREGISTERED, DOCTOR_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, SECOND_DOCTOR, DOCTOR_ROLE)
    now = latest_timestamp(w3)
    record_registration(act, practice, DOCTOR, HOSPITAL, now - DAY, now + YEAR)
    record_registration(act, practice, SECOND_DOCTOR, HOSPITAL, now - DAY, now + YEAR)
    act(HOSPITAL_ADMIN).transact(prescriptions.functions.setFollowUpWindow(HOSPITAL.address, 0))


def _rx(label: str) -> bytes:
    return Web3.keccak(text=f"signed rx {label}")


def _fields(
    prescriptions: Contract, signer: LocalAccount, rx: bytes, **over: Any
) -> dict[str, Any]:
    wanted: dict[str, Any] = {
        "commitment": COMMITMENT,
        "cid": CID,
        "patient": PATIENT.address,
        "online": True,
        "record": bytes(32),
    }
    wanted.update(over)
    return signed_fields(prescriptions, signer, rx, HOSPITAL.address, **wanted)


def _attack(w3: Web3, prescriptions: Contract, rx: bytes, fields: dict[str, Any]) -> Any:
    return refused_raw(w3, HOSPITAL, prescriptions, "issuePrescription", rx, as_tuple(fields))


def test_the_doctors_own_signature_issues(w3: Web3, prescriptions: Contract) -> None:
    rx = _rx("honest")
    fields = _fields(prescriptions, DOCTOR, rx)
    receipt = send_raw(w3, HOSPITAL, prescriptions, "issuePrescription", rx, as_tuple(fields))
    assert receipt["status"] == 1
    stored = prescriptions.functions.prescription(rx).call()
    assert stored[2] == prescriber_commitment(DOCTOR.address)


def test_issuing_with_no_signature_is_refused(w3: Web3, prescriptions: Contract) -> None:
    rx = _rx("unsigned")
    fields = {**_fields(prescriptions, DOCTOR, rx), "signature": b""}
    assert _attack(w3, prescriptions, rx, fields) == ("PrescriptionSignatureInvalid", {})


@pytest.mark.parametrize(
    "signer",
    [HOSPITAL, HOSPITAL_ADMIN, CLERK],
    ids=["the-hospitals-own-key", "its-admin", "a-clerk"],
)
def test_a_signature_by_no_doctor_is_refused_even_naming_the_doctor(
    w3: Web3, prescriptions: Contract, signer: LocalAccount
) -> None:
    """The commitment names the doctor; the signer is what counts, and it may not prescribe."""
    rx = _rx(f"by {signer.address}")
    fields = _fields(prescriptions, signer, rx, prescriber=DOCTOR.address)
    assert _attack(w3, prescriptions, rx, fields) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": signer.address, "institution": HOSPITAL.address},
    )


def test_a_doctor_with_no_registration_cannot_sign_a_prescription(
    w3: Web3, prescriptions: Contract
) -> None:
    """Real-name check: on the staff with the doctor role, but no regulator recorded a
    registration (which cannot be recorded without a licence commitment, below)."""
    rx = _rx("unregistered")
    fields = _fields(prescriptions, UNREGISTERED, rx)
    assert _attack(w3, prescriptions, rx, fields) == (
        "PrescriptionPrescriberNotPermitted",
        {"prescriber": UNREGISTERED.address, "institution": HOSPITAL.address},
    )


def test_no_registration_is_recorded_without_a_licence_commitment(
    w3: Web3, practice: Contract
) -> None:
    now = latest_timestamp(w3)
    args = (
        UNREGISTERED.address,
        HOSPITAL.address,
        bytes(32),
        now - DAY,
        now + YEAR,
        PRACTISING_SINCE,
    )
    assert refused_raw(w3, REGULATOR, practice, "recordRegistration", *args) == (
        "PracticeEmptyLicence",
        {},
    )


@pytest.mark.parametrize(
    "changed",
    [
        {"rx": _rx("another")},
        {"patient": OTHER_PATIENT.address},
        {"commitment": Web3.keccak(text="another request")},
        {"cid": b"bafkreianotherenvelope"},
        {"online": False},
        {"deadline": 2**63},
        {"prescriberCommitment": prescriber_commitment(DOCTOR.address, bytes(31) + b"\x01")},
    ],
    ids=[
        "another-id",
        "another-patient",
        "another-content",
        "another-cid",
        "offline",
        "deadline",
        "commitment",
    ],
)
def test_a_doctors_signature_replayed_for_anything_else_is_refused(
    w3: Web3, prescriptions: Contract, changed: dict[str, Any]
) -> None:
    """The hospital holds a genuine signature of the doctor's, for one prescription, and changes
    one field: the signature then recovers to some other account, which may not prescribe."""
    signed_rx = _rx(f"original {sorted(changed)}")
    fields = _fields(prescriptions, DOCTOR, signed_rx)
    rx = changed.pop("rx", signed_rx)
    fields.update(changed)
    name, args = _attack(w3, prescriptions, rx, fields)
    assert name == "PrescriptionPrescriberNotPermitted"
    assert args["prescriber"] != DOCTOR.address


def test_the_same_signature_cannot_issue_twice(w3: Web3, prescriptions: Contract) -> None:
    rx = _rx("twice")
    fields = _fields(prescriptions, DOCTOR, rx)
    assert (
        send_raw(w3, HOSPITAL, prescriptions, "issuePrescription", rx, as_tuple(fields))["status"]
        == 1
    )
    assert _attack(w3, prescriptions, rx, fields) == (
        "PrescriptionAlreadyIssued",
        {"prescriptionId": rx},
    )


def test_a_signature_for_another_registry_is_refused(w3: Web3, prescriptions: Contract) -> None:
    """Signed under the domain of a registry at another address (a test deployment, say)."""
    rx = _rx("other domain")
    fields = _fields(prescriptions, DOCTOR, rx)
    elsewhere = w3.eth.contract(address=HOSPITAL_ADMIN.address, abi=prescriptions.abi)
    fields["signature"] = prescribe_signature(elsewhere, DOCTOR, rx, HOSPITAL.address, fields)
    name, args = _attack(w3, prescriptions, rx, fields)
    assert name == "PrescriptionPrescriberNotPermitted"
    assert args["prescriber"] != DOCTOR.address


def test_a_signature_past_its_deadline_is_refused(w3: Web3, prescriptions: Contract) -> None:
    rx = _rx("late")
    deadline = latest_timestamp(w3) - 1
    fields = _fields(prescriptions, DOCTOR, rx, deadline=deadline)
    assert _attack(w3, prescriptions, rx, fields) == (
        "PrescriptionSignatureExpired",
        {"deadline": deadline},
    )


def test_a_high_s_twin_of_the_doctors_signature_is_refused(
    w3: Web3, prescriptions: Contract
) -> None:
    """(r, n - s) verifies too; OpenZeppelin's ECDSA refuses it, so no signature has a twin."""
    rx = _rx("malleable")
    fields = _fields(prescriptions, DOCTOR, rx)
    sig = fields["signature"]
    n = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
    s = int.from_bytes(sig[32:64], "big")
    fields["signature"] = sig[:32] + (n - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    assert _attack(w3, prescriptions, rx, fields) == ("PrescriptionSignatureInvalid", {})


# -- what a member's node can count per doctor (issue #16, item 6; bench/prescriber_stats.py) ----


def test_a_members_node_cannot_group_by_doctor_from_the_logs_but_can_from_calldata(
    w3: Web3, prescriptions: Contract
) -> None:
    """The honest measure SECURITY.md states: the logs hold no doctor and no link between two
    prescriptions of one doctor; the calldata's signature gives every doctor back, exactly."""
    first = w3.eth.block_number + 1
    written = {DOCTOR.address: 3, SECOND_DOCTOR.address: 2}
    for doctor in (DOCTOR, DOCTOR, SECOND_DOCTOR, DOCTOR, SECOND_DOCTOR):
        rx = _rx(f"count {w3.eth.block_number}")
        # A fresh salt per prescription, as a gateway derives one: else one doctor's
        # commitments would be equal, and group their prescriptions as well as an address.
        fields = _fields(prescriptions, doctor, rx, salt=Web3.keccak(rx))
        assert (
            send_raw(w3, HOSPITAL, prescriptions, "issuePrescription", rx, as_tuple(fields))[
                "status"
            ]
            == 1
        )
    logs = w3.eth.get_logs({"address": prescriptions.address, "fromBlock": first})
    doctors = [bytes.fromhex(a[2:]) for a in written]
    for log in logs:
        words = [bytes(t) for t in log["topics"]] + [bytes(log["data"])]
        assert not any(d in word for d in doctors for word in words)
    commitments = {bytes(log["data"])[:32] for log in logs}
    assert len(commitments) == 5  # fresh per prescription: nothing to group by
    recovered: dict[str, int] = {}
    for log in logs:
        tx = w3.eth.get_transaction(log["transactionHash"])
        _, args = prescriptions.decode_function_input(tx["input"])
        issuance = args["issuance"]
        fields = dict(
            zip(
                (
                    "commitment",
                    "cid",
                    "patient",
                    "prescriberCommitment",
                    "online",
                    "followUpRecordId",
                    "deadline",
                    "signature",
                ),
                issuance if isinstance(issuance, tuple) else issuance.values(),
                strict=True,
            )
        )
        signer = _recover(prescriptions, bytes(args["prescriptionId"]), tx["from"], fields)
        recovered[signer] = recovered.get(signer, 0) + 1
    assert recovered == written


def _recover(contract: Contract, rx: bytes, institution: str, fields: dict[str, Any]) -> str:
    message = {
        "prescriptionId": rx,
        **{k: v for k, v in fields.items() if k != "signature"},
        "institution": institution,
    }
    domain = {
        "name": "MedLedger Prescriptions",
        "version": "1",
        "chainId": contract.w3.eth.chain_id,
        "verifyingContract": contract.address,
    }
    signable = encode_typed_data(domain, PRESCRIBE_TYPES, message)
    return str(Account.recover_message(signable, signature=fields["signature"]))
