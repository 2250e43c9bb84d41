"""ConsentRegistry: patients grant and revoke access by signing; members relay; reads ask it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import requests
from contract_helpers import (
    AUDITOR,
    AUDITOR_ROLE,
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
    OUTSIDER,
    REGULATOR,
    Act,
    OrgKind,
    account,
    admit,
    chain_client,
    emitted,
    isolated,
    record_id,
    refused,
    register,
    remove,
    suspend,
)
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.constants import SECPK1_N
from eth_keys.datatypes import Signature
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain.deploy import Deployment, deploy_contracts
from ledger.chain.node import Anvil
from ledger.consent.grants import (
    GRANT_TYPES,
    ConsentDomain,
    Purpose,
    Scope,
    ScopeKind,
    SignedGrant,
    sign_grant,
    sign_revocation,
)
from ledger.crypto.keys import PatientKeys

#: One patient, known to hospital A and hospital B by two unrelated pseudonyms.
KEYS = PatientKeys(Web3.keccak(text="medledger/tests/consent/patient"))
PATIENT_A = KEYS.pseudonym(HOSPITAL.address)
PATIENT_B = KEYS.pseudonym(OTHER_HOSPITAL.address)
NEIGHBOUR = account("neighbour-pseudonym")  # another patient of hospital A
FORGER = account("forger")

RECORD = record_id(HOSPITAL.address, "consent record 1")
RECORD_2 = record_id(HOSPITAL.address, "consent record 2")
NEIGHBOURS_RECORD = record_id(HOSPITAL.address, "the neighbour's record")
RECORD_AT_B = record_id(OTHER_HOSPITAL.address, "the patient's record at hospital B")
UNANCHORED = record_id(HOSPITAL.address, "never anchored")

FAR = 2**40  # an expiry no test reaches
CV, RESEARCH = Purpose.CLAIM_VERIFICATION, Purpose.RESEARCH
NO_GRANT = (False, bytes(32))


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, registry: Contract) -> None:
    """Hospitals A and B with a doctor each, an insurer with an auditor and a clerk, and records:
    two for the patient at A, one for them at B, one for a neighbour at A."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE)
    register(act, membership, INSURER_ADMIN, INSURER, AUDITOR, AUDITOR_ROLE)
    register(act, membership, INSURER_ADMIN, INSURER, CLERK, CLERK_ROLE)
    for hospital, author, record, patient in (
        (HOSPITAL, DOCTOR, RECORD, PATIENT_A),
        (HOSPITAL, DOCTOR, RECORD_2, PATIENT_A),
        (HOSPITAL, DOCTOR, NEIGHBOURS_RECORD, NEIGHBOUR),
        (OTHER_HOSPITAL, OTHER_DOCTOR, RECORD_AT_B, PATIENT_B),
    ):
        act(hospital).transact(
            registry.functions.anchorRecord(
                record, Web3.keccak(record), b"bafkreicid", patient.address, author.address
            )
        )


@pytest.fixture(scope="module")
def domain(deployment: Deployment) -> ConsentDomain:
    return ConsentDomain.of(deployment)


def _signed(
    domain: ConsentDomain,
    *,
    patient: LocalAccount = PATIENT_A,
    grantee: LocalAccount = INSURER,
    scope: Scope | None = None,
    purpose: Purpose = CV,
    expires_at: int = FAR,
    nonce: int = 1,
) -> SignedGrant:
    """A grant the patient signs; by default, of RECORD to the insurer for claim verification."""
    return sign_grant(
        patient,
        domain,
        grantee=grantee.address,
        scope=Scope.record(RECORD) if scope is None else scope,
        purpose=purpose,
        expires_at=expires_at,
        nonce=nonce,
    )


def _relay(
    act: Act, consent: Contract, signed: SignedGrant, relayer: LocalAccount = HOSPITAL
) -> TxReceipt:
    return act(relayer).transact(consent.functions.grantConsent(*signed.as_args()))


def _revoke(
    act: Act,
    consent: Contract,
    domain: ConsentDomain,
    grant_id: bytes,
    *,
    patient: LocalAccount = PATIENT_A,
    nonce: int = 2,
    relayer: LocalAccount = INSURER,
) -> TxReceipt:
    signed = sign_revocation(patient, domain, grant_id, nonce=nonce)
    return act(relayer).transact(consent.functions.revokeConsent(*signed.as_args()))


def _signature(signer: LocalAccount, typed_data: dict[str, Any]) -> bytes:
    return bytes(signer.sign_message(encode_typed_data(full_message=typed_data)).signature)


def _raw_grant(
    domain: ConsentDomain, signer: LocalAccount = PATIENT_A, **fields: Any
) -> tuple[Any, ...]:
    """grantConsent's arguments for the default grant with ``fields`` (EIP-712 names) replaced,
    signed by ``signer``: values the Python types would refuse to build."""
    typed = _signed(domain).grant.typed_data(domain)
    typed["message"].update(fields)
    terms = tuple(typed["message"][field["name"]] for field in GRANT_TYPES["Grant"])
    return terms, domain.as_args(), _signature(signer, typed)


def _malleable_twin(signature: bytes) -> bytes:
    """The other signature ecrecover accepts for the same message: s -> n - s, v 27 <-> 28."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECPK1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


def _ecrecover(typed_data: dict[str, Any], signature: bytes) -> str:
    """Who ``signature`` recovers to as the bare ecrecover precompile sees it, high s and all."""
    signable = encode_typed_data(full_message=typed_data)
    digest = Web3.keccak(b"\x19" + signable.version + signable.header + signable.body)
    raw = Signature(signature_bytes=signature[:64] + bytes([signature[64] - 27]))
    return raw.recover_public_key_from_msg_hash(digest).to_checksum_address()


def _authorised(
    consent: Contract, requester: LocalAccount, record: bytes, purpose: int = CV, time: int = 0
) -> tuple[bool, bytes]:
    return tuple(consent.functions.isAuthorised(requester.address, record, purpose, time).call())


def _set_next_block_time(w3: Web3, timestamp: int) -> None:
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


# Granting


def test_a_member_relays_the_patients_grant_of_one_record(
    act: Act, w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain, nonce=7)
    receipt = _relay(act, consent, signed)
    assert emitted(consent, receipt) == [
        (
            "ConsentGranted",
            {
                "grantId": signed.grant_id,
                "patient": PATIENT_A.address,
                "grantee": INSURER.address,
                "scopeKind": ScopeKind.RECORD,
                "scope": RECORD,
                "purpose": CV,
                "expiresAt": FAR,
                "nonce": 7,
            },
        )
    ]
    assert consent.functions.grant(signed.grant_id).call() == (
        PATIENT_A.address,
        ScopeKind.RECORD,
        CV,
        FAR,
        False,
        INSURER.address,
        RECORD,
    )
    assert consent.functions.isNonceUsed(PATIENT_A.address, 7).call()
    assert w3.eth.get_transaction_count(PATIENT_A.address) == 0  # the patient sent nothing


def test_granting_returns_the_grant_id(consent: Contract, domain: ConsentDomain) -> None:
    signed = _signed(domain)
    fn = consent.functions.grantConsent(*signed.as_args())
    assert fn.call({"from": HOSPITAL.address}) == signed.grant_id


def test_a_category_grant_names_the_hospital_whose_pseudonym_signs(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    scope = Scope.category(ScopeKind.HOSPITAL_RECORDS, HOSPITAL.address)
    receipt = _relay(act, consent, _signed(domain, scope=scope))
    (_, args), *_ = emitted(consent, receipt)
    assert (args["scopeKind"], args["scope"]) == (ScopeKind.HOSPITAL_RECORDS, scope.ref)


@pytest.mark.parametrize("kind", [ScopeKind.PRESCRIPTIONS, ScopeKind.CLAIMS])
def test_categories_held_elsewhere_can_be_granted_now(
    act: Act, consent: Contract, domain: ConsentDomain, kind: ScopeKind
) -> None:
    receipt = _relay(act, consent, _signed(domain, scope=Scope.category(kind, HOSPITAL.address)))
    assert [name for name, _ in emitted(consent, receipt)] == ["ConsentGranted"]


def test_a_grant_may_name_one_member(act: Act, consent: Contract, domain: ConsentDomain) -> None:
    signed = _signed(domain, grantee=AUDITOR)
    (_, args), *_ = emitted(consent, _relay(act, consent, signed))
    assert args["grantee"] == AUDITOR.address


# Refused grants: the replay battery


def test_a_grant_signed_for_another_chain_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    elsewhere = dataclasses.replace(domain, chain_id=domain.chain_id + 1)
    signed = _signed(domain=elsewhere)
    fn = consent.functions.grantConsent(*signed.as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentWrongChain",
        {"signedFor": domain.chain_id + 1, "current": domain.chain_id},
    )


def test_a_grant_relayed_on_another_chain_is_refused_there(
    act: Act, w3: Web3, tmp_path: Path, free_port: int
) -> None:
    """One deployer gives the same addresses on two chains; only the chain id tells them apart."""
    deployer = account("consent/cross-chain-deployer")
    with (
        Anvil(state_dir=tmp_path, port=free_port, chain_id=w3.eth.chain_id + 1) as node,
        requests.Session() as session,
    ):
        other_w3 = Web3(Web3.HTTPProvider(node.url, session=session))
        there = deploy_contracts(other_w3, deployer, REGULATOR.address)
        here = deploy_contracts(w3, deployer, REGULATOR.address)
        assert here.addresses == there.addresses
        signed = _signed(
            ConsentDomain.of(there),
            scope=Scope.category(ScopeKind.HOSPITAL_RECORDS, HOSPITAL.address),
        )
        for chain_w3, deployment in ((other_w3, there), (w3, here)):
            on_chain = chain_client(chain_w3, deployment)
            membership = on_chain(REGULATOR).contract("Membership")
            admit(on_chain, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
            admit(on_chain, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
            fn = on_chain(HOSPITAL).contract("ConsentRegistry").functions.grantConsent
            if deployment is there:
                on_chain(HOSPITAL).transact(fn(*signed.as_args()))
            else:
                assert refused(on_chain(HOSPITAL), fn(*signed.as_args())) == (
                    "ConsentWrongChain",
                    {"signedFor": there.chain_id, "current": here.chain_id},
                )


def test_a_grant_signed_for_another_consent_contract_is_refused(
    act: Act, w3: Web3, deployment: Deployment, consent: Contract, domain: ConsentDomain
) -> None:
    without = {k: v for k, v in deployment.addresses.items() if k != "ConsentRegistry"}
    second = deploy_contracts(
        w3, REGULATOR, REGULATOR.address, onto=dataclasses.replace(deployment, addresses=without)
    )
    signed = _signed(ConsentDomain.of(second))
    there = w3.eth.contract(address=second.address("ConsentRegistry"), abi=consent.abi)
    act(HOSPITAL).transact(there.functions.grantConsent(*signed.as_args()))  # good where meant
    fn = consent.functions.grantConsent(*signed.as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentWrongContract",
        {"signedFor": second.address("ConsentRegistry"), "current": consent.address},
    )


def test_a_reused_nonce_is_refused(act: Act, consent: Contract, domain: ConsentDomain) -> None:
    _relay(act, consent, _signed(domain, nonce=5))
    other = _signed(domain, grantee=AUDITOR, nonce=5)
    fn = consent.functions.grantConsent(*other.as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentNonceUsed",
        {"patient": PATIENT_A.address, "nonce": 5},
    )


def test_a_nonce_used_by_a_revocation_is_refused_for_a_grant(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    first = _signed(domain, nonce=1)
    _relay(act, consent, first)
    _revoke(act, consent, domain, first.grant_id, nonce=2)
    fn = consent.functions.grantConsent(*_signed(domain, nonce=2).as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentNonceUsed",
        {"patient": PATIENT_A.address, "nonce": 2},
    )


def test_nonces_are_per_pseudonym(act: Act, consent: Contract, domain: ConsentDomain) -> None:
    _relay(act, consent, _signed(domain, nonce=3))
    scope = Scope.record(RECORD_AT_B)
    receipt = _relay(act, consent, _signed(domain, patient=PATIENT_B, scope=scope, nonce=3))
    assert [name for name, _ in emitted(consent, receipt)] == ["ConsentGranted"]


def test_a_grant_replayed_after_its_revocation_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    _revoke(act, consent, domain, signed.grant_id)
    fn = consent.functions.grantConsent(*signed.as_args())
    assert refused(act(INSURER), fn) == ("ConsentGrantRevoked", {"grantId": signed.grant_id})


def test_a_grant_relayed_twice_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    fn = consent.functions.grantConsent(*signed.as_args())
    assert refused(act(INSURER), fn) == ("ConsentAlreadyGranted", {"grantId": signed.grant_id})


def test_a_grant_is_relayed_until_the_second_before_it_expires(
    act: Act, w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    expires_at = w3.eth.get_block("latest")["timestamp"] + 10
    _set_next_block_time(w3, expires_at - 1)
    fn = consent.functions.grantConsent(*_signed(domain, expires_at=expires_at).as_args())
    receipt = act(HOSPITAL).transact(fn, gas=FORCED_GAS)
    assert w3.eth.get_block(receipt["blockNumber"])["timestamp"] == expires_at - 1
    assert [name for name, _ in emitted(consent, receipt)] == ["ConsentGranted"]


@pytest.mark.parametrize("late", [0, 1], ids=["at-expiry", "a-second-after"])
def test_an_expired_grant_is_refused(
    act: Act, w3: Web3, consent: Contract, domain: ConsentDomain, late: int
) -> None:
    expires_at = w3.eth.get_block("latest")["timestamp"] + 10
    _set_next_block_time(w3, expires_at + late)
    fn = consent.functions.grantConsent(*_signed(domain, expires_at=expires_at).as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentExpired",
        {"expiresAt": expires_at, "currentTime": expires_at + late},
    )


def test_a_malleable_signature_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    twin = _malleable_twin(signed.signature)
    assert _ecrecover(signed.grant.typed_data(domain), twin) == PATIENT_A.address
    fn = consent.functions.grantConsent(*dataclasses.replace(signed, signature=twin).as_args())
    assert refused(act(HOSPITAL), fn) == ("ConsentMalleableSignature", {"s": twin[32:64]})


def test_a_grant_signed_by_anyone_but_the_patient_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    grant = _signed(domain).grant
    forged = SignedGrant(grant, domain, _signature(FORGER, grant.typed_data(domain)))
    fn = consent.functions.grantConsent(*forged.as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentSignerNotPatient",
        {"signer": FORGER.address, "patient": PATIENT_A.address},
    )


def test_a_signature_that_recovers_no_account_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    bad = dataclasses.replace(signed, signature=signed.signature[:64] + bytes([29]))
    fn = consent.functions.grantConsent(*bad.as_args())
    assert refused(act(HOSPITAL), fn) == ("ConsentBadSignature", {})


def test_a_signature_of_the_wrong_length_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    short = dataclasses.replace(signed, signature=signed.signature[:64])
    fn = consent.functions.grantConsent(*short.as_args())
    assert refused(act(HOSPITAL), fn) == ("ConsentBadSignatureLength", {"length": 64})


@pytest.mark.parametrize(
    "relayer", [OUTSIDER, DOCTOR], ids=["outsider", "staff-who-never-send-transactions"]
)
def test_only_a_member_organisation_relays(
    act: Act, consent: Contract, domain: ConsentDomain, relayer: LocalAccount
) -> None:
    fn = consent.functions.grantConsent(*_signed(domain).as_args())
    assert refused(act(relayer), fn) == ("ConsentRelayerNotMember", {"relayer": relayer.address})


def test_a_suspended_organisation_cannot_relay(
    act: Act, membership: Contract, consent: Contract, domain: ConsentDomain
) -> None:
    suspend(act, membership, HOSPITAL)
    fn = consent.functions.grantConsent(*_signed(domain).as_args())
    assert refused(act(HOSPITAL), fn) == ("ConsentRelayerNotMember", {"relayer": HOSPITAL.address})


# Refused grants: the terms


def test_a_grant_of_a_record_never_anchored_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    fn = consent.functions.grantConsent(*_signed(domain, scope=Scope.record(UNANCHORED)).as_args())
    assert refused(act(HOSPITAL), fn) == ("ConsentUnknownRecord", {"recordId": UNANCHORED})


def test_a_grant_of_another_patients_record_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain, scope=Scope.record(NEIGHBOURS_RECORD))
    fn = consent.functions.grantConsent(*signed.as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentNotRecordPatient",
        {"recordId": NEIGHBOURS_RECORD, "patient": PATIENT_A.address},
    )


def test_a_record_is_granted_only_by_the_pseudonym_it_names(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    """The same person, signing with the pseudonym hospital B knows, cannot grant a record of A:
    the chain never learns that the two pseudonyms are one patient."""
    fn = consent.functions.grantConsent(*_signed(domain, patient=PATIENT_B).as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentNotRecordPatient",
        {"recordId": RECORD, "patient": PATIENT_B.address},
    )


@pytest.mark.parametrize(
    "scope",
    [bytes(12) + bytes.fromhex(INSURER.address[2:]), b"\x01" + bytes(11) + bytes(20)],
    ids=["not-a-hospital", "not-an-address"],
)
def test_a_category_grant_must_name_a_hospital(
    act: Act, consent: Contract, domain: ConsentDomain, scope: bytes
) -> None:
    fn = consent.functions.grantConsent(
        *_raw_grant(domain, scopeKind=ScopeKind.HOSPITAL_RECORDS, scope=scope)
    )
    assert refused(act(HOSPITAL), fn) == ("ConsentScopeNotHospital", {"scope": scope})


@pytest.mark.parametrize("kind", [0, max(ScopeKind) + 1])
def test_an_unknown_scope_kind_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain, kind: int
) -> None:
    fn = consent.functions.grantConsent(*_raw_grant(domain, scopeKind=kind))
    assert refused(act(HOSPITAL), fn) == ("ConsentUnknownScopeKind", {"scopeKind": kind})


@pytest.mark.parametrize("purpose", [0, max(Purpose) + 1])
def test_an_unknown_purpose_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain, purpose: int
) -> None:
    fn = consent.functions.grantConsent(*_raw_grant(domain, purpose=purpose))
    assert refused(act(HOSPITAL), fn) == ("ConsentUnknownPurpose", {"purpose": purpose})


def test_a_grant_to_a_non_member_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    fn = consent.functions.grantConsent(*_signed(domain, grantee=OUTSIDER).as_args())
    assert refused(act(HOSPITAL), fn) == (
        "ConsentGranteeNotMember",
        {"grantee": OUTSIDER.address},
    )


# Revoking


def test_the_patient_revokes_a_grant(act: Act, consent: Contract, domain: ConsentDomain) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    receipt = _revoke(act, consent, domain, signed.grant_id, nonce=9)
    assert emitted(consent, receipt) == [
        (
            "ConsentRevoked",
            {"grantId": signed.grant_id, "patient": PATIENT_A.address, "nonce": 9},
        )
    ]
    assert consent.functions.grant(signed.grant_id).call()[4] is True
    assert consent.functions.isNonceUsed(PATIENT_A.address, 9).call()


def test_revoking_a_grant_never_relayed_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    grant_id = _signed(domain).grant_id
    signed = sign_revocation(PATIENT_A, domain, grant_id, nonce=2)
    fn = consent.functions.revokeConsent(*signed.as_args())
    assert refused(act(INSURER), fn) == ("ConsentUnknownGrant", {"grantId": grant_id})


def test_a_revocation_signed_by_anyone_but_the_patient_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    forged = sign_revocation(FORGER, domain, signed.grant_id, nonce=2)
    fn = consent.functions.revokeConsent(*forged.as_args())
    assert refused(act(INSURER), fn) == (
        "ConsentSignerNotPatient",
        {"signer": FORGER.address, "patient": PATIENT_A.address},
    )


def test_revoking_twice_is_refused(act: Act, consent: Contract, domain: ConsentDomain) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    _revoke(act, consent, domain, signed.grant_id, nonce=2)
    again = sign_revocation(PATIENT_A, domain, signed.grant_id, nonce=3)
    fn = consent.functions.revokeConsent(*again.as_args())
    assert refused(act(INSURER), fn) == ("ConsentAlreadyRevoked", {"grantId": signed.grant_id})


def test_a_revocation_reusing_a_nonce_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain, nonce=4)
    _relay(act, consent, signed)
    reuse = sign_revocation(PATIENT_A, domain, signed.grant_id, nonce=4)
    fn = consent.functions.revokeConsent(*reuse.as_args())
    assert refused(act(INSURER), fn) == (
        "ConsentNonceUsed",
        {"patient": PATIENT_A.address, "nonce": 4},
    )


def test_a_revocation_signed_for_another_chain_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    elsewhere = dataclasses.replace(domain, chain_id=domain.chain_id + 1)
    revocation = sign_revocation(PATIENT_A, elsewhere, signed.grant_id, nonce=2)
    fn = consent.functions.revokeConsent(*revocation.as_args())
    assert refused(act(INSURER), fn) == (
        "ConsentWrongChain",
        {"signedFor": domain.chain_id + 1, "current": domain.chain_id},
    )


def test_a_malleable_revocation_is_refused(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    revocation = sign_revocation(PATIENT_A, domain, signed.grant_id, nonce=2)
    twin = _malleable_twin(revocation.signature)
    fn = consent.functions.revokeConsent(*dataclasses.replace(revocation, signature=twin).as_args())
    assert refused(act(INSURER), fn) == ("ConsentMalleableSignature", {"s": twin[32:64]})


def test_only_a_member_organisation_relays_a_revocation(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    revocation = sign_revocation(PATIENT_A, domain, signed.grant_id, nonce=2)
    fn = consent.functions.revokeConsent(*revocation.as_args())
    assert refused(act(OUTSIDER), fn) == (
        "ConsentRelayerNotMember",
        {"relayer": OUTSIDER.address},
    )


# Who may read


def test_without_a_grant_nobody_is_authorised(consent: Contract) -> None:
    for requester in (INSURER, AUDITOR, OTHER_HOSPITAL):
        assert _authorised(consent, requester, RECORD) == NO_GRANT


def test_a_grant_to_an_organisation_covers_it_and_its_staff(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    for requester in (INSURER, AUDITOR, CLERK):
        assert _authorised(consent, requester, RECORD) == (True, signed.grant_id)
    for outsider in (OTHER_HOSPITAL, OTHER_DOCTOR, OUTSIDER):
        assert _authorised(consent, outsider, RECORD) == NO_GRANT


def test_a_grant_to_one_member_covers_only_them(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain, grantee=AUDITOR)
    _relay(act, consent, signed)
    assert _authorised(consent, AUDITOR, RECORD) == (True, signed.grant_id)
    assert _authorised(consent, INSURER, RECORD) == NO_GRANT
    assert _authorised(consent, CLERK, RECORD) == NO_GRANT


def test_removed_staff_and_suspended_organisations_are_not_authorised(
    act: Act, membership: Contract, consent: Contract, domain: ConsentDomain
) -> None:
    _relay(act, consent, _signed(domain))
    remove(act, membership, INSURER_ADMIN, INSURER, CLERK)
    assert _authorised(consent, CLERK, RECORD) == NO_GRANT
    suspend(act, membership, INSURER)
    assert _authorised(consent, INSURER, RECORD) == NO_GRANT
    assert _authorised(consent, AUDITOR, RECORD) == NO_GRANT


def test_a_grant_is_for_its_purpose_only(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    _relay(act, consent, _signed(domain, purpose=CV))
    for purpose in set(Purpose) - {CV}:
        assert _authorised(consent, INSURER, RECORD, purpose) == NO_GRANT


def test_a_grant_authorises_until_the_second_it_expires(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain, expires_at=FAR)
    _relay(act, consent, signed)
    assert _authorised(consent, INSURER, RECORD, time=FAR - 1) == (True, signed.grant_id)
    assert _authorised(consent, INSURER, RECORD, time=FAR) == NO_GRANT


def test_a_revoked_grant_authorises_nobody_at_once(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain)
    _relay(act, consent, signed)
    _revoke(act, consent, domain, signed.grant_id)
    for time in (0, FAR - 1):
        assert _authorised(consent, INSURER, RECORD, time=time) == NO_GRANT


def test_another_grant_in_force_still_authorises_after_one_is_revoked(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    first, second = _signed(domain, nonce=1), _signed(domain, nonce=2, expires_at=FAR - 1)
    _relay(act, consent, first)
    _relay(act, consent, second)
    _revoke(act, consent, domain, first.grant_id, nonce=3)
    assert _authorised(consent, INSURER, RECORD) == (True, second.grant_id)


def test_a_record_grant_covers_that_record_only(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    _relay(act, consent, _signed(domain))
    for other in (RECORD_2, NEIGHBOURS_RECORD, RECORD_AT_B):
        assert _authorised(consent, INSURER, other) == NO_GRANT


def test_a_hospital_records_grant_covers_what_that_hospital_holds_for_the_pseudonym(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    scope = Scope.category(ScopeKind.HOSPITAL_RECORDS, HOSPITAL.address)
    signed = _signed(domain, scope=scope)
    _relay(act, consent, signed)
    for record in (RECORD, RECORD_2):
        assert _authorised(consent, INSURER, record) == (True, signed.grant_id)
    for other in (NEIGHBOURS_RECORD, RECORD_AT_B):
        assert _authorised(consent, INSURER, other) == NO_GRANT


@pytest.mark.parametrize("kind", [ScopeKind.PRESCRIPTIONS, ScopeKind.CLAIMS])
def test_a_category_outside_the_records_opens_no_record(
    act: Act, consent: Contract, domain: ConsentDomain, kind: ScopeKind
) -> None:
    _relay(act, consent, _signed(domain, scope=Scope.category(kind, HOSPITAL.address)))
    assert _authorised(consent, INSURER, RECORD) == NO_GRANT


def test_an_unknown_record_is_opened_by_no_grant(consent: Contract) -> None:
    assert _authorised(consent, INSURER, UNANCHORED) == NO_GRANT


def test_a_category_grant_answers_for_its_kind_hospital_and_pseudonym_only(
    act: Act, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _signed(domain, scope=Scope.category(ScopeKind.CLAIMS, HOSPITAL.address))
    _relay(act, consent, signed)

    def ask(patient: LocalAccount, hospital: LocalAccount, kind: int) -> tuple[bool, bytes]:
        fn = consent.functions.isAuthorisedForCategory(
            AUDITOR.address, patient.address, hospital.address, kind, CV, 0
        )
        return tuple(fn.call())

    assert ask(PATIENT_A, HOSPITAL, ScopeKind.CLAIMS) == (True, signed.grant_id)
    assert ask(PATIENT_A, HOSPITAL, ScopeKind.PRESCRIPTIONS) == NO_GRANT
    assert ask(PATIENT_A, OTHER_HOSPITAL, ScopeKind.CLAIMS) == NO_GRANT
    assert ask(NEIGHBOUR, HOSPITAL, ScopeKind.CLAIMS) == NO_GRANT
    for not_a_category in (0, ScopeKind.RECORD, max(ScopeKind) + 1):
        assert ask(PATIENT_A, HOSPITAL, not_a_category) == NO_GRANT


def test_consent_names_the_registers_it_consults(
    consent: Contract, membership: Contract, registry: Contract
) -> None:
    assert consent.functions.membership().call() == membership.address
    assert consent.functions.records().call() == registry.address


# The invariant

GRANTEES = (INSURER, AUDITOR)
READERS = (INSURER, AUDITOR, CLERK)
SCOPES = (Scope.record(RECORD), Scope.category(ScopeKind.HOSPITAL_RECORDS, HOSPITAL.address))
EXPIRY_STEPS = (10, 20, 30)
QUERY_STEPS = (5, 15, 25, 35)

GRANT = st.tuples(
    st.just("grant"),
    st.sampled_from(GRANTEES),
    st.sampled_from(SCOPES),
    st.sampled_from((CV, RESEARCH)),
    st.sampled_from(EXPIRY_STEPS),
)
REVOKE = st.tuples(st.just("revoke"), st.integers(0, 7))


@dataclasses.dataclass
class _Granted:
    grant_id: bytes
    grantee: LocalAccount
    purpose: Purpose
    expires_at: int
    revoked: bool = False

    def opens_record_to(self, reader: LocalAccount, purpose: int, time: int) -> bool:
        # Both SCOPES cover RECORD; a grant to the insurer covers its staff, one to a member them.
        covered = reader == self.grantee or self.grantee == INSURER
        return covered and purpose == self.purpose and time < self.expires_at and not self.revoked


@settings(
    max_examples=20,
    deadline=None,
    # Each example snapshots the chain and reverts to it; the per-test fixtures hold no state.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    # No shrinking: every example costs chain round trips, so shrinking a failure could outlast the
    # test timeout, and a failing sequence of at most six steps reads well enough as found.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
@given(ops=st.lists(st.one_of(GRANT, REVOKE), max_size=6))
def test_a_record_is_open_exactly_while_some_grant_is_unexpired_and_unrevoked(
    w3: Web3, deployment: Deployment, consent: Contract, domain: ConsentDomain, ops: list[Any]
) -> None:
    with isolated(w3):
        act = chain_client(w3, deployment)
        base = w3.eth.get_block("latest")["timestamp"] + 1000
        granted: list[_Granted] = []
        for nonce, op in enumerate(ops):
            if op[0] == "grant":
                _, grantee, scope, purpose, step = op
                signed = _signed(
                    domain,
                    grantee=grantee,
                    scope=scope,
                    purpose=purpose,
                    expires_at=base + step,
                    nonce=nonce,
                )
                _relay(act, consent, signed)
                granted.append(_Granted(signed.grant_id, grantee, purpose, base + step))
            elif live := [g for g in granted if not g.revoked]:
                target = live[op[1] % len(live)]
                _revoke(act, consent, domain, target.grant_id, nonce=nonce)
                target.revoked = True
        for reader in READERS:
            for purpose in (CV, RESEARCH):
                for step in QUERY_STEPS:
                    time = base + step
                    expected = {
                        g.grant_id for g in granted if g.opens_record_to(reader, purpose, time)
                    }
                    authorised, grant_id = _authorised(consent, reader, RECORD, purpose, time)
                    assert authorised == bool(expected)
                    assert grant_id in expected if authorised else grant_id == bytes(32)
