"""Who keeps a CID: its writer, and the ``factor`` active organisations with a published node that
rendezvous hashing picks for it (score = keccak256(cid bytes || org address), highest first).

Every member computes the same answer from the same directory, with no coordination: a holder that
leaves changes only the CIDs it held (the next-highest scorer takes each), and a newcomer takes
only the CIDs it now outscores someone for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from web3 import Web3

from ledger.chain.directory import DirectoryEntry, OrgDirectory

__all__ = ["Candidates", "choose_holders", "rendezvous_score"]


def rendezvous_score(cid: bytes, org: str) -> bytes:
    """``org``'s score for the binary CID ``cid``; bytes compare as the big-endian number."""
    return bytes(Web3.keccak(cid + bytes.fromhex(Web3.to_checksum_address(org)[2:])))


def choose_holders(cid: bytes, writer: str, candidates: Iterable[str], factor: int) -> list[str]:
    """The ``factor`` highest-scoring ``candidates`` for ``cid``, the writer left out (it holds
    its own content anyway), highest first; fewer when there are not enough candidates."""
    own = writer.lower()
    others = {c.lower(): str(Web3.to_checksum_address(c)) for c in candidates if c.lower() != own}
    ranked = sorted(others.values(), key=lambda org: rendezvous_score(cid, org), reverse=True)
    return ranked[:factor]


@dataclass(frozen=True)
class Candidates:
    """The directory as replication sees it at one moment: the active organisations that
    published a node (peer id and at least one address), which are the only possible holders."""

    entries: tuple[DirectoryEntry, ...]

    @classmethod
    def load(cls, directory: OrgDirectory) -> Candidates:
        """The candidates now. A peer id is the first publisher's: a member that lists another's
        node as its own (to be assigned content it never keeps, or to point the others' dialling
        elsewhere, or to let a suspended member's node back in) is not a candidate at all."""
        claimed: set[str] = set()
        kept = []
        for org in directory.organisations():  # in order of first publication
            entry = directory.entry(org)
            if not entry.peer_id or entry.peer_id in claimed:
                continue
            claimed.add(entry.peer_id)
            if entry.usable and entry.addrs:
                kept.append(entry)
        return cls(tuple(kept))

    @property
    def orgs(self) -> list[str]:
        return [e.org for e in self.entries]

    def holders(self, cid: bytes, writer: str, factor: int) -> list[str]:
        return choose_holders(cid, writer, self.orgs, factor)

    def entry(self, org: str) -> DirectoryEntry | None:
        return next((e for e in self.entries if e.org.lower() == org.lower()), None)

    def dial_addrs(self, exclude: str) -> dict[str, str]:
        """Peer id -> the multiaddr (with /p2p/) to keep connected, for every candidate but
        ``exclude`` (this organisation)."""
        return {
            e.peer_id: dial_addr(e.addrs, e.peer_id)
            for e in self.entries
            if e.org.lower() != exclude.lower()
        }


def dial_addr(addrs: Sequence[str], peer_id: str) -> str:
    """The first published address, with the peer id appended unless it already ends in it."""
    first = addrs[0].rstrip("/")
    return first if first.endswith(f"/p2p/{peer_id}") else f"{first}/p2p/{peer_id}"
