"""`medledger consent erase` in-process against the test world's gateway: refused within the
retention period with its reason and a non-zero exit, accepted after it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from ledger.network.consortium import DEMO_KDF_N
from tests.api.test_retention import _visit, _years_ago
from tests.world import World, anchor, enrol_patient


def test_erasure_through_the_cli(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOPASS", "")
    key = tmp_path / "patient.json"
    new_key_file(key, "", iterations=DEMO_KDF_N)
    patient = enrol_patient(world, keys=PatientKeys(load_key(key, "")))
    argv = ["consent", "erase", "--key", str(key), "--gateway", world.gateways["hospital-a"].url]
    argv += ["--passphrase-env", "NOPASS"]

    anchor(world, patient, _visit("AMB", _years_ago(2)))
    assert main(argv) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "retention.period_running" in err
    assert "15 years after the last visit" in err

    other = tmp_path / "other.json"
    new_key_file(other, "", iterations=DEMO_KDF_N)
    done = enrol_patient(world, keys=PatientKeys(load_key(other, "")))
    anchor(world, done, _visit("AMB", _years_ago(16)))
    argv[3] = str(other)
    assert main(argv) == EXIT_OK, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["versions"] == 1
