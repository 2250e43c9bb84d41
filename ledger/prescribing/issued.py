"""The issued prescriptions, followed from the chain rather than reread on every request.

The counter's list, a hospital's list and the regulator's per-doctor view each walked every
``PrescriptionIssued`` event from the deployment block, fetched every issuing transaction to
recover its signer, and called ``prescription()`` for each: work that grew with history, on every
request. This index keeps:

- the events of blocks at least ``confirmations`` deep, fetched once (a shallower block may still
  be replaced on a Clique network, so the tail past them is read again on each call);
- each issuing transaction's recovered signer, by transaction hash (what a transaction says never
  changes, whichever block holds it);
- the chain's state of a prescription once it can no longer change: rejected, cancelled,
  dispensed, or expired by more than ``FINAL_AFTER_EXPIRY_S`` (the margin covers the chain's clock
  running behind ours: the contract still takes a dispense until its own time passes expiry).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

from hexbytes import HexBytes

from ledger.chain.connection import Chain
from ledger.prescribing.onchain import OnchainPrescription
from ledger.prescribing.status import PrescriptionStatus

__all__ = ["FINAL_AFTER_EXPIRY_S", "Issued", "IssuedIndex"]

#: How long past its expiry an open prescription is taken as final (the chain's clock may lag).
FINAL_AFTER_EXPIRY_S = 3_600
#: How many signers and final states are kept (least recently used go first): about 0.5 KB each.
CACHED = 100_000

_FINAL = frozenset(
    {PrescriptionStatus.REJECTED, PrescriptionStatus.CANCELLED, PrescriptionStatus.DISPENSED}
)


class Issued(NamedTuple):
    """One ``PrescriptionIssued`` event, as much of it as the book uses (a few hundred bytes less
    than web3's event: the list holds every prescription ever issued)."""

    prescription_id: bytes
    institution: str
    transaction: bytes


def _issued(event: Any) -> Issued:
    args = event["args"]
    return Issued(
        bytes(args["prescriptionId"]), str(args["institution"]), bytes(event["transactionHash"])
    )


def _key(value: str | bytes) -> str:
    """One form for an event field and a filter value: lower-case hex (bytes or str)."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    return value.lower()


class _Bounded(OrderedDict[bytes, Any]):
    """A dict that forgets its least recently used entries past ``CACHED``."""

    def get_fresh(self, key: bytes) -> Any:
        found = self.get(key)
        if key in self:
            self.move_to_end(key)
        return found

    def put(self, key: bytes, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > CACHED:
            self.popitem(last=False)


class IssuedIndex:
    """``PrescriptionIssued`` events, issuers and final states of one registry, kept in memory."""

    def __init__(self, chain: Chain, registry: Any) -> None:
        self._chain = chain
        self._registry = registry
        self._lock = threading.Lock()
        self._settled: list[Issued] = []  # events of blocks at least `confirmations` deep
        self._next_block = chain.deployment.block_number
        self._signers = _Bounded()
        self._final = _Bounded()

    def events(
        self, *, institution: str | None = None, prescription_id: str | bytes | None = None
    ) -> list[Issued]:
        """Every ``PrescriptionIssued`` event, oldest first, of ``institution`` and of
        ``prescription_id`` where given."""
        with self._lock:
            head = self._chain.w3.eth.block_number
            settled_to = head - self._chain.confirmations
            if settled_to >= self._next_block:
                self._settled.extend(self._logs(self._next_block, settled_to))
                self._next_block = settled_to + 1
            events = [*self._settled]
            tail_from = self._next_block
        if tail_from <= head:
            events.extend(self._logs(tail_from, head))
        if institution is not None:
            events = [e for e in events if _key(e.institution) == _key(institution)]
        if prescription_id is not None:
            events = [e for e in events if _key(e.prescription_id) == _key(prescription_id)]
        return events

    def signer(self, event: Issued, recover: Callable[[Any, str], str | None]) -> str | None:
        """``recover(transaction, institution)`` of the event's issuing transaction, once a
        transaction."""
        with self._lock:
            if event.transaction in self._signers:
                cached: str | None = self._signers.get_fresh(event.transaction)
                return cached
        transaction = self._chain.w3.eth.get_transaction(HexBytes(event.transaction))
        found = recover(transaction, event.institution)
        with self._lock:
            self._signers.put(event.transaction, found)
        return found

    def state(
        self, prescription_id: bytes, read: Callable[[bytes], OnchainPrescription], now: int
    ) -> OnchainPrescription:
        """``read(prescription_id)``, or what it answered once the prescription became final."""
        with self._lock:
            known: OnchainPrescription | None = self._final.get_fresh(prescription_id)
        if known is not None:
            return known
        found = read(prescription_id)
        if found.status in _FINAL or now > found.expires_at + FINAL_AFTER_EXPIRY_S:
            with self._lock:
                self._final.put(prescription_id, found)
        return found

    def _logs(self, from_block: int, to_block: int) -> list[Issued]:
        events = self._registry.events.PrescriptionIssued().get_logs(
            from_block=from_block, to_block=to_block
        )
        return [_issued(e) for e in events]
