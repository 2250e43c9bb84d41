"""A hospital's record book: anchor, amend, read back and verify record versions.

Writes validate, then seal, preflight, store and anchor through ``ledger.records.anchoring``,
the write path records share with prescriptions and dispenses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.consent.patients import PatientDirectory
from ledger.errors import ConfigError, ContractRevert, LedgerError, PayloadNotJson
from ledger.payload import Payload, parse_payload
from ledger.records.anchoring import BuildCall, seal_store_anchor
from ledger.records.batch_index import BatchIndex
from ledger.records.batch_proof import BatchedVersion
from ledger.records.bulk_sealing import BulkSealer, SealJob
from ledger.records.content import content_states
from ledger.records.document import BatchInclusion, OnchainVersion, RecordDocument
from ledger.records.ids import new_record_id
from ledger.records.outbox import Outbox
from ledger.records.versions import BatchProofInvalid, VersionInfo, VersionLookup
from ledger.records.writer_keys import WriterKeys
from ledger.store import ContentStore
from ledger.types import Address, Cid

__all__ = [
    "AnchorReceipt",
    "BatchProofInvalid",
    "BulkAccepted",
    "BulkVersion",
    "NotAuthoringHospital",
    "NotBatchAnchored",
    "RecordBook",
    "VersionInfo",
]


class NotBatchAnchored(LedgerError):
    """A bulk amendment names a record anchored one by one: amend it through its own route."""

    code = "record.not_batch_anchored"


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
        batch_index: BatchIndex | None = None,
        writer_keys: WriterKeys | None = None,
    ) -> None:
        self._chain = chain
        self.keys = writer_keys or WriterKeys(org.address, org_key)
        self._outbox = outbox
        self._sealer = sealer or BulkSealer(0, max_bytes=max_payload_bytes, store_root=None)
        # Versions come from the outbox (written here), the batch index (batches anchored by
        # others, from their manifests) or RecordRegistry, each proven before it is used.
        self.batch_index = batch_index
        versions = VersionLookup(chain, outbox, batch_index)
        self._latest, self._version = versions.latest, versions.version
        self._store = store
        self._patients = patients
        self._org = org
        self._max_payload_bytes = max_payload_bytes
        self._registry = chain.contract("RecordRegistry")

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
        # Each patient's recipients once a request, as a single write seals them: the patient by
        # HPKE, the writer under its own key-encryption key where it keeps one (no second HPKE
        # wrap a version, and erasure reaches bulk-written versions too).
        keys: dict[str, tuple[dict[str, bytes], dict[str, bytes] | None]] = {}
        for item in items:
            record_id, version, patient = self._bulk_target(item, latest)
            if patient not in keys:
                public, keks = self.keys.recipients(
                    patient, self._patients.get(patient).encryption_key
                )
                keys[patient] = ({k: v.public_bytes_raw() for k, v in public.items()}, keks)
            recipients, keks = keys[patient]
            latest[record_id] = version
            targets.append((record_id, version, patient))
            jobs.append(SealJob(item.resource, record_id, version, recipients, keks))
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
        if self.keys.retention is not None:
            self.keys.retention.note_unclassified(
                [(v.record_id, v.version, v.cid, v.patient) for v, _ in accepted]
            )
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
        recipients, keks = self.keys.recipients(patient, patient_key)
        anchored = seal_store_anchor(
            self._chain,
            self._store,
            payload,
            context_id=record_id,
            version=version,
            recipients=recipients,
            build=build,
            key_encryption_keys=keks,
        )
        if self.keys.retention is not None:
            self.keys.retention.note(
                record_id=record_id,
                version=version,
                cid=anchored.cid,
                patient=patient,
                resource=payload.resource,
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
        """Stop the bulk sealer's worker processes, if it started any; close the batch index."""
        self._sealer.close()
        if self.batch_index is not None:
            self.batch_index.close()
        if self.keys.retention is not None:
            self.keys.retention.close()

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
        plaintext = self.keys.open(blob, patient=info.patient, record_id=record_id, version=number)
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

    def rewrap(self, record_id: bytes, version: int, recipient: X25519PublicKey) -> bytes:
        """Keys follow consent: the version's data key wrapped for ``recipient`` (WriterKeys)."""
        info = self._version(record_id, version)
        return self.keys.rewrap(
            self._store.get(info.cid),
            patient=info.patient,
            record_id=record_id,
            version=version,
            recipient=recipient,
        )

    def envelope(self, record_id: bytes, version: int) -> bytes:
        """The stored envelope of a version, checked against its on-chain CID."""
        return self._store.get(self._version(record_id, version).cid)

    def history(self, record_id: bytes) -> list[VersionInfo]:
        """Every version's chain facts and the state of its content in the store."""
        versions = [self._version(record_id, n) for n in range(1, self._latest(record_id) + 1)]
        facts = [(v.cid, v.version, v.hospital, v.patient) for v in versions]
        states = content_states(self._store, record_id, facts)
        return [replace(v, content=s.value) for v, s in zip(versions, states, strict=True)]
