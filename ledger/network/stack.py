"""`medledger up`: local chain, deployment, demo consortium and one node per organisation.

Each organisation's node (ledger.network.org) runs from its own directory
(``<DATA_DIR>/orgs/<org>``), started by the code `medledger org start` runs; stopping `up` stops
them and the chain, whose state stays under the data directory for the next start.
``gateway_env`` and ``gateway_process`` serve the multi-node network's gateways (supervisor).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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


def gateway_env(
    data_dir: Path, rpc_url: str, key_file: str, port: int, chain_id: int
) -> dict[str, str]:
    """The environment of one organisation's gateway process."""
    env = dict(os.environ)
    env.update(
        MEDLEDGER_RPC_URL=rpc_url,
        MEDLEDGER_CHAIN_ID=str(chain_id),
        MEDLEDGER_DATA_DIR=str(data_dir.resolve()),
        MEDLEDGER_ORG_KEY_FILE=str(Path(key_file).resolve()),
        MEDLEDGER_API_PORT=str(port),
    )
    return env


def gateway_command(host: str, port: int) -> list[str]:
    """The command that serves one organisation's gateway (settings from its environment)."""
    return [
        sys.executable,
        *("-m", "uvicorn", "--factory", "api.main:app_from_env"),
        *("--host", host, "--port", str(port), "--no-access-log"),
    ]


@contextmanager
def gateway_process(env: dict[str, str], host: str, port: int, log: Path) -> Iterator[str]:
    """One organisation's gateway in its own uvicorn process; yields its URL once it answers."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            gateway_command(host, port),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://{host}:{port}"
    try:
        _wait_healthy(url, proc, log)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"gateway at {url} exited with {proc.returncode}; see {log}")
        try:
            if httpx.get(f"{url}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"gateway at {url} did not answer within {timeout_s:.0f}s; see {log}")


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
    settings: Settings, rpc_url: str, org: OrgRecord, index: int, port: int
) -> OrgNode:
    """Write (or refresh) one demo organisation's directory: org.env with its ports (gateway on
    ``port``, IPFS on the IPFS ports plus ``index``), its copies of the deployment and swarm key.
    Its key is there already: seeding made it in place."""
    node = OrgNode(org_dir(settings.data_dir, org.name).resolve())
    values = {
        f"MEDLEDGER_{name.upper()}": str(value)
        for name in _INHERITED
        if (value := getattr(settings, name)) is not None
    }
    values.update(
        MEDLEDGER_RPC_URL=rpc_url,
        MEDLEDGER_CHAIN_ID=str(settings.chain_id),
        MEDLEDGER_API_PORT=str(port),
        MEDLEDGER_IPFS_API_PORT=str(settings.ipfs_api_port + index),
        MEDLEDGER_IPFS_SWARM_PORT=str(settings.ipfs_swarm_port + index),
    )
    write_org_env(node, values)
    if Path(org.key_file).resolve() != node.key_file:
        raise ConfigError(f"{org.name}'s key is at {org.key_file}, not in {node.root}")
    deploy.load_deployment(connect(rpc_url), settings.data_dir).save(node.root)
    copy_private(consortium_swarm_key(settings), node.swarm_key)
    return node


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
        )
        wanted = set(only) if only is not None else None
        nodes: dict[str, OrgNode] = {}
        for index, org in enumerate(o for o in consortium.orgs.values() if o.gateway_url):
            if wanted is None or org.name in wanted:
                assert org.gateway_url is not None
                port = int(org.gateway_url.rsplit(":", 1)[1])
                nodes[org.name] = write_demo_org(settings, rpc_url, org, index, port)
        for node in nodes.values():
            stack.callback(stop_processes, node)
            start_ipfs(node)
            publish_peer(node)
        for node in nodes.values():
            sync_peers(node)  # now that every node has published its peer
        for node in nodes.values():
            start_gateway(node)
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
