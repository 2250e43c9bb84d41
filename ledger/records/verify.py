"""Checking a record document against the chain and the content store, as any member can."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_canonical_address

from ledger.audit.access_log import BatchLookup
from ledger.chain.connection import Chain
from ledger.crypto import merkle
from ledger.crypto.commitment import commit
from ledger.crypto.envelope import parse_envelope
from ledger.errors import (
    ContentCorrupt,
    ContentNotFound,
    ContentUnavailable,
    ContractRevert,
    CryptoError,
    PayloadNotJson,
)
from ledger.payload import canonicalize
from ledger.records.batch_claims import claim_verdict
from ledger.records.batch_index import BatchIndex, leaf_verdict
from ledger.records.batch_proof import RECORD_BATCH_KIND, BatchedVersion
from ledger.records.document import OnchainVersion, RecordDocument, Verdict, verify_document
from ledger.store import ContentStore, cid_from_bytes
from ledger.types import Address, Cid


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


class HospitalBatches:
    """A hospital's record-version batches, read from their manifests at the first check that
    needs them; ``gaps`` names what could not be read (a check resting on it did not fully run)."""

    def __init__(self, chain: Chain, store: ContentStore | None, hospital: str) -> None:
        self._chain, self._store, self._hospital = chain, store, hospital
        self._index: BatchIndex | None = None
        self.gaps: tuple[str, ...] = ()

    def index(self) -> BatchIndex | None:
        """The synced index, or None when there is no store to read manifests from."""
        if self._store is None:
            self._gap("no content store to read their manifests from")
            return None
        if self._index is None:
            self._index = BatchIndex(self._chain, self._store, ":memory:", hospital=self._hospital)
            self._index.sync()
            # A manifest that no peer served is a check that could not run; one that does not
            # rebuild its root is a finding about the hospital, which the index reports.
            unread = [u.batch_id for u in self._index.unread() if u.state == "unavailable"]
            if unread:
                batches = ", ".join(map(str, unread))
                self._gap(f"no peer delivered the manifests of batches {batches} in time")
        return self._index

    def close(self) -> None:
        if self._index is not None:
            self._index.close()

    def _gap(self, why: str) -> None:
        self.gaps = (f"another anchoring of this version in the hospital's batches ({why})",)


def batched_version(
    chain: Chain, doc: RecordDocument, batches: HospitalBatches | None = None
) -> OnchainVersion | Verdict:
    """The facts a batch-anchored ``doc`` claims, once its proof checks against the root its
    batch has on chain and the chain contradicts none of them (``claim_verdict``); else the
    verdict. The leaf commits to the payload through the salted commitment, recomputed here from
    the document itself; the record id must be in the namespace of the batch's hospital."""
    inclusion = doc.batch_inclusion
    assert inclusion is not None
    anchor = chain.contract("BatchAnchor")
    try:
        root, org, kind, _count, _at = chain.call(anchor.functions.batch(inclusion.batch))
    except ContractRevert as exc:
        if exc.name == "BatchUnknown":
            return Verdict.NOT_ANCHORED
        raise
    if bytes(kind) != RECORD_BATCH_KIND:
        return Verdict.NOT_ANCHORED
    record_id = bytes.fromhex(doc.record_id[2:])
    if not to_canonical_address(org) == to_canonical_address(doc.hospital) == record_id[:20]:
        return Verdict.HOSPITAL_MISMATCH
    try:
        commitment = commit(bytes.fromhex(doc.salt[2:]), canonicalize(doc.resource))
    except PayloadNotJson:
        return Verdict.PAYLOAD_ALTERED
    item = BatchedVersion(
        record_id=record_id,
        version=doc.version,
        commitment=commitment,
        cid=doc.cid,
        hospital=doc.hospital,
        patient=doc.patient,
        author=inclusion.author,
    )
    proof = [bytes.fromhex(p[2:]) for p in inclusion.proof]
    try:
        leaf = item.leaf()
    except ValueError:  # the document's CID is no CID: it cannot be what the batch holds
        return Verdict.NOT_IN_BATCH
    if not merkle.verify(proof, bytes(root), leaf):
        return Verdict.NOT_IN_BATCH
    contradicted = claim_verdict(chain, inclusion.batch, item)
    index = batches.index() if contradicted is None and batches is not None else None
    if index is not None:
        # The hospital's own batches, read from their manifests: this leaf must be the one that
        # stands for its version (not a second one, not one that skips a version).
        contradicted = leaf_verdict(index.leaves(item.record_id), inclusion.batch, item)
    if contradicted is not None:
        return contradicted
    return OnchainVersion(
        commitment=commitment,
        cid=Cid(doc.cid),
        hospital=Address(doc.hospital),
        patient=Address(doc.patient),
    )


@dataclass(frozen=True)
class LedgerCheck:
    """A verdict, and the checks that could not run (each named with why): ``complete`` only
    when every check ran and the document is intact."""

    verdict: Verdict
    not_checked: tuple[str, ...] = ()

    @property
    def complete(self) -> bool:
        return self.verdict is Verdict.INTACT and not self.not_checked


def check_against_ledger(
    doc: RecordDocument, chain: Chain, store: ContentStore | None
) -> LedgerCheck:
    """Check ``doc`` against the chain, and against the anchored envelope's salt check as fetched
    from ``store``. An envelope the store cannot give (missing, unavailable from the network in
    time, corrupt, or no store at all) leaves the salt check unrun and named in ``not_checked``;
    StoreUnavailable (the store itself down) is raised. A hospital batch whose manifest no peer
    delivered (or no store to read manifests from) leaves the check for another anchoring of the
    version incomplete, and is named too."""
    batches = HospitalBatches(chain, store, doc.hospital)
    try:
        verdict, skipped = _check(doc, chain, store, batches)
    finally:
        batches.close()
    return LedgerCheck(verdict, (*batches.gaps, *skipped))


def _check(
    doc: RecordDocument, chain: Chain, store: ContentStore | None, batches: HospitalBatches
) -> tuple[Verdict, tuple[str, ...]]:
    if doc.batch_inclusion is not None:
        found = batched_version(chain, doc, batches)
        if isinstance(found, Verdict):
            return found, ()
        onchain: OnchainVersion | None = found
    else:
        onchain = onchain_version(chain, doc.record_id, doc.version)
        if onchain is not None and _batched_first(chain, batches, doc):
            return Verdict.VERSION_CONFLICT, ()
    if onchain is None:
        return verify_document(doc, onchain=None, envelope_salt_check=None), ()
    salt_check, why = _envelope_salt_check(store, onchain.cid)
    verdict = verify_document(doc, onchain=onchain, envelope_salt_check=salt_check)
    return verdict, () if why is None else (f"envelope salt check ({why})",)


def verify_against_ledger(doc: RecordDocument, chain: Chain, store: ContentStore | None) -> Verdict:
    """``check_against_ledger``'s verdict alone, for callers that need no more; one that reports
    to a person uses ``check_against_ledger`` and names what could not be checked."""
    return check_against_ledger(doc, chain, store).verdict


def _envelope_salt_check(store: ContentStore | None, cid: str) -> tuple[bytes | None, str | None]:
    """The envelope's salt check, or None and why it could not be had."""
    if store is None:
        return None, "no content store to fetch the envelope from"
    try:
        sealed = parse_envelope(store.get(cid))
    except ContentUnavailable as exc:
        return None, f"content unavailable from the IPFS network in time: {exc}"
    except ContentNotFound as exc:
        return None, f"content not in the store: {exc}"
    except (ContentCorrupt, CryptoError) as exc:
        return None, f"the store's copy of {cid} is not the anchored envelope: {exc}"
    if sealed.salt_check is None:
        return None, f"the envelope at {cid} carries no salt check"
    return sealed.salt_check, None


def _batched_first(chain: Chain, batches: HospitalBatches, doc: RecordDocument) -> bool:
    """Whether the hospital batch-anchored ``doc``'s record before RecordRegistry anchored it:
    one write path a record, and the first anchoring stands."""
    record_id = bytes.fromhex(doc.record_id[2:])
    anchored = chain.contract("RecordRegistry").events.RecordAnchored()
    logs = anchored.get_logs(
        from_block=chain.deployment.block_number, argument_filters={"recordId": record_id}
    )
    if not logs:
        return False
    first = (int(logs[0]["blockNumber"]), int(logs[0]["logIndex"]))
    index = batches.index()
    if index is None:
        return False
    return any((leaf.block, leaf.log_index) < first for leaf in index.leaves(record_id))


def access_batch_lookup(chain: Chain) -> BatchLookup:
    """Reads anchored batches from BatchAnchor, for checking access-log trails."""
    anchor = chain.contract("BatchAnchor")

    def lookup(chain_batch_id: int) -> tuple[bytes, str, bytes]:
        root, org, kind, _count, _at = chain.call(anchor.functions.batch(chain_batch_id))
        return bytes(root), str(org), bytes(kind)

    return lookup
