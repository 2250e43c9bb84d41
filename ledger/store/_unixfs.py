"""The UnixFS file DAG ``ipfs add --cid-version=1`` builds, block by block, and reading it back.

Kubo's defaults for CIDv1: raw leaves, 256 KiB chunks, balanced layout, 174 links a node, sha2-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from multiformats import CID

from ledger.errors import ContentCorrupt, StoreError

CHUNK_SIZE = 262_144
MAX_LINKS = 174
RAW = 0x55
DAG_PB = 0x70
_SHA2_256 = b"\x12\x20"
_UNIXFS_RAW = 0
_UNIXFS_FILE = 2

Block = tuple[bytes, bytes]
"""A binary CID and the bytes it names."""


class Readable(Protocol):
    """A binary stream: a file opened ``"rb"``, ``io.BytesIO``, a socket file."""

    def read(self, size: int, /) -> bytes: ...


@dataclass(frozen=True, slots=True)
class _Link:
    cid: bytes
    tsize: int  # bytes of every block under the link: dag-pb's Tsize
    filesize: int  # file bytes under the link: UnixFS blocksizes


def block_cid(codec: int, block: bytes) -> bytes:
    """The binary CIDv1 of ``block`` under ``codec`` with a sha2-256 multihash."""
    return bytes((1, codec)) + _SHA2_256 + hashlib.sha256(block).digest()


def iter_blocks(
    stream: Readable, *, chunk_size: int = CHUNK_SIZE, max_links: int = MAX_LINKS
) -> Iterator[Block]:
    """Yield every block of the file DAG, children before parents; the last one is the root.

    Holds one chunk and at most ``max_links`` links per tree level; a block of repeated content
    (a run of zeros) is yielded each time it occurs.
    """
    chunk = _read_full(stream, chunk_size)
    if not chunk:
        yield block_cid(RAW, b""), b""
        return
    levels: list[list[_Link]] = [[]]
    while chunk:
        leaf = block_cid(RAW, chunk)
        yield leaf, chunk
        yield from _push(levels, 0, _Link(leaf, len(chunk), len(chunk)), max_links)
        chunk = _read_full(stream, chunk_size)
    if len(levels) == 1 and len(levels[0]) == 1:
        return  # a single chunk is its own root, as Kubo's balanced builder leaves it
    depth = 0
    while depth < len(levels) - 1:
        link, block = _node(levels[depth])
        levels[depth] = []
        yield link.cid, block
        yield from _push(levels, depth + 1, link, max_links)
        depth += 1
    root, block = _node(levels[-1])
    yield root.cid, block


def _push(levels: list[list[_Link]], depth: int, link: _Link, max_links: int) -> Iterator[Block]:
    # A full node is closed only when one more link arrives for its level, so a file of exactly
    # max_links chunks keeps a single level, as go-unixfs's balanced layout does.
    if depth == len(levels):
        levels.append([])
    if len(levels[depth]) == max_links:
        parent, block = _node(levels[depth])
        levels[depth] = []
        yield parent.cid, block
        yield from _push(levels, depth + 1, parent, max_links)
    levels[depth].append(link)


def _node(links: list[_Link]) -> tuple[_Link, bytes]:
    filesize = sum(link.filesize for link in links)
    data = _key(1, 0) + _varint(_UNIXFS_FILE) + _key(3, 0) + _varint(filesize)
    data += b"".join(_key(4, 0) + _varint(link.filesize) for link in links)
    # PBNode writes Links (field 2) before Data (field 1), as go-codec-dagpb and @ipld/dag-pb do;
    # every PBLink carries an empty Name and its Tsize, as boxo's merkledag always sets both.
    block = b"".join(_bytes_field(2, _encode_link(link)) for link in links) + _bytes_field(1, data)
    tsize = len(block) + sum(link.tsize for link in links)
    return _Link(block_cid(DAG_PB, block), tsize, filesize), block


def _encode_link(link: _Link) -> bytes:
    return _bytes_field(1, link.cid) + _bytes_field(2, b"") + _key(3, 0) + _varint(link.tsize)


def _read_full(stream: Readable, size: int) -> bytes:
    # Chunk boundaries must not depend on how the stream splits its reads (pipes, sockets return
    # short reads): Kubo's splitter fills each chunk with io.ReadFull.
    chunk = stream.read(size)
    if len(chunk) in (0, size):
        return chunk
    parts = [chunk]
    missing = size - len(chunk)
    while missing:
        more = stream.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def _key(field: int, wire_type: int) -> bytes:
    return _varint(field << 3 | wire_type)


def _bytes_field(field: int, value: bytes) -> bytes:
    return _key(field, 2) + _varint(len(value)) + value


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# -- reading ----------------------------------------------------------------------------------


def check_cid(cid: bytes) -> int:
    """The codec of a CID this module can verify (v1, sha2-256, raw or dag-pb); else ValueError."""
    if len(cid) != 36 or cid[0] != 1 or cid[1] not in (RAW, DAG_PB) or cid[2:4] != _SHA2_256:
        raise ValueError("not a CIDv1 with a sha2-256 multihash and raw or dag-pb codec")
    return cid[1]


def verify_block(cid: bytes, block: bytes) -> None:
    """Raise ContentCorrupt unless ``block`` hashes to ``cid``."""
    if hashlib.sha256(block).digest() != cid[4:]:
        raise ContentCorrupt(f"block {_show(cid)} does not hash to its CID")


def child_cids(cid: bytes, block: bytes) -> list[bytes]:
    """The CIDs a verified block links to, in order; StoreError if it is no UnixFS file node."""
    return [] if check_cid(cid) == RAW else _decode_file_node(cid, block)[0]


def iter_content(root: bytes, load: Callable[[bytes], bytes]) -> Iterator[bytes]:
    """Yield the file bytes under ``root``; ``load`` returns a block checked against its CID."""
    block = load(root)
    if check_cid(root) == RAW:
        yield block
        return
    links, data = _decode_file_node(root, block)
    if data:
        yield data
    for link in links:
        yield from iter_content(link, load)


def _decode_file_node(cid: bytes, block: bytes) -> tuple[list[bytes], bytes]:
    try:
        links: list[bytes] = []
        unixfs: bytes | None = None
        for field, value in _fields(block):
            if field == 2 and isinstance(value, bytes):
                links.append(next(v for f, v in _fields(value) if f == 1 and isinstance(v, bytes)))
            elif field == 1 and isinstance(value, bytes):
                unixfs = value
        kind, data = None, b""
        for field, value in _fields(unixfs or b""):
            if field == 1 and isinstance(value, int):
                kind = value
            elif field == 2 and isinstance(value, bytes):
                data = value
        if kind not in (_UNIXFS_FILE, _UNIXFS_RAW):
            raise ValueError("not a UnixFS file node")
        for link in links:
            check_cid(link)
    except (ValueError, StopIteration) as exc:
        raise StoreError(f"{_show(cid)} is not a file this store can read: {exc}") from exc
    return links, data


def _fields(buf: bytes) -> Iterator[tuple[int, int | bytes]]:
    pos = 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        if key & 7 == 0:
            value, pos = _read_varint(buf, pos)
            yield key >> 3, value
        elif key & 7 == 2:
            size, pos = _read_varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated protobuf field")
            yield key >> 3, buf[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unexpected protobuf wire type {key & 7}")


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("bad varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _show(cid: bytes) -> str:
    return str(CID.decode(cid))
