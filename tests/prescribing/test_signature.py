"""The doctor's ``Prescribe`` signature off chain: what a doctor's machine signs and a gateway
recovers, its wire form, and the prescriber commitment's salt. The contract's agreement with this
encoding is tested where it is checked: tests/contracts/test_hostile_prescriber.py and
tests/api/test_prescription_signature.py (signed here, accepted on chain)."""

from __future__ import annotations

import secrets

import pytest
from eth_abi.abi import encode as abi_encode
from eth_account import Account
from web3 import Web3

from ledger.gateway.auth import AuthBadSignature, AuthMalformed
from ledger.prescribing.signature import (
    PrescriptionDomain,
    SignedIssuance,
    prescriber_commitment,
    prescriber_salt,
)

DOCTOR = Account.from_key(Web3.keccak(text="medledger/tests/signature/doctor"))
CLERK = Account.from_key(Web3.keccak(text="medledger/tests/signature/clerk"))
DOMAIN = PrescriptionDomain(31337, "0x" + "ab" * 20)


def _issuance(**over: object) -> SignedIssuance:
    fields: dict[str, object] = {
        "prescription_id": Web3.keccak(text="rx"),
        "commitment": Web3.keccak(text="request"),
        "cid": b"bafkreirequest",
        "patient": "0x" + "cd" * 20,
        "prescriber_commitment": prescriber_commitment(DOCTOR.address, bytes(32)),
        "online": True,
        "follow_up_record": None,
        "institution": "0x" + "ef" * 20,
        "deadline": 1_900_000_000,
    }
    fields.update(over)
    return SignedIssuance(**fields)  # type: ignore[arg-type]


def test_the_signer_of_an_issuance_is_recovered() -> None:
    issuance = _issuance()
    assert issuance.signer(issuance.sign(DOCTOR, DOMAIN), DOMAIN) == DOCTOR.address
    assert issuance.signer(issuance.sign(CLERK, DOMAIN), DOMAIN) == CLERK.address


@pytest.mark.parametrize(
    "change",
    [
        {"prescription_id": Web3.keccak(text="another rx")},
        {"patient": "0x" + "11" * 20},
        {"online": False},
        {"follow_up_record": Web3.keccak(text="record")},
        {"institution": "0x" + "22" * 20},
        {"deadline": 1_900_000_001},
        {"cid": b"bafkreianother"},
    ],
    ids=["id", "patient", "online", "record", "institution", "deadline", "cid"],
)
def test_a_signature_of_one_issuance_does_not_recover_to_the_doctor_for_another(
    change: dict[str, object],
) -> None:
    signature = _issuance().sign(DOCTOR, DOMAIN)
    assert _issuance(**change).signer(signature, DOMAIN) != DOCTOR.address


def test_a_signature_under_another_domain_does_not_recover_to_the_doctor() -> None:
    issuance = _issuance()
    other = PrescriptionDomain(31337, "0x" + "ac" * 20)
    assert issuance.signer(issuance.sign(DOCTOR, other), DOMAIN) != DOCTOR.address


def test_a_signature_that_is_none_is_refused() -> None:
    with pytest.raises(AuthMalformed):
        _issuance().signer(b"\x01" * 64, DOMAIN)
    with pytest.raises(AuthBadSignature):
        _issuance().signer(bytes(65), DOMAIN)


@pytest.mark.parametrize("record", [None, Web3.keccak(text="record")], ids=["none", "record"])
def test_the_wire_form_round_trips(record: bytes | None) -> None:
    issuance = _issuance(follow_up_record=record)
    assert SignedIssuance.from_wire(issuance.to_wire()) == issuance


@pytest.mark.parametrize(
    "broken",
    [{"online": "true"}, {"deadline": "1"}, {"commitment": "ab"}],
    ids=["online-as-text", "deadline-as-text", "bytes-without-0x"],
)
def test_a_wire_form_that_is_none_is_refused(broken: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        SignedIssuance.from_wire({**_issuance().to_wire(), **broken})


def test_the_prescriber_commitment_is_the_contracts_encoding() -> None:
    salt = secrets.token_bytes(32)
    expected = Web3.keccak(abi_encode(["address", "bytes32"], [DOCTOR.address, salt]))
    assert prescriber_commitment(DOCTOR.address, salt) == expected


def test_the_prescriber_salt_is_fresh_per_prescription_and_hides_the_content_salt() -> None:
    first, second = secrets.token_bytes(32), secrets.token_bytes(32)
    assert prescriber_salt(first) == prescriber_salt(first)
    assert prescriber_salt(first) != prescriber_salt(second)
    assert prescriber_salt(first) != first
    commitments = {
        prescriber_commitment(DOCTOR.address, prescriber_salt(s)) for s in (first, second)
    }
    assert len(commitments) == 2  # one doctor's prescriptions do not share a commitment
