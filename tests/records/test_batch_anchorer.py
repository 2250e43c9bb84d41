"""The anchorer against a real anvil: what a crash between signing and sending leaves behind is
finished with the same signed bytes, and re-signed only once those bytes can never be mined."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from ledger.audit.access_log import ACCESS_LOG_KIND
from ledger.chain.connection import Chain
from ledger.records.batch_anchorer import BatchAnchorer
from ledger.records.batch_proof import RECORD_BATCH_KIND, BatchedVersion
from ledger.records.outbox import Outbox, PendingBatch
from ledger.store import cid_of
from tests.world import World


class Crash(Exception):
    """The process dying right after the signed transaction was stored."""


def _items(world: World, n: int) -> list[tuple[BatchedVersion, bytes]]:
    hospital = world.org_address("hospital-a")
    out = []
    for _ in range(n):
        blob = secrets.token_bytes(64)
        v = BatchedVersion(
            secrets.token_bytes(32),
            1,
            secrets.token_bytes(32),
            cid_of(blob),
            hospital,
            "0x" + "bb" * 20,
            "0x" + "cc" * 20,
        )
        out.append((v, blob))
    return out


def _signed_then_crashed(chain: Chain, outbox: Outbox, batch: PendingBatch) -> bytes:
    """Sign the batch's transaction and store it, dying before it is sent; its hash."""
    anchor = chain.contract("BatchAnchor")
    fn = anchor.functions.anchorBatch(RECORD_BATCH_KIND, batch.root, batch.count, b"\x01" * 36)
    stored: list[bytes] = []

    def record(raw: bytes, tx_hash: bytes) -> None:
        outbox.mark_signed(batch.id, raw, tx_hash)
        stored.append(tx_hash)
        raise Crash

    with pytest.raises(Crash):
        chain.send_recorded(fn, record)
    return stored[0]


@pytest.fixture
def parts(world: World, tmp_path: Path) -> tuple[Chain, Outbox, BatchAnchorer]:
    gateway = world.gateways["hospital-a"].gateway
    outbox = Outbox(tmp_path / "outbox.sqlite")
    anchorer = BatchAnchorer(gateway.chain, gateway.store, outbox, batch_max=100, interval_s=1)
    return gateway.chain, outbox, anchorer


def _anchored_roots(chain: Chain) -> list[bytes]:
    events = chain.contract("BatchAnchor").events.BatchAnchored.get_logs(from_block=0)
    return [bytes(e["args"]["root"]) for e in events]


def test_a_transaction_stored_but_never_sent_is_sent_as_the_same_bytes(
    world: World, parts: tuple[Chain, Outbox, BatchAnchorer]
) -> None:
    chain, outbox, anchorer = parts
    outbox.accept(_items(world, 3))
    batch = outbox.seal(100)
    assert batch is not None
    tx_hash = _signed_then_crashed(chain, outbox, batch)
    assert chain.receipt_of(tx_hash) is None
    assert anchorer.run_once() == 3
    receipt = chain.receipt_of(tx_hash)
    assert receipt is not None
    assert receipt["status"] == 1
    assert _anchored_roots(chain).count(batch.root) == 1
    assert outbox.unfinished() == []


def test_a_stored_transaction_whose_nonce_went_elsewhere_is_signed_again_once(
    world: World, parts: tuple[Chain, Outbox, BatchAnchorer]
) -> None:
    chain, outbox, anchorer = parts
    outbox.accept(_items(world, 2))
    batch = outbox.seal(100)
    assert batch is not None
    lost = _signed_then_crashed(chain, outbox, batch)
    # A restart that never re-broadcast: the node hands the same nonce to another write.
    chain._next_nonce = None
    anchor = chain.contract("BatchAnchor")
    chain.transact(
        anchor.functions.anchorBatch(ACCESS_LOG_KIND, secrets.token_bytes(32), 1, b"\x01" * 36)
    )
    assert anchorer.run_once() == 2
    assert chain.receipt_of(lost) is None  # those bytes can never be mined now
    assert _anchored_roots(chain).count(batch.root) == 1
    assert outbox.unfinished() == []


def test_a_restart_rebroadcasts_before_anything_else_takes_the_nonce(
    world: World, parts: tuple[Chain, Outbox, BatchAnchorer]
) -> None:
    chain, outbox, anchorer = parts
    outbox.accept(_items(world, 2))
    batch = outbox.seal(100)
    assert batch is not None
    kept = _signed_then_crashed(chain, outbox, batch)
    chain._next_nonce = None
    anchorer.resume()  # what `running()` does first, before the gateway serves
    anchor = chain.contract("BatchAnchor")
    chain.transact(
        anchor.functions.anchorBatch(ACCESS_LOG_KIND, secrets.token_bytes(32), 1, b"\x01" * 36)
    )
    assert anchorer.run_once() == 2
    assert chain.receipt_of(kept) is not None
