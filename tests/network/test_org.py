"""Each organisation's node runs from its own directory and reads nothing of another's;
`medledger org start|stop|status` runs one node; `org join` and `org admit` take a fourth
organisation into a running consortium, which then verifies a record another member anchored."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from ledger.chain import deploy
from ledger.chain.connection import Chain, connect
from ledger.chain.directory import OrgDirectory
from ledger.cli.app import EXIT_ERROR, EXIT_OK, main
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import DEMO_KDF_N, DEMO_ORGS
from ledger.network.org import (
    OrgNode,
    ipfs_identity,
    processes,
    running_pid,
    status,
    stop_processes,
    write_org_env,
)
from ledger.network.peers import NodeRpc
from ledger.network.stack import Stack, running_stack
from ledger.settings import Settings
from ledger.store import swarm_key_new
from tests.conftest import free_run
from tests.world import FIXTURES

#: The organisations this module's stack runs; the fourth joins in a test.
ORGS = ("hospital-a", "insurer", "regulator")
SLOTS = len([spec for spec in DEMO_ORGS if spec.port_offset is not None]) + 1  # + the joiner


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    api = free_run(SLOTS, 28_400)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("stack") / "data",
        api_port=api,
        anvil_port=free_run(1, api + SLOTS),
        ipfs_api_port=free_run(SLOTS, 29_500),
        ipfs_swarm_port=free_run(SLOTS, 29_600),
        content_fetch_timeout_s=5.0,
        ipfs_redial_interval_s=0.5,
    )
    with running_stack(settings, only=ORGS) as running:
        yield running


@pytest.fixture(scope="module")
def record(stack: Stack) -> str:
    """A record hospital A's doctor anchored on hospital A's gateway, for a patient it enrolled."""
    assert stack.consortium is not None
    hospital = stack.consortium.orgs["hospital-a"]
    url = stack.gateways["hospital-a"]
    domain = fetch_domain(url)
    patient = PatientKeys(os.urandom(32))
    pseudonym = patient.pseudonym(hospital.address)
    identity = patient.public_identity(hospital.address)
    signature = sign_enrolment(
        pseudonym,
        domain.as_eip712(),
        hospital.address,
        bytes.fromhex(identity["encryption_key"][2:]),
    )
    clerk = stack.consortium.account(hospital.staff["clerk"].key_file)
    doctor = stack.consortium.account(hospital.staff["doctor"].key_file)
    with GatewayClient(url, clerk, domain) as as_clerk:
        as_clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": signature,
            },
        )
    with GatewayClient(url, doctor, domain) as as_doctor:
        receipt = as_doctor.post_json(
            "/v1/records",
            content=(FIXTURES / "observation-example.json").read_bytes(),
            params={"patient": pseudonym.address},
        )
    return str(receipt["record_id"])


def _org_account(node: OrgNode) -> LocalAccount:
    from eth_account import Account

    account: LocalAccount = Account.from_key(load_key(node.key_file, ""))
    return account


def _verification(node: OrgNode, record_id: str) -> dict[str, object]:
    """The record's verification on ``node``'s own gateway, asked by the organisation itself."""
    url = f"http://127.0.0.1:{node.settings().api_port}"
    with GatewayClient(url, _org_account(node), fetch_domain(url), timeout=30) as client:
        checked: dict[str, object] = client.get_json(f"/v1/records/{record_id}/verification")
    return checked


def _data_dir(stack: Stack) -> Path:
    return next(iter(stack.orgs.values())).root.parents[1]


def test_each_organisation_has_its_own_directory_with_everything_its_node_reads(
    stack: Stack, record: str
) -> None:
    data_dir = _data_dir(stack)
    assert sorted(stack.orgs) == sorted(ORGS)
    for name, node in stack.orgs.items():
        assert node.root == data_dir / "orgs" / name
        env = node.env()
        assert env["MEDLEDGER_DATA_DIR"] == str(node.root)
        assert env["MEDLEDGER_ORG_KEY_FILE"] == str(node.root / "keys" / f"{name}.json")
        assert env["MEDLEDGER_STORE_BACKEND"] == "kubo"
        assert env["MEDLEDGER_KUBO_URL"] == stack.ipfs_nodes[name]
        address = _org_account(node).address
        assert (node.root / "deployments" / "31337.json").is_file()
        assert (node.root / "gateways" / f"{address}.sqlite").is_file()
        assert (node.root / "ipfs" / "datastore.level").is_dir()  # its peer key: its identity
        assert node.swarm_key.stat().st_mode & 0o777 == 0o600
        assert stack.consortium is not None
        assert Path(stack.consortium.orgs[name].key_file) == node.key_file
    # No shared content store: hospital A's envelope is in its own node's blocks only.
    assert not (data_dir / "store").exists()


def test_no_process_of_an_organisation_holds_a_file_of_anothers(stack: Stack, record: str) -> None:
    data_dir = str(_data_dir(stack))
    for node in stack.orgs.values():
        for process in processes(node):
            pid = running_pid(node, process)
            assert pid is not None, f"{node.name}'s {process} does not run"
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if process == "gateway":
                assert f"MEDLEDGER_DATA_DIR={node.root}".encode() in environ
            held = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
            outside = [
                p for p in held if p.startswith(data_dir) and not p.startswith(f"{node.root}/")
            ]
            assert outside == [], f"{node.name}'s {process} holds {outside}"


def test_a_node_restarted_without_the_consortiums_shared_files_verifies_anothers_record(
    stack: Stack, record: str, tmp_path: Path
) -> None:
    data_dir = _data_dir(stack)
    insurer = stack.orgs["insurer"]
    shared = ["demo", "deployments", "swarm.key"]
    aside = tmp_path / "aside"
    aside.mkdir()
    stop_processes(insurer)
    for name in shared:
        shutil.move(data_dir / name, aside / name)
    try:
        from ledger.network.org_join import start_org

        start_org(insurer)
        checked = _verification(insurer, record)
    finally:
        for name in shared:
            shutil.move(aside / name, data_dir / name)
    assert checked["intact"] is True
    assert [v["content"] for v in checked["versions"]] == ["intact"]  # type: ignore[attr-defined]


def test_peers_come_from_the_directory_beside_the_configured_ones(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ledger.network.org_join import sync_peers

    elsewhere = "/ip4/127.0.0.1/tcp/49999/p2p/12D3KooWGd4n7w353hNroBT5f4FmBLZwgFAXXNeJgzkKTKUE1TEd"
    hospital = stack.orgs["hospital-a"]
    monkeypatch.setenv("MEDLEDGER_IPFS_PEERS", json.dumps([elsewhere]))
    peers = sync_peers(hospital)
    members = {
        "/p2p/".join(reversed(ipfs_identity(stack.orgs[o]))) for o in ("insurer", "regulator")
    }
    assert peers[0] == elsewhere
    assert members <= set(peers[1:])
    assert "/p2p/".join(reversed(ipfs_identity(hospital))) not in peers
    # The static list is the peers file; the directory's are the node's peering set, which the
    # gateway's replication worker keeps current (a suspended member's node drops out).
    assert (hospital.root / "ipfs" / "peers").read_text().split() == [elsewhere]
    with closing(NodeRpc(hospital.settings().kubo_url)) as rpc:
        held = rpc.peering()
    assert {m.rsplit("/p2p/", 1)[1] for m in members} <= set(held)
    monkeypatch.delenv("MEDLEDGER_IPFS_PEERS")
    assert sync_peers(hospital)[0] != elsewhere


def test_org_stop_returns_once_the_processes_are_gone_and_start_brings_them_back(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(_data_dir(stack)))
    node = stack.orgs["regulator"]
    assert processes(node) == ["ipfs", "gateway"]  # the chain is the consortium's anvil
    pids = [running_pid(node, p) for p in processes(node)]
    assert None not in pids
    assert main(["org", "status", "regulator"]) == EXIT_OK
    assert capsys.readouterr().out.count("healthy") == 2

    assert main(["org", "stop", "regulator"]) == EXIT_OK
    assert "stopped gateway, ipfs" in capsys.readouterr().out
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert not any(node.pid_file(p).exists() for p in processes(node))
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{stack.gateways['regulator']}/v1/health", timeout=2)
    assert main(["org", "status", "regulator"]) == 1
    assert capsys.readouterr().out.count("not running") == 2
    assert main(["org", "stop", "regulator"]) == EXIT_OK
    assert "none running" in capsys.readouterr().out

    assert main(["org", "start", "regulator"]) == EXIT_OK
    assert httpx.get(f"{stack.gateways['regulator']}/v1/health", timeout=2).status_code == 200
    assert main(["org", "status", "regulator"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("healthy") == 4  # start's report and status's
    assert "not running" not in out


def test_org_status_of_an_organisation_with_no_directory_is_an_error(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(_data_dir(stack)))
    assert main(["org", "status", "nobody"]) == EXIT_ERROR
    assert "no organisation 'nobody'" in capsys.readouterr().err


def test_an_organisation_name_that_would_name_another_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(tmp_path / "data"))
    assert main(["org", "stop", "../regulator"]) == EXIT_ERROR
    assert "not an organisation name" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "said"),
    [("MEDLEDGER_API_PORT=not-a-port", "api_port"), ("API_PORT=8000", "not a MEDLEDGER_NAME")],
)
def test_a_bad_line_in_org_env_is_an_error_that_names_the_file(
    line: str,
    said: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = tmp_path / "orgs" / "clinic-c"
    root.mkdir(parents=True)
    (root / "org.env").write_text(f"# a comment\n{line}\n")
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(tmp_path))
    assert main(["org", "status", "clinic-c"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(root / "org.env") in err
    assert said in err


def test_a_join_with_a_deployment_that_is_not_on_the_chain_is_refused_and_leaves_nothing(
    stack: Stack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = _data_dir(stack)
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(data_dir))
    recorded = json.loads(
        (stack.orgs["hospital-a"].root / "deployments" / "31337.json").read_text()
    )
    recorded["addresses"]["Membership"] = "0x" + "11" * 20  # no code there
    forged = tmp_path / "31337.json"
    forged.write_text(json.dumps(recorded))
    join = [
        *("org", "join", "clinic-x", "--rpc-url", stack.rpc_url, "--deployment", str(forged)),
        *("--swarm-key", str(data_dir / "swarm.key"), "--passphrase-env", "NOPE"),
        *("--api-port", "1", "--ipfs-api-port", "2", "--ipfs-swarm-port", "3"),
    ]
    monkeypatch.setenv("NOPE", "")
    assert main(join) == EXIT_ERROR
    assert "no code at" in capsys.readouterr().err
    assert not (data_dir / "orgs" / "clinic-x").exists()


def test_org_start_with_its_chain_down_fails_and_leaves_nothing_running(
    tmp_path: Path,
    free_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    node = OrgNode((tmp_path / "orgs" / "clinic-c").resolve())
    write_org_env(
        node,
        {
            "MEDLEDGER_RPC_URL": f"http://127.0.0.1:{free_port}",  # nothing listens there
            "MEDLEDGER_API_PORT": str(free_run(1, 28_600)),
            "MEDLEDGER_IPFS_API_PORT": str(free_run(1, 29_750)),
            "MEDLEDGER_IPFS_SWARM_PORT": str(free_run(1, 29_850)),
        },
    )
    swarm_key_new(node.swarm_key)
    new_key_file(node.key_file, "", iterations=DEMO_KDF_N)
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(tmp_path))
    assert main(["org", "start", "clinic-c"]) == EXIT_ERROR
    assert "no Ethereum JSON-RPC node answers" in capsys.readouterr().err
    # Its IPFS node had started before the chain was needed; the failed start stopped it again.
    assert (node.root / "ipfs" / "datastore.level").is_dir()
    assert [row.pid for row in status(node)] == [None, None]
    assert not node.pid_file("ipfs").exists()


def test_a_fourth_organisation_joins_is_admitted_starts_and_verifies_a_record(
    stack: Stack,
    record: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data_dir = _data_dir(stack)
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(data_dir))
    monkeypatch.setenv("CLINIC_PASS", "")
    hospital = stack.orgs["hospital-a"]
    settings = hospital.settings()
    first = SLOTS - 1  # the slot no demo organisation takes
    key = tmp_path / "clinic-c.json"
    address = new_key_file(key, "", iterations=DEMO_KDF_N)
    join = [
        *("org", "join", "clinic-c", "--rpc-url", stack.rpc_url),
        *("--deployment", str(hospital.root / "deployments" / "31337.json")),
        *("--swarm-key", str(data_dir / "swarm.key"), "--key", str(key)),
        *("--passphrase-env", "CLINIC_PASS"),
        *("--api-port", str(_base(stack) + first)),
        *("--ipfs-api-port", str(settings.ipfs_api_port - _index(stack, "hospital-a") + first)),
        *("--ipfs-swarm-port", str(settings.ipfs_swarm_port - _index(stack, "hospital-a") + first)),
    ]
    assert main(join) == EXIT_OK
    joined = json.loads(capsys.readouterr().out)
    assert joined["address"] == address
    clinic = OrgNode.of(data_dir, "clinic-c")
    assert main(join) == EXIT_ERROR  # joined once: its directory is never overwritten
    assert "has joined" in capsys.readouterr().err
    try:
        assert main(["org", "admit", address, "--kind", "hospital"]) == EXIT_OK
        assert json.loads(capsys.readouterr().out)["admitted"] == address
        assert main(["org", "start", "clinic-c"]) == EXIT_OK
        # Its node's peer is in the directory; every member re-reads it and admits the node.
        peer_id, addr = ipfs_identity(clinic)
        w3 = connect(stack.rpc_url)
        entry = OrgDirectory(Chain(w3, deploy.load_deployment(w3, clinic.root))).entry(address)
        assert (entry.peer_id, entry.addrs, entry.usable) == (peer_id, (addr,), True)
        for org in ORGS:
            assert main(["org", "peers", org]) == EXIT_OK
        assert f"{addr}/p2p/{peer_id}" in capsys.readouterr().out
        # Hospital A's record, verified on the newcomer's gateway from its own node.
        checked = _verification(clinic, record)
        assert checked["intact"] is True
        assert checked["hospital"] == _org_account(hospital).address
    finally:
        stop_processes(clinic)


def _base(stack: Stack) -> int:
    return int(stack.gateways["hospital-a"].rsplit(":", 1)[1])


def _index(stack: Stack, org: str) -> int:
    """The organisation's place among the demo's nodes: its IPFS ports are the bases plus it."""
    served = [spec.name for spec in DEMO_ORGS if spec.port_offset is not None]
    return served.index(org)
