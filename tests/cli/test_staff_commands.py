"""`medledger practice ...` and `medledger rx ...` in-process against the world's real gateways: a
filing made and approved, a prescription issued, reviewed and dispensed once, each refusal exiting 2
with the gateway's code, all signed with key files as staff would hold them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.crypto.keys import new_key_file
from tests.api.test_practice import now, register, register_staff
from tests.api.test_prescriptions import MEDICATION_REQUEST, diagnosis_record, dispense_body
from tests.world import Patient, World


class Staff:
    """Runs `medledger` as one key file at one gateway and returns (exit code, JSON or stderr)."""

    def __init__(self, world: World, key_file: str, gateway: str, capsys: Any) -> None:
        self.args = [
            "--key",
            key_file,
            "--gateway",
            world.gateways[gateway].url,
            "--passphrase-env",
            "STAFF_PASS",
        ]
        self.capsys = capsys

    def __call__(self, *command: str) -> tuple[int, Any]:
        code = main([*command, *self.args])
        out, err = self.capsys.readouterr()
        return code, json.loads(out) if code == EXIT_OK else err


@pytest.fixture(autouse=True)
def _demo_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_PASS", "")  # the demo's key files have an empty passphrase


def as_staff(world: World, org: str, label: str, capsys: Any, gateway: str | None = None) -> Staff:
    key_file = world.consortium.orgs[org].staff[label].key_file
    return Staff(world, key_file, gateway or org, capsys)


def test_filing_to_one_dispense_through_the_cli(
    world: World,
    patient: Patient,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    key_file = tmp_path / "visiting-doctor.json"
    new_key_file(key_file, "", iterations=2**10)
    doctor = register_staff(world, "hospital-b", staff=world.consortium.account(str(key_file)))
    register(world, doctor.address)
    clerk = as_staff(world, "hospital-a", "clerk", capsys)
    regulator = as_staff(world, "regulator", "auditor", capsys)

    # From the chain's time, which other tests of the session may have moved ahead of the clock.
    start = str(now(world) - 60)
    code, filed = clerk(
        "practice", "file", "--doctor", doctor.address, "--start", start, "--days", "30"
    )
    assert (code, filed["status"]) == (EXIT_OK, "pending")
    code, approved = regulator("practice", "approve", filed["filing_id"])
    assert (code, approved["status"]) == (EXIT_OK, "approved")

    record = diagnosis_record(world, patient)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(MEDICATION_REQUEST))
    prescriber = Staff(world, str(key_file), "hospital-a", capsys)
    code, issued = prescriber(
        "rx",
        "issue",
        "--patient",
        patient.pseudonym.address,
        "--file",
        str(request),
        "--follow-up-record",
        record,
    )
    assert code == EXIT_OK, issued
    pid = issued["prescription_id"]
    pharmacist = as_staff(world, "hospital-a", "pharmacist", capsys)
    code, reviewed = pharmacist("rx", "review", pid, "--decision", "approve")
    assert (code, reviewed["status"]) == (EXIT_OK, "approved")

    dispense = tmp_path / "dispense.json"
    dispense.write_bytes(dispense_body(pid))
    pharmacy_a = as_staff(world, "pharmacy", "pharmacist", capsys)
    pharmacy_b = as_staff(world, "pharmacy-b", "pharmacist", capsys)
    code, dispensed = pharmacy_a("rx", "dispense", pid, "--file", str(dispense))
    assert (code, dispensed["pharmacy"]) == (EXIT_OK, world.org_address("pharmacy"))
    code, err = pharmacy_b("rx", "dispense", pid, "--file", str(dispense))
    assert code == EXIT_ERROR
    assert "409 prescription.already_dispensed" in err

    code, shown = as_staff(world, "hospital-a", "doctor", capsys)("rx", "show", pid)
    assert (code, shown["status"]) == (EXIT_OK, "dispensed")
    pharmacy = world.org_address("pharmacy")
    code, listed = regulator("rx", "dispenses", "--pharmacy", pharmacy)
    assert code == EXIT_OK
    assert pid in [d["prescription_id"] for d in listed]
    code, practice = regulator("practice", "doctor", doctor.address)
    assert code == EXIT_OK
    assert [p["prescription_id"] for p in practice["prescriptions"]] == [pid]


def test_a_refusal_exits_2_with_the_gateways_code(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    doctor = as_staff(world, "hospital-a", "doctor", capsys)
    code, err = doctor("practice", "approve", "0x" + "ab" * 32)
    assert code == EXIT_ERROR
    assert "403 auth.not_regulator" in err


def test_a_missing_fhir_file_exits_2_before_anything_is_sent(
    world: World, patient: Patient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doctor = as_staff(world, "hospital-a", "doctor", capsys)
    code, err = doctor(
        "rx", "issue", "--patient", patient.pseudonym.address, "--file", str(tmp_path / "none")
    )
    assert code == EXIT_ERROR
    assert "cannot read" in err


def test_a_malformed_id_is_a_usage_error(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    doctor = as_staff(world, "hospital-a", "doctor", capsys)
    with pytest.raises(SystemExit) as exit_:
        doctor("rx", "show", "0x1234")
    assert exit_.value.code == 2
    assert "64 hex digits" in capsys.readouterr().err


def test_a_time_without_an_offset_is_refused(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clerk = as_staff(world, "hospital-a", "clerk", capsys)
    doctor = world.staff("hospital-b", "locum").address
    code, err = clerk("practice", "file", "--doctor", doctor, "--start", "2026-12-01T00:00:00")
    assert code == EXIT_ERROR
    assert "no UTC offset" in err
