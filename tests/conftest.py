"""Shared fixtures: one local anvil for the whole session, a Web3 on it, and free ports; the
hypothesis budgets, and the security battery's tally printed at the end of the run.

`make test` runs pytest-xdist with two workers (``-n 2``): each worker has its own session fixtures
(anvil, world, members); a test file runs whole on one worker, so its module fixtures are built
once (`FileScheduling`), and `free_run` hands no port to two workers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from hypothesis import settings
from web3 import Web3
from xdist.remote import Producer  # type: ignore[import-untyped]
from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

from ledger.chain.node import Anvil

# The seeded consortium and its gateways, for the API and CLI tests; and gateways on IPFS nodes
# of their own.
pytest_plugins = ["tests.world", "tests.own_nodes"]

# Budgets for tests that take theirs from the profile (the state machines, schemathesis, the
# dictionary attack); tests that pin max_examples keep their own. `make test` runs "test";
# `make fuzz` sets HYPOTHESIS_PROFILE=fuzz.
# No per-example deadline under "test": two xdist workers share 2 cores with the static checks
# (`make test`), and a deadline there measures the machine's load, not the code; every example
# and every assertion in it still runs. `make fuzz` runs alone and keeps hypothesis's deadline.
settings.register_profile("test", max_examples=100, stateful_step_count=15, deadline=None)
settings.register_profile("fuzz", max_examples=1_000, stateful_step_count=30)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "test")
settings.load_profile(PROFILE)
#: Time limit for one battery test: at full size it runs for minutes, and a failing state machine
#: shrinks its example by replaying sequences on the chain.
BATTERY_TIMEOUT_S = {"fuzz": 7_200}.get(PROFILE, 900)

_BATTERY: list[str] = []
#: How tests/network made the hosts of its modules (tests/network/conftest.py adds to it).
HOST_MODES: set[str] = set()

#: Files that take minutes, started first when workers share the suite so that none is left to run
#: alone at the end (longest first; the rest keep their order). A prefix names every file under it.
SLOW_FIRST = (
    "tests/network/test_network.py",
    "tests/network/",
    "tests/api/test_hostile_input.py",
    "tests/cli/test_end_to_end.py",
    "tests/contracts/test_hostile_records_stateful.py",
    "tests/api/test_crash.py",
)
#: Where xdist workers note the ports they took (set per session, under the run's temp root).
_CLAIMS: list[Path] = []


def _rank(path: str) -> int:
    ranks = [i for i, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)]
    return ranks[0] if ranks else len(SLOW_FIRST)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker: the slow files first (the scheduler hands out files in this order).
    A run without workers is left as collected."""
    if hasattr(config, "workerinput"):
        # Stable: files keep their order among equals, tests theirs within a file.
        items.sort(key=lambda item: _rank(item.path.relative_to(config.rootpath).as_posix()))


class FileScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """Hands each worker a whole test file at a time, so that a file's module fixtures (a
    deployment, IPFS nodes) are built once, and a session fixture used by one file only (the
    Clique network of tests/network/test_network.py) is started on one worker; files go out in
    the workers' collection order."""

    def _split_scope(self, nodeid: str) -> str:
        return nodeid.split("::", 1)[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> FileScheduling | None:
    """Every distributed run but ``--dist each`` is scheduled by file (xdist's own loadgroup
    cannot group under pytest 9: it renames node ids through an attribute pytest 9 dropped)."""
    if config.getvalue("dist") == "each":
        return None
    config.option.loadscopereorder = False  # keep the slow-first order, not biggest-file-first
    return FileScheduling(config, log)


@pytest.fixture(scope="session", autouse=True)
def _port_claims(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> None:
    """On an xdist worker, a folder shared by the run's workers (their temp roots' parent) where
    `free_run` claims ports: two workers scanning up from the same base could both find a port
    free and both bind it."""
    if hasattr(request.config, "workerinput"):
        claims = tmp_path_factory.getbasetemp().parent / "ports"
        claims.mkdir(exist_ok=True)
        _CLAIMS[:] = [claims]


def _claim(port: int) -> bool:
    """Whether ``port`` is this worker's to use now (always, without workers)."""
    if not _CLAIMS:
        return True
    try:
        os.close(os.open(_CLAIMS[0] / str(port), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


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


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: the controller prints the summary
        workeroutput["battery"] = list(_BATTERY)
        workeroutput["host_modes"] = sorted(HOST_MODES)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """On the xdist controller: a worker's lines for the summary."""
    output = getattr(node, "workeroutput", {})
    _BATTERY.extend(output.get("battery", []))
    HOST_MODES.update(output.get("host_modes", []))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _BATTERY:
        terminalreporter.section(f"security battery (hypothesis profile {PROFILE!r})")
        for line in _BATTERY:
            terminalreporter.write_line(line)
    for mode in sorted(HOST_MODES):
        terminalreporter.write_line(f"tests/network hosts: {mode}")


def free_run(count: int, start: int) -> int:
    """The first port from ``start`` on with ``count`` free ports in a row on 127.0.0.1 (and,
    under xdist, claimed by no other worker of the run)."""
    port = start
    while port + count < 65_000:
        socks: list[socket.socket] = []
        try:
            for offset in range(count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port + offset))
            if not all([_claim(port + offset) for offset in range(count)]):
                raise OSError("claimed by another worker")
            return port
        except OSError:
            port += count + 1
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no run of free ports")
