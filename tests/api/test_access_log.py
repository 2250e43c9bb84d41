"""Traceable access: every decision is logged, sealed into anchored Merkle batches, and provable."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from api.gateway import Gateway
from ledger.audit.access_log import AccessEntry
from ledger.cli.app import EXIT_NOT_INTACT, EXIT_OK, main
from ledger.gateway.client import GatewayError
from tests.world import Patient, World, anchor, enrol_patient, fhir


def hospital(world: World) -> Gateway:
    return world.gateways["hospital-a"].gateway


def seal(world: World) -> None:
    while hospital(world).seal_access_log() is not None:
        pass


def entries_for(world: World, record_id: str) -> list[dict[str, Any]]:
    with world.as_staff("regulator", "auditor") as regulator:
        page: dict[str, Any] = regulator.get_json("/v1/access-log", params={"record_id": record_id})
    return list(page["items"])


def test_a_read_is_logged_with_who_what_and_the_outcome(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    doctor = world.staff("hospital-a", "doctor")
    with world.client(doctor) as client:
        client.get_json(f"/v1/records/{rid}")
    (read,) = [e for e in entries_for(world, rid) if e["action"] == "GET /v1/records/{record_id}"]
    assert read["actor"] == doctor.address
    assert read["org"] == world.org_address("hospital-a")
    assert (read["version"], read["view"], read["outcome"]) == (1, "full", "allowed")
    assert read["patient"] == patient.pseudonym.address


def test_a_verification_is_logged_as_a_metadata_view(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    insurer = world.staff("insurer", "auditor")
    with world.client(insurer) as client:
        client.get_json(f"/v1/records/{rid}/verification")
    (check,) = [e for e in entries_for(world, rid) if e["actor"] == insurer.address]
    assert (check["view"], check["org"], check["patient"], check["outcome"]) == (
        "metadata",
        world.org_address("insurer"),
        patient.pseudonym.address,
        "allowed",
    )


def test_a_refusal_is_logged_with_its_code_and_the_patient(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    other = world.staff("hospital-b", "doctor")
    with world.client(other) as client, pytest.raises(GatewayError):
        client.get_json(f"/v1/records/{rid}")
    denied = [e for e in entries_for(world, rid) if e["actor"] == other.address]
    assert [e["outcome"] for e in denied] == ["denied:record.forbidden"]
    assert denied[0]["patient"] == patient.pseudonym.address


def test_the_patient_sees_who_accessed_their_data_and_nothing_else(world: World) -> None:
    mine, theirs = enrol_patient(world), enrol_patient(world)
    my_record = anchor(world, mine, fhir("observation-example.json"))["record_id"]
    anchor(world, theirs, fhir("observation-example.json"))
    with world.as_staff("hospital-b", "doctor") as other, pytest.raises(GatewayError):
        other.get_json(f"/v1/records/{my_record}")
    with world.client(mine.pseudonym) as as_patient:
        # Asking for someone else's trail still returns only one's own.
        page = as_patient.get_json("/v1/access-log", params={"patient": theirs.pseudonym.address})
    assert page["items"]
    assert {e["patient"] for e in page["items"]} == {mine.pseudonym.address}
    outcomes = {(e["action"], e["outcome"]) for e in page["items"]}
    assert ("POST /v1/records", "allowed") in outcomes
    assert ("GET /v1/records/{record_id}", "denied:record.forbidden") in outcomes


def test_an_insurer_may_not_read_the_access_log(world: World) -> None:
    with world.as_staff("insurer", "auditor") as insurer, pytest.raises(GatewayError) as err:
        insurer.get_json("/v1/access-log")
    assert (err.value.status, err.value.problem_code) == (403, "audit.forbidden")


def test_sealed_entries_verify_against_the_anchored_roots(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    seal(world)
    assert hospital(world).access_log.unsealed() <= 1  # at most the seal's own trail read
    with world.as_staff("regulator", "auditor") as regulator:
        result = regulator.get_json("/v1/access-log/verification", params={"record_id": rid})
    assert result["checked"] >= 1
    assert result["mismatches"] == []


def test_audit_verify_names_an_altered_entry(
    world: World,
    patient: Patient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("MEDLEDGER_RPC_URL", world.consortium.rpc_url)
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        doctor.get_json(f"/v1/records/{rid}")
    seal(world)
    with world.as_staff("regulator", "auditor") as regulator:
        trail = regulator.get_json("/v1/access-log", params={"record_id": rid})
    exported = tmp_path / "trail.json"
    exported.write_text(json.dumps(trail))
    assert main(["audit", "verify", str(exported)]) == EXIT_OK
    assert "mismatched=0" in capsys.readouterr().out

    altered = trail["items"][-1]
    altered["actor"] = world.staff("hospital-a", "clerk").address  # someone else did it, it says
    exported.write_text(json.dumps(trail))
    assert main(["audit", "verify", str(exported)]) == EXIT_NOT_INTACT
    out = capsys.readouterr().out
    assert f"entry {altered['seq']}: the entry is not in its anchored batch" in out
    assert "mismatched=1" in out


def test_the_trail_exports_as_fhir_audit_events(world: World, patient: Patient) -> None:
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    with world.as_staff("regulator", "auditor") as regulator:
        bundle = regulator.get_json("/v1/access-log", params={"record_id": rid, "format": "fhir"})
    (event,) = [e["resource"] for e in bundle["entry"]]
    assert event["resourceType"] == "AuditEvent"
    assert event["action"] == "C"
    assert event["outcome"] == "0"
    assert event["entity"][0]["what"]["identifier"]["value"] == rid


def test_a_batch_left_unanchored_by_a_crash_is_anchored_first_and_once(world: World) -> None:
    log = hospital(world).access_log
    seal(world)
    log.record(
        AccessEntry(
            1, "0x" + "01" * 20, None, "test", None, None, None, None, None, None, "allowed"
        )
    )

    def crash(root: bytes, count: int) -> tuple[int, str]:
        raise ConnectionError("the chain went away after the batch was committed locally")

    with pytest.raises(ConnectionError):
        log.seal(crash)
    assert log.unsealed() == 0  # the entry is in a local batch, waiting to be anchored
    resumed = hospital(world).seal_access_log()
    assert resumed is not None
    assert resumed.count == 1
    assert resumed.chain_batch_id is not None
    assert hospital(world).seal_access_log() is None


@pytest.mark.parametrize("path", ["/v1/access-log", "/v1/access-log/verification"])
def test_a_time_beyond_what_the_log_stores_is_a_422_not_a_500(world: World, path: str) -> None:
    with world.as_staff("regulator", "auditor") as regulator, pytest.raises(GatewayError) as err:
        regulator.get_json(path, params={"since": 2**64})
    assert (err.value.status, err.value.problem_code) == (422, "request.invalid")
