"""Fixtures for the content store tests: stores on temporary directories, and real IPFS nodes
(scripts/ipfs_node.mjs), each a process with its own directory, started once per module."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from kubo_proxy import KuboProxy

from ledger.store import EmbeddedStore, IpfsNode, KuboStore, swarm_key_new
from tests.conftest import free_run

#: How long a node waits for a block from its peers in these tests: short, so that what no peer
#: has is reported quickly.
FETCH_TIMEOUT_S = 2.0

StartNode = Callable[..., IpfsNode]

# Ports below the ephemeral range (32768-60999 here): a port the OS hands out for outgoing
# connections can be taken between our asking and the node's binding it.
_PORTS = itertools.count(24_000, 5)


def _node_port() -> int:
    return free_run(1, next(_PORTS))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "store") as store:
        yield store


@pytest.fixture(scope="module")
def swarm_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The consortium's pre-shared key for this module's nodes."""
    return swarm_key_new(tmp_path_factory.mktemp("consortium") / "swarm.key")


@pytest.fixture(scope="module")
def start_node(tmp_path_factory: pytest.TempPathFactory, swarm_key: Path) -> Iterator[StartNode]:
    """``start_node(name, peers=(), swarm_key=...)``: a running node in a directory of its own,
    on free loopback ports; every node started is stopped when the module ends."""
    nodes: list[IpfsNode] = []

    def start(name: str, peers: Iterable[str] = (), key: Path = swarm_key) -> IpfsNode:
        node = IpfsNode(
            repo_dir=tmp_path_factory.mktemp(name) / "ipfs",
            swarm_key=key,
            api_port=_node_port(),
            swarm_port=_node_port(),
            peers=peers,
            fetch_timeout_s=FETCH_TIMEOUT_S,
            redial_interval_s=0.5,
        )
        nodes.append(node)
        return node.start()

    yield start
    for node in nodes:
        node.request_stop()
    for node in nodes:
        node.wait_stopped()


@pytest.fixture(scope="module")
def ipfs_node(start_node: StartNode) -> IpfsNode:
    """One node on its own, for the KuboStore tests."""
    return start_node("solo")


@pytest.fixture
def kubo_proxy(ipfs_node: IpfsNode) -> Iterator[KuboProxy]:
    proxy = KuboProxy(ipfs_node.url).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def kubo(kubo_proxy: KuboProxy) -> Iterator[KuboStore]:
    """KuboStore on the real node through a proxy that records calls (and misbehaves on request)."""
    with KuboStore(kubo_proxy.url, timeout=FETCH_TIMEOUT_S + 10.0) as store:
        yield store
