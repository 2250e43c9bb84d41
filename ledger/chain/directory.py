"""The organisation directory on chain: this organisation publishes its envelope key and content
node's peer, and reads every other member's, instead of keys and addresses handed over by hand.

Peer ids and multiaddrs are kept as their UTF-8 text forms (``12D3Koo...``,
``/ip4/10.0.0.1/tcp/4001``), the forms Kubo's ``swarm connect`` takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.errors import ChainError, ContractRevert, OrgNotInDirectory, OrgNotUsable

__all__ = ["DirectoryEntry", "OrgDirectory"]


@dataclass(frozen=True)
class DirectoryEntry:
    """One organisation's entry as last published, and whether it is active now."""

    org: str
    encryption_key: X25519PublicKey
    peer_id: str
    addrs: tuple[str, ...]
    updated_at: int
    usable: bool

    def raw_key(self) -> bytes:
        return self.encryption_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class OrgDirectory:
    """The directory contract as seen through ``chain``; writes go out as its sender."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._contract = chain.contract("OrgDirectory")

    def publish(
        self,
        org_key: X25519PrivateKey,
        *,
        peer_id: str | None = None,
        addrs: Sequence[str] | None = None,
    ) -> str | None:
        """Publish the sender's entry: the public half of ``org_key``, and its node's peer id and
        addresses (None keeps what the chain holds, so a gateway refreshing its key never wipes
        the peer its IPFS node published). Returns the transaction hash, or None when the chain
        already holds exactly this entry (so calling it on every start costs nothing once done)."""
        key = org_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        try:
            current: DirectoryEntry | None = self.entry(self._chain_sender())
        except OrgNotInDirectory:
            current = None
        held_peer, held_addrs = (current.peer_id, current.addrs) if current else ("", ())
        wanted = (
            key,
            held_peer if peer_id is None else peer_id,
            held_addrs if addrs is None else tuple(addrs),
        )
        if current is not None and (current.raw_key(), current.peer_id, current.addrs) == wanted:
            return None
        fn = self._contract.functions.setEntry(
            wanted[0], wanted[1].encode(), [addr.encode() for addr in wanted[2]]
        )
        self._chain.preflight(fn)
        return str(self._chain.transact(fn)["transactionHash"].to_0x_hex())

    def _chain_sender(self) -> str:
        if self._chain.sender is None:
            raise ChainError("publishing to the directory needs a sending account")
        return str(self._chain.sender.address)

    def entry(self, org: str) -> DirectoryEntry:
        """``org``'s entry, usable or not; OrgNotInDirectory if it never published one."""
        checksummed = Web3.to_checksum_address(org)
        try:
            raw, usable = self._chain.call(self._contract.functions.entry(checksummed))
        except ContractRevert as exc:
            if exc.name == "OrgDirectoryUnknownOrganisation":
                raise OrgNotInDirectory(f"{checksummed} has no entry in the directory") from exc
            raise
        key, peer_id, addrs, updated_at = raw
        return DirectoryEntry(
            org=checksummed,
            encryption_key=X25519PublicKey.from_public_bytes(bytes(key)),
            peer_id=bytes(peer_id).decode(errors="replace"),
            addrs=tuple(bytes(a).decode(errors="replace") for a in addrs),
            updated_at=int(updated_at),
            usable=bool(usable),
        )

    def encryption_key(self, org: str) -> X25519PublicKey:
        """The key to seal an envelope to ``org`` with; OrgNotInDirectory if it published none,
        OrgNotUsable if it is suspended (nothing new is sealed to a suspended member)."""
        found = self.entry(org)
        if not found.usable:
            raise OrgNotUsable(
                f"{found.org} is not an active organisation; nothing is sealed to it"
            )
        return found.encryption_key

    def organisations(self) -> list[str]:
        """Every organisation with an entry, suspended ones included, in order of publication."""
        return [str(a) for a in self._chain.call(self._contract.functions.organisations())]

    def active_peers(self) -> list[DirectoryEntry]:
        """The entries of the organisations active now: the peers to dial, the keys to seal to."""
        active = self._chain.call(self._contract.functions.activePeers())
        return [self.entry(org) for org in active]
