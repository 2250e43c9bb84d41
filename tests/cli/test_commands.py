"""The `medledger` command in-process: cid, keys, verify, and their exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.cli.app import EXIT_ERROR, EXIT_NOT_INTACT, EXIT_OK, main
from tests.world import Patient, World, anchor, fhir

EMPTY_FILE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"  # Kubo t0040


def test_cid_of_an_empty_file_is_kubos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert main(["cid", str(tmp_path / "empty")]) == EXIT_OK
    assert capsys.readouterr().out.strip() == EMPTY_FILE_CID


def test_cid_of_a_missing_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cid", str(tmp_path / "nope")]) == EXIT_ERROR
    assert "cannot read" in capsys.readouterr().err


def test_keys_new_writes_a_keystore_and_refuses_to_overwrite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASS", "correct horse")
    out = tmp_path / "patient.json"
    assert main(["keys", "new", "--out", str(out), "--passphrase-env", "PASS"]) == EXIT_OK
    address = json.loads(capsys.readouterr().out)["address"]
    assert json.loads(out.read_text())["address"].lower() == address[2:].lower()
    assert main(["keys", "new", "--out", str(out), "--passphrase-env", "PASS"]) == EXIT_ERROR


def test_keys_pseudonym_differs_per_hospital(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASS", "pw")
    key = tmp_path / "k.json"
    main(["keys", "new", "--out", str(key), "--passphrase-env", "PASS"])
    capsys.readouterr()
    identities = []
    for hospital in ("0x" + "11" * 20, "0x" + "22" * 20):
        args = ["keys", "pseudonym", "--key", str(key), "--hospital", hospital]
        assert main([*args, "--passphrase-env", "PASS"]) == EXIT_OK
        identities.append(json.loads(capsys.readouterr().out))
    assert identities[0]["address"] != identities[1]["address"]
    assert identities[0]["encryption_key"] != identities[1]["encryption_key"]


def test_keys_pseudonym_with_a_wrong_passphrase_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PASS", "pw")
    key = tmp_path / "k.json"
    main(["keys", "new", "--out", str(key), "--passphrase-env", "PASS"])
    monkeypatch.setenv("PASS", "wrong")
    args = ["keys", "pseudonym", "--key", str(key), "--hospital", "0x" + "11" * 20]
    assert main([*args, "--passphrase-env", "PASS"]) == EXIT_ERROR


@pytest.fixture
def record_file(
    world: World, patient: Patient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, dict[str, object]]:
    """A record document as the hospital reads it back, saved to a file; CLI settings point at
    the test consortium."""
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("MEDLEDGER_RPC_URL", world.consortium.rpc_url)
    rid = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        document = doctor.get_json(f"/v1/records/{rid}")
    path = tmp_path / "record.json"
    path.write_text(json.dumps(document))
    return path, document


def test_verify_an_intact_record_exits_0(
    record_file: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, document = record_file
    assert main(["verify", str(path), "--record", str(document["record_id"])]) == EXIT_OK
    assert capsys.readouterr().out.startswith("verdict: intact")


@pytest.mark.parametrize(
    ("change", "verdict"),
    [
        ({"salt": "0x" + "11" * 32}, "salt_mismatch"),
        ({"cid": EMPTY_FILE_CID}, "cid_mismatch"),
        ({"patient": "0x" + "22" * 20}, "pseudonym_mismatch"),
        ({"hospital": "0x" + "33" * 20}, "hospital_mismatch"),
        ({"version": 9}, "not_anchored"),
    ],
)
def test_verify_names_each_tamper_and_exits_1(
    record_file: tuple[Path, dict[str, object]],
    capsys: pytest.CaptureFixture[str],
    change: dict[str, object],
    verdict: str,
) -> None:
    path, document = record_file
    path.write_text(json.dumps({**document, **change}))
    assert main(["verify", str(path), "--record", str(document["record_id"])]) == EXIT_NOT_INTACT
    assert capsys.readouterr().out.startswith(f"verdict: {verdict}:")


def test_verify_a_changed_payload_byte_exits_1(
    record_file: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, document = record_file
    text = path.read_text()
    path.write_text(text.replace('"final"', '"finaL"', 1))
    assert main(["verify", str(path), "--record", str(document["record_id"])]) == EXIT_NOT_INTACT
    assert capsys.readouterr().out.startswith("verdict: payload_altered:")


def test_verify_a_file_that_is_not_a_document_exits_2(
    record_file: tuple[Path, dict[str, object]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, document = record_file
    path.write_text('{"hello": "world"}')
    assert main(["verify", str(path), "--record", str(document["record_id"])]) == EXIT_ERROR
    assert "not a record document" in capsys.readouterr().err


def test_verify_against_a_node_on_another_chain_is_refused(
    record_file: tuple[Path, dict[str, object]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, document = record_file
    monkeypatch.setenv("MEDLEDGER_CHAIN_ID", "4242")
    assert main(["verify", str(path), "--record", str(document["record_id"])]) == EXIT_ERROR
    assert "chain.id_mismatch" in capsys.readouterr().err
