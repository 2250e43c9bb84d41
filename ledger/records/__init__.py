"""Medical records: the hospital's record book, the shared write path of every anchored payload,
bulk sealing through the durable outbox and batch anchorer, and verification against the chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "AnchorReceipt": "ledger.records.book",
    "BatchAnchorer": "ledger.records.batch_anchorer",
    "Outbox": "ledger.records.outbox",
    "RecordBook": "ledger.records.book",
    "RecordDocument": "ledger.records.document",
    "Verdict": "ledger.records.document",
    "verify_against_ledger": "ledger.records.verify",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.records.batch_anchorer import BatchAnchorer
    from ledger.records.book import AnchorReceipt, RecordBook
    from ledger.records.document import RecordDocument, Verdict
    from ledger.records.outbox import Outbox
    from ledger.records.verify import verify_against_ledger
