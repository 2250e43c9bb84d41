"""`medledger verify` on a member that did not write, its store its own IPFS node
(tests/own_nodes.py): every check run and passed exits 0; what it could not check (an envelope, a
batch manifest) it names, and exits 3; a document that fails a check exits 1 whatever else ran;
its own node down exits 2."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.cli.app import EXIT_ERROR, EXIT_INCOMPLETE, EXIT_NOT_INTACT, EXIT_OK, main
from ledger.store import cid_from_bytes
from tests.own_nodes import FETCH_TIMEOUT_S, Members
from tests.world import anchor, enrol_patient, fhir


@pytest.fixture
def document(members: Members, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A record hospital A anchored, as its doctor reads it back; the CLI set up as the insurer's
    operator: the insurer's directory, its own node as the store."""
    world = members.world
    rid = anchor(world, enrol_patient(world), fhir("observation-example.json"))["record_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        read: dict[str, Any] = doctor.get_json(f"/v1/records/{rid}")
    insurer = members.settings["insurer"]
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(insurer.data_dir))
    monkeypatch.setenv("MEDLEDGER_RPC_URL", world.consortium.rpc_url)
    monkeypatch.setenv("MEDLEDGER_STORE_BACKEND", "kubo")
    monkeypatch.setenv("MEDLEDGER_KUBO_URL", insurer.kubo_url)
    monkeypatch.setenv("MEDLEDGER_CONTENT_FETCH_TIMEOUT_S", str(FETCH_TIMEOUT_S))
    return read


def verify(document: dict[str, Any], tmp_path: Path) -> int:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(document))
    return main(["verify", str(path), "--record", str(document["record_id"])])


def test_every_check_run_and_passed_on_a_non_writer_exits_0(
    document: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert verify(document, tmp_path) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("verdict: intact")
    assert "not checked" not in out


def test_an_envelope_no_peer_delivers_is_named_as_not_checked_and_exits_3(
    members: Members,
    document: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    members.drop_everywhere(document["cid"])
    started = time.monotonic()
    assert verify(document, tmp_path) == EXIT_INCOMPLETE
    assert time.monotonic() - started < FETCH_TIMEOUT_S + 4.0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("verdict: intact")
    assert lines[1].startswith(
        "not checked: envelope salt check (content unavailable from the IPFS network in time"
    )


def test_a_tampered_document_exits_1_even_with_checks_not_run(
    members: Members,
    document: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    members.drop_everywhere(document["cid"])
    tampered = {**document, "resource": {**document["resource"], "status": "cancelled"}}
    assert verify(tampered, tmp_path) == EXIT_NOT_INTACT
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("verdict: payload_altered")
    assert lines[1].startswith("not checked: envelope salt check")


def test_a_store_without_the_envelope_is_named_as_not_checked_and_exits_3(
    document: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MEDLEDGER_STORE_BACKEND", "embedded")  # the insurer's own, empty
    assert verify(document, tmp_path) == EXIT_INCOMPLETE
    assert "not checked: envelope salt check (content not in the store" in capsys.readouterr().out


@pytest.fixture
def unread_batch(members: Members) -> Iterator[int]:
    """A batch hospital A anchored whose manifest no node serves (put back afterwards)."""
    world = members.world
    item = {
        "patient": enrol_patient(world).pseudonym.address,
        "resource": fhir("patient-example.json"),
    }
    with world.as_staff("hospital-a", "doctor") as doctor:
        doctor.post_json("/v1/records:bulk", {"items": [item]})
    gateway = world.gateways["hospital-a"].gateway
    assert gateway.anchorer.run_once() == 1
    events = gateway.chain.contract("BatchAnchor").events.BatchAnchored()
    (log,) = events.get_logs(from_block=gateway.chain.w3.eth.block_number)
    manifest = cid_from_bytes(bytes(log["args"]["manifest"]))
    kept = gateway.store.get(manifest)
    members.drop_everywhere(manifest)
    yield int(log["args"]["batchId"])
    assert gateway.store.put(kept) == manifest


def test_a_batch_of_the_hospital_it_cannot_read_is_named_and_exits_3(
    document: dict[str, Any],
    unread_batch: int,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert verify(document, tmp_path) == EXIT_INCOMPLETE
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("verdict: intact")
    assert lines[1:] == [
        "not checked: another anchoring of this version in the hospital's batches (no peer "
        f"delivered the manifests of batches {unread_batch} in time)"
    ]


def test_its_own_node_down_is_an_error_exit_2(
    document: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    free_port: int,
) -> None:
    monkeypatch.setenv("MEDLEDGER_KUBO_URL", f"http://127.0.0.1:{free_port}")
    assert verify(document, tmp_path) == EXIT_ERROR
    assert "error: store.unavailable" in capsys.readouterr().err
