"""CARv1 files (the IPLD content archive Kubo's ``dag import`` reads): a batch of contents, every
block of each, in one upload instead of one ``add`` a content.

Layout (https://ipld.io/specs/transport/car/carv1/): an unsigned-varint-prefixed dag-cbor
header ``{"roots": [CID, ...], "version": 1}``, then each block as varint(len(cid) + len(bytes)),
its binary CID, its bytes. Every content's root is a root of the archive, so the node pins each one.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from ledger.store import _unixfs

__all__ = ["car_of"]

_CID_TAG = b"\xd8\x2a"  # dag-cbor tag 42: a CID, as a byte string with a 0x00 prefix


def car_of(contents: Iterable[bytes]) -> tuple[list[bytes], bytes]:
    """(each content's binary root CID, in order; the CAR file holding all of their blocks).

    The blocks and CIDs are those ``ipfs add --cid-version=1`` makes (``_unixfs.iter_blocks``): a
    content of at most one chunk, as an envelope is, is one raw block named by its sha2-256.
    """
    roots: list[bytes] = []
    body: list[bytes] = []
    for data in contents:
        root = b""
        for root, block in _blocks(data):  # the root is the last block
            body.append(_uvarint(len(root) + len(block)))
            body.append(root)
            body.append(block)
        roots.append(root)
    header = _header(roots)
    return roots, b"".join([_uvarint(len(header)), header, *body])


def _blocks(data: bytes) -> Iterator[_unixfs.Block]:
    if 0 < len(data) <= _unixfs.CHUNK_SIZE:
        yield _unixfs.block_cid(_unixfs.RAW, data), data  # what iter_blocks yields, without a copy
    else:
        yield from _unixfs.iter_blocks(io.BytesIO(data))


def _header(roots: list[bytes]) -> bytes:
    """dag-cbor ``{"roots": [...], "version": 1}``: keys in dag-cbor order (shorter first)."""
    parts = [b"\xa2\x65roots", _cbor_head(4, len(roots))]
    for root in roots:
        parts += [_CID_TAG, _cbor_head(2, len(root) + 1), b"\x00", root]
    parts.append(b"\x67version\x01")
    return b"".join(parts)


def _cbor_head(major: int, n: int) -> bytes:
    """A CBOR item head in its shortest form (dag-cbor requires it)."""
    if n < 24:
        return bytes((major << 5 | n,))
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes((major << 5 | extra,)) + n.to_bytes(size, "big")
    raise ValueError(f"{n} does not fit a CBOR head")


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)
