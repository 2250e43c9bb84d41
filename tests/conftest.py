"""Shared fixtures: one local anvil for the whole session, a Web3 on it, and free ports; the
hypothesis budgets, and the security battery's tally printed at the end of the run."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
import requests
from hypothesis import settings
from web3 import Web3

from ledger.chain.node import Anvil

# The seeded consortium and its gateways, for the API and CLI tests; and gateways on IPFS nodes
# of their own.
pytest_plugins = ["tests.world", "tests.own_nodes"]

# Budgets for tests that take theirs from the profile (the state machines, schemathesis, the
# dictionary attack); tests that pin max_examples keep their own. `make test` runs "test";
# `make fuzz` sets HYPOTHESIS_PROFILE=fuzz.
settings.register_profile("test", max_examples=100, stateful_step_count=15)
settings.register_profile("fuzz", max_examples=1_000, stateful_step_count=30)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "test")
settings.load_profile(PROFILE)
#: Time limit for one battery test: at full size it runs for minutes, and a failing state machine
#: shrinks its example by replaying sequences on the chain.
BATTERY_TIMEOUT_S = {"fuzz": 7_200}.get(PROFILE, 900)

_BATTERY: list[str] = []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listened on when asked."""
    return _free_port()


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Anvil]:
    """A gas-free anvil for the session, its state in a temporary directory."""
    with Anvil(state_dir=tmp_path_factory.mktemp("anvil"), port=_free_port()) as node:
        yield node


@pytest.fixture(scope="session")
def w3(anvil: Anvil) -> Iterator[Web3]:
    """A Web3 on the session's anvil; its HTTP session is closed at the end, leaking no socket."""
    with requests.Session() as session:
        session.trust_env = False  # a loopback node: never via a proxy from the environment
        yield Web3(Web3.HTTPProvider(anvil.url, session=session))


@pytest.fixture(scope="session")
def battery_report() -> Callable[[str], None]:
    """``battery_report(line)``: add a line to the security battery's summary at the end."""
    return _BATTERY.append


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _BATTERY:
        terminalreporter.section(f"security battery (hypothesis profile {PROFILE!r})")
        for line in _BATTERY:
            terminalreporter.write_line(line)


def free_run(count: int, start: int) -> int:
    """The first port from ``start`` on with ``count`` free ports in a row on 127.0.0.1."""
    port = start
    while port + count < 65_000:
        socks: list[socket.socket] = []
        try:
            for offset in range(count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            return port
        except OSError:
            port += count + 1
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no run of free ports")
