"""A batch's manifest: the list of its items in leaf order, published in the consortium's content
network and named on chain with the batch's root (BatchAnchor's ``manifest``).

The chain holds a root it cannot look inside. With the manifest any member rebuilds the tree,
checks it against the root, and so learns every (record id, version) a hospital anchored in the
batch: a hospital contradicting itself, with two leaves for one version or a version that skips
one, is then visible to everyone, not only to whoever holds a document of the contradicting leaf.

A record-version manifest lists the same facts RecordRegistry's events carry for a record anchored
one by one (record id, version, salted commitment, envelope CID, patient pseudonym, author), so it
tells a member nothing the per-record path would not. Canonical JSON: the same items give the same
bytes and so the same CID, which keeps a re-sent batch idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from eth_utils.address import (
    to_canonical_address as _to_canonical_address,
    to_checksum_address as _to_checksum_address,
)

from ledger.crypto.merkle import MerkleTree
from ledger.errors import LedgerError
from ledger.payload import canonicalize
from ledger.records.batch_proof import BatchedVersion

#: What a record-version manifest says it is; a reader refuses any other.
RECORD_MANIFEST_FORMAT = "medledger.record-versions.v1"


# A batch's thousands of items name a handful of addresses (the hospital, its staff, the patients):
# each is checksummed once (a keccak each time, in Python), not three times an item.
@lru_cache(maxsize=65_536)
def to_checksum_address(address: str) -> str:
    return str(_to_checksum_address(address))


@lru_cache(maxsize=1024)
def to_canonical_address(address: str) -> bytes:
    return bytes(_to_canonical_address(address))


class ManifestInvalid(LedgerError):
    """A manifest that cannot be what its batch anchored: unreadable, or its items do not rebuild
    the root (or the count, or the hospital) the chain holds for the batch."""

    code = "record.batch_manifest_invalid"


def encode_manifest(hospital: str, items: Sequence[BatchedVersion]) -> bytes:
    """The manifest of a batch of ``items`` (in leaf order), all anchored by ``hospital``."""
    return canonicalize(
        {
            "format": RECORD_MANIFEST_FORMAT,
            "hospital": to_checksum_address(hospital),
            "items": [
                [
                    "0x" + i.record_id.hex(),
                    i.version,
                    "0x" + i.commitment.hex(),
                    i.cid,
                    to_checksum_address(i.patient),
                    to_checksum_address(i.author),
                ]
                for i in items
            ],
        }
    )


def decode_manifest(data: bytes, *, root: bytes, count: int, org: str) -> list[BatchedVersion]:
    """The items of a batch that ``org`` anchored under ``root`` over ``count`` items, read from
    its manifest; ManifestInvalid unless they rebuild exactly that root and every record id is in
    ``org``'s namespace."""
    try:
        doc = json.loads(data)
        if doc["format"] != RECORD_MANIFEST_FORMAT:
            raise ManifestInvalid(f"not a record-version manifest: {doc['format']!r}")
        if to_canonical_address(doc["hospital"]) != to_canonical_address(org):
            raise ManifestInvalid(f"the manifest names {doc['hospital']}, the batch {org}")
        items = [_item(org, row) for row in doc["items"]]
        if len(items) != count:
            raise ManifestInvalid(f"the manifest lists {len(items)} items, the batch {count}")
        rebuilt = MerkleTree([i.leaf() for i in items]).root
    except ManifestInvalid:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ManifestInvalid(f"unreadable manifest: {exc}") from exc
    if rebuilt != root:
        raise ManifestInvalid("the manifest's items do not rebuild the root anchored on chain")
    return items


def _item(org: str, row: Any) -> BatchedVersion:
    record_id, version, commitment, cid, patient, author = row
    rid = bytes.fromhex(record_id.removeprefix("0x"))
    if len(rid) != 32 or rid[:20] != to_canonical_address(org):
        raise ManifestInvalid(f"record {record_id} is not in the namespace of {org}")
    if not isinstance(version, int) or isinstance(version, bool) or not 0 < version < 2**32:
        raise ManifestInvalid(f"record {record_id}: version {version!r} is no version")
    commitment_ = bytes.fromhex(commitment.removeprefix("0x"))
    if len(commitment_) != 32:
        raise ManifestInvalid(f"record {record_id}: the commitment is not 32 bytes")
    return BatchedVersion(
        record_id=rid,
        version=version,
        commitment=commitment_,
        cid=str(cid),
        hospital=to_checksum_address(org),
        patient=to_checksum_address(patient),
        author=to_checksum_address(author),
    )
