"""A hospital's record book: anchor, amend, read back and verify record versions.

Writes validate, then seal, preflight, store and anchor through ``ledger.records.anchoring``,
the write path records share with prescriptions and dispenses.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.consent.patients import PatientDirectory
from ledger.crypto import envelope
from ledger.errors import ConfigError, ContractRevert, LedgerError, PayloadNotJson
from ledger.payload import Payload, parse_payload
from ledger.records.anchoring import BuildCall, seal_store_anchor
from ledger.records.batch_proof import Anchoring, BatchedVersion, item_problem
from ledger.records.bulk_sealing import BulkSealer, SealJob
from ledger.records.content import content_state
from ledger.records.document import BatchInclusion, OnchainVersion, RecordDocument
from ledger.records.ids import new_record_id
from ledger.records.outbox import Outbox
from ledger.store import ContentStore, cid_from_bytes
from ledger.types import Address, Cid

#: Batches whose on-chain root a record book remembers (they never change; this bounds memory).
_BATCH_ROOTS_KEPT = 4096


class NotBatchAnchored(LedgerError):
    """A bulk amendment names a record anchored one by one: amend it through its own route."""

    code = "record.not_batch_anchored"


class BatchProofInvalid(LedgerError):
    """A batch-anchored version's proof does not match the root its batch has on chain."""

    code = "record.batch_proof_invalid"


@dataclass(frozen=True)
class BulkVersion:
    """One item of a bulk write: a new record for ``patient``, or the next version of a
    batch-anchored record (``record_id`` and the ``expected_version`` the writer last read)."""

    resource: bytes
    patient: str | None = None
    record_id: bytes | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class BulkAccepted:
    """What a bulk write returns per item once it is durable in the outbox (not yet anchored)."""

    receipt_id: str
    record_id: str
    version: int
    patient: str
    cid: str
    commitment: str


class NotAuthoringHospital(LedgerError):
    """Only the hospital that anchored a record may amend it."""

    code = "record.not_authoring_hospital"


@dataclass(frozen=True)
class AnchorReceipt:
    """What a write returns once its version is anchored."""

    record_id: str
    version: int
    cid: str
    commitment: str
    transaction: str
    block: int


@dataclass(frozen=True)
class VersionInfo:
    """One anchored version as the chain records it, and the state of its content."""

    version: int
    commitment: str
    cid: str
    hospital: str
    patient: str
    author: str
    anchored_at: int
    block: int
    content: str | None = None  # a ContentState: intact | missing | unavailable | corrupt
    batch: int | None = None  # BatchAnchor's batch id, for a batch-anchored version
    proof: tuple[str, ...] = ()  # and the version's Merkle proof in that batch


class RecordBook:
    """Writes and reads one hospital's records; reads check every byte against the chain."""

    def __init__(
        self,
        chain: Chain,
        store: ContentStore,
        patients: PatientDirectory,
        *,
        org: LocalAccount,
        org_key: X25519PrivateKey,
        max_payload_bytes: int,
        outbox: Outbox | None = None,
        sealer: BulkSealer | None = None,
    ) -> None:
        self._chain = chain
        self._outbox = outbox
        self._sealer = sealer or BulkSealer(0, max_bytes=max_payload_bytes, store_root=None)
        self._batch_roots: OrderedDict[int, tuple[bytes, str, bytes]] = OrderedDict()
        self._store = store
        self._patients = patients
        self._org = org
        self._org_key = org_key
        self._max_payload_bytes = max_payload_bytes
        self._registry = chain.contract("RecordRegistry")
        self._batch_anchor = chain.contract("BatchAnchor")

    # -- writes ---------------------------------------------------------------------------------

    def anchor(self, raw_payload: bytes, *, patient: str, author: str) -> AnchorReceipt:
        """Anchor version 1 of a new record for an enrolled patient pseudonym."""
        payload = self._parse(raw_payload)
        enrolment = self._patients.get(patient)
        record_id = new_record_id(self._org.address)
        return self._write(
            payload,
            record_id=record_id,
            version=1,
            patient_key=enrolment.encryption_key,
            patient=patient,
            build=lambda c, cid: self._registry.functions.anchorRecord(
                record_id, c, cid, patient, author
            ),
        )

    def amend(
        self, record_id: bytes, raw_payload: bytes, *, expected_version: int, author: str
    ) -> AnchorReceipt:
        """Anchor the next version of a record this hospital authored."""
        payload = self._parse(raw_payload)
        latest = self._latest(record_id)
        first = self._version(record_id, 1)
        if first.hospital != self._org.address:
            raise NotAuthoringHospital(f"record 0x{record_id.hex()} is {first.hospital}'s")
        enrolment = self._patients.get(first.patient)
        return self._write(
            payload,
            record_id=record_id,
            version=latest + 1,
            patient_key=enrolment.encryption_key,
            patient=first.patient,
            build=lambda c, cid: self._registry.functions.amendRecord(
                record_id, expected_version, c, cid, author
            ),
        )

    def accept_bulk(self, items: list[BulkVersion], *, author: str) -> list[BulkAccepted]:
        """Validate and seal every item, then commit them all to the outbox in one transaction:
        all are acknowledged together, or none (any refusal refuses the request)."""
        if self._outbox is None:
            raise ConfigError("this record book has no outbox for batch anchoring")
        latest: dict[bytes, int] = {}
        targets, jobs = [], []
        keys: dict[str, bytes] = {}
        org_key = self._org_key.public_key().public_bytes_raw()
        for item in items:
            record_id, version, patient = self._bulk_target(item, latest)
            if patient not in keys:
                keys[patient] = self._patients.get(patient).encryption_key.public_bytes_raw()
            patient_key = keys[patient]
            latest[record_id] = version
            targets.append((record_id, version, patient))
            recipients = {self._org.address: org_key, patient: patient_key}
            jobs.append(SealJob(item.resource, record_id, version, recipients))
        sealed = self._sealer.seal(jobs)
        accepted = [
            (
                BatchedVersion(
                    rid, version, s.commitment, s.cid, self._org.address, patient, author
                ),
                s.envelope,
            )
            for (rid, version, patient), s in zip(targets, sealed, strict=True)
        ]
        receipt_ids = self._outbox.accept(accepted)
        return [
            BulkAccepted(
                rid,
                "0x" + v.record_id.hex(),
                v.version,
                v.patient,
                v.cid,
                "0x" + v.commitment.hex(),
            )
            for rid, (v, _) in zip(receipt_ids, accepted, strict=True)
        ]

    def _bulk_target(self, item: BulkVersion, latest: dict[bytes, int]) -> tuple[bytes, int, str]:
        """(record id, version, patient) an item writes; the checks amend() makes, on the outbox."""
        assert self._outbox is not None
        if item.record_id is None:
            if item.patient is None:
                raise PayloadNotJson("a bulk item names a patient or a record_id")
            return new_record_id(self._org.address), 1, item.patient
        rid = item.record_id
        current = latest.get(rid) or self._outbox.latest_version(rid, anchored_only=False)
        if current == 0:
            if int(self._chain.call(self._registry.functions.latestVersion(rid))) != 0:
                raise NotBatchAnchored(f"record 0x{rid.hex()} is anchored one by one")
            raise ContractRevert("RecordUnknown", {"recordId": "0x" + rid.hex()})
        if item.expected_version != current:
            raise ContractRevert(
                "RecordVersionConflict",
                {
                    "recordId": "0x" + rid.hex(),
                    "expected": item.expected_version,
                    "latest": current,
                },
            )
        first = self._outbox.version_item(rid, 1)
        if first is None or first.hospital != self._org.address:
            raise NotAuthoringHospital(f"record 0x{rid.hex()} is not this hospital's")
        return rid, current + 1, first.patient

    def _parse(self, raw: bytes) -> Payload:
        return parse_payload(raw, max_bytes=self._max_payload_bytes)

    def _write(
        self,
        payload: Payload,
        *,
        record_id: bytes,
        version: int,
        patient_key: Any,
        patient: str,
        build: BuildCall,
    ) -> AnchorReceipt:
        anchored = seal_store_anchor(
            self._chain,
            self._store,
            payload,
            context_id=record_id,
            version=version,
            recipients={self._org.address: self._org_key.public_key(), patient: patient_key},
            build=build,
        )
        return AnchorReceipt(
            record_id="0x" + record_id.hex(),
            version=version,
            cid=anchored.cid,
            commitment=anchored.commitment,
            transaction=anchored.transaction,
            block=anchored.block,
        )

    def close(self) -> None:
        """Stop the bulk sealer's worker processes, if it started any."""
        self._sealer.close()

    # -- reads ----------------------------------------------------------------------------------

    def latest_version(self, record_id: bytes) -> int:
        """The latest anchored version; RecordUnknown (as ContractRevert) if none."""
        return self._latest(record_id)

    def onchain(self, record_id: bytes, version: int) -> OnchainVersion:
        v = self._version(record_id, version)
        return OnchainVersion(
            commitment=bytes.fromhex(v.commitment[2:]),
            cid=Cid(v.cid),
            hospital=Address(v.hospital),
            patient=Address(v.patient),
        )

    def read(self, record_id: bytes, version: int | None = None) -> RecordDocument:
        """Decrypt a version with this hospital's key; ContentCorrupt if stored bytes are wrong."""
        number = version or self._latest(record_id)
        info = self._version(record_id, number)
        blob = self._store.get(info.cid)
        plaintext = envelope.open_envelope(
            blob,
            private_key=self._org_key,
            label=self._org.address,
            record_id=record_id,
            version=number,
        )
        body = json.loads(plaintext)
        return RecordDocument(
            record_id="0x" + record_id.hex(),
            version=number,
            hospital=info.hospital,
            patient=info.patient,
            cid=info.cid,
            salt=body["salt"],
            resource=body["resource"],
            # Where a batch-anchored version sits, for anyone to check with `medledger verify`.
            batch_inclusion=BatchInclusion(
                batch=info.batch, author=Web3.to_checksum_address(info.author), proof=[*info.proof]
            )
            if info.batch
            else None,
        )

    def envelope(self, record_id: bytes, version: int) -> bytes:
        """The stored envelope of a version, checked against its on-chain CID."""
        return self._store.get(self._version(record_id, version).cid)

    def history(self, record_id: bytes) -> list[VersionInfo]:
        """Every version's chain facts and the state of its content in the store."""
        versions = (self._version(record_id, n) for n in range(1, self._latest(record_id) + 1))
        return [replace(v, content=self._content_state(record_id, v)) for v in versions]

    def _latest(self, record_id: bytes) -> int:
        latest = 0
        if self._outbox is not None:
            latest = self._outbox.latest_version(record_id, anchored_only=True)
        if latest == 0:
            latest = int(self._chain.call(self._registry.functions.latestVersion(record_id)))
        if latest == 0:
            raise ContractRevert("RecordUnknown", {"recordId": "0x" + record_id.hex()})
        return latest

    def _version(self, record_id: bytes, version: int) -> VersionInfo:
        if self._outbox is not None:
            found = self._outbox.anchored_version(record_id, version)
            if found is not None:
                return self._proven(*found)
        v = self._chain.call(self._registry.functions.recordVersion(record_id, version))
        commitment_, hospital, patient, author, anchored_at, block, cid_bytes = v
        cid = cid_from_bytes(bytes(cid_bytes))
        return VersionInfo(
            version=version,
            commitment="0x" + bytes(commitment_).hex(),
            cid=cid,
            hospital=hospital,
            patient=patient,
            author=author,
            anchored_at=int(anchored_at),
            block=int(block),
        )

    def _proven(self, item: BatchedVersion, anchoring: Anchoring) -> VersionInfo:
        """A batch-anchored version, once its proof checks against the root its batch has on
        chain (batches never change, so each is read from the chain once)."""
        onchain = self._batch_roots.get(anchoring.chain_batch_id)
        if onchain is None:
            root, org, kind, _count, _at = self._chain.call(
                self._batch_anchor.functions.batch(anchoring.chain_batch_id)
            )
            onchain = self._batch_roots[anchoring.chain_batch_id] = (bytes(root), org, bytes(kind))
            if len(self._batch_roots) > _BATCH_ROOTS_KEPT:
                self._batch_roots.popitem(last=False)
        problem = item_problem(item, anchoring, onchain)
        if problem is not None:
            raise BatchProofInvalid(f"record 0x{item.record_id.hex()} v{item.version}: {problem}")
        return VersionInfo(
            version=item.version,
            commitment="0x" + item.commitment.hex(),
            cid=item.cid,
            hospital=item.hospital,
            patient=item.patient,
            author=item.author,
            anchored_at=int(anchoring.anchored_at),
            block=anchoring.block,
            batch=anchoring.chain_batch_id,
            proof=tuple("0x" + p.hex() for p in anchoring.proof),
        )

    def _content_state(self, record_id: bytes, v: VersionInfo) -> str:
        return content_state(
            self._store,
            v.cid,
            record_id=record_id,
            version=v.version,
            hospital=v.hospital,
            patient=v.patient,
        ).value
