"""Prescriptions pre-reviewed and sealed at the issuing gateway, waiting for their doctor's own
signature: the gateway computes the commitment and the envelope's CID, which the doctor must sign,
so an issuance takes two calls (draft, then the signature) and the draft waits here in between.

Kept in this gateway's memory, for the signing window only: a draft is nothing on chain and
nothing stored, and a restart loses it (the doctor drafts again).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ledger.errors import LedgerError
from ledger.prescribing.prereview import PreReviewResult
from ledger.prescribing.signature import SignedIssuance

__all__ = ["Draft", "DraftNotYours", "DraftUnknown", "Drafts"]


class DraftUnknown(LedgerError):
    """No draft of that id waits here: never drafted, already issued, or its window passed."""

    code = "prescription.draft_unknown"


class DraftNotYours(LedgerError):
    """A draft is signed and sent by the doctor who drafted it, no one else."""

    code = "prescription.draft_not_yours"


@dataclass(frozen=True)
class Draft:
    """A sealed MedicationRequest and the issuance its doctor is to sign."""

    issuance: SignedIssuance
    prescriber: str
    #: The MedicationRequest's salt: the doctor checks the commitment with it before signing.
    salt: bytes
    envelope: bytes
    cid: str
    pre_review: PreReviewResult


class Drafts:
    """Drafts by prescription id, each dropped once its deadline passes; at most ``limit``."""

    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._drafts: dict[bytes, Draft] = {}
        self._lock = threading.Lock()

    def put(self, draft: Draft, now: int) -> None:
        with self._lock:
            self._prune(now)
            if len(self._drafts) >= self._limit:
                # The oldest first: a doctor who left a draft unsigned drafts again.
                self._drafts.pop(next(iter(self._drafts)))
            self._drafts[draft.issuance.prescription_id] = draft

    def get(self, prescription_id: bytes, prescriber: str, now: int) -> Draft:
        """The draft ``prescriber`` drafted; DraftUnknown or DraftNotYours."""
        with self._lock:
            self._prune(now)
            draft = self._drafts.get(prescription_id)
        if draft is None:
            raise DraftUnknown(f"no draft 0x{prescription_id.hex()} awaits a signature here")
        if draft.prescriber != prescriber:
            raise DraftNotYours(f"0x{prescription_id.hex()} was drafted by another doctor")
        return draft

    def drop(self, prescription_id: bytes) -> None:
        with self._lock:
            self._drafts.pop(prescription_id, None)

    def _prune(self, now: int) -> None:
        for pid in [p for p, d in self._drafts.items() if d.issuance.deadline < now]:
            del self._drafts[pid]
