"""The organisation's IPFS node (scripts/ipfs_node.mjs, Helia) as a child process in its own
directory, speaking Kubo's RPC subset on its API port and libp2p under the consortium's swarm key.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Self, TypedDict

import httpx

from ledger.chain.node import NodeProcess
from ledger.errors import ConfigError, StoreUnavailable
from ledger.store.kubo import KuboStore

_REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = _REPO_ROOT / "scripts" / "ipfs_node.mjs"
# libp2p 3 needs Promise.withResolvers, which Node 20 lacks; loaded before the script's imports.
POLYFILL = _REPO_ROOT / "scripts" / "promise_with_resolvers.mjs"
LOG_FILE = "ipfs-node.log"
PEERS_FILE = "peers"
_SWARM_KEY_HEADER = "/key/swarm/psk/1.0.0/\n/base16/\n"


class NodeIdentity(TypedDict):
    """What the node's ``id`` command answers that we use (Kubo's field names)."""

    ID: str
    Addresses: list[str]


def swarm_key_new(path: Path) -> Path:
    """Write a new 32-byte pre-shared key in Kubo's ``swarm.key`` format, readable by the owner
    only; ConfigError if ``path`` exists (a consortium's key is made once and then copied)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists: a swarm key is never overwritten") from None
    with os.fdopen(fd, "w") as file:
        file.write(_SWARM_KEY_HEADER + secrets.token_hex(32) + "\n")
    return path


def find_node(binary: Path | None = None) -> Path:
    """``binary`` if given, else ``node`` on PATH."""
    found = binary if binary is not None else shutil.which("node")
    if found is None or not Path(found).is_file():
        raise ConfigError(f"Node.js not found ({binary or 'node on PATH'}); set MEDLEDGER_NODE_BIN")
    return Path(found)


class IpfsNode(NodeProcess):
    """One IPFS node with its repository (blocks, datastore, peer key, log) under ``repo_dir``."""

    name = "ipfs node"
    unavailable = StoreUnavailable

    def __init__(
        self,
        *,
        repo_dir: Path,
        swarm_key: Path,
        api_port: int = 5001,
        swarm_port: int = 4001,
        host: str = "127.0.0.1",
        api_host: str = "127.0.0.1",
        peers: Iterable[str] = (),
        fetch_timeout_s: float = 10.0,
        redial_interval_s: float = 5.0,
        node_bin: Path | None = None,
        startup_timeout_s: float = 30.0,
        prefix: Sequence[str] = (),
    ) -> None:
        """``host`` is where libp2p listens, ``api_host`` where the RPC API does (it has no
        authentication, so loopback unless the gateway is elsewhere). ``prefix`` goes before the
        command, to run the node elsewhere than here (tests run each organisation's under
        ``ip netns exec NS``, on a host of its own)."""
        super().__init__(
            host=api_host,
            rpc_port=api_port,
            log_file=repo_dir / LOG_FILE,
            startup_timeout_s=startup_timeout_s,
        )
        self.repo_dir = repo_dir
        self.swarm_host = host
        self.swarm_key = swarm_key
        self.swarm_port = swarm_port
        self.fetch_timeout_s = fetch_timeout_s
        self._peers = list(peers)
        self._redial_interval_s = redial_interval_s
        self._node_bin = node_bin
        self._identity: NodeIdentity | None = None
        self._prefix = list(prefix)

    def start(self) -> Self:
        """Start the node; returns once its API answers ``id``."""
        if self._proc is not None:
            return self
        if not self.swarm_key.is_file():
            raise ConfigError(f"swarm key {self.swarm_key} does not exist")
        self.repo_dir.mkdir(parents=True, exist_ok=True)
        self.set_peers(self._peers)
        self._launch([*self._prefix, *self.command()])
        return self

    def command(self) -> list[str]:
        """The node's command line (for a supervisor that runs it detached, as `org start`)."""
        return [
            str(find_node(self._node_bin)),
            *("--import", POLYFILL.as_uri(), str(SCRIPT)),
            *("--dir", str(self.repo_dir), "--swarm-key", str(self.swarm_key)),
            *("--host", self.swarm_host, "--api-host", self.host, "--api-port", str(self.rpc_port)),
            *("--swarm-port", str(self.swarm_port)),
            *("--peers-file", str(self.repo_dir / PEERS_FILE)),
            *("--fetch-timeout-s", str(self.fetch_timeout_s)),
            *("--redial-s", str(self._redial_interval_s)),
        ]

    def set_peers(self, peers: Iterable[str]) -> None:
        """Replace the peers the node admits and keeps connected (multiaddrs ending in /p2p/ID);
        a running node reads the file at its next connection or re-dial."""
        self._peers = list(peers)
        path = self.repo_dir / PEERS_FILE
        scratch = path.with_suffix(".tmp")
        scratch.write_text("".join(f"{peer}\n" for peer in self._peers))
        scratch.replace(path)

    @property
    def identity(self) -> NodeIdentity:
        """The running node's peer id and swarm addresses."""
        if self._identity is None:
            self._identity = self._id()
            if self._identity is None:
                raise StoreUnavailable(f"{self.name} at {self.url} does not answer id")
        return self._identity

    @property
    def peer_id(self) -> str:
        return self.identity["ID"]

    @property
    def address(self) -> str:
        """The multiaddr a peer dials this node at."""
        return f"/ip4/{self.swarm_host}/tcp/{self.swarm_port}/p2p/{self.peer_id}"

    def store(self, timeout: float | None = None) -> KuboStore:
        """A KuboStore on this node, waiting a little longer than the node's own fetch timeout."""
        return KuboStore(
            self.url, timeout=timeout or self.fetch_timeout_s, fetch_timeout_s=self.fetch_timeout_s
        )

    def _id(self) -> NodeIdentity | None:
        try:
            reply = httpx.post(f"{self.url}/api/v0/id", timeout=1.0)
            body = reply.json() if reply.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("ID"), str):
            return None
        return NodeIdentity(ID=body["ID"], Addresses=list(body.get("Addresses") or []))

    def _answering(self) -> bool:
        return self._id() is not None

    def wait_stopped(self, timeout_s: float | None = None) -> None:
        super().wait_stopped(timeout_s)
        self._identity = None

    def kill(self) -> None:
        super().kill()
        self._identity = None
