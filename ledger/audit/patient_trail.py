"""The patient's side of "who accessed my data", across every organisation: the encrypted batches
fetched from any gateway, opened here with the patient's own keys (the gateway never sees them),
each manifest checked against its CID and its anchored root, each entry against its leaf."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ledger.audit.access_log import AccessEntry
from ledger.audit.manifest import check_anchored, open_for_patient, parse_manifest
from ledger.consent.emergency import is_break_glass
from ledger.crypto.merkle import MerkleTree
from ledger.errors import LedgerError
from ledger.gateway.client import GatewayClient
from ledger.store.cid import cid_of

#: The chain's record of an access-log batch, for a patient who checks it there rather than take
#: the gateway's word: (root, anchoring organisation).
AnchoredBatch = Callable[[int], tuple[bytes, str]]


@dataclass(frozen=True)
class PatientAccess:
    """One entry about the patient, from organisation ``org``'s batch ``chain_batch_id``."""

    org: str
    chain_batch_id: int
    leaf_index: int
    entry: AccessEntry
    proof: list[bytes]

    @property
    def break_glass(self) -> bool:
        """Whether the access rested on a break-glass declaration, not on the patient's grant:
        shown to the patient highlighted (its ``grant`` is the declaration's access id)."""
        return is_break_glass(self.entry.purpose)


@dataclass(frozen=True)
class PatientTrail:
    accesses: list[PatientAccess]
    #: Batches the patient could not check (no manifest to be had, or one that does not match):
    #: (chain batch id, why). Entries about the patient may be in them.
    unchecked: list[tuple[int, str]]


def consortium_accesses(
    client: GatewayClient,
    keys: Sequence[X25519PrivateKey],
    *,
    anchored: AnchoredBatch | None = None,
) -> PatientTrail:
    """Every entry about the holder of ``keys`` (their encryption key at each hospital they are
    enrolled at) in every organisation's published batches, as served by ``client``'s gateway."""
    return patient_accesses(published_batches(client), keys, anchored=anchored)


def published_batches(client: GatewayClient, *, page: int = 10) -> list[dict[str, Any]]:
    """Every access-log batch ``client``'s gateway knows of, with its manifest where it has one."""
    found: list[dict[str, Any]] = []
    after: int | None = -1
    while after is not None:
        reply = client.get_json("/v1/audit/batches", params={"after": after, "limit": page})
        found.extend(reply["items"])
        after = reply["next_after"]
    return found


def patient_accesses(
    batches: Iterable[dict[str, Any]],
    keys: Sequence[X25519PrivateKey],
    *,
    anchored: AnchoredBatch | None = None,
) -> PatientTrail:
    """The entries sealed for ``keys`` in ``batches`` (as GET /v1/audit/batches serves them),
    each batch checked against its CID and its root (the chain's, given ``anchored``)."""
    accesses: list[PatientAccess] = []
    unchecked: list[tuple[int, str]] = []
    for batch in batches:
        batch_id = int(batch["chain_batch_id"])
        if batch.get("manifest") is None:
            unchecked.append((batch_id, f"{batch['status']}: {batch.get('reason')}"))
            continue
        try:
            accesses.extend(_open(batch, keys, anchored))
        except LedgerError as exc:
            unchecked.append((batch_id, str(exc)))
    return PatientTrail(accesses, unchecked)


def _open(
    batch: dict[str, Any], keys: Sequence[X25519PrivateKey], anchored: AnchoredBatch | None
) -> list[PatientAccess]:
    blob = str(batch["manifest"]).encode()
    if cid_of(blob) != batch["cid"]:
        raise LedgerError("the manifest served is not the one whose CID was anchored")
    batch_id, org = int(batch["chain_batch_id"]), str(batch["org"])
    root = bytes.fromhex(str(batch["root"])[2:])
    if anchored is not None:
        root, org = anchored(batch_id)
    manifest = parse_manifest(blob)
    check_anchored(manifest, root=root, count=int(batch["count"]), org=org)
    tree = MerkleTree(manifest.leaves)
    return [
        PatientAccess(org, batch_id, index, entry, tree.proof(index))
        for key in keys
        for index, entry in open_for_patient(manifest, key)
    ]
