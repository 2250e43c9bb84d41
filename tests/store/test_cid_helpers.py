"""CID helpers (text and binary forms, files read in chunks) and picking a backend from settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from store_data import pattern

from ledger.errors import ConfigError
from ledger.store import (
    EmbeddedStore,
    KuboStore,
    cid_from_bytes,
    cid_of,
    cid_of_file,
    cid_to_bytes,
    open_store,
)
from ledger.store._unixfs import CHUNK_SIZE

EMPTY = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def test_cid_of_file_equals_cid_of_its_bytes(tmp_path: Path) -> None:
    data = pattern(3 * CHUNK_SIZE + 5)
    (tmp_path / "scan.dcm").write_bytes(data)
    assert cid_of_file(tmp_path / "scan.dcm") == cid_of(data)


def test_binary_cid_is_version_codec_and_multihash() -> None:
    raw = cid_to_bytes(EMPTY)
    assert raw[:4] == bytes.fromhex("01551220")  # CIDv1, raw, sha2-256, 32 bytes
    assert cid_from_bytes(raw) == EMPTY


def test_cid_from_bytes_of_a_v0_cid_gives_its_v1_text() -> None:
    v0 = cid_to_bytes("QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH")
    assert cid_from_bytes(v0) == "bafybeif7ztnhq65lumvvtr4ekcwd2ifwgm3awq4zfr3srh462rwyinlb4y"


@pytest.mark.parametrize("bad", ["", "not-a-cid", "bafkrei"])
def test_cid_to_bytes_refuses_text_that_is_no_cid(bad: str) -> None:
    with pytest.raises(ValueError, match="not a CID"):
        cid_to_bytes(bad)


def test_cid_from_bytes_refuses_bytes_that_are_no_cid() -> None:
    with pytest.raises(ValueError, match="not a CID"):
        cid_from_bytes(b"\x01\x55")


def test_open_store_embedded_uses_the_path(tmp_path: Path) -> None:
    with open_store("embedded", path=tmp_path / "store", url=None) as store:
        assert isinstance(store, EmbeddedStore)
        assert store.get(store.put(b"envelope")) == b"envelope"


def test_open_store_kubo_uses_the_url() -> None:
    with open_store("kubo", path=None, url="http://127.0.0.1:5001") as store:
        assert isinstance(store, KuboStore)


@pytest.mark.parametrize(
    ("backend", "path", "url"),
    [("embedded", None, None), ("kubo", "/tmp/x", None), ("s3", "/tmp/x", "http://x")],
)
def test_open_store_refuses_incomplete_or_unknown_settings(
    backend: str, path: str | None, url: str | None
) -> None:
    with pytest.raises(ConfigError):
        open_store(backend, path=path, url=url)
