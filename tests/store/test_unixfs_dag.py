"""The DAG and CID of ``ipfs add --cid-version=1``, against CIDs Kubo and js-ipfs-unixfs publish."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import pytest
from hypothesis import given, settings, strategies as st
from store_data import kubo_deterministic

from ledger.errors import ContentCorrupt
from ledger.store import cid_from_bytes, cid_of
from ledger.store._unixfs import (
    CHUNK_SIZE,
    DAG_PB,
    MAX_LINKS,
    RAW,
    Block,
    check_cid,
    child_cids,
    iter_blocks,
    iter_content,
    verify_block,
)

MIB = 1 << 20

# (input, chunk size, CID the source prints, source). Every input is rebuilt here byte for byte.
VECTORS = [
    # Kubo's own defaults, 256 KiB chunks.
    pytest.param(
        lambda: b"",
        CHUNK_SIZE,
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
        "ipfs/kubo test/sharness/t0040-add-and-cat.sh, zero-length file with --raw-leaves",
        id="empty",
    ),
    pytest.param(
        lambda: b"hello world",
        CHUNK_SIZE,
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
        "ipfs/kubo test/cli/add_test.go shortStringCidV1 (Import.CidVersion=1)",
        id="hello-world",
    ),
    pytest.param(
        lambda: b"hello world\n",
        CHUNK_SIZE,
        "bafkreifjjcie6lypi6ny7amxnfftagclbuxndqonfipmb64f2km2devei4",
        "ipfs/js-ipfs issue #3682: echo 'hello world' | ipfs add --cid-version 1 -q",
        id="hello-world-newline",
    ),
    pytest.param(
        lambda: b"hello\n",
        CHUNK_SIZE,
        "bafkreicysg23kiwv34eg2d7qweipxwosdo2py4ldv42nbauguluen5v6am",
        "ipfs/kubo test/sharness/t0114-gateway-subdomains/README.md, echo hello | ipfs add "
        "--cid-version 1",
        id="hello-newline",
    ),
    pytest.param(
        lambda: b"Hello Mars!\n",
        CHUNK_SIZE,
        "bafkreibmlvvgdyihetgocpof6xk64kjjzdeq2e4c7hqs3krdheosk4tgj4",
        "ipfs/kubo test/sharness/t0040-add-and-cat.sh, add_directory '--cid-version=1' MARS",
        id="hello-mars",
    ),
    pytest.param(
        lambda: b"Hello Venus!\n",
        CHUNK_SIZE,
        "bafkreihfsphazrk2ilejpekyltjeh5k4yvwgjuwg26ueafohqioeo3sdca",
        "ipfs/kubo test/sharness/t0040-add-and-cat.sh, add_directory '--cid-version=1' VENUS",
        id="hello-venus",
    ),
    # Several chunks: the same builder with the chunk size the source chose.
    pytest.param(
        lambda: b"Hello World\n",
        4,
        "bafybeiag43jli67lcov4ytqhpfxbodmhp6hjvjh73jrjid7zf73p7a6nqa",
        "discuss.ipfs.tech/t/member-data-of-root-node/15252: echo 'Hello World' | ipfs add "
        "--cid-version 1 --chunker=size-4",
        id="size-4-three-leaves",
    ),
    pytest.param(
        lambda: kubo_deterministic(MIB, "chunk-v1-seed"),
        MIB,
        "bafkreiacndfy443ter6qr2tmbbdhadvxxheowwf75s6zehscklu6ezxmta",
        "ipfs/js-ipfs-unixfs packages/ipfs-unixfs-importer/test/ipip-499-profiles.spec.ts, "
        "unixfs-v1-2025 'file at chunk size' (CIDs taken from kubo test/cli/cid_profiles_test.go)",
        id="1MiB-one-chunk",
    ),
    pytest.param(
        lambda: kubo_deterministic(MIB + 1, "chunk-v1-seed"),
        MIB,
        "bafybeigmix7t42i6jacydtquhet7srwvgpizfg7gjbq7627d35mjomtu64",
        "ipfs/js-ipfs-unixfs packages/ipfs-unixfs-importer/test/ipip-499-profiles.spec.ts, "
        "unixfs-v1-2025 'file over chunk size'",
        id="1MiB-plus-one",
    ),
    # 174 and 175 chunks under 174 links: one level, then the balanced layout's second level.
    pytest.param(
        lambda: kubo_deterministic(174 * MIB, "v1-seed"),
        MIB,
        "bafybeigwduxcf2aawppv3isnfeshnimkyplvw3hthxjhr2bdeje4tdaicu",
        "ipfs/kubo test/cli/add_test.go, --profile=test-cid-v1 (CIDv1, raw leaves, 1 MiB chunks, "
        "174 links) 'under UnixFSFileMaxLinks=174'",
        id="174-chunks",
    ),
    pytest.param(
        lambda: kubo_deterministic(175 * MIB, "v1-seed"),
        MIB,
        "bafybeidhd7lo2n2v7lta5yamob3xwhbxcczmmtmhquwhjesi35jntf7mpu",
        "ipfs/kubo test/cli/add_test.go, --profile=test-cid-v1 'above UnixFSFileMaxLinks=174'",
        id="175-chunks",
    ),
]


def root_of(data: bytes, **options: int) -> bytes:
    *_, (root, _) = iter_blocks(io.BytesIO(data), **options)
    return root


def blocks_of(data: bytes, **options: int) -> dict[bytes, bytes]:
    return dict(iter_blocks(io.BytesIO(data), **options))


@pytest.mark.parametrize(("make", "chunk_size", "expected", "source"), VECTORS)
def test_cid_matches_published_vector(
    make: Callable[[], bytes], chunk_size: int, expected: str, source: str
) -> None:
    assert cid_from_bytes(root_of(make(), chunk_size=chunk_size)) == expected, source


def test_root_unixfs_data_matches_published_bytes() -> None:
    # The same discuss.ipfs.tech thread prints the root's Data field: Type=File, filesize 12,
    # blocksizes 4, 4, 4, with blocksizes unpacked.
    *_, (_, root) = iter_blocks(io.BytesIO(b"Hello World\n"), chunk_size=4)
    data = base64.b64decode("CAIYDCAEIAQgBA==")
    assert root.endswith(b"\x0a" + bytes([len(data)]) + data)


def test_root_writes_links_before_data_with_empty_name_and_tsize() -> None:
    blocks = blocks_of(b"abcdef", chunk_size=4)
    root, leaves = list(blocks)[-1], list(blocks)[:-1]
    link = b"\x0a\x24" + leaves[0] + b"\x12\x00" + b"\x18\x04"
    assert blocks[root].startswith(b"\x12" + bytes([len(link)]) + link)


def test_empty_input_is_one_empty_raw_block() -> None:
    assert list(iter_blocks(io.BytesIO(b""))) == [(root_of(b""), b"")]


def test_a_full_chunk_is_its_own_raw_root() -> None:
    blocks = blocks_of(bytes(CHUNK_SIZE))
    assert len(blocks) == 1
    assert check_cid(root_of(bytes(CHUNK_SIZE))) == RAW


def test_one_byte_past_a_chunk_makes_a_dag_pb_root_over_two_leaves() -> None:
    data = bytes(CHUNK_SIZE + 1)
    root = root_of(data)
    assert check_cid(root) == DAG_PB
    assert [check_cid(c) for c in child_cids(root, blocks_of(data)[root])] == [RAW, RAW]


def test_max_links_chunks_stay_one_level() -> None:
    data = bytes(range(MAX_LINKS))
    root = root_of(data, chunk_size=1)
    assert len(child_cids(root, blocks_of(data, chunk_size=1)[root])) == MAX_LINKS


def test_one_chunk_past_max_links_moves_them_under_a_new_level() -> None:
    data = bytes(range(MAX_LINKS)) + b"!"
    blocks = blocks_of(data, chunk_size=1)
    full, rest = child_cids(root_of(data, chunk_size=1), blocks[root_of(data, chunk_size=1)])
    assert len(child_cids(full, blocks[full])) == MAX_LINKS
    assert len(child_cids(rest, blocks[rest])) == 1


def test_short_reads_do_not_move_chunk_boundaries() -> None:
    class Trickling(io.BytesIO):
        def read(self, size: int | None = -1, /) -> bytes:
            return super().read(min(1000, size if size is not None and size >= 0 else 1000))

    data = bytes(range(256)) * 3000
    assert root_of(data) == list(iter_blocks(Trickling(data)))[-1][0]


def test_blocks_come_out_while_the_stream_is_read() -> None:
    stream = io.BytesIO(bytes(5 * CHUNK_SIZE + 7))
    leaf_bytes = 0
    for cid, block in iter_blocks(stream):
        if check_cid(cid) == RAW:
            leaf_bytes += len(block)
        assert stream.tell() - leaf_bytes <= CHUNK_SIZE  # never more than one chunk ahead


def test_a_block_that_does_not_hash_to_its_cid_is_corrupt() -> None:
    cid, block = next(iter_blocks(io.BytesIO(b"medical record")))
    with pytest.raises(ContentCorrupt):
        verify_block(cid, block + b"!")


def test_cid_of_equals_the_root_of_the_blocks() -> None:
    data = bytes(3 * CHUNK_SIZE)
    assert cid_of(data) == cid_from_bytes(root_of(data))


def _depths(blocks: dict[bytes, bytes], cid: bytes, depth: int = 0) -> set[int]:
    children = child_cids(cid, blocks[cid])
    if not children:
        return {depth}
    return set().union(*(_depths(blocks, c, depth + 1) for c in children))


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=600),
    chunk_size=st.integers(1, 40),
    max_links=st.integers(2, 5),
)
def test_any_file_reads_back_from_a_balanced_dag(
    data: bytes, chunk_size: int, max_links: int
) -> None:
    produced: list[Block] = list(
        iter_blocks(io.BytesIO(data), chunk_size=chunk_size, max_links=max_links)
    )
    blocks = dict(produced)
    root = produced[-1][0]

    def load(cid: bytes) -> bytes:
        verify_block(cid, blocks[cid])
        return blocks[cid]

    assert b"".join(iter_content(root, load)) == data
    assert all(len(child_cids(c, b)) <= max_links for c, b in blocks.items())
    assert len(_depths(blocks, root)) == 1  # every leaf at the same depth
