"""`medledger claims` in-process against the test world's gateways: submit, queue, decide, show,
figures, and a refused claim's message and exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.demo.claims import MEDICATION
from tests.api.test_claims import body, care, pay
from tests.world import World


def _as(world: World, org: str, label: str, gateway: str) -> list[str]:
    key = world.consortium.orgs[org].staff[label].key_file
    return ["--key", key, "--gateway", world.gateways[gateway].url, "--passphrase-env", "NOPASS"]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main(list(argv)) == EXIT_OK, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def _claim_file(world: World, tmp_path: Path, **care_args: Any) -> Path:
    """A claim body for a new patient's dispensed prescription, written where the CLI reads it."""
    who = care(world, **care_args)
    payment = pay(world, who, [(who.medication, 12000)])
    claim = tmp_path / "claim.json"
    claim.write_text(json.dumps(body(world, who, payment, [(who.medication, MEDICATION, 12000)])))
    return claim


def test_a_claim_through_the_cli(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOPASS", "")
    claim = _claim_file(world, tmp_path)
    clerk = _as(world, "hospital-a", "clerk", "insurer")
    adjuster = _as(world, "insurer", "adjuster", "insurer")
    submitted = _run(capsys, "claims", "submit", *clerk, str(claim))
    queued = _run(capsys, "claims", "queue", *adjuster)
    assert submitted["claim_id"] in [c["claim_id"] for c in queued]
    decided = _run(capsys, "claims", "decide", *adjuster, "--claim-id", submitted["claim_id"])
    assert decided["status"] == "approved"
    shown = _run(capsys, "claims", "show", *adjuster, "--claim-id", submitted["claim_id"])
    assert [e["event"] for e in shown["history"]] == ["ClaimSubmitted", "ClaimDecided"]
    figures = _run(capsys, "claims", "figures", *_as(world, "regulator", "auditor", "insurer"))
    assert any(f["institution"] == world.org_address("insurer") for f in figures)


def test_a_refused_claim_exits_non_zero_with_its_code(
    world: World,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NOPASS", "")
    claim = _claim_file(world, tmp_path, granted=())
    clerk = _as(world, "hospital-a", "clerk", "insurer")
    assert main(["claims", "submit", *clerk, str(claim)]) == EXIT_ERROR
    assert "claim.not_authorised" in capsys.readouterr().err
    assert main(["claims", "submit", *clerk, str(tmp_path / "missing.json")]) == EXIT_ERROR
    assert "cannot read" in capsys.readouterr().err
