"""Identifiers shared across the ledger, typed so that one kind cannot pass for another."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NewType

RecordId = NewType("RecordId", str)
"""A record's id on the wire: ``0x`` + 64 hex digits (32 bytes)."""

Cid = NewType("Cid", str)
"""A content identifier as the content store returns it (CIDv1, ``bafy...``)."""

Address = NewType("Address", str)
"""An Ethereum address, EIP-55 checksummed."""


@dataclass(frozen=True, slots=True)
class OnchainVersion:
    """What the record registry anchored for one version of a record."""

    commitment: bytes
    cid: Cid
    hospital: Address
    patient: Address
