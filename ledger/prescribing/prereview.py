"""The automated pre-review of a FHIR R4 MedicationRequest, before a pharmacist sees it; the rules
are data (a JSON file whose path is a setting), the checks are code.

Checks, in this order; any finding blocks, and the issuing gateway refuses the prescription with
every finding (``PreReviewBlocked``): nothing of a blocked one, and no outcome of any, reaches the
chain, where every member would read it beside the patient's pseudonym.
1. ``unidentified-drug``: the medication has no coding (a medicationCodeableConcept, or a reference
   to a contained Medication with a code), so no rule could be checked.
2. ``controlled-online``: a drug under policy control that may not be prescribed online.
3. ``quantity-missing``, ``quantity-unit``, ``over-max-quantity``: the total quantity
   (dispenseRequest.quantity times one plus the repeats allowed) against the drug's maximum.
4. ``duplicate-therapy``: the patient has an active prescription for the same drug or for one in the
   same therapy group.
5. ``supply-unknown``, ``over-max-days``, ``over-acute-days``: the days' supply against the rules'
   ``supply`` section (``ledger.prescribing.supply``); a rules file without one sets no such limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ledger.errors import ConfigError, LedgerError, PayloadError, PayloadNotFhir
from ledger.prescribing.supply import SupplyLimits, supply_findings

__all__ = [
    "DEFAULT_RULES_FILE",
    "ControlledDrug",
    "Drug",
    "Finding",
    "PreReviewBlocked",
    "PreReviewReason",
    "PreReviewResult",
    "PreReviewRules",
    "QuantityLimit",
    "TherapyGroup",
    "load_rules",
    "parse_rules",
    "pre_review",
]

DEFAULT_RULES_FILE = Path(__file__).with_name("default_rules.json")
"""Example rules for development and tests; not a policy."""

DrugKey = tuple[str, str]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Drug(_Rule):
    """A drug as a FHIR coding identifies it."""

    system: str = Field(min_length=1)
    code: str = Field(min_length=1)
    display: str = ""

    @property
    def key(self) -> DrugKey:
        return (self.system, self.code)


class ControlledDrug(Drug):
    """A drug under policy control (narcotic, psychotropic) that may not be prescribed online."""

    category: str = Field(min_length=1)


class QuantityLimit(Drug):
    """The most of a drug one prescription may ask for, repeats included, in ``unit``."""

    max_quantity: Decimal = Field(gt=0)
    unit: str = Field(min_length=1)


class TherapyGroup(_Rule):
    """Drugs that duplicate each other's therapy: a patient takes at most one of them at a time."""

    name: str = Field(min_length=1)
    drugs: tuple[Drug, ...] = Field(min_length=2)


class PreReviewRules(_Rule):
    """A pre-review rule set, as loaded from its JSON file."""

    description: str = ""
    example: bool = False
    not_online: tuple[ControlledDrug, ...] = ()
    max_quantity: tuple[QuantityLimit, ...] = ()
    duplicate_therapy: tuple[TherapyGroup, ...] = ()
    supply: SupplyLimits | None = None

    @model_validator(mode="after")
    def _each_drug_once(self) -> PreReviewRules:
        for name, entries in (("not_online", self.not_online), ("max_quantity", self.max_quantity)):
            keys = [entry.key for entry in entries]
            if len(keys) != len(set(keys)):
                raise ValueError(f"{name} lists a drug more than once")
        return self


class PreReviewReason(StrEnum):
    """Why a pre-review blocked: the code the gateway answers with, never put on chain."""

    UNIDENTIFIED_DRUG = "unidentified-drug"
    CONTROLLED_ONLINE = "controlled-online"
    QUANTITY_MISSING = "quantity-missing"
    QUANTITY_UNIT = "quantity-unit"
    OVER_MAX_QUANTITY = "over-max-quantity"
    DUPLICATE_THERAPY = "duplicate-therapy"
    SUPPLY_UNKNOWN = "supply-unknown"
    OVER_MAX_DAYS = "over-max-days"
    OVER_ACUTE_DAYS = "over-acute-days"


@dataclass(frozen=True, slots=True)
class Finding:
    """One blocking finding, with a detail for the pharmacist (never put on chain)."""

    reason: PreReviewReason
    detail: str


@dataclass(frozen=True, slots=True)
class PreReviewResult:
    """Every finding of one pre-review; it passed if there is none."""

    findings: tuple[Finding, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.findings

    @property
    def reason(self) -> PreReviewReason | None:
        """The first finding's reason."""
        return self.findings[0].reason if self.findings else None


class PreReviewBlocked(LedgerError):
    """The automated pre-review blocked the prescription, so the gateway does not issue it."""

    code = "prescription.pre_review_blocked"

    def __init__(self, result: PreReviewResult) -> None:
        self.result = result
        found = "; ".join(f"{f.reason.value}: {f.detail}" for f in result.findings)
        super().__init__(f"blocked by the automated pre-review, not issued: {found}")


def parse_rules(raw: bytes) -> PreReviewRules:
    """Rules from the bytes of a JSON rules file; ConfigError naming the first problem."""
    # Imported here: ledger.settings reads this package's defaults and should not pay for loading
    # the FHIR models that ledger.payload brings in.
    from ledger.payload import load_json

    try:
        return PreReviewRules.model_validate(load_json(raw))
    except PayloadError as exc:
        raise ConfigError(f"pre-review rules: {exc}") from exc
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"]) or "rules"
        raise ConfigError(f"pre-review rules: {where}: {error['msg']}") from exc


def load_rules(path: Path) -> PreReviewRules:
    """Rules from the JSON file at ``path`` (the module's only I/O); ConfigError if unusable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"pre-review rules: cannot read {path}: {exc.strerror}") from exc
    return parse_rules(raw)


def pre_review(
    medication_request: dict[str, Any],
    *,
    online: bool,
    active_prescriptions: Sequence[dict[str, Any]],
    rules: PreReviewRules,
) -> PreReviewResult:
    """Review ``medication_request`` (validated FHIR R4) against ``rules``.

    ``active_prescriptions`` are the patient's MedicationRequests still in force; one with the same
    ``id`` as ``medication_request`` is taken for the same prescription and skipped.
    """
    drugs = _drug_keys(_medication_request(medication_request))
    if not drugs:
        return PreReviewResult(
            (Finding(PreReviewReason.UNIDENTIFIED_DRUG, "the medication carries no coding"),)
        )
    findings = [
        *(_controlled(drugs, rules) if online else ()),
        *_quantity(medication_request, drugs, rules),
        *_duplicates(medication_request, drugs, active_prescriptions, rules),
        *_supply(medication_request, rules.supply),
    ]
    return PreReviewResult(tuple(findings))


def _controlled(drugs: set[DrugKey], rules: PreReviewRules) -> Iterable[Finding]:
    for entry in rules.not_online:
        if entry.key in drugs:
            yield Finding(
                PreReviewReason.CONTROLLED_ONLINE,
                f"{_name(entry)} is {entry.category}: not prescribable online",
            )


def _quantity(
    request: dict[str, Any], drugs: set[DrugKey], rules: PreReviewRules
) -> Iterable[Finding]:
    limits = [entry for entry in rules.max_quantity if entry.key in drugs]
    if not limits:
        return
    dispense = request.get("dispenseRequest") or {}
    quantity = dispense.get("quantity") or {}
    value = _decimal(quantity.get("value"))
    if value is None:
        yield Finding(PreReviewReason.QUANTITY_MISSING, "dispenseRequest.quantity has no value")
        return
    total = value * (1 + int(dispense.get("numberOfRepeatsAllowed") or 0))
    unit = quantity.get("code") or quantity.get("unit")
    for limit in limits:
        if unit != limit.unit:
            yield Finding(
                PreReviewReason.QUANTITY_UNIT,
                f"{_name(limit)} is limited in {limit.unit!r}, the quantity is in {unit!r}",
            )
        elif total > limit.max_quantity:
            yield Finding(
                PreReviewReason.OVER_MAX_QUANTITY,
                f"{_name(limit)}: {total} {unit} in total, at most {limit.max_quantity}",
            )


def _duplicates(
    request: dict[str, Any],
    drugs: set[DrugKey],
    active: Sequence[dict[str, Any]],
    rules: PreReviewRules,
) -> Iterable[Finding]:
    groups = [
        (group, {drug.key for drug in group.drugs})
        for group in rules.duplicate_therapy
        if any(drug.key in drugs for drug in group.drugs)
    ]
    for other in active:
        other_id = _medication_request(other).get("id")
        if other_id is not None and other_id == request.get("id"):
            continue
        other_drugs = _drug_keys(other)
        if drugs & other_drugs:
            yield Finding(
                PreReviewReason.DUPLICATE_THERAPY,
                f"the same drug is already prescribed (MedicationRequest {other_id})",
            )
            continue
        for group, members in groups:
            if other_drugs & members:
                yield Finding(
                    PreReviewReason.DUPLICATE_THERAPY,
                    f"{group.name}: already prescribed (MedicationRequest {other_id})",
                )


def _supply(request: dict[str, Any], limits: SupplyLimits | None) -> Iterable[Finding]:
    if limits is None:
        return
    for reason, detail in supply_findings(request, limits):
        yield Finding(PreReviewReason(reason.value), detail)


def _medication_request(resource: dict[str, Any]) -> dict[str, Any]:
    resource_type = resource.get("resourceType")
    if resource_type != "MedicationRequest":
        raise PayloadNotFhir(f"pre-review takes a MedicationRequest, not {resource_type!r}")
    return resource


def _drug_keys(request: dict[str, Any]) -> set[DrugKey]:
    """Every (system, code) the request's medication is coded as."""
    concept = request.get("medicationCodeableConcept")
    reference = (request.get("medicationReference") or {}).get("reference", "")
    if concept is None and reference.startswith("#"):
        contained = [
            resource
            for resource in request.get("contained", ())
            if resource.get("resourceType") == "Medication" and resource.get("id") == reference[1:]
        ]
        concept = contained[0].get("code") if contained else None
    codings = (concept or {}).get("coding", ())
    return {
        (coding["system"], coding["code"])
        for coding in codings
        if coding.get("system") and coding.get("code")
    }


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _name(drug: Drug) -> str:
    return drug.display or f"{drug.system}|{drug.code}"
