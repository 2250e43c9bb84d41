"""Publishing a sealed access-log batch: its manifest sealed for the consortium's active regulators
(keys from the on-chain directory) and for each patient it concerns (the key they enrolled,
here or, as published in another organisation's batches, there), put on this organisation's IPFS
node; the CID's bytes go on chain with the batch root."""

from __future__ import annotations

from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from ledger.audit.access_log import AccessEntry
from ledger.audit.manifest import Enrolment, build_manifest
from ledger.audit.trail_index import TrailIndex
from ledger.chain.connection import Chain
from ledger.chain.directory import OrgDirectory
from ledger.consent.patients import PatientDirectory
from ledger.store import ContentStore, cid_to_bytes
from ledger.types import OrgKind


def regulator_keys(chain: Chain, directory: OrgDirectory) -> dict[str, X25519PublicKey]:
    """Each active regulator's envelope key, by its address."""
    membership = chain.contract("Membership")
    found = {}
    for entry in directory.active_peers():
        kind, _status, _admin = chain.call(membership.functions.organisation(entry.org))
        if int(kind) == OrgKind.REGULATOR:
            found[entry.org] = entry.encryption_key
    return found


def publish_batch(
    entries: Sequence[AccessEntry],
    *,
    org: str,
    chain: Chain,
    directory: OrgDirectory,
    patients: PatientDirectory,
    index: TrailIndex,
    store: ContentStore,
) -> bytes:
    """Seal ``entries`` (one batch, in leaf order) into a manifest, store and pin it on this
    organisation's node, and return its CID as bytes, for ``anchorBatch``."""
    keys: dict[str, X25519PublicKey] = {}
    enrolments = []
    for pseudonym in sorted({e.patient for e in entries if e.patient is not None}):
        signed = patients.signed(pseudonym)
        if signed is not None:
            key, signature = signed
            keys[pseudonym] = X25519PublicKey.from_public_bytes(key)
            enrolments.append(Enrolment(pseudonym, "0x" + key.hex(), signature))
        elif (learned := index.enrolment(pseudonym)) is not None:
            keys[pseudonym] = learned
    manifest = build_manifest(
        org,
        entries,
        regulators=regulator_keys(chain, directory),
        patient_keys=keys,
        enrolments=enrolments,
    )
    return cid_to_bytes(store.put(manifest))
