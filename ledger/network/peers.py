"""This organisation's node among the consortium's, through the directory: publish the node's peer
id and dialable addresses, and keep the node's peering set equal to the active organisations'
nodes (Kubo's ``swarm peering`` and ``swarm disconnect``, which scripts/ipfs_node.mjs speaks too),
so a suspended organisation's node is dropped and refused.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.chain.directory import OrgDirectory
from ledger.errors import StoreError, StoreUnavailable
from ledger.store import NodeIdentity

__all__ = ["NodeRpc", "announced_addrs", "publish_entry", "sync_peering"]

log = logging.getLogger("medledger.peers")

#: What the directory contract takes at most (OrgDirectory.MAX_ADDRS).
MAX_ADDRS = 8
_P2P = "/p2p/"


class NodeRpc:
    """The peer-management part of a node's Kubo RPC API (the content part is KuboStore)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self._url = url
        self._client = httpx.Client(base_url=url.rstrip("/") + "/api/v0/", timeout=timeout)

    def identity(self) -> NodeIdentity:
        body = self._call("id")
        if not isinstance(body.get("ID"), str):
            raise StoreError(f"the node at {self._url} answered id without an ID")
        return NodeIdentity(ID=body["ID"], Addresses=[str(a) for a in body.get("Addresses") or []])

    def peering(self) -> dict[str, list[str]]:
        """Peer id -> addresses of the node's peering set."""
        peers = self._call("swarm/peering/ls").get("Peers") or []
        return {str(p["ID"]): [str(a) for a in p.get("Addrs") or []] for p in peers}

    def peering_add(self, multiaddr: str) -> None:
        self._call("swarm/peering/add", arg=multiaddr)

    def peering_rm(self, peer_id: str) -> None:
        self._call("swarm/peering/rm", arg=peer_id)

    def disconnect(self, multiaddr: str) -> None:
        self._call("swarm/disconnect", arg=multiaddr)

    def pinned(self) -> set[str]:
        """Every CID the node keeps pinned recursively."""
        return set(self._call("pin/ls", type="recursive").get("Keys") or {})

    def connected(self) -> set[str]:
        """The peer ids the node has a connection to now."""
        return {str(p["Peer"]) for p in self._call("swarm/peers").get("Peers") or []}

    def close(self) -> None:
        self._client.close()

    def _call(self, command: str, **params: str) -> dict[str, Any]:
        try:
            reply = self._client.post(command, params=params)
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"the node at {self._url} is unreachable: {exc!r}") from exc
        except httpx.RequestError as exc:
            raise StoreError(f"the node at {self._url} answered {command} unreadably") from exc
        try:
            body = reply.json()
        except ValueError:
            body = None
        if not reply.is_success or not isinstance(body, dict):
            message = body.get("Message") if isinstance(body, dict) else reply.text[:200]
            raise StoreError(f"the node at {self._url} refused {command}: {message}")
        return body


def announced_addrs(identity: NodeIdentity, configured: Sequence[str]) -> list[str]:
    """What to publish: the configured announce addresses, else the node's own, without /p2p/
    (the peer id is published beside them), at most MAX_ADDRS."""
    source = configured or identity["Addresses"]
    addrs = [a.split(_P2P)[0] for a in source if a]
    return list(dict.fromkeys(addrs))[:MAX_ADDRS]


def publish_entry(
    directory: OrgDirectory,
    org_key: X25519PrivateKey,
    node: NodeRpc | None,
    announce: Sequence[str] = (),
) -> bool:
    """Publish the envelope key and, when ``node`` answers, its peer id and addresses (a call
    only when the chain holds them already). False when the node could not be asked: the key is
    published alone, and the caller tries again later."""
    if node is None:
        directory.publish(org_key)
        return True
    try:
        identity = node.identity()
    except StoreError as exc:
        log.warning("IPFS node not asked for its id, peer not published yet: %s", exc)
        directory.publish(org_key)
        return False
    directory.publish(org_key, peer_id=identity["ID"], addrs=announced_addrs(identity, announce))
    return True


def sync_peering(node: NodeRpc, wanted: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """Make the node's peering set ``wanted`` (peer id -> multiaddr): add the missing, remove and
    disconnect the rest. Returns (added, removed) peer ids."""
    held = node.peering()
    # A peer whose published address moved is added again under the new one.
    added = [p for p in wanted if p not in held or wanted[p].split(_P2P)[0] not in held[p]]
    removed = [peer for peer in held if peer not in wanted]
    for peer in added:
        node.peering_add(wanted[peer])
    for peer in removed:
        node.peering_rm(peer)
        for addr in held[peer] or [""]:
            try:
                node.disconnect(f"{addr.split(_P2P)[0]}{_P2P}{peer}")
            except StoreError as exc:  # not connected is no failure
                log.debug("disconnect %s: %s", peer, exc)
    return added, removed
