"""One IPFS node per organisation for `medledger up` (``MEDLEDGER_IPFS_NODES``): each under
``<DATA_DIR>/orgs/<org>/ipfs``, all peered with each other under the consortium's swarm key."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ledger.errors import ConfigError
from ledger.settings import Settings
from ledger.store import IpfsNode, swarm_key_new

SWARM_KEY_FILE = "swarm.key"


def org_dir(data_dir: Path, org: str) -> Path:
    """Where an organisation's own processes keep their state."""
    return data_dir / "orgs" / org


def consortium_swarm_key(settings: Settings) -> Path:
    """The configured swarm key; in development, one made once under the data directory."""
    if settings.ipfs_swarm_key_file is not None:
        return settings.ipfs_swarm_key_file
    if settings.profile != "development":
        raise ConfigError("production needs MEDLEDGER_IPFS_SWARM_KEY_FILE (the consortium's key)")
    key = settings.data_dir / SWARM_KEY_FILE
    return key if key.is_file() else swarm_key_new(key)


@contextmanager
def org_ipfs_nodes(settings: Settings, orgs: Iterable[str]) -> Iterator[dict[str, IpfsNode]]:
    """Start a node for each of ``orgs`` (API on ``IPFS_API_PORT + i``, libp2p on
    ``IPFS_SWARM_PORT + i``), peer each with all the others and with ``IPFS_PEERS`` (other
    members' nodes, for a stack that runs one organisation); stop them all on exit."""
    key = consortium_swarm_key(settings)
    with ExitStack() as stack:
        nodes: dict[str, IpfsNode] = {}
        for i, org in enumerate(orgs):
            node = IpfsNode(
                repo_dir=org_dir(settings.data_dir, org) / "ipfs",
                swarm_key=key,
                api_port=settings.ipfs_api_port + i,
                swarm_port=settings.ipfs_swarm_port + i,
                host=settings.ipfs_host,
                fetch_timeout_s=settings.content_fetch_timeout_s,
                redial_interval_s=settings.ipfs_redial_interval_s,
                node_bin=settings.node_bin,
            )
            nodes[org] = stack.enter_context(node)
        for org, node in nodes.items():
            others = [other.address for name, other in nodes.items() if name != org]
            node.set_peers([*settings.ipfs_peers, *others])
        yield nodes
