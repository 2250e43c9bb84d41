"""Fixtures for the content store tests: stores on temporary directories and a Kubo stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubo_stub import KuboStub

from ledger.store import EmbeddedStore, KuboStore


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[EmbeddedStore]:
    with EmbeddedStore(tmp_path / "store") as store:
        yield store


@pytest.fixture
def kubo_node(tmp_path: Path) -> Iterator[KuboStub]:
    stub = KuboStub(tmp_path / "kubo").start()
    yield stub
    stub.stop()


@pytest.fixture
def kubo(kubo_node: KuboStub) -> Iterator[KuboStore]:
    with KuboStore(kubo_node.url, timeout=5.0) as store:
        yield store
