"""Medical records: the hospital's record book, the shared write path of every anchored payload,
bulk sealing through the durable outbox and batch anchorer, and verification against the chain."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.records.batch_anchorer import BatchAnchorer as BatchAnchorer
    from ledger.records.book import AnchorReceipt as AnchorReceipt, RecordBook as RecordBook
    from ledger.records.content import ContentState as ContentState
    from ledger.records.document import RecordDocument as RecordDocument, Verdict as Verdict
    from ledger.records.outbox import Outbox as Outbox
    from ledger.records.verify import (
        LedgerCheck as LedgerCheck,
        check_against_ledger as check_against_ledger,
        verify_against_ledger as verify_against_ledger,
    )
