"""`medledger break-glass` in-process against the test world's gateways: a doctor of hospital B
declares, hospital A's auditor lists and reviews, and a refusal's code and exit status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from ledger.network.consortium import DEMO_KDF_N
from tests.world import World, anchor, enrol_patient, fhir


def _as(world: World, org: str, label: str, gateway: str) -> list[str]:
    key = world.consortium.orgs[org].staff[label].key_file
    return ["--key", key, "--gateway", world.gateways[gateway].url, "--passphrase-env", "NOPASS"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == EXIT_OK, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def test_declare_list_review_and_the_patients_highlighted_trail_through_the_cli(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOPASS", "")
    key_file = tmp_path / "patient.json"
    new_key_file(key_file, "", iterations=DEMO_KDF_N)
    patient = enrol_patient(world, keys=PatientKeys(load_key(key_file, "")))
    record_id = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    locum = _as(world, "hospital-b", "locum", "hospital-b")
    reasons = _run(capsys, "break-glass", "reasons", *locum)
    assert "life_threatening" in {r["name"] for r in reasons}
    declared = _run(
        capsys,
        "break-glass", "declare", *locum, "--record", record_id, "--reason", "life_threatening",
    )  # fmt: skip
    assert declared["status"] == "pending"
    auditor = _as(world, "hospital-a", "auditor", "hospital-a")
    pending = _run(capsys, "break-glass", "list", *auditor, "--status", "pending")
    assert declared["access_id"] in {d["access_id"] for d in pending["items"]}
    reviewed = _run(
        capsys,
        "break-glass", "review", *auditor, "--access-id", declared["access_id"], "justified",
        "--note", "cardiac-arrest",
    )  # fmt: skip
    assert (reviewed["status"], reviewed["note"]) == ("justified", "cardiac-arrest")
    again = [
        "break-glass", "review", *auditor, "--access-id", declared["access_id"], "unjustified",
        "--note", "second-thoughts",
    ]  # fmt: skip
    assert main(again) == EXIT_ERROR
    assert "break_glass.already_reviewed" in capsys.readouterr().err
    with world.as_staff("hospital-b", "locum") as client:
        client.get_json(f"/v1/records/{record_id}", params={"break_glass": declared["access_id"]})
    while world.gateways["hospital-a"].gateway.seal_access_log() is not None:
        pass
    mine = ["audit", "mine", "--key", str(key_file), "--gateway", world.gateways["hospital-a"].url]
    assert main([*mine, "--passphrase-env", "NOPASS"]) == EXIT_OK
    out = capsys.readouterr().out
    locum_address = world.staff("hospital-b", "locum").address
    assert (
        f"!! BREAK-GLASS: {locum_address} of {world.org_address('hospital-b')} read {record_id}"
        in out
    )
    flagged = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    assert [e["grant"] for e in flagged if e["break_glass"]] == [declared["access_id"]]
