"""The rules of prescribing that need no chain: validity in local time, the automated pre-review,
the FHIR status of a prescription, on-chain reason codes, and the practice registry's enums."""

from ledger.prescribing.practice import FilingStatus, PracticeScope, RegistrationStatus
from ledger.prescribing.prereview import (
    DEFAULT_RULES_FILE,
    ControlledDrug,
    Drug,
    Finding,
    PreReviewBlocked,
    PreReviewReason,
    PreReviewResult,
    PreReviewRules,
    QuantityLimit,
    TherapyGroup,
    load_rules,
    parse_rules,
    pre_review,
)
from ledger.prescribing.reasons import decode_reason, encode_reason
from ledger.prescribing.status import (
    FHIR_STATUS,
    FhirStatus,
    PrescriptionStatus,
    fhir_status,
)
from ledger.prescribing.supply import SupplyLimits, days_supply
from ledger.prescribing.validity import (
    DEFAULT_TIME_ZONE,
    OFFLINE_DAYS,
    ONLINE_DAYS,
    expires_at,
    expires_at_offset,
    is_valid,
    unix_seconds,
    utc_offset_s,
)

__all__ = [
    "DEFAULT_RULES_FILE",
    "DEFAULT_TIME_ZONE",
    "FHIR_STATUS",
    "OFFLINE_DAYS",
    "ONLINE_DAYS",
    "ControlledDrug",
    "Drug",
    "FhirStatus",
    "FilingStatus",
    "Finding",
    "PracticeScope",
    "PreReviewBlocked",
    "PreReviewReason",
    "PreReviewResult",
    "PreReviewRules",
    "PrescriptionStatus",
    "QuantityLimit",
    "RegistrationStatus",
    "SupplyLimits",
    "TherapyGroup",
    "days_supply",
    "decode_reason",
    "encode_reason",
    "expires_at",
    "expires_at_offset",
    "fhir_status",
    "is_valid",
    "load_rules",
    "parse_rules",
    "pre_review",
    "unix_seconds",
    "utc_offset_s",
]
