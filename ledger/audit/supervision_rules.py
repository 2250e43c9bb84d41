"""The regulator's supervision rules, as data (MEDLEDGER_SUPERVISION_RULES_FILE): each rule an id,
a kind (what it watches, below), a severity and its parameters; every threshold a parameter, with
the defaults documented in docs/rules.md ("Real-time supervision"). The bundled file is an example.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import ConfigError

__all__ = [
    "DEFAULT_SUPERVISION_RULES_FILE",
    "KINDS",
    "SEVERITIES",
    "SupervisionRule",
    "SupervisionRules",
    "load_supervision_rules",
]

DEFAULT_SUPERVISION_RULES_FILE = Path(__file__).with_name("supervision_rules.json")
SEVERITIES = ("low", "medium", "high", "critical")

#: Each kind with its parameters and their defaults; a rule naming another parameter is refused.
KINDS: Mapping[str, Mapping[str, Any]] = {
    # A MedicationRequest (opened from the regulator's copy) asking for more than the quantity
    # allowed for its drug (``drugs``: [{system, code, max_quantity}]) or in general, or for more
    # days' supply (dispenseRequest.expectedSupplyDuration, in days) than ``max_days_supply``.
    "prescription_over_quantity": {"max_quantity": 120, "max_days_supply": 7, "drugs": []},
    # Quantity times the unit price (``unit_prices``: [{system, code, price}]) above ``max_value``.
    "prescription_high_value": {"max_value": 2000, "unit_prices": []},
    # A prescription whose envelope holds no copy for this regulator: not reported as the 2022
    # rules require (its hospital's gateway was bypassed or altered).
    "prescription_unreported": {},
    # More than ``max_prescriptions`` by one doctor within ``window_s``.
    "prescriber_rate": {"max_prescriptions": 30, "window_s": 3600},
    # Online prescribing under a filing whose scope lacks internet diagnosis; and prescriptions
    # under a filing that a regulator revoked at most ``revoked_within_s`` after (0: not checked).
    "prescribing_outside_filing": {"revoked_within_s": 86_400},
    # A claim whose amount (``events``: submitted, approved, settled) is above ``max_amount``.
    "claim_over_threshold": {"max_amount": 10_000, "events": ["submitted", "settled"]},
    # More than ``max_declarations`` break-glass declarations by one doctor within ``window_s``.
    "break_glass_repeated": {"max_declarations": 2, "window_s": 86_400},
    # A declaration not reviewed within ``review_window_s`` of being declared (0: the window
    # BreakGlassRegistry was deployed with, MEDLEDGER_BREAK_GLASS_REVIEW_WINDOW_S).
    "break_glass_unreviewed": {"review_window_s": 0},
    # A declaration its reviewer found not justified.
    "break_glass_unjustified": {},
    # One staff member reading more than ``max_patients`` distinct patients of other hospitals
    # within ``window_s`` (from the consortium's access trail).
    "cross_institution_reads": {"max_patients": 20, "window_s": 86_400},
}


@dataclass(frozen=True)
class SupervisionRule:
    """One rule as the file states it, its parameters completed with the kind's defaults."""

    id: str
    kind: str
    severity: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]


@dataclass(frozen=True)
class SupervisionRules:
    rules: tuple[SupervisionRule, ...]
    example: bool = False

    def of(self, kind: str) -> list[SupervisionRule]:
        """The rules of ``kind``, in file order."""
        return [rule for rule in self.rules if rule.kind == kind]


def load_supervision_rules(path: Path) -> SupervisionRules:
    """The rules in the JSON file at ``path``; ConfigError naming what is wrong."""
    try:
        raw: Any = json.loads(path.read_bytes())
        rules = tuple(_rule(entry) for entry in raw["rules"])
    except OSError as exc:
        raise ConfigError(f"supervision rules: cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"supervision rules {path}: {exc}") from exc
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"supervision rules {path}: rule ids repeat")
    return SupervisionRules(rules, example=bool(raw.get("example", False)))


def _rule(entry: dict[str, Any]) -> SupervisionRule:
    rule_id, kind, severity = str(entry["id"]), str(entry["kind"]), str(entry["severity"])
    if not rule_id or len(rule_id) > 64:
        raise ValueError(f"a rule id is 1 to 64 characters, got {rule_id!r}")
    if kind not in KINDS:
        raise ValueError(f"rule {rule_id}: unknown kind {kind!r} (known: {', '.join(KINDS)})")
    if severity not in SEVERITIES:
        raise ValueError(f"rule {rule_id}: severity must be one of {', '.join(SEVERITIES)}")
    given = dict(entry.get("params", {}))
    unknown = sorted(set(given) - set(KINDS[kind]))
    if unknown:
        raise ValueError(f"rule {rule_id}: unknown parameters {unknown} for {kind}")
    params = {**KINDS[kind], **given}
    for name, value in params.items():
        default = KINDS[kind][name]
        if isinstance(default, int) and (
            isinstance(value, bool) or not isinstance(value, int | float) or value < 0
        ):
            raise ValueError(f"rule {rule_id}: {name} must be a number >= 0, got {value!r}")
        if isinstance(default, list) and not isinstance(value, list):
            raise ValueError(f"rule {rule_id}: {name} must be a list")
    for drug in (*params.get("drugs", ()), *params.get("unit_prices", ())):
        if not isinstance(drug, dict) or not {"system", "code"} <= set(drug):
            raise ValueError(f"rule {rule_id}: each drug names its system and code")
    if kind == "claim_over_threshold":
        bad = set(params["events"]) - {"submitted", "approved", "settled"}
        if bad:
            raise ValueError(f"rule {rule_id}: unknown claim events {sorted(bad)}")
    return SupervisionRule(rule_id, kind, severity, params)
