"""Organisations as a consortium runs them: each gateway on its own IPFS node
(scripts/ipfs_node.mjs) and in its own data directory, the nodes peered in one private swarm, so a
member reads another's content only by CID from its peers. On a chain and consortium of their own,
seeded as tests/world.py's is.

The fixture `members` (a pytest plugin, see tests/conftest.py) and helpers to use it.
"""

from __future__ import annotations

import itertools
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import requests
from web3 import Web3

from api.gateway import build_gateway
from api.main import create_app
from api.serving import serve
from ledger.chain.node import Anvil
from ledger.network.consortium import seed_demo
from ledger.settings import Settings
from ledger.store import IpfsNode, swarm_key_new
from tests.conftest import _free_port, free_run
from tests.world import MAX_PAYLOAD, Served, World

#: Organisations that get a node and a gateway of their own; hospital-a writes, the rest read.
NODE_ORGS = ("hospital-a", "hospital-b", "insurer", "pharmacy", "regulator")
#: How long a gateway waits for content from its peers: short, so what no peer has is told soon.
FETCH_TIMEOUT_S = 1.0

# Below the ephemeral range, clear of tests/store's nodes (from 24000).
_PORTS = itertools.count(25_500, 3)


@dataclass
class Members:
    """The gateways on their own nodes (as a World, so tests/world.py's helpers apply), the
    nodes, and each organisation's settings (for the CLI, or another gateway)."""

    world: World
    nodes: dict[str, IpfsNode]
    settings: dict[str, Settings]

    def drop_everywhere(self, cid: str) -> None:
        """Unpin ``cid`` and collect garbage on every node: afterwards no peer can deliver it."""
        for node in self.nodes.values():
            _rpc(node, "pin/rm", arg=cid, check=False)
            _rpc(node, "repo/gc")


def _rpc(node: IpfsNode, command: str, *, check: bool = True, **params: str) -> httpx.Response:
    reply = httpx.post(f"{node.url}/api/v0/{command}", params=params, timeout=30.0)
    if check and reply.is_error:
        pytest.fail(f"{command} on {node.url}: {reply.status_code} {reply.text[:300]}")
    return reply


def _wait_connected(node: IpfsNode, others: list[IpfsNode], timeout_s: float = 20.0) -> None:
    wanted = {other.peer_id for other in others}
    deadline = time.monotonic() + timeout_s
    while True:
        peers = {p["Peer"] for p in _rpc(node, "swarm/peers").json()["Peers"]}
        if wanted <= peers:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{node.peer_id} did not connect to {wanted - peers} within {timeout_s}s")
        time.sleep(0.1)


def _node(root: Path, org: str, swarm_key: Path, peers: list[str]) -> IpfsNode:
    return IpfsNode(
        repo_dir=root / org / "ipfs",
        swarm_key=swarm_key,
        api_port=free_run(1, next(_PORTS)),
        swarm_port=free_run(1, next(_PORTS)),
        peers=peers,
        fetch_timeout_s=FETCH_TIMEOUT_S,
        redial_interval_s=0.5,
    )


def own_settings(world: World, data_dir: Path, org: str, kubo_url: str) -> Settings:
    """Settings for ``org``'s gateway in ``data_dir`` (the deployment copied in: all it shares
    with the others is the chain), its store the IPFS node at ``kubo_url``."""
    (data_dir / "deployments").mkdir(parents=True, exist_ok=True)
    for deployment in (world.data_dir / "deployments").glob("*.json"):
        shutil.copy(deployment, data_dir / "deployments" / deployment.name)
    return Settings(
        data_dir=data_dir,
        rpc_url=world.consortium.rpc_url,
        org_key_file=Path(world.consortium.orgs[org].key_file),
        max_payload_bytes=MAX_PAYLOAD,
        store_backend="kubo",
        kubo_url=kubo_url,
        content_fetch_timeout_s=FETCH_TIMEOUT_S,
    )


@pytest.fixture(scope="session")
def members(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Members]:
    root = tmp_path_factory.mktemp("members")
    swarm_key = swarm_key_new(root / "swarm.key")
    with ExitStack() as stack:
        # A chain of its own: every batch on it names a manifest these nodes can serve (the
        # session's world writes to the embedded store, out of their reach).
        chain = stack.enter_context(Anvil(state_dir=root / "chain", port=_free_port()))
        session = stack.enter_context(requests.Session())
        session.trust_env = False
        w3 = Web3(Web3.HTTPProvider(chain.url, session=session))
        seeded = World(seed_demo(w3, root / "seed", chain.url, api_port=1), root / "seed", {}, w3)
        nodes: dict[str, IpfsNode] = {}
        for org in NODE_ORGS:
            # The writer first, on its own; every reader dials it, and it admits them all.
            peers = [] if org == NODE_ORGS[0] else [nodes[NODE_ORGS[0]].address]
            nodes[org] = _node(root, org, swarm_key, peers).start()
            stack.callback(nodes[org].wait_stopped)
            stack.callback(nodes[org].request_stop)
        writer, readers = nodes[NODE_ORGS[0]], [nodes[org] for org in NODE_ORGS[1:]]
        writer.set_peers([reader.address for reader in readers])
        _wait_connected(writer, readers)
        settings = {
            org: own_settings(seeded, root / org / "data", org, nodes[org].url) for org in NODE_ORGS
        }
        served: dict[str, Served] = {}
        for org in NODE_ORGS:
            gateway = build_gateway(settings[org])
            stack.callback(gateway.close)
            served[org] = Served(stack.enter_context(serve(create_app(gateway))), gateway)
        yield Members(
            World(seeded.consortium, root / NODE_ORGS[0] / "data", served, w3),
            nodes,
            settings,
        )
