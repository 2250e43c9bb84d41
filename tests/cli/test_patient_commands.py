"""`medledger patient appoint|revoke-appointment|appointments` against the real gateway."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account

from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from tests.world import World, enrol_patient


@pytest.fixture
def key_file(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A patient's key file, its pseudonym enrolled at hospital A."""
    monkeypatch.setenv("PASS", "pw")
    path = tmp_path / "patient.json"
    new_key_file(path, "pw", iterations=2)
    enrol_patient(world, keys=PatientKeys(load_key(path, "pw")))
    return path


def run(world: World, key_file: Path, *args: str) -> list[str]:
    gateway = world.gateways["hospital-a"].url
    return [
        "patient",
        *args,
        "--key",
        str(key_file),
        "--gateway",
        gateway,
        "--passphrase-env",
        "PASS",
    ]


def test_a_patient_appoints_lists_and_revokes_a_guardian(
    world: World, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = Account.create().address
    assert main([*run(world, key_file, "appoint"), "--agent", agent, "--kind", "guardian"]) == 0
    appointment_id = json.loads(capsys.readouterr().out)["appointment_id"]
    assert main(run(world, key_file, "appointments")) == EXIT_OK
    listed = json.loads(capsys.readouterr().out)
    assert [(a["appointment_id"], a["agent"], a["kind"], a["status"]) for a in listed] == [
        (appointment_id, agent, "guardian", "active")
    ]
    revoke = run(world, key_file, "revoke-appointment")
    assert main([*revoke, "--appointment-id", appointment_id]) == EXIT_OK
    capsys.readouterr()
    main(run(world, key_file, "appointments"))
    assert [a["status"] for a in json.loads(capsys.readouterr().out)] == ["revoked"]


def test_revoking_an_unknown_appointment_is_an_error(
    world: World, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    revoke = run(world, key_file, "revoke-appointment")
    assert main([*revoke, "--appointment-id", "0x" + "07" * 32]) == EXIT_ERROR
    assert "consent.unknown_appointment" in capsys.readouterr().err


def test_a_malformed_agent_is_refused_before_anything_is_signed(
    world: World, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*run(world, key_file, "appoint"), "--agent", "0x12", "--kind", "proxy"])
    assert exit_.value.code == EXIT_ERROR
    assert "not an address" in capsys.readouterr().err
