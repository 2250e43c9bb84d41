"""The whole local network stack (`medledger network up|down|status`): signers, the ledger
deployed on them, the demo consortium and one gateway per node, detached or in the foreground."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.chain import _artifacts
from ledger.chain.connection import connect
from ledger.errors import ChainUnavailable, ConfigError
from ledger.network.clique import rpc
from ledger.network.consortium import DEMO_ORGS, Consortium, seed_demo
from ledger.network.local import LocalNetwork, NetworkPorts
from ledger.network.org import CHAIN_FILE, ORG_ENV, ChainNode, OrgNode, gateway_url, stop_processes
from ledger.settings import Settings

STATE_FILE = "network.json"

#: Which node each demo organisation's gateway talks to, round robin in the consortium's order:
#: writes and reads cross nodes, and every organisation the demo speaks to has its gateway.
GATEWAY_NODES = {
    spec.name: index for index, spec in enumerate(s for s in DEMO_ORGS if s.port_offset is not None)
}


def network_root(settings: Settings) -> Path:
    """Everything the network keeps: chain data, keys, deployment, demo consortium, gateway DBs."""
    return settings.data_dir / "network"


def local_network(settings: Settings) -> LocalNetwork:
    return LocalNetwork(
        network_root(settings) / "chain",
        signers=settings.network_signers,
        chain_id=settings.network_chain_id,
        period_s=settings.network_block_period_s,
        ports=NetworkPorts(settings.network_p2p_port, settings.network_rpc_port),
    )


@dataclass(frozen=True)
class RunningNetwork:
    network: LocalNetwork
    consortium: Consortium
    gateways: dict[str, str]  # organisation -> URL
    gateway_nodes: dict[str, str]  # organisation -> the node's JSON-RPC URL


@contextmanager
def running_network(
    settings: Settings, gateways_at: Mapping[str, int] = GATEWAY_NODES
) -> Iterator[RunningNetwork]:
    """Signers up, contracts deployed and the demo consortium seeded once, and a node for each
    organisation in ``gateways_at`` (organisation -> the index of the signer its gateway talks
    to): its directory under ``<root>/orgs``, its IPFS node and gateway. The first organisation
    on each signer runs it (its ``chain.json``), so `org stop` stops that signer too."""
    from ledger.network.stack import start_nodes, write_demo_org

    _artifacts.check_sources()
    root = network_root(settings)
    with ExitStack() as stack:
        network = stack.enter_context(local_network(settings))
        # Signers seal on their own until they have peered; let those early forks settle first.
        network.wait_blocks(2, timeout_s=120)
        first = network.nodes[0].url
        w3 = connect(first, timeout_s=settings.tx_timeout_s)
        confirmations = settings.network_tx_confirmations
        consortium = seed_demo(
            w3,
            root,
            first,
            settings.network_api_port,
            confirmations=confirmations,
            min_internet_practice_years=settings.min_internet_practice_years,
        )
        nodes: dict[str, str] = {}
        orgs = []
        owned: set[int] = set()
        peer_gateways = json.dumps(
            {consortium.orgs[n].address: consortium.orgs[n].gateway_url for n in gateways_at}
        )
        for place, (name, index) in enumerate(gateways_at.items()):
            org = consortium.orgs[name]
            assert org.gateway_url is not None
            index %= len(network.nodes)
            signer = network.nodes[index]
            values = {
                "MEDLEDGER_RPC_URL": signer.url,
                "MEDLEDGER_CHAIN_ID": str(settings.network_chain_id),
                "MEDLEDGER_API_PORT": org.gateway_url.rsplit(":", 1)[1],
                "MEDLEDGER_IPFS_API_PORT": str(settings.network_ipfs_api_port + place),
                "MEDLEDGER_IPFS_SWARM_PORT": str(settings.network_ipfs_swarm_port + place),
                "MEDLEDGER_TX_TIMEOUT_S": str(settings.tx_timeout_s),
                "MEDLEDGER_TX_CONFIRMATIONS": str(confirmations),
                "MEDLEDGER_PEER_GATEWAYS": peer_gateways,  # the pharmacy counter's relay
            }
            node = write_demo_org(settings, root, org, values)
            if index not in owned and signer.pid is not None:
                owned.add(index)
                peers = [o.enode for o in network.nodes if o is not signer and o.enode]
                ChainNode(signer.command(peers), str(signer.data_dir), signer.url).save(node)
                node.pid_file("chain").write_text(f"{signer.pid}\n")
            else:
                (node.root / CHAIN_FILE).unlink(missing_ok=True)  # an earlier run's, if any
            orgs.append(node)
            nodes[name] = signer.url
        start_nodes(stack, orgs)
        gateways = {node.name: gateway_url(node.settings()) for node in orgs}
        yield RunningNetwork(network, consortium, gateways, nodes)


def up(settings: Settings, *, ready_file: Path | None = None) -> None:
    """Run the network stack until SIGINT or SIGTERM (what `make network-up` runs, detached)."""
    from ledger.network.stack import wait_for_interrupt

    with running_network(settings) as running:
        state = running.network.state()
        state["gateways"] = {
            name: {"url": url, "node": running.gateway_nodes[name]}
            for name, url in running.gateways.items()
        }
        state["supervisor_pid"] = os.getpid()
        text = json.dumps(state, indent=2) + "\n"
        (network_root(settings) / STATE_FILE).write_text(text)
        for node in state["nodes"]:
            print(f"node     {node['name']}  {node['rpc_url']}  signer {node['signer']}")
        for name, gateway in state["gateways"].items():
            print(f"gateway  {name:<11} {gateway['url']}  (on {gateway['node']})")
        print(
            f"ready: `MEDLEDGER_DATA_DIR={network_root(settings)} medledger demo` runs the demo",
            flush=True,
        )
        if ready_file is not None:
            ready_file.write_text(text)
        wait_for_interrupt()


# Detached: `make network-up` returns once the stack is ready; `make network-down` stops it.

PID_FILE = "supervisor.pid"


def _alive(pid: int, marker: str) -> bool:
    """Whether ``pid`` runs and its command line names ``marker`` (so a reused pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return marker in cmdline


def up_detached(settings: Settings, *, timeout_s: float = 600.0) -> dict[str, Any]:
    """Start ``medledger network up`` in the background; returns its state once it is ready."""
    import sys

    root = network_root(settings)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    pid_file = root / PID_FILE
    if pid_file.exists() and _alive(int(pid_file.read_text()), "network up"):
        raise ConfigError(f"the network already runs (pid {pid_file.read_text().strip()})")
    ready = root / "ready.json"
    ready.unlink(missing_ok=True)
    log = root / "logs" / "network.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
            [sys.executable, "-m", "ledger.cli", "network", "up", "--ready-file", str(ready)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives this command; `network down` stops it
        )
    pid_file.write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + timeout_s
    while not ready.exists():
        if proc.poll() is not None:
            raise ChainUnavailable(
                f"the network stopped while starting (exit {proc.returncode}); see {log}"
            )
        if time.monotonic() > deadline:
            raise ChainUnavailable(f"the network was not ready within {timeout_s:.0f}s; see {log}")
        time.sleep(0.5)
    state: dict[str, Any] = json.loads(ready.read_text())
    return state


def down(settings: Settings, *, timeout_s: float = 90.0) -> bool:
    """Stop a detached network: its supervisor stops gateways and nodes in order. False if none."""
    root = network_root(settings)
    pid_file = root / PID_FILE
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    stopped_any = False
    if _alive(pid, "network up"):
        os.kill(pid, signal.SIGTERM)
        stopped_any = True
        deadline = time.monotonic() + timeout_s
        while _alive(pid, "network up") and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid, "network up"):
            os.kill(pid, signal.SIGKILL)
    # Nodes run in their own sessions: if the supervisor died without stopping them, stop them
    # here, each by its recorded pid and only if it is still that node.
    state_file = root / STATE_FILE
    if state_file.exists():
        for node in json.loads(state_file.read_text())["nodes"]:
            node_pid = node.get("pid")
            marker = str(root / "chain" / node["name"])
            if node_pid and _alive(node_pid, marker):
                os.kill(node_pid, signal.SIGTERM)
                stopped_any = True
    # An organisation's processes restarted with `org start` are not the supervisor's children.
    for env_file in sorted((root / "orgs").glob(f"*/{ORG_ENV}")):
        stopped_any = bool(stop_processes(OrgNode(env_file.parent))) or stopped_any
    pid_file.unlink(missing_ok=True)
    return stopped_any


def status(settings: Settings) -> list[dict[str, Any]]:
    """Each node's head and peers, as it answers now (or ``down``)."""
    state_file = network_root(settings) / STATE_FILE
    if not state_file.exists():
        return []
    rows: list[dict[str, Any]] = []
    for node in json.loads(state_file.read_text())["nodes"]:
        url = node["rpc_url"]
        try:
            rows.append(
                {
                    "name": node["name"],
                    "rpc_url": url,
                    "block": int(rpc(url, "eth_blockNumber"), 16),
                    "peers": int(rpc(url, "net_peerCount"), 16),
                }
            )
        except ChainUnavailable:
            rows.append({"name": node["name"], "rpc_url": url, "block": None, "peers": None})
    return rows
