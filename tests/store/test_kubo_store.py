"""The Kubo backend against a real IPFS node (scripts/ipfs_node.mjs), through kubo_proxy.py where a
test needs to see the calls or make the node misbehave."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import FETCH_TIMEOUT_S
from kubo_proxy import KuboProxy
from store_data import pattern
from test_ipfs_node import car, dag_import

from ledger.errors import (
    ContentCorrupt,
    ContentNotFound,
    ContentUnavailable,
    StoreError,
    StoreUnavailable,
)
from ledger.store import IpfsNode, KuboStore, cid_from_bytes, cid_of
from ledger.store._unixfs import CHUNK_SIZE, MAX_LINKS, iter_blocks
from ledger.store.kubo import ADD_PARAMS


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("size", [0, 100, CHUNK_SIZE + 1], ids=lambda n: f"{n}B")
def test_put_then_get_round_trips_under_our_cid(kubo: KuboStore, size: int) -> None:
    data = pattern(size)
    cid = kubo.put(data)
    assert cid == cid_of(data)
    assert kubo.get(cid) == data
    assert kubo.has(cid)


def test_put_asks_kubo_for_the_dag_our_cids_describe(
    kubo: KuboStore, kubo_proxy: KuboProxy
) -> None:
    kubo.put(b"envelope")
    command, params = kubo_proxy.calls[0]
    assert command == "add"
    assert params == ADD_PARAMS
    assert params["max-file-links"] == str(MAX_LINKS)


def test_unpin_then_has_is_false_and_pin_restores_it(kubo: KuboStore) -> None:
    cid = kubo.put(b"envelope")
    kubo.unpin(cid)
    assert not kubo.has(cid)
    kubo.pin(cid)
    assert kubo.has(cid)


def test_remove_unpins_and_twice_is_no_error(kubo: KuboStore, kubo_proxy: KuboProxy) -> None:
    cid = kubo.put(b"envelope")
    kubo.remove(cid)
    kubo.remove(cid)
    assert not kubo.has(cid)
    assert ("pin/rm", {"arg": cid}) in kubo_proxy.calls


def test_get_of_content_no_peer_delivers_is_unavailable_not_merely_not_found(
    kubo: KuboStore,
) -> None:
    with pytest.raises(ContentUnavailable, match="not found") as raised:
        kubo.get(cid_of(b"never stored"))
    assert raised.value.code == "store.content_unavailable"


def test_the_fetch_timeout_goes_to_the_node_and_bounds_the_wait(kubo_proxy: KuboProxy) -> None:
    cid = cid_of(b"nobody has this")
    started = time.monotonic()
    with (
        KuboStore(kubo_proxy.url, fetch_timeout_s=0.5) as store,
        pytest.raises(ContentUnavailable, match=r"within 0\.5 s"),
    ):
        store.get(cid)
    # Well inside the node's own default (FETCH_TIMEOUT_S): the request's timeout ruled.
    assert time.monotonic() - started < FETCH_TIMEOUT_S
    assert kubo_proxy.calls == [("cat", {"arg": cid, "timeout": "0.5s"})]


def test_pinning_content_no_peer_delivers_is_unavailable(kubo_proxy: KuboProxy) -> None:
    cid = cid_of(b"nobody pins this")
    with KuboStore(kubo_proxy.url, fetch_timeout_s=0.5) as store:
        with pytest.raises(ContentUnavailable):
            store.pin(cid)
        assert not store.has(cid)
    assert kubo_proxy.calls[0] == ("pin/add", {"arg": cid, "timeout": "0.5s"})


def test_a_file_whose_later_block_no_peer_delivers_is_unavailable_not_a_node_down(
    ipfs_node: IpfsNode,
) -> None:
    data = pattern(3 * CHUNK_SIZE)
    blocks = list(iter_blocks(io.BytesIO(data)))
    root, last_leaf = blocks[-1][0], blocks[-2][0]
    partial = [block for block in blocks if block[0] != last_leaf]
    dag_import(ipfs_node, car(root, partial))  # the root's pin fails; the blocks are stored
    with (
        KuboStore(ipfs_node.url, fetch_timeout_s=0.5) as store,
        pytest.raises(ContentUnavailable, match="cut"),
    ):
        store.get(cid_from_bytes(root))


def test_content_the_node_has_comes_back_under_a_fetch_timeout(kubo_proxy: KuboProxy) -> None:
    with KuboStore(kubo_proxy.url, fetch_timeout_s=0.5) as store:
        cid = store.put(pattern(CHUNK_SIZE + 3))
        assert store.get(cid) == pattern(CHUNK_SIZE + 3)


def test_a_timeout_that_is_no_duration_is_refused_as_a_store_error(
    kubo: KuboStore, kubo_proxy: KuboProxy
) -> None:
    kubo_proxy.rewrite["cat"] = {"timeout": "soon"}
    with pytest.raises(StoreError, match="not a duration") as raised:
        kubo.get(cid_of(b"envelope"))
    assert type(raised.value) is StoreError


def test_get_of_a_malformed_cid_raises_content_not_found_without_asking(
    kubo: KuboStore, kubo_proxy: KuboProxy
) -> None:
    with pytest.raises(ContentNotFound):
        kubo.get("not-a-cid")
    assert kubo_proxy.calls == []


def test_altered_bytes_from_cat_raise_content_corrupt(
    kubo: KuboStore, kubo_proxy: KuboProxy
) -> None:
    cid = kubo.put(b"envelope")
    kubo_proxy.alter_cat = True
    with pytest.raises(ContentCorrupt):
        kubo.get(cid)


def test_a_node_answering_another_cid_is_refused_and_its_pin_dropped(
    kubo: KuboStore, kubo_proxy: KuboProxy
) -> None:
    kubo_proxy.rewrite["add"] = {"chunker": "size-1024"}  # a node with other import settings
    data = pattern(3000)  # several 1 KiB chunks: another DAG, another CID
    with pytest.raises(StoreError, match="import settings differ") as raised:
        kubo.put(data)
    assert type(raised.value) is StoreError
    assert kubo_proxy.calls[-1][0] == "pin/rm"


def test_kubo_error_message_is_carried(kubo: KuboStore, kubo_proxy: KuboProxy) -> None:
    kubo_proxy.rewrite["add"] = {"hash": "sha3-256"}
    with pytest.raises(StoreError, match="only sha2-256 is supported") as raised:
        kubo.put(b"envelope")
    assert type(raised.value) is StoreError


def test_a_node_that_is_down_raises_store_unavailable(free_port: int) -> None:
    with KuboStore(f"http://127.0.0.1:{free_port}", timeout=2.0) as store:
        with pytest.raises(StoreUnavailable):
            store.put(b"envelope")
        with pytest.raises(StoreUnavailable):
            store.get(cid_of(b"envelope"))


def test_a_node_that_never_answers_times_out_as_store_unavailable(silent_port: int) -> None:
    with (
        KuboStore(f"http://127.0.0.1:{silent_port}", timeout=0.3) as store,
        pytest.raises(StoreUnavailable),
    ):
        store.get(cid_of(b"envelope"))


def test_something_else_at_the_url_raises_store_error(ipfs_node: IpfsNode) -> None:
    with (
        KuboStore(ipfs_node.url + "/elsewhere", timeout=5.0) as store,
        pytest.raises(StoreError, match="404"),
    ):
        store.put(b"envelope")


# put_many: a batch of contents in one CAR import (dag/import), under exactly put's CIDs.


def test_put_many_imports_a_batch_in_one_call_under_the_cids_add_gives(
    kubo: KuboStore, kubo_proxy: KuboProxy, ipfs_node: IpfsNode
) -> None:
    # envelopes (one raw block each), an empty content, and a file of several chunks (a DAG)
    blobs = [pattern(n) + bytes([i]) for i, n in enumerate((1, 700, 1500, CHUNK_SIZE - 1))]
    blobs += [b"", pattern(2 * CHUNK_SIZE + 5)]
    cids = kubo.put_many(blobs)
    assert [command for command, _ in kubo_proxy.calls] == ["dag/import"]
    assert cids == [cid_of(blob) for blob in blobs]
    for blob, cid in zip(blobs, cids, strict=True):
        assert kubo.has(cid)
        assert kubo.get(cid) == blob
    # ... which is what the node's own add says for the same bytes
    fresh = [pattern(900) + b"fresh", pattern(CHUNK_SIZE + 9) + b"fresh"]
    (imported, dag), added = kubo.put_many(fresh), []
    with KuboStore(ipfs_node.url) as direct:
        for blob in fresh:
            direct.remove(cid_of(blob))
            added.append(direct.put(blob))
    assert [imported, dag] == added


def test_put_many_of_nothing_calls_no_one(kubo: KuboStore, kubo_proxy: KuboProxy) -> None:
    assert kubo.put_many([]) == []
    assert kubo_proxy.calls == []


def test_put_many_whose_root_the_node_cannot_pin_is_a_store_error(
    kubo: KuboStore, ipfs_node: IpfsNode
) -> None:
    # The node is told (through the proxy) not to pin the roots: nothing may then count as stored.
    data = [pattern(300) + b"unpinned"]
    with KuboStore(ipfs_node.url) as direct:
        direct.remove(cid_of(data[0]))
    proxy = KuboProxy(ipfs_node.url).start()
    try:
        proxy.rewrite["dag/import"] = {"pin-roots": "false"}
        with KuboStore(proxy.url) as store, pytest.raises(StoreError, match="not report"):
            store.put_many(data)
    finally:
        proxy.stop()
