"""N Clique signers on loopback as one local network: keys, genesis, chain data, peering."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.errors import ChainUnavailable, ConfigError
from ledger.network.clique import GENESIS_FILE, CliqueNode, clique_extra_data, clique_genesis


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

        try:
            self._wait(agreed, timeout_s, f"the nodes did not agree on block {target}")
        except ChainUnavailable as exc:
            raise ChainUnavailable(f"{exc}; heads: {self.heads(running)}") from exc
        return target

    @staticmethod
    def heads(nodes: list[CliqueNode]) -> str:
        """Each node's head, for a failure message: what a stalled or forked network looks like."""
        heads = []
        for node in nodes:
            try:
                number = node.block_number()
                heads.append(
                    f"{node.name} #{number} {node.block_hash(number)} peers={node.peer_count()}"
                )
            except ChainUnavailable as exc:
                heads.append(f"{node.name} unavailable ({exc})")
        return ", ".join(heads)

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
