"""Clique signer nodes: EthereumJS clients sealing proof-of-authority blocks on loopback.

What `make network-up` runs and `make test-network` tests: several signer nodes, each its own
process with its own chain database, peered over RLPx on 127.0.0.1. The production network is Besu
with QBFT (``ledger.network.besu``); this one exists so that the ledger is exercised against a
second client and a real peer-to-peer network here, where Besu cannot be installed.

Each node runs ``scripts/clique_node.mjs``: the pinned EthereumJS client with two fixes to block
propagation, explained there and in docs/operations.md.
"""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import httpx

from ledger.chain.node import NodeProcess, is_listening
from ledger.errors import ChainUnavailable, ConfigError

_REPO_ROOT = Path(__file__).resolve().parents[2]
NODE_SCRIPT = _REPO_ROOT / "scripts" / "clique_node.mjs"
#: The client names its chain after the genesis file; its data lives under <datadir>/<name>/.
CHAIN_NAME = "medledger"
GENESIS_FILE = f"{CHAIN_NAME}.json"
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
