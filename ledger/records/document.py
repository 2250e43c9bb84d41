"""The record document a reader gets back, and the verdict of checking it against the chain.

Pure: the caller brings what the chain anchored and the envelope's salt check from the store.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from eth_utils.address import is_checksum_address, to_canonical_address
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from ledger.crypto.commitment import salt_check, verify_commitment
from ledger.errors import PayloadNotJson
from ledger.payload import canonicalize
from ledger.types import OnchainVersion

__all__ = ["BatchInclusion", "OnchainVersion", "RecordDocument", "Verdict", "verify_document"]


def _checksummed(value: str) -> str:
    if not is_checksum_address(value):
        raise ValueError("must be an EIP-55 checksummed address")
    return value


_Hex32 = Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$")]
_ChecksumAddress = Annotated[str, AfterValidator(_checksummed)]


class BatchInclusion(BaseModel):
    """Where a batch-anchored version sits: BatchAnchor's batch, the author the leaf names, and
    the item's Merkle proof (OpenZeppelin's sorted-pair tree)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    batch: Annotated[int, Field(ge=1)]
    author: _ChecksumAddress
    proof: Annotated[list[_Hex32], Field(max_length=64)]


class RecordDocument(BaseModel):
    """One decrypted version of a record, with what is needed to check it against the chain:
    RecordRegistry's version, or (``batch_inclusion``) its place in an anchored batch."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    record_id: _Hex32
    version: Annotated[int, Field(ge=1, le=2**32 - 1)]
    hospital: _ChecksumAddress
    patient: _ChecksumAddress
    cid: Annotated[str, StringConstraints(min_length=1)]
    salt: _Hex32
    resource: dict[str, Any]
    batch_inclusion: BatchInclusion | None = None


class Verdict(Enum):
    """The outcome of checking a record document, in the order the checks run."""

    NOT_ANCHORED = "not_anchored"
    NOT_IN_BATCH = "not_in_batch"
    HOSPITAL_MISMATCH = "hospital_mismatch"
    AUTHOR_NOT_PERMITTED = "author_not_permitted"
    VERSION_CONFLICT = "version_conflict"
    VERSION_SKIPPED = "version_skipped"
    PSEUDONYM_MISMATCH = "pseudonym_mismatch"
    CID_MISMATCH = "cid_mismatch"
    SALT_MISMATCH = "salt_mismatch"
    PAYLOAD_ALTERED = "payload_altered"
    INTACT = "intact"

    @property
    def explanation(self) -> str:
        """One line saying what the verdict means."""
        return _EXPLANATIONS[self]


_EXPLANATIONS = {
    Verdict.NOT_ANCHORED: "the chain holds no such version of this record",
    Verdict.NOT_IN_BATCH: "the document is not an item of the anchored batch it names: "
    "some field differs from what was anchored, or the proof is wrong",
    Verdict.HOSPITAL_MISMATCH: "the chain names a different hospital for this version "
    "(or the record id is in another hospital's namespace)",
    Verdict.AUTHOR_NOT_PERMITTED: "the author named was not the hospital's doctor or clerk "
    "when the version was anchored",
    Verdict.VERSION_CONFLICT: "this version of the record was anchored before (one by one in "
    "RecordRegistry, or by an earlier batch leaf); the first anchoring stands",
    Verdict.VERSION_SKIPPED: "the version does not follow one anchored before it: the hospital "
    "skipped a version of the record",
    Verdict.PSEUDONYM_MISMATCH: "the chain names a different patient pseudonym for this version",
    Verdict.CID_MISMATCH: "the chain anchored different content (CID) for this version",
    Verdict.SALT_MISMATCH: "the salt is not the one sealed in the anchored envelope",
    Verdict.PAYLOAD_ALTERED: "the resource differs from the one the chain committed to",
    Verdict.INTACT: "resource, salt, content, hospital and pseudonym all match the chain",
}


def verify_document(
    doc: RecordDocument, *, onchain: OnchainVersion | None, envelope_salt_check: bytes | None
) -> Verdict:
    """Check ``doc`` against what the chain anchored for its record and version.

    Without the envelope's salt check (``None``), a wrong salt cannot be told from an altered
    payload and reads as ``payload_altered``.
    """
    if onchain is None:
        return Verdict.NOT_ANCHORED
    if to_canonical_address(onchain.hospital) != to_canonical_address(doc.hospital):
        return Verdict.HOSPITAL_MISMATCH
    if to_canonical_address(onchain.patient) != to_canonical_address(doc.patient):
        return Verdict.PSEUDONYM_MISMATCH
    if onchain.cid != doc.cid:
        return Verdict.CID_MISMATCH
    salt = bytes.fromhex(doc.salt[2:])
    if envelope_salt_check is not None and salt_check(salt) != envelope_salt_check:
        return Verdict.SALT_MISMATCH
    try:
        canonical = canonicalize(doc.resource)
    except PayloadNotJson:
        # Nothing the writer anchored fails to canonicalise, so this cannot be what it committed.
        return Verdict.PAYLOAD_ALTERED
    if not verify_commitment(salt, canonical, onchain.commitment):
        return Verdict.PAYLOAD_ALTERED
    return Verdict.INTACT
