"""The insurer's decision on a claim, from facts already read off the chain and the claim's content:
a pure function, so each check can be shown failing alone without a chain.

Reason codes (on chain as bytes32, in the ClaimResponse as error codes):
``payment.unknown``, ``payment.mismatch`` (the payment shown is not the one anchored, or does not
pay this service), ``service.unknown``, ``service.mismatch`` (another provider's or patient's),
``service.not-dispensed``, ``amount.mismatch`` (more claimed than paid), ``coverage.not-covered``,
``coverage.capped``; and ``duplicate``, which the chain decides, not this module.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ledger.claiming.rules import CoverageRules

__all__ = ["Adjudication", "Check", "ItemFacts", "ItemOutcome", "Reason", "adjudicate"]


class Reason(StrEnum):
    PAYMENT_UNKNOWN = "payment.unknown"
    PAYMENT_MISMATCH = "payment.mismatch"
    SERVICE_UNKNOWN = "service.unknown"
    SERVICE_MISMATCH = "service.mismatch"
    NOT_DISPENSED = "service.not-dispensed"
    AMOUNT_MISMATCH = "amount.mismatch"
    NOT_COVERED = "coverage.not-covered"
    CAPPED = "coverage.capped"
    DUPLICATE = "duplicate"


class Check(StrEnum):
    """What the chain says about an anchor the claim relies on."""

    OK = "ok"
    UNKNOWN = "unknown"
    MISMATCH = "mismatch"
    NOT_DISPENSED = "not-dispensed"


_SERVICE_REASON = {
    Check.UNKNOWN: Reason.SERVICE_UNKNOWN,
    Check.MISMATCH: Reason.SERVICE_MISMATCH,
    Check.NOT_DISPENSED: Reason.NOT_DISPENSED,
}
_PAYMENT_REASON = {Check.UNKNOWN: Reason.PAYMENT_UNKNOWN, Check.MISMATCH: Reason.PAYMENT_MISMATCH}


@dataclass(frozen=True)
class ItemFacts:
    """One claim item as claimed and as the chain and the payment show it."""

    sequence: int
    claimed: int  # minor units
    services: tuple[tuple[str, str], ...]  # the item's productOrService codings (system, code)
    service: Check  # the anchored service it claims for
    paid: int | None  # what the payment paid for that service; None if it does not pay it


@dataclass(frozen=True)
class ItemOutcome:
    sequence: int
    claimed: int
    approved: int
    reasons: tuple[Reason, ...]


@dataclass(frozen=True)
class Adjudication:
    items: tuple[ItemOutcome, ...]

    @property
    def approved(self) -> int:
        return sum(item.approved for item in self.items)

    @property
    def claimed(self) -> int:
        return sum(item.claimed for item in self.items)

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Every reason given, once each, in the order first given."""
        return tuple(dict.fromkeys(r for item in self.items for r in item.reasons))


def adjudicate(
    payment: Check,
    diagnoses: Sequence[str],
    items: Sequence[ItemFacts],
    rules: CoverageRules,
) -> Adjudication:
    """Each item approved in full, capped, or not at all, with the reasons; a payment that does not
    match the chain voids every item, since its amounts and keys cannot be trusted."""
    return Adjudication(tuple(_item(payment, diagnoses, item, rules) for item in items))


def _item(
    payment: Check, diagnoses: Sequence[str], item: ItemFacts, rules: CoverageRules
) -> ItemOutcome:
    reasons: list[Reason] = []
    if payment is not Check.OK:
        reasons.append(_PAYMENT_REASON.get(payment, Reason.PAYMENT_MISMATCH))
    elif item.paid is None:
        reasons.append(Reason.PAYMENT_MISMATCH)
    if item.service is not Check.OK:
        reasons.append(_SERVICE_REASON[item.service])
    if item.paid is not None and item.claimed > item.paid:
        reasons.append(Reason.AMOUNT_MISMATCH)
    rule = rules.match(item.services, diagnoses)
    if rule is None:
        reasons.append(Reason.NOT_COVERED)
    if reasons:
        return ItemOutcome(item.sequence, item.claimed, 0, tuple(reasons))
    assert rule is not None
    if rule.max_minor is not None and item.claimed > rule.max_minor:
        return ItemOutcome(item.sequence, item.claimed, rule.max_minor, (Reason.CAPPED,))
    return ItemOutcome(item.sequence, item.claimed, item.claimed, ())
