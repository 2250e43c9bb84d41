"""`medledger up`: local chain, deployment, demo consortium and one node per organisation.

Each organisation's node (ledger.network.org) runs from its own directory
(``<DATA_DIR>/orgs/<org>``), started by the code `medledger org start` runs; stopping `up` stops
them and the chain, whose state stays under the data directory for the next start.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ledger.chain import _artifacts, deploy
from ledger.chain.connection import connect
from ledger.chain.deploy import PrescriptionValidity
from ledger.chain.node import Anvil
from ledger.errors import ConfigError
from ledger.network.consortium import Consortium, OrgRecord, seed_demo
from ledger.network.content import consortium_swarm_key
from ledger.network.org import (
    OrgNode,
    copy_private,
    gateway_url,
    org_dir,
    start_chain,
    start_gateway,
    start_ipfs,
    stop_processes,
    write_org_env,
)
from ledger.network.org_join import publish_peer, sync_peers
from ledger.settings import Settings


@contextmanager
def chain_endpoint(settings: Settings) -> Iterator[str]:
    """The configured JSON-RPC endpoint, or a local anvil kept under the data directory."""
    if settings.rpc_url is not None:
        yield settings.rpc_url
        return
    with Anvil(
        port=settings.anvil_port,
        chain_id=settings.chain_id,
        state_dir=settings.data_dir / "chain",
        binary=settings.anvil_bin,
    ) as anvil:
        yield anvil.url


@dataclass(frozen=True)
class Stack:
    """What is running: the chain endpoint, the seeded consortium (development), and each
    organisation's node: its directory, gateway URL and IPFS node's API URL."""

    rpc_url: str
    consortium: Consortium | None
    gateways: dict[str, str]
    ipfs_nodes: dict[str, str] = field(default_factory=dict)  # organisation: its node's API URL
    orgs: dict[str, OrgNode] = field(default_factory=dict)


#: Settings an organisation's node inherits from the `medledger up` that writes its org.env.
_INHERITED = (
    "profile",
    "api_host",
    "ipfs_host",
    "content_fetch_timeout_s",
    "ipfs_redial_interval_s",
    "node_bin",
    "tx_timeout_s",
    "tx_confirmations",
)


def write_demo_org(
    settings: Settings, root: Path, org: OrgRecord, values: dict[str, str]
) -> OrgNode:
    """Write (or refresh) a demo organisation's directory under ``root`` (where the consortium was
    seeded): org.env with ``values`` (its chain endpoint and ports) over what it inherits from
    ``settings``, its copies of the deployment and of the swarm key. Its key is there already:
    seeding made it in place."""
    node = OrgNode(org_dir(root, org.name).resolve())
    inherited = {
        f"MEDLEDGER_{name.upper()}": str(value)
        for name in _INHERITED
        if (value := getattr(settings, name)) is not None
    }
    write_org_env(node, {**inherited, **values})
    if Path(org.key_file).resolve() != node.key_file:
        raise ConfigError(f"{org.name}'s key is at {org.key_file}, not in {node.root}")
    deploy.load_deployment(connect(values["MEDLEDGER_RPC_URL"]), root).save(node.root)
    swarm_key = consortium_swarm_key(settings.model_copy(update={"data_dir": root}))
    copy_private(swarm_key, node.swarm_key)
    return node


def start_nodes(stack: ExitStack, nodes: Iterable[OrgNode]) -> None:
    """Start each organisation's node as `medledger org start` does, stopped when ``stack``
    closes; every node publishes its peer before any takes its peers from the directory."""
    nodes = list(nodes)
    for node in nodes:
        stack.callback(stop_processes, node)
        start_chain(node)
    # Processes start side by side: a gateway spends seconds importing before it answers.
    with ThreadPoolExecutor(max_workers=max(len(nodes), 1)) as pool:
        list(pool.map(start_ipfs, nodes))
        for node in nodes:
            publish_peer(node)
        for node in nodes:
            sync_peers(node)
        list(pool.map(start_gateway, nodes))


@contextmanager
def running_stack(settings: Settings, only: Iterable[str] | None = None) -> Iterator[Stack]:
    """Chain, deployment, the demo consortium and one node per organisation (its IPFS node and
    gateway, started as `medledger org start` starts them), stopped on exit. ``only`` limits the
    nodes started to those organisations (tests that need fewer)."""
    _artifacts.check_sources()
    if settings.profile != "development":
        raise ConfigError(
            "`medledger up` runs the development consortium; "
            "a member runs its own node with `medledger org start ORG`"
        )
    with ExitStack() as stack:
        rpc_url = stack.enter_context(chain_endpoint(settings))
        w3 = connect(rpc_url)
        validity = PrescriptionValidity(
            zone=settings.zone,
            online_days=settings.prescription_online_days,
            offline_days=settings.prescription_offline_days,
        )
        consortium = seed_demo(
            w3,
            settings.data_dir,
            rpc_url,
            settings.api_port,
            prescription_validity=validity,
            follow_up_window_s=settings.demo_follow_up_window_days * 86_400,
            min_internet_practice_years=settings.min_internet_practice_years,
            break_glass=deploy.BreakGlassTerms.from_settings(settings),
        )
        wanted = set(only) if only is not None else None
        peers = json.dumps(
            {o.address: o.gateway_url for o in consortium.orgs.values() if o.gateway_url}
        )
        nodes: dict[str, OrgNode] = {}
        for index, org in enumerate(o for o in consortium.orgs.values() if o.gateway_url):
            if wanted is None or org.name in wanted:
                assert org.gateway_url is not None
                values = {
                    "MEDLEDGER_RPC_URL": rpc_url,
                    "MEDLEDGER_CHAIN_ID": str(settings.chain_id),
                    "MEDLEDGER_API_PORT": org.gateway_url.rsplit(":", 1)[1],
                    "MEDLEDGER_IPFS_API_PORT": str(settings.ipfs_api_port + index),
                    "MEDLEDGER_IPFS_SWARM_PORT": str(settings.ipfs_swarm_port + index),
                    "MEDLEDGER_PEER_GATEWAYS": peers,  # the pharmacy counter's relay
                }
                nodes[org.name] = write_demo_org(settings, settings.data_dir, org, values)
        start_nodes(stack, nodes.values())
        urls = {name: gateway_url(node.settings()) for name, node in nodes.items()}
        ipfs = {name: node.settings().kubo_url for name, node in nodes.items()}
        yield Stack(rpc_url, consortium, urls, ipfs, nodes)


def up(settings: Settings) -> None:
    """Start everything `make run` promises and serve until interrupted."""
    with running_stack(settings) as running:
        print(f"chain    {running.rpc_url}")
        for name, url in running.gateways.items():
            print(f"gateway  {name:<11} {url}  (OpenAPI: {url}/docs)")
        for name, url in running.ipfs_nodes.items():
            print(f"ipfs     {name:<11} {url}  ({running.orgs[name].root / 'ipfs'})")
        consoles = {"patients": "hospital-a", "regulator": "regulator", "pharmacist": "pharmacy"}
        for who, name in consoles.items():
            if name in running.gateways:
                print(f"console  {who:<11} {running.gateways[name]}/console/")
        print(
            "ready: run `medledger demo` in another terminal; Ctrl-C stops (state is kept)",
            flush=True,
        )
        wait_for_interrupt()


def wait_for_interrupt() -> None:
    """Block until SIGINT or SIGTERM; both set explicitly: a background job may ignore SIGINT."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    stop.wait()
