"""Checking a record document against the chain and the content store, as any member can."""

from __future__ import annotations

from ledger.accesslog import BatchLookup
from ledger.chain import Chain
from ledger.document import OnchainVersion, RecordDocument, Verdict, verify_document
from ledger.envelope import parse_envelope
from ledger.errors import ContentNotFound, ContractRevert
from ledger.store import ContentStore, cid_from_bytes


def onchain_version(chain: Chain, record_id: str, version: int) -> OnchainVersion | None:
    """The chain's facts for one version, or None when it is not anchored."""
    registry = chain.contract("RecordRegistry")
    try:
        v = chain.call(registry.functions.recordVersion(bytes.fromhex(record_id[2:]), version))
    except ContractRevert as exc:
        if exc.name in ("RecordUnknown", "RecordUnknownVersion"):
            return None
        raise
    commitment, hospital, patient, _author, _at, _block, cid = v
    return OnchainVersion(
        commitment=bytes(commitment),
        cid=cid_from_bytes(bytes(cid)),
        hospital=hospital,
        patient=patient,
    )


def verify_against_ledger(doc: RecordDocument, chain: Chain, store: ContentStore | None) -> Verdict:
    """The verdict for ``doc``: the envelope's salt check is read from the store when it has it."""
    onchain = onchain_version(chain, doc.record_id, doc.version)
    salt_check: bytes | None = None
    if onchain is not None and store is not None:
        try:
            salt_check = parse_envelope(store.get(onchain.cid)).salt_check
        except ContentNotFound:
            salt_check = None
    return verify_document(doc, onchain=onchain, envelope_salt_check=salt_check)


def access_batch_lookup(chain: Chain) -> BatchLookup:
    """Reads anchored batches from BatchAnchor, for checking access-log trails."""
    anchor = chain.contract("BatchAnchor")

    def lookup(chain_batch_id: int) -> tuple[bytes, str, bytes]:
        root, org, kind, _count, _at = chain.call(anchor.functions.batch(chain_batch_id))
        return bytes(root), str(org), bytes(kind)

    return lookup
