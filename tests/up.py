"""`medledger up` as a user runs it, for tests that need the whole demo stack: a chain, a node per
organisation (its IPFS node and gateway, each from its own directory) and the seeded consortium."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ledger.network.consortium import DEMO_ORGS
from tests.conftest import free_run

MEDLEDGER = [sys.executable, "-m", "ledger.cli"]


def up_env(data_dir: Path, api_port: int, anvil_port: int, nodes: int) -> dict[str, str]:
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


def up_ports() -> tuple[int, int, int]:
    """Free ports for the demo's gateways (base .. base + the largest offset, below the ephemeral
    range, where a client connection could take one between choosing and binding), its anvil, and
    the number of IPFS nodes it runs."""
    last = max(spec.port_offset or 0 for spec in DEMO_ORGS)
    base = free_run(last + 1, 28_100)
    anvil_port = free_run(1, base + last + 1)
    nodes = sum(1 for spec in DEMO_ORGS if spec.port_offset is not None)
    return base, anvil_port, nodes
