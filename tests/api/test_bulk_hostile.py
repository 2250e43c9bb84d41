"""Issue 13, items 1-2, end to end: a hostile member organisation, with direct contract calls signed
by its own key, tries to take over a bulk-written record at its hospital's gateway, or to have
`medledger verify` accept batch-anchored versions it forged."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.cli.app import EXIT_NOT_INTACT, main
from ledger.consent.grants import ConsentDomain, Purpose, Scope, sign_grant
from ledger.crypto.commitment import commit, new_salt
from ledger.crypto.merkle import MerkleTree
from ledger.gateway.client import GatewayError
from ledger.payload import canonicalize
from ledger.records.batch_proof import RECORD_BATCH_KIND, BatchedVersion
from ledger.records.document import BatchInclusion, RecordDocument, Verdict
from ledger.records.verify import verify_against_ledger
from ledger.store import cid_of
from tests.api.hostile import OBSERVATION, anchoring, resynchronised  # noqa: F401
from tests.contracts.hostile_records_rpc import artifact_contract, attempt, send_raw
from tests.world import Patient, World

BULK = "/v1/records:bulk"
pytestmark = pytest.mark.usefixtures("anchoring", "resynchronised")


def org_key(world: World, name: str) -> LocalAccount:
    return world.consortium.account(world.consortium.orgs[name].key_file)


def chain(world: World) -> Chain:
    return world.gateways["hospital-a"].gateway.chain


def contract(world: World, name: str) -> Any:
    return artifact_contract(world.w3, name, chain(world).deployment.address(name))


def bulk_record(world: World, patient: Patient) -> str:
    """A record hospital-a's doctor writes in bulk, once its batch is anchored: its id."""
    item = {"patient": patient.pseudonym.address, "resource": OBSERVATION}
    with world.as_staff("hospital-a", "doctor") as doctor:
        (receipt,) = doctor.post_json(BULK, {"items": [item]})["receipts"]
        doctor.get_json(f"/v1/receipts/{receipt['receipt_id']}", params={"wait": "20"})
    return str(receipt["record_id"])


def refused(call: Any) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


# Item 1: another hospital takes over a bulk-written record


def test_another_hospital_cannot_anchor_a_bulk_written_records_id(
    world: World, patient: Patient
) -> None:
    record = bytes.fromhex(bulk_record(world, patient)[2:])
    attacker, made_up = org_key(world, "hospital-b"), Web3().eth.account.create()
    refusal = attempt(
        world.w3,
        attacker,
        contract(world, "RecordRegistry"),
        "anchorRecord",
        record,
        Web3.keccak(b"forged"),
        b"bafkreiforged",
        made_up.address,
        world.staff("hospital-b", "doctor").address,
    )
    assert refusal == (
        "RecordIdOfAnotherHospital",
        {"recordId": record, "hospital": attacker.address},
    )


@pytest.mark.parametrize("route", ["", "/key?encryption_key=0x" + "09" * 32])
def test_another_hospital_is_still_refused_a_bulk_written_record_after_the_attack(
    world: World, patient: Patient, route: str
) -> None:
    record = bulk_record(world, patient)
    attempt(
        world.w3,
        org_key(world, "hospital-b"),
        contract(world, "RecordRegistry"),
        "anchorRecord",
        bytes.fromhex(record[2:]),
        Web3.keccak(b"forged"),
        b"bafkreiforged",
        Web3().eth.account.create().address,
        world.staff("hospital-b", "doctor").address,
    )
    path = f"/v1/records/{record}{route}"
    separator = "&" if "?" in path else "?"
    with world.as_staff("hospital-b", "doctor") as doctor:
        refusal = refused(lambda: doctor.get_json(f"{path}{separator}purpose=treatment"))
    assert refusal == (403, "record.forbidden")


# Item 2: batch-anchored versions a member forged


def forged(
    world: World,
    sender: LocalAccount,
    *,
    record_id: bytes,
    author: str,
    version: int = 1,
) -> RecordDocument:
    """A document for a version ``sender`` anchors in a batch of its own, naming itself as the
    hospital: resource, salt, commitment and leaf all consistent."""
    salt, patient = new_salt(), Web3().eth.account.create().address
    cid = cid_of(secrets.token_bytes(64))
    item = BatchedVersion(
        record_id,
        version,
        commit(salt, canonicalize(OBSERVATION)),
        cid,
        sender.address,
        patient,
        author,
    )
    other = BatchedVersion(**{**vars(item), "record_id": record_id[:20] + secrets.token_bytes(12)})
    tree = MerkleTree([item.leaf(), other.leaf()])
    batches = contract(world, "BatchAnchor")
    receipt = send_raw(
        world.w3, sender, batches, "anchorBatch", RECORD_BATCH_KIND, tree.root, 2, b"\x01" * 36
    )
    assert int(receipt["status"], 16) == 1
    batch_id = int(receipt["logs"][0]["topics"][1], 16)
    return RecordDocument(
        record_id="0x" + record_id.hex(),
        version=version,
        hospital=sender.address,
        patient=patient,
        cid=cid,
        salt="0x" + salt.hex(),
        resource=OBSERVATION,
        batch_inclusion=BatchInclusion(
            batch=batch_id, author=author, proof=["0x" + p.hex() for p in tree.proof(0)]
        ),
    )


def own_id(org: LocalAccount) -> bytes:
    return bytes.fromhex(org.address[2:]) + secrets.token_bytes(12)


def test_a_hospital_verifies_its_own_batch_of_its_own_ids(world: World) -> None:
    """The control: a leaf the chain contradicts nowhere is intact."""
    hospital = org_key(world, "hospital-b")
    doc = forged(world, hospital, record_id=own_id(hospital), author=_doctor(world, "hospital-b"))
    assert verify_against_ledger(doc, chain(world), None) is Verdict.INTACT


def test_a_batch_version_of_another_hospitals_record_is_a_hospital_mismatch(
    world: World, patient: Patient
) -> None:
    victim = bytes.fromhex(bulk_record(world, patient)[2:])
    doc = forged(
        world, org_key(world, "hospital-b"), record_id=victim, author=_doctor(world, "hospital-b")
    )
    assert verify_against_ledger(doc, chain(world), None) is Verdict.HOSPITAL_MISMATCH


def test_a_batch_version_authored_by_another_hospitals_doctor_is_refused(world: World) -> None:
    hospital = org_key(world, "hospital-b")
    doc = forged(world, hospital, record_id=own_id(hospital), author=_doctor(world, "hospital-a"))
    assert verify_against_ledger(doc, chain(world), None) is Verdict.AUTHOR_NOT_PERMITTED


def test_a_batch_version_authored_by_a_non_writer_of_the_hospital_is_refused(
    world: World,
) -> None:
    hospital = org_key(world, "hospital-b")
    outsider = Web3().eth.account.create().address
    doc = forged(world, hospital, record_id=own_id(hospital), author=outsider)
    assert verify_against_ledger(doc, chain(world), None) is Verdict.AUTHOR_NOT_PERMITTED


def test_a_batch_version_of_a_record_anchored_one_by_one_first_is_a_conflict(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hospital = org_key(world, "hospital-b")
    record, author = own_id(hospital), _doctor(world, "hospital-b")
    registry = contract(world, "RecordRegistry")
    cid = bytes.fromhex("01551220") + secrets.token_bytes(32)
    first = send_raw(
        world.w3,
        hospital,
        registry,
        "anchorRecord",
        record,
        Web3.keccak(b"v1"),
        cid,
        author,
        author,
    )
    assert int(first["status"], 16) == 1
    doc = forged(world, hospital, record_id=record, author=author)
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("MEDLEDGER_RPC_URL", world.consortium.rpc_url)
    path = tmp_path / "second-version-1.json"
    path.write_text(json.dumps(doc.model_dump()))
    assert main(["verify", str(path), "--record", doc.record_id]) == EXIT_NOT_INTACT
    assert capsys.readouterr().out.startswith("verdict: version_conflict:")


def test_the_gateway_reports_a_later_one_by_one_anchoring_of_a_bulk_record_as_a_conflict(
    world: World, patient: Patient
) -> None:
    record = bulk_record(world, patient)
    hospital, author = org_key(world, "hospital-a"), _doctor(world, "hospital-a")
    cid = bytes.fromhex("01551220") + secrets.token_bytes(32)
    registry = contract(world, "RecordRegistry")
    rid = bytes.fromhex(record[2:])
    rival = send_raw(
        world.w3, hospital, registry, "anchorRecord", rid, Web3.keccak(b"v1'"), cid, author, author
    )
    assert int(rival["status"], 16) == 1
    with world.as_staff("insurer", "auditor") as insurer:
        report = insurer.get_json(f"/v1/records/{record}/verification")
    assert report["conflict"] is True
    assert report["intact"] is False
    # The batch came first, so it stands: the gateway still answers with its versions.
    assert [(v["version"], v["contradicted"]) for v in report["versions"]] == [(1, None)]


def _doctor(world: World, org: str) -> str:
    return world.staff(org, "doctor").address


def test_a_grant_from_a_rival_anchorings_pseudonym_does_not_open_a_bulk_record(
    world: World, patient: Patient
) -> None:
    """Should the hospital's own key anchor a bulk record's id one by one for another pseudonym
    (a leaked key, a conflict), that pseudonym's grant still opens nothing: the gateway takes the
    patient from the first anchoring, its own proven leaf."""
    record = bulk_record(world, patient)
    rid, made_up = bytes.fromhex(record[2:]), Web3().eth.account.create()
    author, cid = _doctor(world, "hospital-a"), bytes.fromhex("01551220") + secrets.token_bytes(32)
    rival = send_raw(
        world.w3,
        org_key(world, "hospital-a"),
        contract(world, "RecordRegistry"),
        "anchorRecord",
        *(rid, Web3.keccak(b"rival"), cid, made_up.address, author),
    )
    assert int(rival["status"], 16) == 1
    signed = sign_grant(
        made_up,
        ConsentDomain.of(chain(world).deployment),
        grantee=world.org_address("hospital-b"),
        scope=Scope.record(rid),
        purpose=Purpose.TREATMENT,
        expires_at=2**40,
    )
    hostile = org_key(world, "hospital-b")
    relayed = send_raw(
        world.w3, hostile, contract(world, "ConsentRegistry"), "grantConsent", *signed.as_args()
    )
    assert int(relayed["status"], 16) == 1
    with world.as_staff("hospital-b", "doctor") as doctor:
        refusal = refused(lambda: doctor.get_json(f"/v1/records/{record}?purpose=treatment"))
    assert refusal == (403, "record.forbidden")
