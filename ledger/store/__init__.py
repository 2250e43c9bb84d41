"""Content-addressed storage for envelopes: CIDs as ``ipfs add --cid-version=1`` makes them.

The embedded store keeps blocks on local disk and is the default; a Kubo node is the other backend,
and ``IpfsNode`` runs the organisation's own node (Helia, speaking Kubo's RPC subset).
"""

from __future__ import annotations

import os

from ledger.errors import ConfigError
from ledger.store.base import Cid, ContentStore
from ledger.store.cid import cid_from_bytes, cid_of, cid_of_file, cid_to_bytes
from ledger.store.embedded import EmbeddedStore
from ledger.store.ipfs_node import IpfsNode, NodeIdentity, swarm_key_new
from ledger.store.kubo import KuboStore

__all__ = [
    "Cid",
    "ContentStore",
    "EmbeddedStore",
    "IpfsNode",
    "KuboStore",
    "NodeIdentity",
    "cid_from_bytes",
    "cid_of",
    "cid_of_file",
    "cid_to_bytes",
    "open_store",
    "swarm_key_new",
]


def open_store(
    backend: str,
    *,
    path: str | os.PathLike[str] | None = None,
    url: str | None = None,
    timeout: float = 30.0,
    fetch_timeout_s: float | None = None,
) -> ContentStore:
    """The store a setting names: ``"embedded"`` under ``path``, or ``"kubo"`` at ``url``, whose
    fetches from the IPFS network give up after ``fetch_timeout_s`` (ContentUnavailable)."""
    if backend == "embedded":
        if path is None:
            raise ConfigError("the embedded content store needs a directory")
        return EmbeddedStore(path)
    if backend == "kubo":
        if not url:
            raise ConfigError("the Kubo content store needs the node's RPC URL")
        return KuboStore(url, timeout=timeout, fetch_timeout_s=fetch_timeout_s)
    raise ConfigError(f"unknown content store backend {backend!r} (embedded or kubo)")
