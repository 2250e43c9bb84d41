"""A local multi-node proof-of-authority network: EthereumJS clients sealing Clique on loopback.

What `make network-up` runs and `make test-network` tests: several signer nodes, each its own
process with its own chain database, peered over RLPx on 127.0.0.1. The production network is Besu
with QBFT (``ledger.besu``); this one exists so that the ledger is exercised against a second client
and a real peer-to-peer network here, where Besu cannot be installed.

Each node runs ``scripts/clique_node.mjs``: the pinned EthereumJS client with two fixes to block
propagation, explained there and in docs/operations.md.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger import _artifacts
from ledger.chain import connect
from ledger.consortium import DEMO_ORGS, Consortium, seed_demo
from ledger.errors import ChainUnavailable, ConfigError
from ledger.node import NodeProcess, is_listening
from ledger.settings import Settings

_REPO_ROOT = Path(__file__).resolve().parent.parent
NODE_SCRIPT = _REPO_ROOT / "scripts" / "clique_node.mjs"
#: The client names its chain after the genesis file; its data lives under <datadir>/<name>/.
CHAIN_NAME = "medledger"
GENESIS_FILE = f"{CHAIN_NAME}.json"
STATE_FILE = "network.json"
_VANITY = bytes(32)
_SEAL = bytes(65)


def clique_extra_data(signers: Sequence[str]) -> str:
    """EIP-225 genesis extraData: 32 bytes of vanity, the signers in order, a blank seal."""
    addresses = sorted(bytes.fromhex(a.removeprefix("0x")) for a in signers)
    if (
        not addresses
        or any(len(a) != 20 for a in addresses)
        or len(set(addresses)) != len(addresses)
    ):
        raise ConfigError("Clique needs at least one signer, each a distinct 20-byte address")
    return "0x" + (_VANITY + b"".join(addresses) + _SEAL).hex()


def clique_genesis(
    chain_id: int,
    signers: Sequence[str],
    *,
    period_s: int,
    epoch: int = 1_000_000_000,
    gas_limit: int = 30_000_000,
    timestamp: int | None = None,
) -> dict[str, Any]:
    """A geth-style Clique genesis: Berlin rules, no balances needed (the network is gas-free).

    Berlin, not London: London's base fee never falls to zero, and a zero gas price is what makes
    the network gas-free, as a Besu consortium with ``min-gas-price=0`` and a zero base fee is.
    The contracts target paris without block.basefee, so they run on Berlin rules.
    """
    if period_s < 1:
        raise ConfigError("the Clique block period is a whole number of seconds, at least 1")
    forks = [
        "homesteadBlock",
        "eip150Block",
        "eip155Block",
        "eip158Block",
        "byzantiumBlock",
        "constantinopleBlock",
        "petersburgBlock",
        "istanbulBlock",
        "berlinBlock",
    ]
    return {
        "config": {
            "chainId": chain_id,
            **dict.fromkeys(forks, 0),
            "clique": {"period": period_s, "epoch": epoch},
        },
        "nonce": "0x0",
        "timestamp": hex(int(time.time()) if timestamp is None else timestamp),
        "extraData": clique_extra_data(signers),
        "gasLimit": hex(gas_limit),
        "difficulty": "0x1",
        "mixHash": "0x" + "00" * 32,
        "coinbase": "0x" + "00" * 20,
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
        # Nobody needs a balance. And no empty accounts: a signer's would be deleted when first
        # touched as coinbase (EIP-161), a state change the client's block builder cannot foresee.
        "alloc": {},
    }


def rpc(url: str, method: str, *params: Any, timeout_s: float = 5.0) -> Any:
    """One JSON-RPC call; ChainUnavailable if the node does not answer or answers an error."""
    request = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    try:
        reply = httpx.post(url, json=request, timeout=timeout_s).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ChainUnavailable(f"{method} at {url}: {exc}") from exc
    if "error" in reply:
        raise ChainUnavailable(f"{method} at {url}: {reply['error']}")
    return reply.get("result")


def find_node() -> Path:
    node = shutil.which("node")
    if node is None:
        raise ConfigError("node (Node.js 20) is not on PATH; the network's clients need it")
    if not (_REPO_ROOT / "node_modules" / "@ethereumjs" / "client").is_dir():
        raise ConfigError("@ethereumjs/client is not installed: run `npm ci`")
    return Path(node)


class CliqueNode(NodeProcess):
    """One signer: an EthereumJS client process with its chain under ``data_dir``."""

    def __init__(
        self,
        *,
        name: str,
        data_dir: Path,
        genesis: Path,
        signer_key_file: Path,
        p2p_port: int,
        rpc_port: int,
        host: str = "127.0.0.1",
        startup_timeout_s: float = 60.0,
    ) -> None:
        super().__init__(
            host=host,
            rpc_port=rpc_port,
            log_file=data_dir / "node.log",
            startup_timeout_s=startup_timeout_s,
        )
        self.name = name
        self.data_dir = data_dir
        self.genesis = genesis
        self.signer_key_file = signer_key_file
        self.p2p_port = p2p_port

    @property
    def _enode_file(self) -> Path:
        # The client writes its listening RLPx URL here once it listens.
        return self.data_dir / CHAIN_NAME / "rlpx"

    @property
    def enode(self) -> str | None:
        """``enode://<node id>@127.0.0.1:<port>``, known once the node has listened (ever)."""
        try:
            return self._enode_file.read_text().strip() or None
        except FileNotFoundError:
            return None

    def command(self, bootnodes: Sequence[str]) -> list[str]:
        return [
            str(find_node()),
            str(NODE_SCRIPT),
            *("--gethGenesis", str(self.genesis), "--dataDir", str(self.data_dir)),
            # RLPx: the client listens on every interface (its code fixes 0.0.0.0), but peers
            # are named and dialled on loopback only; no discovery, no DNS lookups.
            *("--port", str(self.p2p_port), "--extIP", self.host),
            *("--discDns=false", "--discV4=false", "--dnsAddr", self.host),
            *(("--bootnodes", ",".join(bootnodes)) if bootnodes else ()),
            *("--rpc", "--rpcAddr", self.host, "--rpcPort", str(self.rpc_port)),
            *("--mine", "--unlock", str(self.signer_key_file)),
            *("--logLevel", "info", "--logFile", str(self.data_dir / "errors.log")),
            *(
                "--logLevelFile",
                "error",
                "--logRotate=false",
            ),
        ]

    #: SIGTERM: the client closes its databases, which takes some seconds.
    stop_signal = signal.SIGTERM
    stop_timeout_s = 30.0

    def start(self, bootnodes: Sequence[str] = ()) -> Self:
        """Start the client; returns once it answers JSON-RPC and listens for peers."""
        if self.running:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._enode_file.unlink(missing_ok=True)  # rewritten once the node listens again
        self._launch(self.command(bootnodes), cwd=self.data_dir)
        return self

    def _ready(self) -> bool:
        return self.enode is not None and is_listening(self.url)

    # What the node says about itself.
    def block_number(self) -> int:
        return int(rpc(self.url, "eth_blockNumber"), 16)

    def block_hash(self, number: int) -> str | None:
        block = rpc(self.url, "eth_getBlockByNumber", hex(number), False)
        return None if block is None else str(block["hash"])

    def peer_count(self) -> int:
        return int(rpc(self.url, "net_peerCount"), 16)


@dataclass(frozen=True)
class NetworkPorts:
    """Node i listens for peers on p2p_base + i and for JSON-RPC on rpc_base + i."""

    p2p_base: int = 30_403
    rpc_base: int = 8_645


class LocalNetwork:
    """N Clique signers under ``root``: keys, genesis and chain data kept across restarts.

    ``root`` holds ``medledger.json`` (the genesis), ``keys/signer-<i>.key`` (each signer's raw key,
    as the client's ``--unlock`` reads it; development only) and ``node-<i>/`` (its chain).
    A genesis already there is kept: the network's chain continues where it stopped.
    """

    def __init__(
        self,
        root: Path,
        *,
        signers: int = 3,
        chain_id: int = 1_337_2026,
        period_s: int = 2,
        ports: NetworkPorts | None = None,
    ) -> None:
        if signers < 3:
            # EIP-225 lets a signer seal one block in floor(N/2)+1: with two signers the loss of
            # one halts the chain, which would make the network's one promise untestable.
            raise ConfigError("the local network needs at least three signers")
        self.root = root.resolve()  # each node runs in its own directory: no relative paths
        self.chain_id = chain_id
        self.period_s = period_s
        self.ports = ports or NetworkPorts()
        self.accounts = [self._signer(i) for i in range(signers)]
        genesis = self.root / GENESIS_FILE
        if not genesis.exists():
            spec = clique_genesis(chain_id, [a.address for a in self.accounts], period_s=period_s)
            _write_private(genesis, json.dumps(spec, indent=2) + "\n", mode=0o644)
        self._check_genesis(genesis)
        self.nodes = [
            CliqueNode(
                name=f"node-{i + 1}",
                data_dir=self.root / f"node-{i + 1}",
                genesis=genesis,
                signer_key_file=self.root / "keys" / f"signer-{i + 1}.key",
                p2p_port=self.ports.p2p_base + i,
                rpc_port=self.ports.rpc_base + i,
            )
            for i in range(signers)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    def _signer(self, i: int) -> LocalAccount:
        path = self.root / "keys" / f"signer-{i + 1}.key"
        if not path.exists():
            _write_private(path, Account.create().key.hex().removeprefix("0x"))
        account: LocalAccount = Account.from_key(bytes.fromhex(path.read_text().strip()))
        return account

    def _check_genesis(self, genesis: Path) -> None:
        spec = json.loads(genesis.read_text())
        if spec["config"]["chainId"] != self.chain_id:
            raise ConfigError(
                f"{genesis} is for chain {spec['config']['chainId']}, not {self.chain_id}; "
                f"remove {self.root} to start a new network"
            )
        if spec["extraData"] != clique_extra_data([a.address for a in self.accounts]):
            raise ConfigError(f"{genesis} names other signers than {self.root / 'keys'}")

    def start(self) -> Self:
        """Start every node, one after another, each dialling those already up; wait for peering.

        Staggered on purpose: a node dials the enodes it is given, so the first has none and each
        later one dials all before it, which peers every pair once.
        """
        try:
            for node in self.nodes:
                self.start_node(node)
            self.wait_peered()
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, node: CliqueNode) -> None:
        """(Re)start one node, dialling every other node whose enode is known."""
        bootnodes = [other.enode for other in self.nodes if other is not node and other.running]
        node.start([e for e in bootnodes if e])

    def stop(self) -> None:
        """Stop every node, all at once: each takes some seconds to close its databases."""
        for node in self.nodes:
            node.request_stop()
        for node in self.nodes:
            node.wait_stopped()

    def wait_peered(self, timeout_s: float = 60.0) -> None:
        """Until every running node has a peer in every other running node."""
        running = [n for n in self.nodes if n.running]
        self._wait(
            lambda: all(n.peer_count() >= len(running) - 1 for n in running),
            timeout_s,
            "the nodes did not all peer",
        )

    def wait_blocks(self, count: int, timeout_s: float = 60.0) -> int:
        """Until the running nodes agree on a head ``count`` blocks past the current one."""
        running = [n for n in self.nodes if n.running]
        target = max(n.block_number() for n in running) + count

        def agreed() -> bool:
            numbers = [n.block_number() for n in running]
            if min(numbers) < target:
                return False
            return len({n.block_hash(target) for n in running}) == 1

        self._wait(agreed, timeout_s, f"the nodes did not agree on block {target}")
        return target

    @staticmethod
    def _wait(check: Any, timeout_s: float, failure: str) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if check():
                    return
            except ChainUnavailable:
                pass
            if time.monotonic() > deadline:
                raise ChainUnavailable(f"{failure} within {timeout_s:.0f}s")
            time.sleep(0.25)

    def state(self) -> dict[str, Any]:
        """What is running, for ``medledger network status`` and ``down``."""
        return {
            "chain_id": self.chain_id,
            "period_s": self.period_s,
            "nodes": [
                {
                    "name": n.name,
                    "rpc_url": n.url,
                    "enode": n.enode,
                    "pid": n.pid,
                    "signer": a.address,
                }
                for n, a in zip(self.nodes, self.accounts, strict=True)
            ],
        }

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _write_private(path: Path, text: str, *, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w") as out:
        out.write(text)


# The whole local network stack: signers, the ledger deployed on them, one gateway per node.

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
    """Signers up, contracts deployed and the demo consortium seeded once, and a gateway for each
    organisation in ``gateways_at`` (organisation -> node index) served."""
    from ledger.stack import gateway_env, gateway_process

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
            w3, root, first, settings.network_api_port, confirmations=confirmations
        )
        gateways: dict[str, str] = {}
        nodes: dict[str, str] = {}
        for name, index in gateways_at.items():
            org = consortium.orgs[name]
            assert org.gateway_url is not None
            port = int(org.gateway_url.rsplit(":", 1)[1])
            node_url = network.nodes[index % len(network.nodes)].url
            env = gateway_env(root, node_url, org.key_file, port, settings.network_chain_id)
            env["MEDLEDGER_TX_TIMEOUT_S"] = str(settings.tx_timeout_s)
            env["MEDLEDGER_TX_CONFIRMATIONS"] = str(confirmations)
            gateways[name] = stack.enter_context(
                gateway_process(env, settings.api_host, port, root / "logs" / f"gateway-{name}.log")
            )
            nodes[name] = node_url
        yield RunningNetwork(network, consortium, gateways, nodes)


def up(settings: Settings, *, ready_file: Path | None = None) -> None:
    """Run the network stack until SIGINT or SIGTERM (what `make network-up` runs, detached)."""
    from ledger.stack import wait_for_interrupt

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
