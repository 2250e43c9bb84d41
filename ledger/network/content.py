"""The consortium's content network: the swarm key every organisation's IPFS node shares (each node
runs from its organisation's directory, ledger.network.org)."""

from __future__ import annotations

from pathlib import Path

from ledger.errors import ConfigError
from ledger.settings import Settings
from ledger.store import swarm_key_new

SWARM_KEY_FILE = "swarm.key"


def consortium_swarm_key(settings: Settings) -> Path:
    """The configured swarm key; in development, one made once under the data directory."""
    if settings.ipfs_swarm_key_file is not None:
        return settings.ipfs_swarm_key_file
    if settings.profile != "development":
        raise ConfigError("production needs MEDLEDGER_IPFS_SWARM_KEY_FILE (the consortium's key)")
    key = settings.data_dir / SWARM_KEY_FILE
    return key if key.is_file() else swarm_key_new(key)
