"""The chain's record of a claim as the ledger reads it back: its status, its events, the receipts
of submitting and deciding it, and the counts a regulator sees per institution."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from ledger.claiming.adjudication import Adjudication
from ledger.records.anchoring import Anchored

__all__ = [
    "FIGURE_FIELD",
    "ClaimEvent",
    "ClaimStatus",
    "DecisionReceipt",
    "InstitutionFigures",
    "OnchainClaim",
    "SubmitReceipt",
]


class ClaimStatus(IntEnum):
    """Mirrors IClaimRegistry.Status."""

    NONE = 0
    SUBMITTED = 1
    APPROVED = 2
    PARTIAL = 3
    DENIED = 4
    DUPLICATE = 5
    SETTLED = 6


@dataclass(frozen=True)
class OnchainClaim:
    claim_id: str
    insurer: str
    provider: str
    patient: str
    submitter: str
    status: ClaimStatus
    submitted_at: int
    claimed_amount: int
    approved_amount: int
    commitment: str
    cid: str


@dataclass(frozen=True)
class SubmitReceipt:
    claim_id: str
    claimed_amount: int
    anchored: Anchored


@dataclass(frozen=True)
class DecisionReceipt:
    claim_id: str
    status: ClaimStatus
    approved_amount: int
    reasons: tuple[str, ...]
    adjudication: Adjudication
    anchored: Anchored


@dataclass(frozen=True)
class ClaimEvent:
    event: str
    block: int
    transaction: str
    args: dict[str, str]


@dataclass
class InstitutionFigures:
    """What a regulator sees of one institution's claims: counts only."""

    institution: str
    role: str  # "provider" or "insurer"
    claims: int = 0
    approved: int = 0
    partial: int = 0
    denied: int = 0
    duplicates: int = 0
    settled: int = 0


#: Which of an institution's figures a decision of each status counts towards.
FIGURE_FIELD = {
    ClaimStatus.APPROVED: "approved",
    ClaimStatus.PARTIAL: "partial",
    ClaimStatus.DENIED: "denied",
    ClaimStatus.DUPLICATE: "duplicates",
}
