"""The supervision rules file: the bundled example loads with every kind, a rule's parameters are
completed with its kind's defaults, and a malformed file is refused naming what is wrong; the alert
store raises each alert once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.audit.alerts import AlertStore, alert_id
from ledger.audit.supervision_rules import (
    DEFAULT_SUPERVISION_RULES_FILE,
    KINDS,
    load_supervision_rules,
)
from ledger.errors import ConfigError


def _write(tmp_path: Path, *rules: dict[str, Any]) -> Path:
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": list(rules)}))
    return path


def test_the_bundled_rules_are_an_example_with_every_kind() -> None:
    rules = load_supervision_rules(DEFAULT_SUPERVISION_RULES_FILE)
    assert rules.example
    assert {rule.kind for rule in rules.rules} == set(KINDS)


def test_a_rule_takes_its_kinds_defaults_for_what_it_does_not_state(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {"id": "r", "kind": "prescriber_rate", "severity": "low", "params": {"window_s": 60}},
    )
    (rule,) = load_supervision_rules(path).rules
    assert dict(rule.params) == {"max_prescriptions": 30, "window_s": 60}
    assert not load_supervision_rules(path).example


@pytest.mark.parametrize(
    ("rule", "named"),
    [
        ({"id": "r", "kind": "gut_feeling", "severity": "low"}, "unknown kind"),
        ({"id": "r", "kind": "prescriber_rate", "severity": "dire"}, "severity"),
        (
            {"id": "r", "kind": "prescriber_rate", "severity": "low", "params": {"max": 1}},
            "unknown parameters",
        ),
        (
            {"id": "r", "kind": "prescriber_rate", "severity": "low", "params": {"window_s": -1}},
            "window_s",
        ),
        (
            {"id": "r", "kind": "prescriber_rate", "severity": "low", "params": {"window_s": True}},
            "window_s",
        ),
        (
            {
                "id": "r",
                "kind": "claim_over_threshold",
                "severity": "low",
                "params": {"events": ["paid"]},
            },
            "claim events",
        ),
        (
            {
                "id": "r",
                "kind": "prescription_high_value",
                "severity": "low",
                "params": {"unit_prices": [{"code": "x"}]},
            },
            "system and code",
        ),
        ({"kind": "prescriber_rate", "severity": "low"}, "id"),
    ],
)
def test_a_malformed_rule_is_refused_naming_what_is_wrong(
    tmp_path: Path, rule: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        load_supervision_rules(_write(tmp_path, rule))


def test_repeated_rule_ids_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    same = {"id": "r", "kind": "prescription_unreported", "severity": "high"}
    with pytest.raises(ConfigError, match="repeat"):
        load_supervision_rules(_write(tmp_path, same, same))
    with pytest.raises(ConfigError, match="cannot read"):
        load_supervision_rules(tmp_path / "absent.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError):
        load_supervision_rules(tmp_path / "bad.json")


def test_an_alert_is_stored_once_whatever_raises_it_again(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    try:
        raised = [
            store.raise_alert(
                rule="r",
                kind="prescription_unreported",
                severity="high",
                key="0xabc",
                institution="0x" + "11" * 20,
                subject="0x" + "22" * 20,
                at=100,
                summary="s",
                evidence=[{"tx": "0x01"}],
            )
            for _ in range(2)
        ]
        assert raised == [True, False]
        (alert,) = store.alerts()
        assert alert.id == alert_id("r", "0xabc")
        assert store.alert(alert.id) == alert
        assert store.last_alert_at("r", "0x" + "22" * 20) == 100
    finally:
        store.close()
