"""Bulk writes over real HTTP: 202 with receipts once durable, one BatchAnchor transaction a batch,
proofs that check on chain, and batched records read, verified and shared as single ones are."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger.cli.app import EXIT_NOT_INTACT, EXIT_OK, main
from ledger.consent.agents import AgentKind
from ledger.consent.grants import ConsentDomain, Purpose, Scope, ScopeKind, sign_grant
from ledger.crypto.merkle import verify
from ledger.gateway.client import GatewayError
from ledger.records.batch_proof import RECORD_BATCH_KIND, BatchedVersion
from tests.api.test_guardians import appoint, online_consultation, years_ago
from tests.world import Patient, World, anchor, fhir

BULK = "/v1/records:bulk"


@pytest.fixture(scope="module", autouse=True)
def anchoring(world: World) -> Iterator[None]:
    """hospital-a's outbox anchored in the background, as `make run` serves it."""
    with world.gateways["hospital-a"].gateway.anchorer.running():
        yield


def observation(value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "valueQuantity": {"value": value, "unit": "mmHg"},
    }


def bulk(world: World, items: list[dict[str, Any]], label: str = "doctor") -> list[Any]:
    with world.as_staff("hospital-a", label) as client:
        return list(client.post_json(BULK, {"items": items})["receipts"])


def wait_receipt(world: World, receipt_id: str) -> Any:
    with world.as_staff("hospital-a", "doctor") as client:
        return client.get_json(f"/v1/receipts/{receipt_id}", params={"wait": "20"})


def refused(call: Any) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


def test_a_bulk_write_is_acknowledged_then_anchored_in_one_transaction(
    world: World, patient: Patient
) -> None:
    items = [{"patient": patient.pseudonym.address, "resource": observation(v)} for v in (1, 2, 3)]
    receipts = bulk(world, items)
    assert [r["version"] for r in receipts] == [1, 1, 1]
    anchored = [wait_receipt(world, r["receipt_id"]) for r in receipts]
    assert {a["status"] for a in anchored} == {"anchored"}
    assert len({a["anchoring"]["transaction"] for a in anchored}) == 1
    chain = world.gateways["hospital-a"].gateway.chain
    contract = chain.contract("BatchAnchor")
    for a in anchored:
        anchoring = a["anchoring"]
        root, org, kind, count, _at = contract.functions.batch(anchoring["batch"]).call()
        assert "0x" + bytes(root).hex() == anchoring["root"]
        assert org == world.org_address("hospital-a")
        assert bytes(kind) == RECORD_BATCH_KIND
        assert count >= 3
        proof = [bytes.fromhex(p[2:]) for p in anchoring["proof"]]
        leaf = bytes.fromhex(a["leaf"][2:])
        assert verify(proof, bytes(root), leaf)
        assert contract.functions.verifyItem(anchoring["batch"], leaf, proof).call()


def test_a_receipt_leaf_is_recomputed_from_its_fields(world: World, patient: Patient) -> None:
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": observation(7)}])
    r = wait_receipt(world, receipt["receipt_id"])
    item = BatchedVersion(
        bytes.fromhex(r["record_id"][2:]),
        r["version"],
        bytes.fromhex(r["commitment"][2:]),
        r["cid"],
        r["hospital"],
        r["patient"],
        r["author"],
    )
    assert "0x" + item.leaf().hex() == r["leaf"]
    altered = BatchedVersion(**{**vars(item), "version": 2})
    proof = [bytes.fromhex(p[2:]) for p in r["anchoring"]["proof"]]
    root = bytes.fromhex(r["anchoring"]["root"][2:])
    assert not verify(proof, root, altered.leaf())


@pytest.fixture
def batched_document(
    world: World, patient: Patient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, Any]]:
    """A batch-anchored record as its doctor reads it back, saved to a file; CLI settings point
    at the test consortium."""
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("MEDLEDGER_RPC_URL", world.consortium.rpc_url)
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": observation(120)}])
    wait_receipt(world, receipt["receipt_id"])
    with world.as_staff("hospital-a", "doctor") as doctor:
        document: dict[str, Any] = doctor.get_json(f"/v1/records/{receipt['record_id']}")
    path = tmp_path / "batched.json"
    path.write_text(json.dumps(document))
    return path, document


def test_medledger_verify_checks_a_batched_record_against_its_batch_root(
    batched_document: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, document = batched_document
    assert document["batch_inclusion"]["batch"] >= 1
    assert main(["verify", str(path), "--record", document["record_id"]]) == EXIT_OK
    assert capsys.readouterr().out.startswith("verdict: intact")


def _inclusion(document: dict[str, Any], **change: Any) -> dict[str, Any]:
    return {**document, "batch_inclusion": {**document["batch_inclusion"], **change}}


def _bent_proof(document: dict[str, Any]) -> list[str]:
    """Every proof element with its last hex digit changed (a one-item batch: a made-up one)."""
    proof = document["batch_inclusion"]["proof"]
    return [p[:-1] + ("1" if p[-1] == "0" else "0") for p in proof] or ["0x" + "55" * 32]


@pytest.mark.parametrize(
    ("tamper", "verdict"),
    [
        (lambda d: {**d, "resource": observation(121)}, "not_in_batch"),
        (lambda d: {**d, "salt": "0x" + "11" * 32}, "not_in_batch"),
        (lambda d: {**d, "patient": "0x" + "22" * 20}, "not_in_batch"),
        (lambda d: {**d, "version": 2}, "not_in_batch"),
        (lambda d: {**d, "hospital": "0x" + "33" * 20}, "hospital_mismatch"),
        (lambda d: _inclusion(d, author="0x" + "44" * 20), "not_in_batch"),
        (lambda d: _inclusion(d, proof=_bent_proof(d)), "not_in_batch"),
        (lambda d: _inclusion(d, batch=10**9), "not_anchored"),
    ],
)
def test_medledger_verify_names_each_tamper_of_a_batched_record(
    batched_document: tuple[Path, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    tamper: Any,
    verdict: str,
) -> None:
    path, document = batched_document
    path.write_text(json.dumps(tamper(document)))
    assert main(["verify", str(path), "--record", document["record_id"]]) == EXIT_NOT_INTACT
    assert capsys.readouterr().out.startswith(f"verdict: {verdict}:")


def test_a_batched_record_reads_back_as_a_single_one_does(world: World, patient: Patient) -> None:
    resource = fhir("condition-example-f201-fever.json")
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": resource}])
    wait_receipt(world, receipt["receipt_id"])
    record = receipt["record_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        doc = doctor.get_json(f"/v1/records/{record}")
        verification = doctor.get_json(f"/v1/records/{record}/verification")
    assert doc["resource"] == resource
    assert doc["cid"] == receipt["cid"]
    assert verification["intact"] is True
    assert verification["versions"][0]["commitment"] == receipt["commitment"]
    with world.client(patient.pseudonym) as as_patient:
        assert as_patient.get_json(f"/v1/records/{record}")["resource"] == resource


def test_a_bulk_version_is_wrapped_for_the_writer_under_its_own_key_encryption_key(
    world: World, patient: Patient
) -> None:
    """As a single write is: the patient by HPKE, the hospital under its per-patient KEK (one HPKE
    wrap a version, not two; and erasure, which destroys the KEK, reaches it)."""
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": observation(1)}])
    wait_receipt(world, receipt["receipt_id"])
    blob = world.gateways["hospital-a"].gateway.store.get(receipt["cid"])
    labels = set(json.loads(blob)["wrapped_keys"])
    assert labels == {patient.pseudonym.address, f"kek:{world.org_address('hospital-a')}"}


def doctor_get(world: World, path: str) -> Any:
    with world.as_staff("hospital-a", "doctor") as doctor:
        return doctor.get_json(path)


def test_a_bulk_amendment_is_the_next_version(world: World, patient: Patient) -> None:
    (first,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": observation(10)}])
    amend = {"record_id": first["record_id"], "expected_version": 1, "resource": observation(11)}
    (second,) = bulk(world, [amend])
    assert second["version"] == 2
    wait_receipt(world, second["receipt_id"])
    doc = doctor_get(world, f"/v1/records/{first['record_id']}")
    assert (doc["version"], doc["resource"]["valueQuantity"]["value"]) == (2, 11)
    assert doctor_get(world, f"/v1/records/{first['record_id']}?version=1")["version"] == 1


def test_a_stale_bulk_amendment_is_a_conflict(world: World, patient: Patient) -> None:
    (first,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": observation(12)}])
    amend = {"record_id": first["record_id"], "expected_version": 1, "resource": observation(13)}
    bulk(world, [amend])
    assert refused(lambda: bulk(world, [amend])) == (409, "record.version_conflict")


def test_a_record_anchored_alone_is_not_amended_in_bulk(world: World, patient: Patient) -> None:
    single = anchor(world, patient, observation(14))
    amend = {"record_id": single["record_id"], "expected_version": 1, "resource": observation(15)}
    assert refused(lambda: bulk(world, [amend])) == (409, "record.not_batch_anchored")


def test_one_invalid_item_refuses_the_whole_request(world: World, patient: Patient) -> None:
    outbox = world.gateways["hospital-a"].gateway.outbox
    before = outbox.accepted()
    items = [
        {"patient": patient.pseudonym.address, "resource": observation(16)},
        {"patient": patient.pseudonym.address, "resource": {"resourceType": "Observation"}},
    ]
    status, code = refused(lambda: bulk(world, items))
    assert (status, code) == (422, "payload.not_fhir")
    # Counted whole: a batch in flight moves from waiting to anchored meanwhile.
    assert outbox.accepted() == before


@pytest.mark.parametrize(
    ("item", "code"),
    [
        ({"resource": {"resourceType": "Basic"}}, "bulk.bad_item"),
        ({"record_id": "0x" + "11" * 32, "resource": {"resourceType": "Basic"}}, "bulk.bad_item"),
    ],
)
def test_an_item_naming_no_target_is_refused(world: World, item: dict[str, Any], code: str) -> None:
    assert refused(lambda: bulk(world, [item])) == (422, code)


def test_more_items_than_the_setting_allows_are_refused(
    world: World, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = world.gateways["hospital-a"].gateway
    monkeypatch.setattr(gateway.settings, "bulk_max_items", 2)
    items = [{"patient": patient.pseudonym.address, "resource": observation(v)} for v in range(3)]
    assert refused(lambda: bulk(world, items)) == (422, "bulk.too_many_items")


def test_only_the_hospitals_writers_write_in_bulk_or_read_receipts(
    world: World, patient: Patient
) -> None:
    items = [{"patient": patient.pseudonym.address, "resource": observation(17)}]
    (receipt,) = bulk(world, items)
    path = f"/v1/receipts/{receipt['receipt_id']}"
    with world.as_staff("hospital-a", "pharmacist") as pharmacist:
        assert refused(lambda: pharmacist.post_json(BULK, {"items": items}))[0] == 403
        assert refused(lambda: pharmacist.get_json(path))[0] == 403
    with world.as_staff("hospital-b", "doctor") as foreign:
        assert refused(lambda: foreign.get_json(path))[0] == 403
    assert refused(lambda: doctor_get(world, "/v1/receipts/" + "0" * 32)) == (404, "not_found")


def test_an_insurer_reads_a_batched_record_under_a_category_grant(
    world: World, patient: Patient
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir("patient-example.json")},
            {"resource": fhir("condition-example-f201-fever.json")},
        ],
    }
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": bundle}])
    wait_receipt(world, receipt["receipt_id"])
    record = receipt["record_id"]
    path = f"/v1/records/{record}?purpose=claim_verification"
    with world.as_staff("insurer", "auditor") as insurer:
        assert refused(lambda: insurer.get_json(path)) == (403, "record.forbidden")
    deployment = world.gateways["hospital-a"].gateway.chain.deployment
    signed = sign_grant(
        patient.pseudonym,
        ConsentDomain.of(deployment),
        grantee=world.org_address("insurer"),
        scope=Scope.category(ScopeKind.HOSPITAL_RECORDS, world.org_address("hospital-a")),
        purpose=Purpose.CLAIM_VERIFICATION,
        expires_at=int(time.time()) + 86_400,
    )
    with world.client(patient.pseudonym) as as_patient:
        as_patient.post_json("/v1/consents", signed.to_wire())
    with world.as_staff("insurer", "auditor") as insurer:
        view = insurer.get_json(path)
    assert view["view"] == "claim"
    assert "salt" not in view
    kinds = [e["resource"]["resourceType"] for e in view["resource"]["entry"]]
    assert kinds == ["Condition"]


def test_each_bulk_version_is_in_the_access_trail(world: World, patient: Patient) -> None:
    items = [{"patient": patient.pseudonym.address, "resource": observation(v)} for v in (20, 21)]
    receipts = bulk(world, items)
    log = world.gateways["hospital-a"].gateway.access_log
    for r in receipts:
        (entry,) = log.entries(record_id=r["record_id"])
        assert (entry.entry.view, entry.entry.outcome) == ("write", "allowed")
        assert entry.entry.patient == patient.pseudonym.address


def test_a_tampered_outbox_row_fails_its_proof(world: World, patient: Patient) -> None:
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": observation(30)}])
    wait_receipt(world, receipt["receipt_id"])
    gateway = world.gateways["hospital-a"].gateway
    db = gateway.settings.data_dir / "gateways" / f"{gateway.org.address}.outbox.sqlite"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE record_outbox SET commitment = ? WHERE receipt_id = ?",
            (b"\x01" * 32, receipt["receipt_id"]),
        )
    status, code = refused(lambda: doctor_get(world, f"/v1/records/{receipt['record_id']}"))
    assert (status, code) == (502, "record.batch_proof_invalid")


def online(born: Any = None) -> dict[str, Any]:
    """An online consultation (a virtual encounter), stating the birth date if ``born``."""
    bundle: dict[str, Any] = json.loads(online_consultation(born or years_ago(30)))
    if born is None:
        bundle["entry"] = bundle["entry"][1:]
    return bundle


def test_a_bulk_online_consultation_for_a_child_under_six_needs_a_guardian(
    world: World, patient: Patient
) -> None:
    outbox = world.gateways["hospital-a"].gateway.outbox
    before = outbox.accepted()
    items = [
        {"patient": patient.pseudonym.address, "resource": observation(40)},
        {"patient": patient.pseudonym.address, "resource": online(years_ago(4))},
    ]
    with pytest.raises(GatewayError) as err:
        bulk(world, items)
    assert (err.value.status, err.value.problem_code) == (403, "consent.guardian_required")
    assert err.value.detail.startswith("item 1: ")  # which item, as the batch is refused whole
    assert outbox.accepted() == before  # all or none: the good item is not written either
    appoint(world, patient, Account.create(), AgentKind.GUARDIAN)
    assert [r["version"] for r in bulk(world, items)] == [1, 1]


def test_a_bulk_amendment_takes_the_birth_date_from_the_first_version(
    world: World, patient: Patient
) -> None:
    first_version = {"resourceType": "Patient", "birthDate": years_ago(3).isoformat()}
    (first,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": first_version}])
    wait_receipt(world, first["receipt_id"])  # anchored: its content readable at the gateway
    amend = {"record_id": first["record_id"], "expected_version": 1, "resource": online()}
    assert refused(lambda: bulk(world, [amend])) == (403, "consent.guardian_required")


def test_a_bulk_amendment_of_a_version_still_in_the_outbox_is_checked_too(
    world: World, patient: Patient
) -> None:
    gateway = world.gateways["hospital-a"].gateway
    # The anchorer's round lock held: nothing is anchored meanwhile, so version 1 has no chain
    # facts to take the patient from, and the outbox alone names them.
    with gateway.anchorer._run_lock:
        (first,) = bulk(
            world, [{"patient": patient.pseudonym.address, "resource": observation(41)}]
        )
        amend = {
            "record_id": first["record_id"],
            "expected_version": 1,
            "resource": online(years_ago(2)),
        }
        assert refused(lambda: bulk(world, [amend])) == (403, "consent.guardian_required")
        rid = bytes.fromhex(first["record_id"][2:])
        assert gateway.outbox.latest_version(rid, anchored_only=True) == 0


def test_the_bulk_guardian_refusal_is_in_the_access_trail(world: World, patient: Patient) -> None:
    log = world.gateways["hospital-a"].gateway.access_log
    seq = max((e.seq for e in log.entries(limit=100_000)), default=0)
    items = [{"patient": patient.pseudonym.address, "resource": online(years_ago(1))}]
    refused(lambda: bulk(world, items))
    outcomes = [
        e.entry.outcome
        for e in log.entries(after_seq=seq)
        if e.entry.action.startswith("POST /v1/records:bulk")
    ]
    assert outcomes == ["denied:consent.guardian_required"]


def test_break_glass_reaches_a_bulk_written_record(world: World, patient: Patient) -> None:
    """BreakGlassRegistry takes a record's holder from its id's namespace, so a batch-anchored
    record is declared on like one in RecordRegistry, and its holder releases it whole. (The
    session's hospital-b doctor: its third declaration of the day, the limit; see
    tests/api/test_break_glass.py.)"""
    resource = observation(42)
    (receipt,) = bulk(world, [{"patient": patient.pseudonym.address, "resource": resource}])
    wait_receipt(world, receipt["receipt_id"])
    body = {"record_id": receipt["record_id"], "reason": "unconscious_patient"}
    with world.as_staff("hospital-b", "doctor", "hospital-b") as doctor:
        declared = doctor.post_json("/v1/break-glass", body)
    assert declared["holder"] == world.org_address("hospital-a")
    with world.as_staff("hospital-b", "doctor") as doctor:
        read = doctor.get_json(
            f"/v1/records/{receipt['record_id']}", params={"break_glass": declared["access_id"]}
        )
    assert read["resource"] == resource
