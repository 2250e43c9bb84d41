"""`medledger up` and `medledger demo` as a user runs them: real processes, stopped, started again.

This is `make run` + `make demo` on a fresh data directory (a node per organisation, each from its
own directory), and the promise that a restart keeps the chain and every record.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium
from ledger.network.org import OrgNode
from tests.up import MEDLEDGER, medledger_up, up_env, up_ports


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEDLEDGER, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


# Seven IPFS nodes and seven gateways, started twice, and the demo twice: minutes on 2 cores.
@pytest.mark.timeout(600)
def test_up_demo_restart_keeps_every_record(tmp_path: Path) -> None:
    base, anvil_port, nodes = up_ports()
    env = up_env(tmp_path / "data", api_port=base, anvil_port=anvil_port, nodes=nodes)
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
