"""The embedded store: round trips, verification on read, undoing a write, concurrent writers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from store_data import pattern

from ledger.errors import ContentCorrupt, ContentNotFound
from ledger.store import EmbeddedStore, cid_of
from ledger.store._unixfs import CHUNK_SIZE, MAX_LINKS


def block_files(root: Path) -> dict[str, Path]:
    return {p.name: p for p in (root / "blocks").glob("*/*")}


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, MAX_LINKS * CHUNK_SIZE + 1],
    ids=lambda n: f"{n}B",
)
def test_put_then_get_returns_the_bytes_under_their_kubo_cid(
    embedded: EmbeddedStore, size: int
) -> None:
    data = pattern(size)
    cid = embedded.put(data)
    assert cid == cid_of(data)
    assert embedded.get(cid) == data
    assert embedded.has(cid)


def test_blocks_are_files_named_by_cid_in_shard_folders(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    cid = embedded.put(b"envelope")
    [path] = block_files(tmp_path / "store").values()
    assert path.name == cid
    assert path.parent.name == cid[-3:-1]
    assert path.read_bytes() == b"envelope"


def test_put_leaves_no_temporary_files(embedded: EmbeddedStore, tmp_path: Path) -> None:
    embedded.put(pattern(3 * CHUNK_SIZE))
    assert list((tmp_path / "store" / "tmp").iterdir()) == []


def test_get_of_a_corrupted_leaf_raises_content_corrupt(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    data = pattern(2 * CHUNK_SIZE)
    cid = embedded.put(data)
    leaf = block_files(tmp_path / "store")[cid_of(data[:CHUNK_SIZE])]
    leaf.write_bytes(b"X" + leaf.read_bytes()[1:])
    with pytest.raises(ContentCorrupt):
        embedded.get(cid)


def test_get_of_a_corrupted_single_block_raises_content_corrupt(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    cid = embedded.put(b"envelope")
    block_files(tmp_path / "store")[cid].write_bytes(b"envelopf")
    with pytest.raises(ContentCorrupt):
        embedded.get(cid)


def test_putting_the_same_bytes_again_repairs_a_damaged_block(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    cid = embedded.put(b"envelope")
    block_files(tmp_path / "store")[cid].write_bytes(b"envelopf")
    assert embedded.put(b"envelope") == cid
    assert embedded.get(cid) == b"envelope"


def test_get_with_a_missing_leaf_raises_content_corrupt(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    data = pattern(2 * CHUNK_SIZE)
    cid = embedded.put(data)
    block_files(tmp_path / "store")[cid_of(data[CHUNK_SIZE:])].unlink()
    with pytest.raises(ContentCorrupt):
        embedded.get(cid)


def test_get_of_an_unknown_cid_raises_content_not_found(embedded: EmbeddedStore) -> None:
    with pytest.raises(ContentNotFound):
        embedded.get(cid_of(b"never stored"))


@pytest.mark.parametrize("bad", ["", "not-a-cid", "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"])
def test_get_of_a_cid_no_store_can_hold_raises_content_not_found(
    embedded: EmbeddedStore, bad: str
) -> None:
    with pytest.raises(ContentNotFound):
        embedded.get(bad)
    assert not embedded.has(bad)


def test_remove_then_get_raises_content_not_found(embedded: EmbeddedStore, tmp_path: Path) -> None:
    cid = embedded.put(pattern(3 * CHUNK_SIZE))
    embedded.remove(cid)
    with pytest.raises(ContentNotFound):
        embedded.get(cid)
    assert not embedded.has(cid)
    assert block_files(tmp_path / "store") == {}


def test_remove_keeps_blocks_another_pin_needs(embedded: EmbeddedStore) -> None:
    big = pattern(CHUNK_SIZE) + b"tail"
    big_cid = embedded.put(big)
    tail_cid = embedded.put(b"tail")  # the same bytes as big's last leaf
    embedded.remove(tail_cid)
    assert embedded.get(big_cid) == big


def test_remove_twice_is_no_error(embedded: EmbeddedStore) -> None:
    cid = embedded.put(b"envelope")
    embedded.remove(cid)
    embedded.remove(cid)


def test_unpin_keeps_the_bytes_but_not_the_promise(embedded: EmbeddedStore) -> None:
    cid = embedded.put(b"envelope")
    embedded.unpin(cid)
    assert not embedded.has(cid)
    assert embedded.get(cid) == b"envelope"
    embedded.pin(cid)
    assert embedded.has(cid)


def test_pin_of_unknown_content_raises_content_not_found(embedded: EmbeddedStore) -> None:
    with pytest.raises(ContentNotFound):
        embedded.pin(cid_of(b"never stored"))


def test_pin_of_incomplete_content_raises_content_corrupt(
    embedded: EmbeddedStore, tmp_path: Path
) -> None:
    data = pattern(2 * CHUNK_SIZE)
    cid = embedded.put(data)
    embedded.unpin(cid)
    block_files(tmp_path / "store")[cid_of(data[:CHUNK_SIZE])].unlink()
    with pytest.raises(ContentCorrupt):
        embedded.pin(cid)
    assert not embedded.has(cid)


def test_content_outlives_the_store_instance(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "store") as first:
        cid = first.put(b"envelope")
    with EmbeddedStore(tmp_path / "store") as second:
        assert second.get(cid) == b"envelope"
        assert second.has(cid)


def test_concurrent_puts_of_different_and_same_content_all_land(embedded: EmbeddedStore) -> None:
    payloads = [pattern(CHUNK_SIZE + n) for n in range(12)] + [b"same"] * 12
    with ThreadPoolExecutor(max_workers=8) as pool:
        cids = list(pool.map(embedded.put, payloads))
    assert cids == [cid_of(p) for p in payloads]
    for cid, data in zip(cids, payloads, strict=True):
        assert embedded.get(cid) == data
        assert embedded.has(cid)


def test_remove_between_a_puts_writes_and_its_pin_spares_the_put(
    embedded: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = pattern(CHUNK_SIZE) + b"tail"  # its last leaf is the whole of b"tail"
    tail = embedded.put(b"tail")
    sync = embedded._sync
    interleaved: list[bool] = []

    def remove_tail_first(folders: set[Path]) -> None:
        # put syncs its blocks, then pins: run a remove of the shared leaf right in between
        if not interleaved:
            interleaved.append(True)
            embedded.remove(tail)
        sync(folders)

    monkeypatch.setattr(embedded, "_sync", remove_tail_first)
    cid = embedded.put(big)
    assert interleaved
    assert embedded.get(cid) == big
