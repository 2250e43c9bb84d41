"""A sealed access-log batch as published to IPFS, its CID anchored on chain with its root.

The manifest shows the batch's leaves (salted entry digests, leaf-hashed) in the clear, so anyone
can check it against the anchored root without a key, and carries the entries only encrypted:
all of them in one envelope for the consortium's regulators, and each patient's own in an envelope
for that patient's key. Envelopes are ``ledger.crypto.envelope``'s (AES-256-GCM, HPKE-wrapped
data keys), sealed in the batch's context (record id = the batch root), so that no copy can be
moved into another batch. Patients' envelopes are not labelled with whom they are for: a patient
tries each (one HPKE open per patient in the batch), and a reader of the manifest learns only how
many distinct patients the batch concerns.

Wire form, RFC 8785 JSON: ``{"v":1,"kind":"medledger.access-log.v1","org":"0x..",
"leaves":["0x..",...],"regulators":<envelope>|null,"patients":[<envelope>,...],
"enrolments":[{"pseudonym","key","signature"},...]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import is_address, to_checksum_address

from ledger.audit.access_log import BULK_ITEM_ACTION, AccessEntry, entry_from_wire
from ledger.consent.patients import ENROLMENT_TYPES
from ledger.crypto import envelope
from ledger.crypto.merkle import MerkleTree, leaf_hash
from ledger.errors import CryptoError, DecryptionFailed, LedgerError
from ledger.payload import canonicalize

MANIFEST_VERSION = 1
MANIFEST_KIND = "medledger.access-log.v1"
#: The envelope "version" slot of the regulators' copy; patient copy ``i`` is ``2 + i``.
_REGULATORS_SLOT = 1
_PATIENT_LABEL = "patient"
#: A manifest is fetched from peers before it is checked: bound what a hostile member can make a
#: gateway parse.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024


class ManifestInvalid(LedgerError):
    """A published access-log batch that is malformed or does not match what the chain anchored."""

    code = "audit.manifest_invalid"


@dataclass(frozen=True)
class Enrolment:
    """A patient's signed binding of an encryption key at the hospital that publishes it: what
    lets any other organisation seal the patient's own entries for them."""

    pseudonym: str
    key: str  # 0x + hex of the raw X25519 public key
    signature: str

    def public_key(self) -> X25519PublicKey:
        return X25519PublicKey.from_public_bytes(bytes.fromhex(self.key[2:]))

    def signed_by(self, domain: Mapping[str, Any], hospital: str) -> str | None:
        """Who signed this enrolment under ``hospital``'s gateway domain, or None if unreadable."""
        try:
            message = encode_typed_data(
                domain_data=dict(domain),
                message_types=ENROLMENT_TYPES,
                message_data={"hospital": hospital, "encryptionKey": bytes.fromhex(self.key[2:])},
            )
            return str(Account.recover_message(message, signature=self.signature))
        except (ValueError, TypeError):
            return None


@dataclass(frozen=True)
class Manifest:
    org: str
    leaves: tuple[bytes, ...]
    regulators: bytes | None
    patients: tuple[bytes, ...]
    enrolments: tuple[Enrolment, ...]

    @cached_property
    def root(self) -> bytes:
        return MerkleTree(self.leaves).root

    def to_bytes(self) -> bytes:
        return canonicalize(
            {
                "v": MANIFEST_VERSION,
                "kind": MANIFEST_KIND,
                "org": self.org,
                "leaves": ["0x" + leaf.hex() for leaf in self.leaves],
                "regulators": None if self.regulators is None else json.loads(self.regulators),
                "patients": [json.loads(blob) for blob in self.patients],
                "enrolments": [asdict(e) for e in self.enrolments],
            }
        )


def build_manifest(
    org: str,
    entries: Sequence[AccessEntry],
    *,
    regulators: Mapping[str, X25519PublicKey],
    patient_keys: Mapping[str, X25519PublicKey],
    enrolments: Sequence[Enrolment] = (),
) -> bytes:
    """The manifest of a batch of ``entries`` (in leaf order): every entry for ``regulators``
    (label -> key), each patient's for their key in ``patient_keys`` (pseudonym -> key); a
    patient whose key is not known gets no copy (the regulators' copy still has their entries)."""
    leaves = tuple(leaf_hash(e.digest()) for e in entries)
    root = MerkleTree(leaves).root
    bodies = [e.as_dict() for e in entries]
    everything = canonicalize(bodies)
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for index, (entry, body) in enumerate(zip(entries, bodies, strict=True)):
        if entry.patient is not None and entry.patient in patient_keys:
            by_patient.setdefault(entry.patient, []).append({"i": index, "entry": body})
    patients = tuple(
        envelope.seal(
            canonicalize(own),
            record_id=root,
            version=_REGULATORS_SLOT + 1 + slot,
            recipients={_PATIENT_LABEL: patient_keys[pseudonym]},
        )
        for slot, (pseudonym, own) in enumerate(sorted(by_patient.items()))
    )
    sealed = (
        envelope.seal(
            everything, record_id=root, version=_REGULATORS_SLOT, recipients=dict(regulators)
        )
        if regulators
        else None
    )
    return Manifest(
        to_checksum_address(org), leaves, sealed, patients, tuple(enrolments)
    ).to_bytes()


def parse_manifest(blob: bytes) -> Manifest:
    """The manifest's fields; ManifestInvalid unless ``blob`` is one, well formed."""
    if len(blob) > MAX_MANIFEST_BYTES:
        raise ManifestInvalid(f"the manifest is over {MAX_MANIFEST_BYTES} bytes")
    try:
        raw = json.loads(blob)
        if not isinstance(raw, dict) or canonicalize(raw) != blob:
            raise ManifestInvalid("the manifest is not a canonical JSON object")
        if raw.get("v") != MANIFEST_VERSION or raw.get("kind") != MANIFEST_KIND:
            raise ManifestInvalid("not an access-log manifest of a known version")
        if not is_address(raw["org"]):
            raise ManifestInvalid("org is not an address")
        leaves = tuple(_hex32(leaf) for leaf in raw["leaves"])
        if not leaves:
            raise ManifestInvalid("the manifest has no leaves")
        regulators = None if raw["regulators"] is None else canonicalize(raw["regulators"])
        patients = tuple(canonicalize(p) for p in raw["patients"])
        for blob_ in (regulators, *patients):
            if blob_ is not None:
                envelope.parse_envelope(blob_)
        enrolments = tuple(
            Enrolment(str(e["pseudonym"]), str(e["key"]), str(e["signature"]))
            for e in raw["enrolments"]
        )
    except ManifestInvalid:
        raise
    except (ValueError, KeyError, TypeError, CryptoError) as exc:
        raise ManifestInvalid(f"malformed manifest: {exc}") from exc
    return Manifest(str(raw["org"]), leaves, regulators, patients, enrolments)


def check_anchored(manifest: Manifest, *, root: bytes, count: int, org: str) -> None:
    """ManifestInvalid unless ``manifest`` is the batch ``org`` anchored: ``root``, ``count``."""
    if manifest.org.lower() != org.lower():
        raise ManifestInvalid(f"the manifest names {manifest.org}, the batch was anchored by {org}")
    if len(manifest.leaves) != count:
        raise ManifestInvalid(f"the manifest has {len(manifest.leaves)} leaves, {count} anchored")
    if manifest.root != root:
        raise ManifestInvalid("the manifest's leaves do not make the anchored root")


def open_for_regulator(manifest: Manifest, key: X25519PrivateKey, label: str) -> list[AccessEntry]:
    """Every entry of the batch, each checked against its leaf; ManifestInvalid if any is not,
    DecryptionFailed if there is no copy for ``label`` or it does not open with ``key``."""
    if manifest.regulators is None:
        raise DecryptionFailed("the batch was published with no regulators' copy")
    plain = envelope.open_envelope(
        manifest.regulators,
        private_key=key,
        label=label,
        record_id=manifest.root,
        version=_REGULATORS_SLOT,
    )
    entries = _entries(plain)
    if len(entries) != len(manifest.leaves):
        raise ManifestInvalid("the regulators' copy does not hold one entry per leaf")
    for index, entry in enumerate(entries):
        _check_leaf(manifest, index, entry)
    return entries


def open_for_patient(manifest: Manifest, key: X25519PrivateKey) -> list[tuple[int, AccessEntry]]:
    """The entries of the batch sealed for ``key``, each with its leaf index and checked against
    its leaf (ManifestInvalid if one is not); none if no copy opens with ``key``."""
    for slot, blob in enumerate(manifest.patients):
        try:
            plain = envelope.open_envelope(
                blob,
                private_key=key,
                label=_PATIENT_LABEL,
                record_id=manifest.root,
                version=_REGULATORS_SLOT + 1 + slot,
            )
        except DecryptionFailed:
            continue
        try:
            own = [(int(item["i"]), entry_from_wire(item["entry"])) for item in json.loads(plain)]
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestInvalid(f"a patient's copy is malformed: {exc}") from exc
        for index, entry in own:
            _check_leaf(manifest, index, entry)
        return own
    return []


def _entries(plain: bytes) -> list[AccessEntry]:
    try:
        return [entry_from_wire(raw) for raw in json.loads(plain)]
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestInvalid(f"the regulators' copy is malformed: {exc}") from exc


def _check_leaf(manifest: Manifest, index: int, entry: AccessEntry) -> None:
    if not 0 <= index < len(manifest.leaves) or leaf_hash(entry.digest()) != manifest.leaves[index]:
        raise ManifestInvalid(f"entry {index} does not match its leaf (altered or misplaced)")
    problem = _misshapen(entry)
    if problem:
        raise ManifestInvalid(f"entry {index} is not an access entry: {problem}")


_ACTION = re.compile(r"\S+ \S+")  # method and route (api/audit.py quotes any whitespace in it)
_OUTCOME = re.compile(r"(allowed|denied|error)(:\S+)?")
_SALT = re.compile(r"0x[0-9a-f]{64}")
_LAST_FHIR_INSTANT = 253_402_300_799  # 9999-12-31T23:59:59Z


def _misshapen(entry: AccessEntry) -> str | None:
    """What makes ``entry`` other than one a gateway logs, or None. Another member sealed it, and
    its leaf matching proves only that it hashed what it wrote: an entry of another shape would
    fail later, where it is served or shown as a FHIR AuditEvent."""
    if type(entry.at) is not int or not 0 <= entry.at <= _LAST_FHIR_INSTANT:
        return "at is not a time"
    if entry.version is not None and (type(entry.version) is not int or entry.version < 0):
        return "version is not a number"
    texts = (entry.actor, entry.action, entry.outcome)
    optional = (entry.org, entry.record_id, entry.view, entry.patient, entry.grant, entry.purpose)
    if not all(isinstance(t, str) for t in texts) or not all(
        t is None or isinstance(t, str) for t in (*optional, entry.salt)
    ):
        return "a field is not text"
    if not entry.actor:
        return "actor is empty"
    if entry.grant is not None and any(c.isspace() for c in entry.grant):
        return "grant is not an id"
    action_known = entry.action == BULK_ITEM_ACTION or _ACTION.fullmatch(entry.action)
    if not action_known or not _OUTCOME.fullmatch(entry.outcome):
        return "action or outcome is not one a gateway writes"
    if entry.salt is not None and not _SALT.fullmatch(entry.salt):
        return "salt is not 32 bytes of hex"
    return None


def _hex32(text: object) -> bytes:
    if not isinstance(text, str) or len(text) != 66 or not text.startswith("0x"):
        raise ManifestInvalid("a leaf is not 0x + 64 hex digits")
    return bytes.fromhex(text[2:])
