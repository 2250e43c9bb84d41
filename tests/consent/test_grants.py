"""ledger.consent.grants: the typed data patients sign to grant and revoke, and the helpers
building it."""

from __future__ import annotations

import re
from enum import IntEnum

import pytest
from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hypothesis import given, strategies as st
from web3 import Web3

from ledger.chain import _artifacts
from ledger.chain.deploy import Deployment
from ledger.consent.grants import (
    GRANT_TYPES,
    REVOKE_TYPES,
    ConsentDomain,
    Grant,
    Purpose,
    Revocation,
    Scope,
    ScopeKind,
    sign_grant,
    sign_revocation,
)
from ledger.crypto.keys import PatientKeys
from ledger.errors import DeploymentMissing
from ledger.gateway.auth import recover_typed_data

HOSPITAL = "0x" + "ab" * 20
CONTRACT = Web3.to_checksum_address("0x" + "cd" * 20)
DOMAIN = ConsentDomain(31337, CONTRACT)
PSEUDONYM: LocalAccount = PatientKeys(bytes(range(32))).pseudonym(HOSPITAL)
INSURER = Web3.to_checksum_address("0x" + "1f" * 20)
RECORD = Web3.keccak(text="a record")
GRANT_TYPE = (
    "Grant(address patient,address grantee,uint8 scopeKind,bytes32 scope,uint8 purpose,"
    "uint64 expiresAt,uint256 nonce)"
)


def _grant(**changes: object) -> Grant:
    fields: dict[str, object] = {
        "patient": PSEUDONYM.address,
        "grantee": INSURER,
        "scope": Scope.record(RECORD),
        "purpose": Purpose.TREATMENT,
        "expires_at": 2_000_000_000,
        "nonce": 42,
        **changes,
    }
    return Grant(**fields)  # type: ignore[arg-type]


# The contract's side of the wire format


@pytest.mark.parametrize("python_enum", [ScopeKind, Purpose])
def test_enums_mirror_the_contracts_in_order(python_enum: type[IntEnum]) -> None:
    source = (_artifacts.CONTRACTS_DIR / "interfaces" / "IConsentRegistry.sol").read_text()
    body = re.search(rf"enum {python_enum.__name__} \{{([^}}]*)\}}", source)
    assert body is not None
    names = [name.strip() for name in body.group(1).split(",")]
    as_python = [re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper() for name in names]
    assert as_python == ["NONE", *python_enum.__members__]
    assert [member.value for member in python_enum] == list(range(1, len(names)))


def test_the_grant_type_is_the_one_the_contract_hashes() -> None:
    fields = ",".join(f"{f['type']} {f['name']}" for f in GRANT_TYPES["Grant"])
    assert f"Grant({fields})" == GRANT_TYPE
    source = (_artifacts.CONTRACTS_DIR / "ConsentRegistry.sol").read_text()
    assert f'"{GRANT_TYPE}"' in source
    assert '"Revoke(bytes32 grantId,uint256 nonce)"' in source
    assert [f["name"] for f in REVOKE_TYPES["Revoke"]] == ["grantId", "nonce"]


def test_a_grant_id_is_the_eip712_hash_struct_of_its_terms() -> None:
    grant = _grant()
    expected = Web3.keccak(
        encode(
            ["bytes32", "address", "address", "uint8", "bytes32", "uint8", "uint64", "uint256"],
            [
                Web3.keccak(text=GRANT_TYPE),
                PSEUDONYM.address,
                INSURER,
                ScopeKind.RECORD,
                RECORD,
                Purpose.TREATMENT,
                2_000_000_000,
                42,
            ],
        )
    )
    assert grant.grant_id == expected


def test_a_grant_id_does_not_depend_on_the_domain() -> None:
    grant = _grant()
    other = ConsentDomain(1, INSURER)
    for domain in (DOMAIN, other):
        assert encode_typed_data(full_message=grant.typed_data(domain)).body == grant.grant_id


def test_every_term_changes_the_grant_id() -> None:
    changes: list[dict[str, object]] = [
        {"patient": INSURER},
        {"grantee": PSEUDONYM.address},
        {"scope": Scope.category(ScopeKind.HOSPITAL_RECORDS, HOSPITAL)},
        {"purpose": Purpose.RESEARCH},
        {"expires_at": 2_000_000_001},
        {"nonce": 43},
    ]
    ids = {_grant(**change).grant_id for change in changes} | {_grant().grant_id}
    assert len(ids) == len(changes) + 1


def test_the_domain_separator_is_the_one_the_contract_computes() -> None:
    domain_type = (
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    )
    expected = Web3.keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                Web3.keccak(text=domain_type),
                Web3.keccak(text="MedLedger Consent"),
                Web3.keccak(text="1"),
                31337,
                CONTRACT,
            ],
        )
    )
    assert encode_typed_data(full_message=_grant().typed_data(DOMAIN)).header == expected


def test_the_contract_arguments_follow_the_structs_field_order() -> None:
    grant = _grant()
    message = grant.message()
    assert grant.as_args() == tuple(message[f["name"]] for f in GRANT_TYPES["Grant"])
    revocation = Revocation(RECORD, 7)
    assert revocation.as_args() == (RECORD, 7)
    assert DOMAIN.as_args() == (31337, CONTRACT)


# Signing


def test_a_signed_grant_recovers_to_the_pseudonym_that_signed_it() -> None:
    signed = sign_grant(
        PSEUDONYM,
        DOMAIN,
        grantee=INSURER,
        scope=Scope.record(RECORD),
        purpose=Purpose.CLAIM_VERIFICATION,
        expires_at=2_000_000_000,
        nonce=5,
    )
    assert signed.grant.patient == PSEUDONYM.address
    assert signed.domain == DOMAIN
    # recover_typed_data refuses anything but a canonical 65-byte, low-s signature.
    assert (
        recover_typed_data(
            DOMAIN.as_eip712(), GRANT_TYPES, "Grant", signed.grant.message(), signed.signature
        )
        == PSEUDONYM.address
    )
    assert signed.as_args() == (signed.grant.as_args(), DOMAIN.as_args(), signed.signature)


def test_a_signed_revocation_recovers_to_the_pseudonym_that_signed_it() -> None:
    signed = sign_revocation(PSEUDONYM, DOMAIN, RECORD, nonce=8)
    assert signed.revocation == Revocation(RECORD, 8)
    message = signed.revocation.message()
    assert (
        recover_typed_data(DOMAIN.as_eip712(), REVOKE_TYPES, "Revoke", message, signed.signature)
        == PSEUDONYM.address
    )


def test_nonces_default_to_fresh_random_256_bit_numbers() -> None:
    nonces = {
        sign_revocation(PSEUDONYM, DOMAIN, RECORD).revocation.nonce,
        sign_grant(
            PSEUDONYM,
            DOMAIN,
            grantee=INSURER,
            scope=Scope.record(RECORD),
            purpose=Purpose.AUDIT,
            expires_at=1,
        ).grant.nonce,
    }
    assert len(nonces) == 2
    assert all(0 <= nonce < 2**256 for nonce in nonces)


@given(key=st.binary(min_size=32, max_size=32), nonce=st.integers(0, 2**256 - 1))
def test_any_pseudonym_signs_grants_that_recover_to_it(key: bytes, nonce: int) -> None:
    pseudonym: LocalAccount = PatientKeys(key).pseudonym(HOSPITAL)
    scope = Scope.category(ScopeKind.CLAIMS, HOSPITAL)
    signed = sign_grant(
        pseudonym,
        DOMAIN,
        grantee=INSURER,
        scope=scope,
        purpose=Purpose.CLAIM_VERIFICATION,
        expires_at=2**64 - 1,
        nonce=nonce,
    )
    signable = encode_typed_data(full_message=signed.grant.typed_data(DOMAIN))
    assert Account.recover_message(signable, signature=signed.signature) == pseudonym.address


# Domains and scopes


def test_the_domain_of_a_deployment_is_its_consent_registry_on_its_chain() -> None:
    deployment = Deployment(
        chain_id=7, addresses={"ConsentRegistry": CONTRACT}, block_number=1, artifacts={}
    )
    assert ConsentDomain.of(deployment) == ConsentDomain(7, CONTRACT)
    assert ConsentDomain.of(deployment).as_eip712() == {
        "name": "MedLedger Consent",
        "version": "1",
        "chainId": 7,
        "verifyingContract": CONTRACT,
    }


def test_a_deployment_without_the_consent_registry_has_no_domain() -> None:
    deployment = Deployment(chain_id=7, addresses={}, block_number=1, artifacts={})
    with pytest.raises(DeploymentMissing, match="no ConsentRegistry"):
        ConsentDomain.of(deployment)


def test_a_domain_checksums_its_contract_and_refuses_a_chain_id_below_one() -> None:
    assert ConsentDomain(1, CONTRACT.lower()).verifying_contract == CONTRACT  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chain id must be positive"):
        ConsentDomain(0, CONTRACT)


def test_a_record_scope_takes_the_id_as_bytes_or_hex() -> None:
    assert Scope.record(RECORD) == Scope.record(RECORD.to_0x_hex())
    assert Scope.record(RECORD) == Scope(ScopeKind.RECORD, RECORD)
    assert Scope.record(RECORD).hospital is None


def test_a_category_scope_is_the_left_padded_hospital() -> None:
    scope = Scope.category(ScopeKind.PRESCRIPTIONS, HOSPITAL)
    assert scope.ref == bytes(12) + bytes.fromhex("ab" * 20)
    assert scope.hospital == Web3.to_checksum_address(HOSPITAL)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Scope.record(RECORD[:31]), "a scope is 32 bytes"),
        (lambda: Scope.category(ScopeKind.RECORD, HOSPITAL), "RECORD is not a category"),
        (lambda: Scope(ScopeKind.CLAIMS, b"\x01" * 32), "left-padded hospital address"),
        (lambda: Scope.category(ScopeKind.CLAIMS, "hospital x"), "not an Ethereum address"),
        (lambda: Scope(0, RECORD), "is not a valid ScopeKind"),  # type: ignore[arg-type]
    ],
)
def test_malformed_scopes_are_refused(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"expires_at": 2**64}, "expires_at must be an integer from 0"),
        ({"expires_at": True}, "expires_at must be an integer from 0"),
        ({"nonce": -1}, "nonce must be an integer from 0"),
        ({"nonce": 2**256}, "nonce must be an integer from 0"),
        ({"grantee": "insurer"}, "not an Ethereum address"),
        ({"purpose": 0}, "is not a valid Purpose"),
    ],
)
def test_malformed_grant_terms_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _grant(**change)


def test_a_revocation_names_a_32_byte_grant_id() -> None:
    with pytest.raises(ValueError, match="a grant id is 32 bytes"):
        Revocation(RECORD[:20], 1)
