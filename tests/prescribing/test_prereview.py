"""ledger.prescribing.prereview: rules as data (controlled drugs online, maximum quantities,
duplicate therapy), checked against official HL7 MedicationRequest examples and variations."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ledger.errors import ConfigError, PayloadNotFhir
from ledger.payload import parse_payload
from ledger.prescribing import (
    DEFAULT_RULES_FILE,
    Finding,
    PreReviewReason,
    PreReviewResult,
    PreReviewRules,
    encode_reason,
    load_rules,
    parse_rules,
    pre_review,
)
from ledger.settings import load_settings

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fhir"
SNOMED, ATC = "http://snomed.info/sct", "http://www.whocc.no/atc"
AZITHROMYCIN = {"system": SNOMED, "code": "324252006", "display": "Azithromycin 250mg capsule"}


def _official(name: str) -> dict[str, Any]:
    """An official HL7 R4 example, validated as the gateway validates a payload."""
    resource: dict[str, Any] = parse_payload(
        (FIXTURES / name).read_bytes(), max_bytes=1 << 20
    ).resource
    return resource


@pytest.fixture(scope="module")
def oxycodone() -> dict[str, Any]:
    """medrx0301: oral oxycodone, as a contained Medication; 30 TAB, no repeats."""
    return _official("medicationrequest0301.json")


@pytest.fixture(scope="module")
def azithromycin() -> dict[str, Any]:
    """medrx0302: azithromycin, as a contained Medication; 6 TAB, one repeat."""
    return _official("medicationrequest0302.json")


@pytest.fixture(scope="module")
def default_rules() -> PreReviewRules:
    return load_rules(DEFAULT_RULES_FILE)


def _coded(
    code: str, *, system: str = ATC, rx_id: str = "rx", quantity: Any = None
) -> dict[str, Any]:
    """A minimal MedicationRequest for a drug coded in ``system``."""
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": rx_id,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"coding": [{"system": system, "code": code}]},
    }
    if quantity is not None:
        request["dispenseRequest"] = {"quantity": quantity}
    return request


def _rules(**fields: Any) -> PreReviewRules:
    return PreReviewRules.model_validate(fields)


def _reasons(result: PreReviewResult) -> list[PreReviewReason]:
    return [finding.reason for finding in result.findings]


# The default rules


def test_the_default_rules_load_and_say_they_are_examples(default_rules: PreReviewRules) -> None:
    assert default_rules.example
    assert default_rules.description.startswith("EXAMPLE")
    assert all("example" in entry.display for entry in default_rules.not_online)


def test_official_oxycodone_example_is_blocked_online(
    oxycodone: dict[str, Any], default_rules: PreReviewRules
) -> None:
    result = pre_review(oxycodone, online=True, active_prescriptions=[], rules=default_rules)
    assert result.findings == (
        Finding(
            PreReviewReason.CONTROLLED_ONLINE,
            "Oral form oxycodone (example entry) is narcotic: not prescribable online",
        ),
        Finding(PreReviewReason.OVER_MAX_DAYS, "10 days' supply, at most 7"),
    )
    assert result.reason is PreReviewReason.CONTROLLED_ONLINE


def test_official_oxycodone_example_for_a_week_passes_offline(
    oxycodone: dict[str, Any], default_rules: PreReviewRules
) -> None:
    week = copy.deepcopy(oxycodone)
    week["dispenseRequest"]["expectedSupplyDuration"]["value"] = 7
    result = pre_review(week, online=False, active_prescriptions=[], rules=default_rules)
    assert result.passed
    assert result.reason is None


def test_official_azithromycin_example_is_over_three_days_for_an_acute_condition(
    azithromycin: dict[str, Any], default_rules: PreReviewRules
) -> None:
    """Five days and one repeat, for traveller's diarrhoea (acute in the example rules)."""
    result = pre_review(azithromycin, online=True, active_prescriptions=[], rules=default_rules)
    assert result.findings == (
        Finding(
            PreReviewReason.OVER_ACUTE_DAYS,
            "10 days' supply for an acute condition (Traveller's diarrhoea (example entry)), "
            "at most 3",
        ),
    )


def test_official_azithromycin_example_for_three_days_passes_online(
    azithromycin: dict[str, Any], default_rules: PreReviewRules
) -> None:
    short = copy.deepcopy(azithromycin)
    short["dispenseRequest"]["numberOfRepeatsAllowed"] = 0
    short["dispenseRequest"]["expectedSupplyDuration"]["value"] = 3
    assert pre_review(short, online=True, active_prescriptions=[], rules=default_rules).passed


# Identifying the drug


@pytest.mark.parametrize(
    "medication",
    [
        {"medicationCodeableConcept": {"text": "the blue pills"}},
        {"medicationReference": {"reference": "Medication/elsewhere"}},
        {"medicationReference": {"reference": "#not-contained"}},
        {"medicationCodeableConcept": {"coding": [{"display": "no system or code"}]}},
    ],
    ids=["text-only", "external-reference", "missing-contained", "coding-without-code"],
)
def test_a_drug_no_rule_can_identify_is_blocked(
    medication: dict[str, Any], default_rules: PreReviewRules
) -> None:
    request = {k: v for k, v in _coded("A10BA02").items() if k != "medicationCodeableConcept"}
    result = pre_review(
        {**request, **medication}, online=True, active_prescriptions=[], rules=default_rules
    )
    assert _reasons(result) == [PreReviewReason.UNIDENTIFIED_DRUG]
    assert result.reason is PreReviewReason.UNIDENTIFIED_DRUG


def test_any_coding_of_the_drug_matches_a_rule(default_rules: PreReviewRules) -> None:
    request = _coded("N05BA01")
    request["medicationCodeableConcept"]["coding"].insert(0, {"system": SNOMED, "code": "0"})
    assert _reasons(
        pre_review(request, online=True, active_prescriptions=[], rules=default_rules)
    ) == [PreReviewReason.CONTROLLED_ONLINE]


def test_a_code_in_another_system_does_not_match(default_rules: PreReviewRules) -> None:
    assert pre_review(
        _coded("N05BA01", system=SNOMED), online=True, active_prescriptions=[], rules=default_rules
    ).passed


def test_only_a_medication_request_is_reviewed(
    default_rules: PreReviewRules,
) -> None:
    with pytest.raises(PayloadNotFhir, match="not 'Observation'"):
        pre_review(
            {"resourceType": "Observation"},
            online=True,
            active_prescriptions=[],
            rules=default_rules,
        )


# Quantities

LIMITED = _rules(max_quantity=[{**AZITHROMYCIN, "max_quantity": 6, "unit": "TAB"}])


def test_the_total_counts_the_repeats(azithromycin: dict[str, Any]) -> None:
    result = pre_review(azithromycin, online=True, active_prescriptions=[], rules=LIMITED)
    assert result.findings == (
        Finding(
            PreReviewReason.OVER_MAX_QUANTITY,
            "Azithromycin 250mg capsule: 12 TAB in total, at most 6",
        ),
    )


@pytest.mark.parametrize(("value", "passes"), [(5, True), (6, True), (6.5, False), (7, False)])
def test_the_maximum_quantity_is_inclusive(
    azithromycin: dict[str, Any], value: float, passes: bool
) -> None:
    request = copy.deepcopy(azithromycin)
    request["dispenseRequest"]["numberOfRepeatsAllowed"] = 0
    request["dispenseRequest"]["quantity"]["value"] = value
    result = pre_review(request, online=True, active_prescriptions=[], rules=LIMITED)
    assert result.passed is passes


def test_a_quantity_in_another_unit_is_blocked(azithromycin: dict[str, Any]) -> None:
    request = copy.deepcopy(azithromycin)
    request["dispenseRequest"]["quantity"] = {"value": 1, "unit": "box", "code": "BX"}
    assert _reasons(pre_review(request, online=True, active_prescriptions=[], rules=LIMITED)) == [
        PreReviewReason.QUANTITY_UNIT
    ]


@pytest.mark.parametrize(
    "dispense", [None, {}, {"quantity": {"unit": "TAB"}}], ids=["none", "empty", "no-value"]
)
def test_a_limited_drug_without_a_quantity_is_blocked(
    azithromycin: dict[str, Any], dispense: dict[str, Any] | None
) -> None:
    request = copy.deepcopy(azithromycin)
    del request["dispenseRequest"]
    if dispense is not None:
        request["dispenseRequest"] = dispense
    assert _reasons(pre_review(request, online=True, active_prescriptions=[], rules=LIMITED)) == [
        PreReviewReason.QUANTITY_MISSING
    ]


def test_an_unlimited_drug_needs_no_quantity(default_rules: PreReviewRules) -> None:
    assert pre_review(
        _coded("C10AA05"), online=True, active_prescriptions=[], rules=default_rules
    ).passed


# Duplicate therapy


def test_the_same_drug_already_active_is_a_duplicate(default_rules: PreReviewRules) -> None:
    active = [_coded("C10AA05", rx_id="earlier")]
    result = pre_review(
        _coded("C10AA05"), online=True, active_prescriptions=active, rules=default_rules
    )
    assert result.findings == (
        Finding(
            PreReviewReason.DUPLICATE_THERAPY,
            "the same drug is already prescribed (MedicationRequest earlier)",
        ),
    )


def test_another_drug_of_the_same_group_is_a_duplicate(default_rules: PreReviewRules) -> None:
    # An ACE inhibitor on top of an angiotensin receptor blocker.
    active = [_coded("C09CA01", rx_id="losartan", quantity={"value": 30, "code": "TAB"})]
    result = pre_review(
        _coded("C09AA02"), online=True, active_prescriptions=active, rules=default_rules
    )
    assert result.findings == (
        Finding(
            PreReviewReason.DUPLICATE_THERAPY,
            "renin-angiotensin blockade: ACE inhibitor or ARB (example entry): already "
            "prescribed (MedicationRequest losartan)",
        ),
    )


def test_drugs_of_different_groups_are_no_duplicate(default_rules: PreReviewRules) -> None:
    active = [_coded("C10AA05", rx_id="statin"), _coded("A10BA02", rx_id="metformin")]
    assert pre_review(
        _coded("C09AA02"), online=True, active_prescriptions=active, rules=default_rules
    ).passed


def test_the_prescription_itself_among_the_active_ones_is_no_duplicate(
    default_rules: PreReviewRules,
) -> None:
    request = _coded("C10AA05", rx_id="same")
    assert pre_review(
        request, online=True, active_prescriptions=[request], rules=default_rules
    ).passed


def test_an_active_prescription_that_is_not_a_medication_request_is_refused(
    default_rules: PreReviewRules,
) -> None:
    with pytest.raises(PayloadNotFhir):
        pre_review(
            _coded("C10AA05"),
            online=True,
            active_prescriptions=[{"resourceType": "Patient"}],
            rules=default_rules,
        )


# Several findings


def test_every_finding_is_kept_and_the_first_goes_on_chain() -> None:
    rules = _rules(
        not_online=[{"system": ATC, "code": "N05BA12", "category": "psychotropic"}],
        max_quantity=[{"system": ATC, "code": "N05BA12", "max_quantity": 20, "unit": "TAB"}],
        duplicate_therapy=[
            {
                "name": "benzodiazepines",
                "drugs": [{"system": ATC, "code": "N05BA12"}, {"system": ATC, "code": "N05BA01"}],
            }
        ],
    )
    request = _coded("N05BA12", quantity={"value": 30, "code": "TAB"})
    result = pre_review(
        request, online=True, active_prescriptions=[_coded("N05BA01", rx_id="d")], rules=rules
    )
    assert _reasons(result) == [
        PreReviewReason.CONTROLLED_ONLINE,
        PreReviewReason.OVER_MAX_QUANTITY,
        PreReviewReason.DUPLICATE_THERAPY,
    ]
    assert result.reason is PreReviewReason.CONTROLLED_ONLINE
    assert "N05BA12" in result.findings[0].detail  # no display: the coding names the drug


def test_every_reason_fits_on_chain() -> None:
    for reason in PreReviewReason:
        assert len(encode_reason(reason)) == 32


# Loading rules


def test_rules_round_trip_through_their_file(tmp_path: Path, default_rules: PreReviewRules) -> None:
    path = tmp_path / "rules.json"
    path.write_text(default_rules.model_dump_json())
    assert load_rules(path) == default_rules


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"example": true, "example": false}', "duplicate key 'example'"),
        ('{"not_online": [], "surprise": 1}', "surprise: Extra inputs are not permitted"),
        ("[]", "rules: Input should be a valid dictionary"),
        (
            '{"max_quantity": [{"system": "s", "code": "c", "max_quantity": 0, "unit": "TAB"}]}',
            "max_quantity.0.max_quantity: Input should be greater than 0",
        ),
        (
            '{"duplicate_therapy": [{"name": "g", "drugs": [{"system": "s", "code": "c"}]}]}',
            "duplicate_therapy.0.drugs: Tuple should have at least 2 items",
        ),
        (
            '{"not_online": [{"system": "s", "code": "c", "category": "x"},'
            ' {"system": "s", "code": "c", "category": "y"}]}',
            "not_online lists a drug more than once",
        ),
        ("{", "not valid JSON"),
    ],
    ids=[
        "duplicate-key",
        "unknown-field",
        "not-an-object",
        "zero-maximum",
        "group-of-one",
        "twice",
        "broken",
    ],
)
def test_malformed_rules_are_refused_with_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ConfigError, match="pre-review rules: ") as info:
        parse_rules(text.encode())
    assert problem in str(info.value)


def test_a_missing_rules_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read .*absent\.json"):
        load_rules(tmp_path / "absent.json")


# Settings


def test_settings_default_to_the_example_rules_and_the_local_rule() -> None:
    settings = load_settings()
    assert settings.prereview_rules_file == DEFAULT_RULES_FILE
    assert (settings.prescription_online_days, settings.prescription_offline_days) == (2, 1)


def _production(**overrides: object) -> object:
    return load_settings(
        profile="production",
        org_key_file=Path("org.json"),
        org_key_passphrase="a real passphrase",
        rpc_url="http://127.0.0.1:8545",
        **overrides,
    )


def test_production_refuses_the_example_rules() -> None:
    with pytest.raises(ConfigError, match="MEDLEDGER_PREREVIEW_RULES_FILE"):
        _production()


def test_production_takes_its_own_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"not_online": []}))
    assert _production(prereview_rules_file=rules) is not None


@pytest.mark.parametrize("field", ["prescription_online_days", "prescription_offline_days"])
def test_a_validity_of_no_day_is_refused(field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        load_settings(**{field: 0})
