"""Shared fixtures: one local anvil for the whole session, a Web3 on it, and free ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests
from web3 import Web3

from ledger.node import Anvil

# The seeded consortium and its gateways, for the API and CLI tests.
pytest_plugins = ["tests.world"]


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
