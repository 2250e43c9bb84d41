"""The state of a version's envelope in a content store, as any member checks it without the data
key: the bytes under the anchored CID can be had, hash to it, and are an envelope of that record and
version, sealed for the hospital and the patient the chain names, carrying a salt check."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from enum import StrEnum

from eth_utils.address import is_address, to_canonical_address

from ledger.crypto.envelope import KEK_LABEL_PREFIX, parse_envelope
from ledger.errors import ContentCorrupt, ContentNotFound, ContentUnavailable, CryptoError
from ledger.store import ContentStore

#: Fetches one verification makes at once: content no peer has costs one fetch timeout, not one a
#: version, while a record with many versions does not flood the node.
_PARALLEL_FETCHES = 8


class ContentState(StrEnum):
    """What a store gave for a version's CID."""

    INTACT = "intact"
    #: The store positively has nothing under the CID (the embedded store, a node's own blocks).
    MISSING = "missing"
    #: No peer delivered it within the fetch timeout: it may exist, nothing was checked.
    UNAVAILABLE = "unavailable"
    #: Bytes came, but not the anchored envelope of this version.
    CORRUPT = "corrupt"


def content_state(
    store: ContentStore, cid: str, *, record_id: bytes, version: int, hospital: str, patient: str
) -> ContentState:
    """Fetch ``cid`` from ``store`` and check what can be checked without a key. StoreUnavailable
    (the store itself cannot be reached) is raised, not judged: it says nothing of the content."""
    try:
        blob = store.get(cid)
    except ContentUnavailable:
        return ContentState.UNAVAILABLE
    except ContentNotFound:
        return ContentState.MISSING
    except ContentCorrupt:
        return ContentState.CORRUPT
    try:
        sealed = parse_envelope(blob)
    except CryptoError:
        return ContentState.CORRUPT
    # The hospital's own wrap is to its org key (label: its address) or, since KEKs, under its
    # key-encryption key for the patient (label: kek:<address>).
    holders = (label.removeprefix(KEK_LABEL_PREFIX) for label in sealed.wrapped_keys)
    labels = {to_canonical_address(label) for label in holders if is_address(label)}
    if (
        sealed.record_id != record_id
        or sealed.version != version
        or sealed.salt_check is None
        or not {to_canonical_address(hospital), to_canonical_address(patient)} <= labels
    ):
        return ContentState.CORRUPT
    return ContentState.INTACT


def content_states(
    store: ContentStore, record_id: bytes, versions: Sequence[tuple[str, int, str, str]]
) -> list[ContentState]:
    """``content_state`` of each ``(cid, version, hospital, patient)`` of one record, in order,
    fetched at once."""
    if not versions:
        return []

    def one(v: tuple[str, int, str, str]) -> ContentState:
        cid, version, hospital, patient = v
        return content_state(
            store, cid, record_id=record_id, version=version, hospital=hospital, patient=patient
        )

    with ThreadPoolExecutor(min(_PARALLEL_FETCHES, len(versions))) as pool:
        return list(pool.map(one, versions))
