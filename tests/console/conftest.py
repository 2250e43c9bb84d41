"""The stack the browser journeys run against: `medledger up` on a fresh data directory, as
`make run` runs it (a chain, each organisation's IPFS node and gateway from its own directory, the
demo consortium), with the console built and served by every gateway."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.up import medledger_up, up_env, up_ports

REPO = Path(__file__).resolve().parents[2]
CONSOLE = REPO / "console"
#: Screenshots of each journey, kept after the run (CI can publish the folder).
ARTIFACTS = REPO / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@dataclass(frozen=True)
class Stack:
    env: dict[str, str]  # the MEDLEDGER_* environment `medledger up` ran with
    file: Path  # the JSON the journeys read (MEDLEDGER_E2E)
    data_dir: Path


def _built() -> None:
    if not (CONSOLE / "dist" / "index.html").is_file():
        pytest.fail("the console is not built: `make console` (make test builds it first)")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: `make browser` (make test installs it)")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    _built()
    root = tmp_path_factory.mktemp("console-stack")
    base, anvil_port, nodes = up_ports()
    env = up_env(root / "data", api_port=base, anvil_port=anvil_port, nodes=nodes)
    with medledger_up(env, root / "up.log"):
        consortium = json.loads((root / "data" / "demo" / "consortium.json").read_text())
        file = root / "e2e.json"
        file.write_text(
            json.dumps(
                {
                    "consortium": consortium,
                    "artifacts": str(ARTIFACTS),
                    "python": sys.executable,
                    "repo": str(REPO),
                    "passphrase": "",  # the demo's staff keys (ledger/network/consortium.py)
                }
            )
        )
        yield Stack(env, file, root / "data")


def run_journey(stack: Stack, name: str, timeout_s: float = 420) -> None:
    """Runs console/e2e/<name>.test.mjs in Node against the stack; fails with its output."""
    env = {**stack.env, "MEDLEDGER_E2E": str(stack.file), "MEDLEDGER_CHROMIUM": CHROMIUM}
    done = subprocess.run(
        ["node", "--test", "--test-reporter=spec", f"e2e/{name}.test.mjs"],
        cwd=CONSOLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    assert done.returncode == 0, f"journey {name} failed:\n{done.stdout}\n{done.stderr}"
