"""Record ids: the address of the hospital that created the record, then 12 random bytes.

One id names one hospital whichever way it is anchored (RecordRegistry, or a leaf of a BatchAnchor
root); RecordRegistry refuses an id outside the caller's namespace, and verification refuses a
batch leaf whose id is not the batch sender's.
"""

from __future__ import annotations

import secrets
from functools import lru_cache

from eth_utils.address import to_canonical_address, to_checksum_address

from ledger.types import Address

__all__ = ["new_record_id", "record_hospital"]

#: Bytes of an id after the hospital's address: 96 random bits a record.
_RANDOM_BYTES = 12


def new_record_id(hospital: str) -> bytes:
    """A fresh id in ``hospital``'s namespace."""
    return _namespace(hospital) + secrets.token_bytes(_RANDOM_BYTES)


@lru_cache(maxsize=64)
def _namespace(hospital: str) -> bytes:
    # eth_utils' address parsing costs ~10 us; a gateway writes for one hospital.
    return bytes(to_canonical_address(hospital))


def record_hospital(record_id: bytes) -> Address:
    """The hospital whose namespace ``record_id`` is in (its first 20 bytes), checksummed."""
    return Address(to_checksum_address(record_id[:20]))
