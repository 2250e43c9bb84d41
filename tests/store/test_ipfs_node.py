"""The organisation's IPFS node (scripts/ipfs_node.mjs) in real processes: Kubo's CIDs, fetching
and pinning a peer's content by bitswap, and a private network nothing outside the consortium
reaches."""

from __future__ import annotations

import io
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from conftest import FETCH_TIMEOUT_S, StartNode
from store_data import kubo_deterministic, pattern

from ledger.errors import ConfigError, ContentNotFound, StoreUnavailable
from ledger.store import IpfsNode, KuboStore, cid_of, swarm_key_new
from ledger.store._unixfs import CHUNK_SIZE, MAX_LINKS, Block, iter_blocks
from ledger.store.kubo import ADD_PARAMS

KIB, MIB = 1 << 10, 1 << 20


def rpc(node: IpfsNode, command: str, **params: str) -> httpx.Response:
    reply = httpx.post(f"{node.url}/api/v0/{command}", params=params, timeout=30.0)
    reply.raise_for_status()
    return reply


def add(node: IpfsNode, data: bytes, **params: str) -> str:
    """The CID the node itself answers for ``data``, added with KuboStore's parameters."""
    files = {"file": ("blob", data, "application/octet-stream")}
    reply = httpx.post(
        f"{node.url}/api/v0/add", params=ADD_PARAMS | params, files=files, timeout=60.0
    )
    reply.raise_for_status()
    return str(reply.json()["Hash"])


def car(root: bytes, blocks: Iterable[Block]) -> bytes:
    """A CARv1 file: its dag-cbor header ``{"roots": [root], "version": 1}``, then the blocks."""
    tagged_cid = b"\xd8\x2a" + bytes((0x58, len(root) + 1)) + b"\x00" + root  # tag 42, 0x00 prefix
    header = b"\xa2\x65roots\x81" + tagged_cid + b"\x67version\x01"
    sections = [header, *(cid + data for cid, data in blocks)]
    return b"".join(_uvarint(len(section)) + section for section in sections)


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out) + bytes((n,))


def dag_import(node: IpfsNode, data: bytes) -> httpx.Response:
    files = {"file": ("batch.car", data, "application/vnd.ipld.car")}
    return httpx.post(f"{node.url}/api/v0/dag/import", files=files, timeout=30.0)


def peers_of(node: IpfsNode) -> set[str]:
    return {peer["Peer"] for peer in rpc(node, "swarm/peers").json()["Peers"]}


def wait_connected(node: IpfsNode, *others: IpfsNode, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not {other.peer_id for other in others} <= peers_of(node):
        if time.monotonic() > deadline:
            pytest.fail(f"{node.peer_id} did not connect to its peers within {timeout_s}s")
        time.sleep(0.1)


def sockets_of(pid: int) -> list[tuple[str, str, str]]:
    """(protocol, local address, remote address) of every socket the process holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = fd.readlink().name if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/{pid}/net/{proto}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                found.append((proto, _ip(fields[1]), _ip(fields[2])))
    return found


def _ip(hex_address: str) -> str:
    """/proc/net's little-endian hex address, without the port; ``*`` for the unspecified one."""
    raw = bytes.fromhex(hex_address.split(":")[0])
    if not any(raw):
        return "*"
    if len(raw) == 4:
        return ".".join(str(b) for b in reversed(raw))
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    six = b"".join(words)
    return "127.0.0.1" if six[:12] == bytes(10) + b"\xff\xff" and six[12] == 127 else six.hex()


@pytest.fixture(scope="module")
def node_a(start_node: StartNode) -> IpfsNode:
    return start_node("hospital-a")


@pytest.fixture(scope="module")
def node_b(start_node: StartNode, node_a: IpfsNode) -> IpfsNode:
    """B peered with A: B dials A, A admits B once B is in its peers file."""
    node = start_node("insurer", peers=[node_a.address])
    node_a.set_peers([node.address])
    wait_connected(node_a, node)
    wait_connected(node, node_a)
    return node


@pytest.fixture
def store_a(node_a: IpfsNode) -> Iterator[KuboStore]:
    with node_a.store() as store:
        yield store


@pytest.fixture
def store_b(node_b: IpfsNode) -> Iterator[KuboStore]:
    with node_b.store() as store:
        yield store


# CIDs: the node builds the DAG `ipfs add --cid-version=1` builds.


@pytest.mark.parametrize(
    "size",
    [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, MAX_LINKS * CHUNK_SIZE + 1, 3 * MIB + 7],
    ids=["0B", "1B", "256KiB-1", "256KiB", "256KiB+1", "two-levels", "3MiB+7"],
)
def test_the_node_answers_the_cid_cid_of_computes(node_a: IpfsNode, size: int) -> None:
    data = pattern(size)
    assert add(node_a, data) == cid_of(data)


@pytest.mark.parametrize(
    ("data", "chunker", "expected"),
    [
        (b"", "size-262144", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"),
        (
            b"hello world",
            "size-262144",
            "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
        ),
        (
            b"Hello World\n",
            "size-4",
            "bafybeiag43jli67lcov4ytqhpfxbodmhp6hjvjh73jrjid7zf73p7a6nqa",
        ),
        (
            kubo_deterministic(MIB + 1, "chunk-v1-seed"),
            f"size-{MIB}",
            "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64",
        ),
    ],
    ids=["empty", "hello-world", "size-4-three-leaves", "1MiB-plus-one"],
)
def test_the_node_answers_kubos_published_cids(
    node_a: IpfsNode, data: bytes, chunker: str, expected: str
) -> None:
    # Sources of these CIDs: tests/store/test_unixfs_dag.py's VECTORS.
    assert add(node_a, data, chunker=chunker) == expected


# CAR import (dag/import), for batches.


def test_dag_import_stores_the_blocks_and_pins_the_root(
    node_a: IpfsNode, store_a: KuboStore
) -> None:
    data = pattern(3 * CHUNK_SIZE + 11)
    blocks = list(iter_blocks(io.BytesIO(data)))
    root = blocks[-1][0]
    reply = dag_import(node_a, car(root, blocks))
    assert reply.status_code == 200
    assert reply.json()["Root"]["Cid"]["/"] == cid_of(data)
    assert store_a.has(cid_of(data))
    assert store_a.get(cid_of(data)) == data


def test_dag_import_refuses_a_block_that_does_not_match_its_cid(
    node_a: IpfsNode, store_a: KuboStore
) -> None:
    data = pattern(2 * CHUNK_SIZE + 3)
    blocks = list(iter_blocks(io.BytesIO(data)))
    (leaf, chunk), *rest = blocks
    forged = [(leaf, chunk[:-1] + bytes([chunk[-1] ^ 1])), *rest]
    reply = dag_import(node_a, car(blocks[-1][0], forged))
    assert reply.status_code == 500
    assert "does not match its CID" in reply.json()["Message"]
    assert not store_a.has(cid_of(data))


def test_a_batch_imported_twice_keeps_one_pin_a_root_and_each_unpins_alone(
    store_b: KuboStore, node_b: IpfsNode
) -> None:
    blobs = [f"envelope {i} of a batch".encode() for i in range(40)]
    cids = store_b.put_many(blobs)
    assert store_b.put_many(blobs) == cids  # already pinned: no error, the same answer
    listed = rpc(node_b, "pin/ls").json()["Keys"]
    assert set(cids) <= set(listed)
    store_b.unpin(cids[0])
    rpc(node_b, "repo/gc")
    with pytest.raises(ContentNotFound):
        store_b.get(cids[0])
    assert [store_b.get(cid) for cid in cids[1:]] == blobs[1:]


# Bitswap between members.


def test_a_peer_fetches_content_added_on_another_node(
    store_a: KuboStore, store_b: KuboStore
) -> None:
    data = pattern(CHUNK_SIZE * 3 + 5)
    cid = store_a.put(data)
    assert store_b.get(cid) == data


def test_a_peer_pins_content_added_on_another_node(store_a: KuboStore, store_b: KuboStore) -> None:
    cid = store_a.put(b"an envelope to replicate")
    assert not store_b.has(cid)
    store_b.pin(cid)
    assert store_b.has(cid)


def test_pinned_content_survives_gc_and_the_writers_shutdown(
    start_node: StartNode, node_b: IpfsNode, node_a: IpfsNode, store_b: KuboStore
) -> None:
    writer = start_node("hospital-c", peers=[node_b.address])
    node_b.set_peers([node_a.address, writer.address])
    wait_connected(node_b, writer)
    with writer.store() as store_w:
        cid = store_w.put(pattern(2 * CHUNK_SIZE + 9))
    store_b.pin(cid)
    rpc(node_b, "repo/gc")
    writer.stop()
    node_b.set_peers([node_a.address])
    assert store_b.get(cid) == pattern(2 * CHUNK_SIZE + 9)


def test_unpinned_content_is_gone_after_gc(store_b: KuboStore, node_b: IpfsNode) -> None:
    cid = store_b.put(b"written, then unpinned")
    store_b.unpin(cid)
    rpc(node_b, "repo/gc")
    with pytest.raises(ContentNotFound):
        store_b.get(cid)


def test_content_no_peer_has_is_not_found_within_the_fetch_timeout(store_b: KuboStore) -> None:
    started = time.monotonic()
    with pytest.raises(ContentNotFound):
        store_b.get(cid_of(b"nobody ever stored this"))
    assert time.monotonic() - started < FETCH_TIMEOUT_S + 3.0


def test_a_malformed_line_in_the_peers_file_leaves_the_other_peers_admitted(
    start_node: StartNode, node_a: IpfsNode, node_b: IpfsNode
) -> None:
    newcomer = start_node("hospital-d", peers=[node_a.address])
    node_a.set_peers(["not a multiaddr", node_b.address, newcomer.address])
    wait_connected(node_a, node_b, newcomer)
    newcomer.stop()
    node_a.set_peers([node_b.address])


def test_a_peer_that_restarts_is_connected_again_without_being_told(
    start_node: StartNode, node_a: IpfsNode, node_b: IpfsNode
) -> None:
    returning = start_node("hospital-e", peers=[node_b.address])
    node_b.set_peers([node_a.address, returning.address])
    wait_connected(node_b, returning)
    returning.stop()
    returning.start()
    wait_connected(node_b, returning)
    returning.stop()
    node_b.set_peers([node_a.address])


def test_the_peer_id_persists_across_restarts(start_node: StartNode) -> None:
    node = start_node("restarted")
    before = node.peer_id
    node.stop()
    node.start()
    assert node.peer_id == before


# The private network: nothing outside the consortium connects, fetches or is dialled.


def test_a_node_with_another_swarm_key_can_neither_connect_nor_fetch(
    start_node: StartNode, node_a: IpfsNode, node_b: IpfsNode, store_a: KuboStore, tmp_path: Path
) -> None:
    stranger = start_node("stranger", peers=[node_a.address], key=swarm_key_new(tmp_path / "k"))
    # A admits the stranger's peer id: only the key keeps it out.
    node_a.set_peers([node_b.address, stranger.address])
    cid = store_a.put(b"for consortium members only")
    with pytest.raises(httpx.HTTPStatusError):
        rpc(stranger, "swarm/connect", arg=node_a.address)
    with stranger.store() as store_s, pytest.raises(ContentNotFound):
        store_s.get(cid)
    assert peers_of(stranger) == set()
    assert stranger.peer_id not in peers_of(node_a)
    node_a.set_peers([node_b.address])


def test_a_node_with_the_key_but_not_on_the_peer_list_is_refused(
    start_node: StartNode, node_a: IpfsNode, node_b: IpfsNode, store_a: KuboStore
) -> None:
    intruder = start_node("intruder", peers=[node_a.address])
    cid = store_a.put(b"for listed members only")
    with pytest.raises(httpx.HTTPStatusError):
        rpc(intruder, "swarm/connect", arg=node_a.address)
    with intruder.store() as store_i, pytest.raises(ContentNotFound):
        store_i.get(cid)
    assert intruder.peer_id not in peers_of(node_a)


def test_the_node_listens_on_loopback_only(node_a: IpfsNode) -> None:
    assert node_a.identity["Addresses"] == [node_a.address]


def test_the_node_is_connected_to_its_configured_peers_only(
    node_a: IpfsNode, node_b: IpfsNode
) -> None:
    assert peers_of(node_a) == {node_b.peer_id}
    assert peers_of(node_b) == {node_a.peer_id}


def test_every_socket_the_node_holds_is_loopback_tcp(node_a: IpfsNode, node_b: IpfsNode) -> None:
    assert node_a.pid is not None
    sockets = sockets_of(node_a.pid)
    assert sockets, "the node holds no sockets at all?"
    for proto, local, remote in sockets:
        assert proto.startswith("tcp"), f"a {proto} socket (mDNS? DNS?): {local} -> {remote}"
        assert local == "127.0.0.1", f"{proto} socket bound to {local}"
        assert remote in {"127.0.0.1", "*"}, f"{proto} socket to {remote}"


# The process.


def test_a_node_without_a_swarm_key_file_is_not_started(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="swarm key"):
        IpfsNode(repo_dir=tmp_path / "ipfs", swarm_key=tmp_path / "missing.key").start()


def test_a_malformed_swarm_key_stops_the_node_at_start(tmp_path: Path, free_port: int) -> None:
    key = tmp_path / "swarm.key"
    key.write_text("/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n")
    node = IpfsNode(repo_dir=tmp_path / "ipfs", swarm_key=key, api_port=free_port, swarm_port=0)
    with pytest.raises(StoreUnavailable, match="exited"):
        node.start()


def test_swarm_key_new_writes_kubos_format_for_the_owner_only(tmp_path: Path) -> None:
    key = swarm_key_new(tmp_path / "swarm.key")
    header, encoding, secret = key.read_text().splitlines()
    assert (header, encoding) == ("/key/swarm/psk/1.0.0/", "/base16/")
    assert len(bytes.fromhex(secret)) == 32
    assert key.stat().st_mode & 0o777 == 0o600


def test_swarm_key_new_never_overwrites_a_key(tmp_path: Path) -> None:
    key = swarm_key_new(tmp_path / "swarm.key")
    before = key.read_text()
    with pytest.raises(ConfigError, match="never overwritten"):
        swarm_key_new(key)
    assert key.read_text() == before


def test_the_rpc_api_listens_on_loopback_whatever_address_the_swarm_takes(
    tmp_path: Path, swarm_key: Path
) -> None:
    """The API has no authentication: a node whose swarm listens on another address (here
    127.0.0.2, as a host's network address would be) keeps its API on 127.0.0.1, so another host
    reaches its swarm port and nothing else."""
    from conftest import _node_port

    api_port, swarm_port = _node_port(), _node_port()
    node = IpfsNode(
        repo_dir=tmp_path / "ipfs",
        swarm_key=swarm_key,
        api_port=api_port,
        swarm_port=swarm_port,
        host="127.0.0.2",
    )
    with node:
        assert node.url == f"http://127.0.0.1:{api_port}"
        assert httpx.post(f"{node.url}/api/v0/id", timeout=5).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.post(f"http://127.0.0.2:{api_port}/api/v0/id", timeout=5)
        assert node.address.startswith(f"/ip4/127.0.0.2/tcp/{swarm_port}/p2p/")
        with socket.create_connection(("127.0.0.2", swarm_port), timeout=5):
            pass  # the swarm answers on its own address
