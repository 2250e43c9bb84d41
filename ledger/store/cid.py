"""CIDs as ``ipfs add --cid-version=1`` computes them, and their binary form for the chain."""

from __future__ import annotations

import io
import os

from multiformats import CID

from ledger.errors import ContentNotFound
from ledger.store import _unixfs
from ledger.store.base import Cid


def cid_of(data: bytes) -> Cid:
    """The CID Kubo's ``ipfs add --cid-version=1`` prints for ``data``."""
    return _root(io.BytesIO(data))


def cid_of_file(path: str | os.PathLike[str]) -> Cid:
    """The CID of a file's bytes, read one chunk at a time."""
    with open(path, "rb") as stream:
        return _root(stream)


def cid_to_bytes(cid: str) -> bytes:
    """The binary CID (the contract's ``bytes cid``); ValueError if ``cid`` is no CID."""
    return bytes(_decode(cid))


def cid_from_bytes(raw: bytes) -> Cid:
    """The base32 CIDv1 text of a binary CID; ValueError if ``raw`` is no CID."""
    return Cid(_decode(raw).set(version=1).encode("base32"))


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
    except (KeyError, ValueError) as exc:  # multiformats signals an unknown prefix with KeyError
        raise ValueError(f"not a CID: {value!r}") from exc


def _root(stream: _unixfs.Readable) -> Cid:
    root = b""
    for root, _ in _unixfs.iter_blocks(stream):  # noqa: B007 - the root is the last block
        pass
    return cid_from_bytes(root)
