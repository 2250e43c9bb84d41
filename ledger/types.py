"""Identifiers shared across the ledger, typed so that one kind cannot pass for another."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
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


class OrgKind(IntEnum):
    """An organisation's kind, as Membership.OrgKind numbers it."""

    NONE = 0
    HOSPITAL = 1
    INSURER = 2
    PHARMACY = 3
    REGULATOR = 4


class OrgStatus(IntEnum):
    """An organisation's standing, as Membership.OrgStatus numbers it."""

    NONE = 0
    ACTIVE = 1
    SUSPENDED = 2
