"""CIDs as ``ipfs add --cid-version=1`` computes them, and their binary form for the chain."""

from __future__ import annotations

import base64
import io
import os

from multiformats import CID

from ledger.errors import ContentNotFound
from ledger.store import _unixfs
from ledger.store.base import Cid


def cid_of(data: bytes) -> Cid:
    """The CID Kubo's ``ipfs add --cid-version=1`` prints for ``data``."""
    if 0 < len(data) <= _unixfs.CHUNK_SIZE:  # one chunk is its own raw root (an envelope)
        return cid_from_bytes(_unixfs.block_cid(_unixfs.RAW, data))
    return _root(io.BytesIO(data))


def cid_of_file(path: str | os.PathLike[str]) -> Cid:
    """The CID of a file's bytes, read one chunk at a time."""
    with open(path, "rb") as stream:
        return _root(stream)


def cid_to_bytes(cid: str) -> bytes:
    """The binary CID (the contract's ``bytes cid``); ValueError if ``cid`` is no CID."""
    fast = _fast_binary(cid)
    return fast if fast is not None else bytes(_decode(cid))


def cid_from_bytes(raw: bytes) -> Cid:
    """The base32 CIDv1 text of a binary CID; ValueError if ``raw`` is no CID."""
    if _is_common(raw):
        return Cid("b" + base64.b32encode(raw).decode().lower().rstrip("="))
    return Cid(_decode(raw).set(version=1).encode("base32"))


# Every CID this ledger makes is CIDv1, raw or dag-pb, sha2-256: 36 bytes, 59 base32 characters.
# Parsing those through multiformats cost ~1.4 ms a call on the write path; for exactly this shape
# base32 is the whole encoding, so it is done directly. Any other CID takes the general path.
_COMMON_PREFIXES = (bytes((1, _unixfs.RAW, 0x12, 0x20)), bytes((1, _unixfs.DAG_PB, 0x12, 0x20)))


def _is_common(raw: bytes) -> bool:
    return len(raw) == 36 and raw[:4] in _COMMON_PREFIXES


def _fast_binary(cid: str) -> bytes | None:
    if len(cid) != 59 or not cid.startswith("b") or not cid[1:].islower():
        return None
    try:
        raw = base64.b32decode(cid[1:].upper() + "======")
    except ValueError:
        return None
    return raw if _is_common(raw) else None


def binary_cid(cid: str) -> bytes:
    """The binary form of a CID the stores can verify against; ContentNotFound for any other."""
    try:
        raw = cid_to_bytes(cid)
        _unixfs.check_cid(raw)
    except ValueError as exc:
        raise ContentNotFound(f"no content can be stored under {cid!r}: {exc}") from exc
    return raw


def _decode(value: str | bytes) -> CID:
    try:
        return CID.decode(value)
    # multiformats signals an unknown prefix with KeyError, and a lone multibase prefix ("z")
    # with IndexError
    except (KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"not a CID: {value!r}") from exc


def _root(stream: _unixfs.Readable) -> Cid:
    root = b""
    for root, _ in _unixfs.iter_blocks(stream):  # noqa: B007 - the root is the last block
        pass
    return cid_from_bytes(root)
