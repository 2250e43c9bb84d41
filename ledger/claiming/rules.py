"""An insurer's coverage rules, as data: which services it reimburses, for which diagnoses (ICD-10
code prefixes), and up to what amount per item. Each insurer's gateway reads its own file
(MEDLEDGER_CLAIM_RULES_FILE); the bundled one is an example."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.claiming.money import MINOR_UNITS
from ledger.errors import ConfigError

__all__ = ["DEFAULT_CLAIM_RULES_FILE", "ICD10", "CoverageRule", "CoverageRules", "load_coverage"]

DEFAULT_CLAIM_RULES_FILE = Path(__file__).with_name("default_rules.json")
ICD10 = "http://hl7.org/fhir/sid/icd-10"


@dataclass(frozen=True)
class CoverageRule:
    """One covered service: its coding, the diagnoses covered, an optional cap per item."""

    system: str
    code: str
    diagnoses: tuple[str, ...]
    max_minor: int | None

    def covers(self, diagnoses: Iterable[str]) -> bool:
        return any(d.startswith(prefix) for d in diagnoses for prefix in self.diagnoses)


@dataclass(frozen=True)
class CoverageRules:
    rules: tuple[CoverageRule, ...]

    def match(
        self, services: Iterable[tuple[str, str]], diagnoses: Iterable[str]
    ) -> CoverageRule | None:
        """The first rule covering one of the item's service codings for one of the diagnoses."""
        wanted = set(services)
        found = list(diagnoses)
        for rule in self.rules:
            if (rule.system, rule.code) in wanted and rule.covers(found):
                return rule
        return None


def load_coverage(path: Path) -> CoverageRules:
    """Rules from the JSON file at ``path``; ConfigError naming what is wrong."""
    try:
        raw: Any = json.loads(path.read_bytes())
        return CoverageRules(tuple(_rule(entry) for entry in raw["covered"]))
    except OSError as exc:
        raise ConfigError(f"claim rules: cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"claim rules {path}: {exc!r}") from exc


def _rule(entry: dict[str, Any]) -> CoverageRule:
    diagnoses = tuple(str(d) for d in entry["diagnoses"])
    if not diagnoses:
        raise ValueError("a covered service needs at least one diagnosis prefix")
    cap = entry.get("max_amount")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int | float) or cap <= 0):
        raise ValueError(f"max_amount must be a positive number, got {cap!r}")
    return CoverageRule(
        str(entry["service"]["system"]),
        str(entry["service"]["code"]),
        diagnoses,
        None if cap is None else round(cap * MINOR_UNITS),
    )
