"""Published access-log batches: the regulators read every entry, each patient their own, nobody
else any; and a manifest that does not match its anchored batch is refused."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from hypothesis import given, settings, strategies as st

from ledger.audit.access_log import BULK_ITEM_ACTION, AccessEntry, new_salt
from ledger.audit.manifest import (
    ManifestInvalid,
    build_manifest,
    check_anchored,
    open_for_patient,
    open_for_regulator,
    parse_manifest,
)
from ledger.crypto import envelope
from ledger.crypto.merkle import MerkleTree, leaf_hash
from ledger.errors import DecryptionFailed
from ledger.payload import canonicalize

HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
REGULATOR = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"
ALICE = "0x4B20993Bc481177ec7E8f571ceCaE8A9e22C02db"
BOB = "0x78731D3Ca6b7E34aC0F824c42a7cC18A495cabaB"


def entry(patient: str | None, at: int = 1_700_000_000) -> AccessEntry:
    return AccessEntry(
        at=at,
        actor="0x617F2E2fD72FD9D5503197092aC168c91465E7f2",
        org=HOSPITAL,
        action="GET /v1/records/{record_id}",
        record_id="0x" + "11" * 32,
        version=1,
        view="full",
        patient=patient,
        grant=None,
        purpose=None,
        outcome="allowed",
        salt=new_salt(),
    )


ENTRIES = [entry(ALICE), entry(BOB, 1), entry(None, 2), entry(ALICE, 3)]
REGULATOR_KEY, ALICE_KEY, BOB_KEY, OTHER_ORG_KEY = (X25519PrivateKey.generate() for _ in range(4))


def published(entries: list[AccessEntry] = ENTRIES) -> bytes:
    return build_manifest(
        HOSPITAL,
        entries,
        regulators={REGULATOR: REGULATOR_KEY.public_key()},
        patient_keys={ALICE: ALICE_KEY.public_key(), BOB: BOB_KEY.public_key()},
    )


def anchored_root(entries: list[AccessEntry]) -> bytes:
    """The root the access log anchors: as AccessLog computes it."""
    return MerkleTree([leaf_hash(e.digest()) for e in entries]).root


def test_the_manifest_matches_the_root_the_log_anchors() -> None:
    manifest = parse_manifest(published())
    check_anchored(manifest, root=anchored_root(ENTRIES), count=4, org=HOSPITAL)


def test_the_regulator_reads_every_entry_in_order() -> None:
    manifest = parse_manifest(published())
    assert open_for_regulator(manifest, REGULATOR_KEY, REGULATOR) == ENTRIES


def test_a_patient_reads_their_own_entries_and_no_one_elses() -> None:
    manifest = parse_manifest(published())
    assert open_for_patient(manifest, ALICE_KEY) == [(0, ENTRIES[0]), (3, ENTRIES[3])]
    assert open_for_patient(manifest, BOB_KEY) == [(1, ENTRIES[1])]


def test_another_organisation_reads_nothing() -> None:
    manifest = parse_manifest(published())
    with pytest.raises(DecryptionFailed):
        open_for_regulator(manifest, OTHER_ORG_KEY, REGULATOR)
    assert open_for_patient(manifest, OTHER_ORG_KEY) == []


def test_no_entry_is_in_the_clear() -> None:
    blob = published()
    for e in ENTRIES:
        assert e.salt is not None
        assert e.salt[2:].encode() not in blob
    assert b"GET /v1/records" not in blob


def test_equal_entries_have_unrelated_leaves() -> None:
    # The salt: a leaf, which the manifest shows, cannot be matched against a guessed entry.
    twin = replace(ENTRIES[0], salt=new_salt())
    assert leaf_hash(twin.digest()) != leaf_hash(ENTRIES[0].digest())


def test_an_unsalted_entry_keeps_its_old_digest() -> None:
    old = replace(ENTRIES[0], salt=None)
    assert b"salt" not in old.canonical()


@pytest.mark.parametrize(
    ("root", "count", "org", "why"),
    [
        (b"\x01" * 32, 4, HOSPITAL, "do not make the anchored root"),
        (None, 3, HOSPITAL, "4 leaves, 3 anchored"),
        (None, 4, REGULATOR, "anchored by"),
    ],
)
def test_a_manifest_that_does_not_match_its_batch_is_refused(
    root: bytes | None, count: int, org: str, why: str
) -> None:
    manifest = parse_manifest(published())
    with pytest.raises(ManifestInvalid, match=why):
        check_anchored(manifest, root=root or anchored_root(ENTRIES), count=count, org=org)


def test_a_copy_moved_from_another_batch_does_not_open() -> None:
    ours = json.loads(published())
    theirs = json.loads(published([entry(ALICE, 9), entry(ALICE, 10), entry(BOB, 11), entry(None)]))
    ours["regulators"] = theirs["regulators"]
    ours["patients"] = theirs["patients"]

    forged = parse_manifest(canonicalize(ours))
    with pytest.raises(DecryptionFailed):
        open_for_regulator(forged, REGULATOR_KEY, REGULATOR)
    assert open_for_patient(forged, ALICE_KEY) == []


def test_an_entry_that_does_not_match_its_leaf_is_refused() -> None:
    # A sealer that encrypts entries other than those it anchored: the leaves (and root) are of
    # the anchored entries, the copies of others.
    honest = json.loads(published())
    others = canonicalize([asdict(replace(e, outcome="denied:x")) for e in ENTRIES])
    honest["regulators"] = json.loads(
        envelope.seal(
            others,
            record_id=anchored_root(ENTRIES),
            version=1,
            recipients={REGULATOR: REGULATOR_KEY.public_key()},
        )
    )
    forged = parse_manifest(canonicalize(honest))
    with pytest.raises(ManifestInvalid, match="entry 0 does not match its leaf"):
        open_for_regulator(forged, REGULATOR_KEY, REGULATOR)


@pytest.mark.parametrize(
    "blob",
    [b"", b"[]", b'{"v":2}', b'{"kind":"medledger.access-log.v1","v":1}', b'{ "v": 1 }'],
)
def test_bytes_that_are_not_a_manifest_are_refused(blob: bytes) -> None:
    with pytest.raises(ManifestInvalid):
        parse_manifest(blob)


@settings(max_examples=25, deadline=None)
@given(owners=st.lists(st.sampled_from([ALICE, BOB, None]), min_size=1, max_size=8))
def test_each_patient_opens_exactly_their_own_entries(owners: list[str | None]) -> None:
    entries = [entry(owner, at) for at, owner in enumerate(owners)]
    manifest = parse_manifest(published(entries))
    check_anchored(manifest, root=anchored_root(entries), count=len(entries), org=HOSPITAL)
    assert open_for_regulator(manifest, REGULATOR_KEY, REGULATOR) == entries
    for pseudonym, key in ((ALICE, ALICE_KEY), (BOB, BOB_KEY)):
        mine = [(i, e) for i, e in enumerate(entries) if e.patient == pseudonym]
        assert open_for_patient(manifest, key) == mine


def test_the_entry_of_each_version_a_bulk_write_wrote_opens() -> None:
    # As api/routes/bulk.py logs it: its action has a third word.
    written = replace(ENTRIES[0], action=BULK_ITEM_ACTION, view="write")
    manifest = parse_manifest(published([written, ENTRIES[1]]))
    assert open_for_regulator(manifest, REGULATOR_KEY, REGULATOR)[0] == written


@pytest.mark.parametrize(
    "odd",
    [
        {"at": "yesterday"},
        {"at": 10**13},
        {"version": "1"},
        {"action": "GET /v1/a  b"},
        {"outcome": "maybe"},
        {"actor": ""},
        {"salt": "0x12"},
        {"grant": "0x12 34"},
    ],
)
def test_an_entry_no_gateway_writes_is_refused_though_it_matches_its_leaf(
    odd: dict[str, object],
) -> None:
    # A hostile member hashes what it writes, so the leaf matches; the shape does not.
    entries = [replace(ENTRIES[0], **odd), ENTRIES[1]]  # type: ignore[arg-type]
    manifest = parse_manifest(published(entries))
    with pytest.raises(ManifestInvalid, match="entry 0 is not an access entry"):
        open_for_regulator(manifest, REGULATOR_KEY, REGULATOR)
    with pytest.raises(ManifestInvalid, match="entry 0 is not an access entry"):
        open_for_patient(manifest, ALICE_KEY)
