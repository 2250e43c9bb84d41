"""The rules of claiming that need no chain: service references and their claim keys, amounts in
minor units, an insurer's coverage rules, and the adjudication of one claim."""

from ledger.claiming.adjudication import (
    Adjudication,
    Check,
    ItemFacts,
    ItemOutcome,
    Reason,
    adjudicate,
)
from ledger.claiming.money import MINOR_UNITS, from_minor, to_minor
from ledger.claiming.rules import (
    DEFAULT_CLAIM_RULES_FILE,
    ICD10,
    CoverageRule,
    CoverageRules,
    load_coverage,
)
from ledger.claiming.services import (
    CLAIM_KEY_SYSTEM,
    SERVICE_EXTENSION,
    ServiceKind,
    ServiceRef,
    claim_key,
)

__all__ = [
    "CLAIM_KEY_SYSTEM",
    "DEFAULT_CLAIM_RULES_FILE",
    "ICD10",
    "MINOR_UNITS",
    "SERVICE_EXTENSION",
    "Adjudication",
    "Check",
    "CoverageRule",
    "CoverageRules",
    "ItemFacts",
    "ItemOutcome",
    "Reason",
    "ServiceKind",
    "ServiceRef",
    "adjudicate",
    "claim_key",
    "from_minor",
    "load_coverage",
    "to_minor",
]
