"""The rules of claiming without a chain: service references, claim keys, amounts in fen, coverage
rules and the adjudication of one claim, each check failing alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.claiming import (
    DEFAULT_CLAIM_RULES_FILE,
    Check,
    ItemFacts,
    Reason,
    ServiceKind,
    ServiceRef,
    adjudicate,
    claim_key,
    from_minor,
    load_coverage,
    to_minor,
)
from ledger.errors import ConfigError

ID = "0x" + "ab" * 32
SALT, OTHER_SALT = bytes(range(32)), bytes(range(1, 33))
RULES = load_coverage(DEFAULT_CLAIM_RULES_FILE)
MEDICATION = (("urn:medledger:service", "medication"),)
FOLLOW_UP = (("urn:medledger:service", "follow-up-consultation"),)


@pytest.mark.parametrize(
    ("reference", "kind", "version"),
    [
        (f"MedicationRequest/{ID}", ServiceKind.PRESCRIPTION, 1),
        (f"MedicationDispense/{ID}", ServiceKind.DISPENSE, 1),
        (f"urn:medledger:record:{ID}:3", ServiceKind.RECORD, 3),
    ],
)
def test_service_references_round_trip(reference: str, kind: ServiceKind, version: int) -> None:
    service = ServiceRef.parse(reference)
    assert (service.kind, service.version, service.reference) == (kind, version, reference)


@pytest.mark.parametrize(
    "reference",
    [
        f"Patient/{ID}",
        f"MedicationRequest/{ID}x",
        f"urn:medledger:record:{ID}:0",
        f"urn:medledger:record:{ID}:99999999999",
        "MedicationRequest/0x12",
    ],
)
def test_other_references_are_refused(reference: str) -> None:
    with pytest.raises(ValueError, match="not a reference"):
        ServiceRef.parse(reference)


def test_a_claim_key_is_the_same_for_one_service_and_differs_otherwise() -> None:
    upper = ServiceRef.parse(f"MedicationRequest/0x{'AB' * 32}")
    service = ServiceRef.parse(f"MedicationRequest/{ID}")
    assert claim_key(SALT, upper) == claim_key(SALT, service)
    assert len(claim_key(SALT, service)) == 32
    assert claim_key(OTHER_SALT, service) != claim_key(SALT, service)
    dispense = ServiceRef.parse(f"MedicationDispense/{ID}")
    assert claim_key(SALT, dispense) != claim_key(SALT, service)


@pytest.mark.parametrize(("value", "fen"), [(120, 12000), (0.01, 1), (30.5, 3050), (19.99, 1999)])
def test_amounts_convert_to_fen_exactly(value: float, fen: int) -> None:
    assert to_minor({"value": value, "currency": "CNY"}, "CNY") == fen
    assert to_minor(from_minor(fen, "CNY"), "CNY") == fen


@pytest.mark.parametrize(
    "money",
    [
        {"value": 0.001, "currency": "CNY"},
        {"value": 0, "currency": "CNY"},
        {"value": -1, "currency": "CNY"},
        {"value": True, "currency": "CNY"},
        {"value": 1, "currency": "USD"},
        {"currency": "CNY"},
        "12",
    ],
)
def test_unusable_amounts_are_refused(money: object) -> None:
    with pytest.raises(ValueError, match=r"amount|Money|CNY"):
        to_minor(money, "CNY")


def item(**overrides: object) -> ItemFacts:
    fields: dict[str, object] = {
        "sequence": 1,
        "claimed": 12000,
        "services": MEDICATION,
        "service": Check.OK,
        "paid": 12000,
    }
    return ItemFacts(**{**fields, **overrides})  # type: ignore[arg-type]


def test_a_covered_paid_dispensed_item_is_approved_in_full() -> None:
    decided = adjudicate(Check.OK, ["I10"], [item()], RULES)
    assert (decided.approved, decided.reasons) == (12000, ())


@pytest.mark.parametrize(
    ("payment", "facts", "diagnosis", "reason"),
    [
        (Check.UNKNOWN, item(), "I10", Reason.PAYMENT_UNKNOWN),
        (Check.MISMATCH, item(), "I10", Reason.PAYMENT_MISMATCH),
        (Check.OK, item(paid=None), "I10", Reason.PAYMENT_MISMATCH),
        (Check.OK, item(service=Check.UNKNOWN), "I10", Reason.SERVICE_UNKNOWN),
        (Check.OK, item(service=Check.MISMATCH), "I10", Reason.SERVICE_MISMATCH),
        (Check.OK, item(service=Check.NOT_DISPENSED), "I10", Reason.NOT_DISPENSED),
        (Check.OK, item(claimed=12001), "I10", Reason.AMOUNT_MISMATCH),
        (Check.OK, item(), "J45", Reason.NOT_COVERED),
        (
            Check.OK,
            item(services=(("urn:medledger:service", "cosmetic"),)),
            "I10",
            Reason.NOT_COVERED,
        ),
    ],
)
def test_each_check_failing_alone_denies_with_its_reason(
    payment: Check, facts: ItemFacts, diagnosis: str, reason: Reason
) -> None:
    decided = adjudicate(payment, [diagnosis], [facts], RULES)
    assert (decided.approved, decided.reasons) == (0, (reason,))


def test_a_fee_over_the_cap_is_approved_up_to_it() -> None:
    decided = adjudicate(
        Check.OK, ["E11.9"], [item(services=FOLLOW_UP, claimed=8000, paid=8000)], RULES
    )
    assert (decided.approved, decided.reasons) == (5000, (Reason.CAPPED,))


def test_a_payment_that_does_not_match_voids_every_item() -> None:
    items = [item(), item(sequence=2, services=FOLLOW_UP, claimed=3000, paid=3000)]
    assert adjudicate(Check.MISMATCH, ["I10"], items, RULES).approved == 0


def test_rules_files_are_checked_when_loaded(tmp_path: Path) -> None:
    bad = tmp_path / "rules.json"
    bad.write_text(
        json.dumps({"covered": [{"service": {"system": "s", "code": "c"}, "diagnoses": []}]})
    )
    with pytest.raises(ConfigError, match="diagnosis"):
        load_coverage(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_coverage(tmp_path / "missing.json")
