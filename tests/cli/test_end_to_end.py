"""`medledger up` and `medledger demo` as a user runs them: real processes, stopped, started again.

This is `make run` + `make demo` on a fresh data directory (a node per organisation, each from its
own directory), and the promise that a restart keeps the chain and every record.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import DEMO_ORGS, Consortium
from ledger.network.org import OrgNode
from tests.conftest import free_run

MEDLEDGER = [sys.executable, "-m", "ledger.cli"]


def _env(data_dir: Path, api_port: int, anvil_port: int, nodes: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDLEDGER_")}
    env.update(
        MEDLEDGER_DATA_DIR=str(data_dir),
        MEDLEDGER_API_PORT=str(api_port),
        MEDLEDGER_ANVIL_PORT=str(anvil_port),
        # Each organisation's IPFS node takes the next of these ports.
        MEDLEDGER_IPFS_API_PORT=str(free_run(nodes, 29_700)),
        MEDLEDGER_IPFS_SWARM_PORT=str(free_run(nodes, 29_800)),
    )
    return env


@contextmanager
def medledger_up(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen([*MEDLEDGER, "up"], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while b"ready:" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "medledger up did not become ready"
            time.sleep(0.2)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEDLEDGER, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


# Seven IPFS nodes and seven gateways, started twice, and the demo twice: minutes on 2 cores.
@pytest.mark.timeout(600)
def test_up_demo_restart_keeps_every_record(tmp_path: Path) -> None:
    # The demo's gateways take base .. base + the largest offset, all free and below the ephemeral
    # range, where a client connection could take one between choosing and binding.
    last = max(spec.port_offset or 0 for spec in DEMO_ORGS)
    base = free_run(last + 1, 28_100)
    anvil_port = free_run(1, base + last + 1)
    nodes = sum(1 for spec in DEMO_ORGS if spec.port_offset is not None)
    env = _env(tmp_path / "data", api_port=base, anvil_port=anvil_port, nodes=nodes)
    with medledger_up(env, tmp_path / "up-1.log"):
        first = run(env, "demo")
        assert first.returncode == 0, first.stderr
        assert "demo complete" in first.stdout
        # Step 20b: on the demo's scratch chain, the last valid second dispenses, the next refuses.
        assert re.search(r"one_second_on\s+410 prescription\.expired", first.stdout)
    record_id = re.search(r"record\s+(0x[0-9a-f]{64})", first.stdout)
    assert record_id is not None
    with medledger_up(env, tmp_path / "up-2.log"):
        saved = tmp_path / "record.json"
        saved.write_text(json.dumps(_read_back(tmp_path / "data", record_id[1])))
        # The insurer verifies with its own settings: its chain view and its own IPFS node.
        insurer = OrgNode.of(tmp_path / "data", "insurer")
        verified = run({**env, **insurer.env()}, "verify", str(saved), "--record", record_id[1])
        assert verified.returncode == 0, verified.stdout + verified.stderr
        assert verified.stdout.startswith("verdict: intact")
        again = run(env, "demo")
        assert again.returncode == 0, again.stderr
    # Stopping `up` stopped its chain too: no process is left on this data directory.
    processes = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(tmp_path / "data") not in processes.stdout


def _read_back(data_dir: Path, record_id: str) -> dict[str, object]:
    """Version 2 of the record as hospital A's doctor reads it back."""
    loaded = Consortium.load(data_dir / "demo" / "consortium.json")
    hospital = loaded.orgs["hospital-a"]
    assert hospital.gateway_url is not None
    doctor = loaded.account(hospital.staff["doctor"].key_file)
    with GatewayClient(hospital.gateway_url, doctor, fetch_domain(hospital.gateway_url)) as client:
        document: dict[str, object] = client.get_json(
            f"/v1/records/{record_id}", params={"version": 2}
        )
    return document
