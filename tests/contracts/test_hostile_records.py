"""Issue 13, items 1-2: a hostile member organisation, calling RecordRegistry, ConsentRegistry and
BatchAnchor directly with its own key, tries to take over or forge another hospital's records.

Every attack is sent as a raw transaction the attacker signs itself (see hostile_records_rpc)."""

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
    OTHER_ADMIN,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    PHARMACY,
    PHARMACY_ADMIN,
    account,
    admit,
    chain_client,
    record_id,
    register,
)
from eth_abi import encode
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hostile_records_rpc import artifact_contract, attempt, call_raw, send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from ledger.crypto.merkle import MerkleTree, leaf_hash
from ledger.types import OrgKind

RECORD_VERSIONS = Web3.keccak(text="medledger.record-versions.v1")
ACCESS_LOG = Web3.keccak(text="medledger.access-log.v1")
#: The patient's real pseudonym at the hospital, and one the attacker made up.
PATIENT = account("hostile-records/patient")
MADE_UP = account("hostile-records/made-up-pseudonym")
#: A record hospital A wrote in bulk: it exists only as a leaf under A's BatchAnchor root.
BATCHED = record_id(HOSPITAL.address, "a record hospital A wrote in bulk")
CID = b"\x01\x55\x12\x20" + b"\x07" * 32
#: What a batch names as its manifest: the contract names it, never reads it.
MANIFEST = b"\x01\x55\x12\x20" + b"\x08" * 32
TREATMENT, RECORD_SCOPE = 1, 1
FAR = 2**40


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract) -> None:
    """Hospitals A and B with a doctor each, A with a clerk too, a pharmacy and an insurer."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    admit(act, membership, PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN)
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_DOCTOR, DOCTOR_ROLE)


@pytest.fixture(scope="module")
def records(w3: Web3, deployment: Deployment) -> Contract:
    return artifact_contract(w3, "RecordRegistry", deployment.address("RecordRegistry"))


@pytest.fixture(scope="module")
def consent(w3: Web3, deployment: Deployment) -> Contract:
    return artifact_contract(w3, "ConsentRegistry", deployment.address("ConsentRegistry"))


@pytest.fixture(scope="module")
def batches(w3: Web3, deployment: Deployment) -> Contract:
    return artifact_contract(w3, "BatchAnchor", deployment.address("BatchAnchor"))


def batched_leaf(record: bytes, version: int, hospital: str, patient: str, author: str) -> bytes:
    """A record-version leaf as ledger.records.batch_proof lays it out, computed independently."""
    digest = Web3.keccak(
        encode(
            ["bytes32", "uint256", "bytes32", "bytes32", "address", "address", "address"],
            [record, version, Web3.keccak(b"payload"), Web3.keccak(CID), hospital, patient, author],
        )
    )
    return leaf_hash(digest)


@pytest.fixture
def batch_of_a(w3: Web3, batches: Contract) -> bytes:
    """Hospital A anchors BATCHED (and another record) in one batch; the root of that batch."""
    leaves = [
        batched_leaf(BATCHED, 1, HOSPITAL.address, PATIENT.address, DOCTOR.address),
        batched_leaf(
            record_id(HOSPITAL.address, "another"),
            1,
            HOSPITAL.address,
            PATIENT.address,
            CLERK.address,
        ),
    ]
    root = MerkleTree(leaves).root
    receipt = send_raw(w3, HOSPITAL, batches, "anchorBatch", RECORD_VERSIONS, root, 2, MANIFEST)
    assert int(receipt["status"], 16) == 1
    return root


def made_up_grant(w3: Web3, consent: Contract, grantee: str, scope: bytes) -> tuple:
    """A record-scoped grant to ``grantee``, signed by the pseudonym the attacker made up."""
    message = {
        "patient": MADE_UP.address,
        "grantee": grantee,
        "scopeKind": RECORD_SCOPE,
        "scope": scope,
        "purpose": TREATMENT,
        "expiresAt": FAR,
        "nonce": 1,
    }
    domain = {
        "name": "MedLedger Consent",
        "version": "1",
        "chainId": w3.eth.chain_id,
        "verifyingContract": consent.address,
    }
    types = {
        "Grant": [
            {"name": "patient", "type": "address"},
            {"name": "grantee", "type": "address"},
            {"name": "scopeKind", "type": "uint8"},
            {"name": "scope", "type": "bytes32"},
            {"name": "purpose", "type": "uint8"},
            {"name": "expiresAt", "type": "uint64"},
            {"name": "nonce", "type": "uint256"},
        ]
    }
    signature = MADE_UP.sign_message(encode_typed_data(domain, types, message)).signature
    terms = tuple(message.values())
    return terms, (domain["chainId"], consent.address), bytes(signature)


# Item 1: one answer to "whose record is this", for both write paths


def test_a_hospital_cannot_anchor_the_id_of_another_hospitals_batched_record(
    w3: Web3, records: Contract, batch_of_a: bytes
) -> None:
    refusal = attempt(
        w3,
        OTHER_HOSPITAL,
        records,
        "anchorRecord",
        BATCHED,
        Web3.keccak(b"forged"),
        CID,
        MADE_UP.address,
        OTHER_DOCTOR.address,
    )
    assert refusal == (
        "RecordIdOfAnotherHospital",
        {"recordId": BATCHED, "hospital": OTHER_HOSPITAL.address},
    )
    assert call_raw(w3, OTHER_HOSPITAL, records, "latestVersion", BATCHED) == (0,)


def test_a_hospital_cannot_grant_itself_another_hospitals_batched_record(
    w3: Web3, records: Contract, consent: Contract, batch_of_a: bytes
) -> None:
    attempt(
        w3,
        OTHER_HOSPITAL,
        records,
        "anchorRecord",
        BATCHED,
        Web3.keccak(b"forged"),
        CID,
        MADE_UP.address,
        OTHER_DOCTOR.address,
    )
    grant = made_up_grant(w3, consent, OTHER_HOSPITAL.address, BATCHED)
    refusal = attempt(w3, OTHER_HOSPITAL, consent, "grantConsent", *grant)
    assert refusal == ("ConsentUnknownRecord", {"recordId": BATCHED})
    authorised = call_raw(
        w3, OTHER_HOSPITAL, consent, "isAuthorised", OTHER_HOSPITAL.address, BATCHED, 1, 0
    )
    assert authorised == (False, bytes(32))


def test_a_hospital_cannot_anchor_an_id_outside_any_hospitals_namespace(
    w3: Web3, records: Contract
) -> None:
    squatted = Web3.keccak(text="an id in no hospital's namespace")
    refusal = attempt(
        w3,
        OTHER_HOSPITAL,
        records,
        "anchorRecord",
        squatted,
        Web3.keccak(b"v1"),
        CID,
        MADE_UP.address,
        OTHER_DOCTOR.address,
    )
    assert refusal == (
        "RecordIdOfAnotherHospital",
        {"recordId": squatted, "hospital": OTHER_HOSPITAL.address},
    )


def test_a_hospital_anchors_an_id_in_its_own_namespace(w3: Web3, records: Contract) -> None:
    own = record_id(OTHER_HOSPITAL.address, "hospital B's own record")
    receipt = send_raw(
        w3,
        OTHER_HOSPITAL,
        records,
        "anchorRecord",
        own,
        Web3.keccak(b"v1"),
        CID,
        MADE_UP.address,
        OTHER_DOCTOR.address,
    )
    assert int(receipt["status"], 16) == 1
    (log,) = receipt["logs"]
    event = records.events.RecordAnchored().process_log(_log(log))
    assert event["args"]["recordId"] == own
    assert event["args"]["hospital"] == OTHER_HOSPITAL.address


# Item 2: only hospitals anchor batches of record versions


@pytest.mark.parametrize("org", [PHARMACY, INSURER], ids=["pharmacy", "insurer"])
def test_a_non_hospital_cannot_anchor_a_batch_of_record_versions(
    w3: Web3, batches: Contract, org: LocalAccount
) -> None:
    leaf = batched_leaf(BATCHED, 3, HOSPITAL.address, PATIENT.address, DOCTOR.address)
    refusal = attempt(w3, org, batches, "anchorBatch", RECORD_VERSIONS, leaf, 1, MANIFEST)
    assert refusal == ("BatchCallerNotHospital", {"caller": org.address})
    assert call_raw(w3, org, batches, "batchCount") == (0,)


def test_a_pharmacy_still_anchors_batches_of_its_access_log(w3: Web3, batches: Contract) -> None:
    receipt = send_raw(w3, PHARMACY, batches, "anchorBatch", ACCESS_LOG, b"\x11" * 32, 4, MANIFEST)
    assert int(receipt["status"], 16) == 1
    assert call_raw(w3, PHARMACY, batches, "batchCount") == (1,)


def test_batch_anchor_names_the_kind_it_reserves_for_hospitals(w3: Web3, batches: Contract) -> None:
    assert call_raw(w3, PHARMACY, batches, "RECORD_VERSIONS_KIND") == (RECORD_VERSIONS,)


def _log(raw: dict) -> dict:
    """A raw JSON-RPC log in the shape web3's event decoder takes."""
    return {
        "address": Web3.to_checksum_address(raw["address"]),
        "topics": [bytes.fromhex(t[2:]) for t in raw["topics"]],
        "data": bytes.fromhex(raw["data"][2:]),
        "blockNumber": int(raw["blockNumber"], 16),
        "transactionHash": bytes.fromhex(raw["transactionHash"][2:]),
        "transactionIndex": int(raw["transactionIndex"], 16),
        "blockHash": bytes.fromhex(raw["blockHash"][2:]),
        "logIndex": int(raw["logIndex"], 16),
        "removed": False,
    }
