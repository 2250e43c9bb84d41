"""Role-shaped views: the (kind, purpose) table, each view on official HL7 R4 examples, the
allow-list invariant, and the declaration file as the single source."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from ledger.consent.grants import Purpose
from ledger.consent.segmentation import VIEWS_PATH, apply_view, load_segmentation, view_for
from ledger.errors import ConfigError
from ledger.payload import canonicalize, parse_payload
from ledger.types import OrgKind

FIXTURES = Path(__file__).parents[1] / "fixtures" / "fhir"
EXAMPLES: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_bytes()) for path in sorted(FIXTURES.glob("*.json"))
}
PATIENTS = ["patient-example", "patient-example-f001-pieter"]
CONDITION = "condition-example-f201-fever"
PRESCRIPTIONS = ["medicationrequest0301", "medicationrequest0302"]
OBSERVATION = "observation-example"
VIEWS = ["full", "claim", "dispensing", "metadata"]
DECLARED = tomllib.loads(VIEWS_PATH.read_text(encoding="utf-8"))["views"]
HOSPITAL, INSURER, PHARMACY = OrgKind.HOSPITAL, OrgKind.INSURER, OrgKind.PHARMACY
REGULATOR = OrgKind.REGULATOR


def _example(name: str) -> dict[str, Any]:
    return copy.deepcopy(EXAMPLES[name])


def _bundle() -> dict[str, Any]:
    entries = [
        {"fullUrl": f"urn:uuid:00000000-0000-4000-8000-{n:012d}", "resource": _example(name)}
        for n, name in enumerate(EXAMPLES)
    ]
    return {"resourceType": "Bundle", "id": "all", "type": "collection", "entry": entries}


def _assert_valid(resource: dict[str, Any]) -> None:
    parse_payload(canonicalize(resource), max_bytes=1 << 20)


def _allowed(view: str, resource_type: str) -> set[str]:
    """The top-level names the declaration allows, read from the file itself."""
    names = {"resourceType", "id"} | {path.split(".")[0] for path in DECLARED[view][resource_type]}
    return names | {f"_{name}" for name in names}


def _is_allowed(key: str, allowed: set[str]) -> bool:
    choices = [name[: -len("[x]")] for name in allowed if name.endswith("[x]")]
    return key.lstrip("_") in allowed or any(
        key.lstrip("_").startswith(c) and key.lstrip("_")[len(c) : len(c) + 1].isupper()
        for c in choices
    )


def _edited(tmp_path: Path, *edits: tuple[str, str]) -> Path:
    text = VIEWS_PATH.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = tmp_path / "views.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("kind", "purpose", "legal_basis", "expected"),
    [
        (INSURER, Purpose.CLAIM_VERIFICATION, False, "claim"),
        (INSURER, Purpose.TREATMENT, False, None),
        (REGULATOR, Purpose.AUDIT, False, "metadata"),
        (REGULATOR, Purpose.AUDIT, True, "full"),
        (PHARMACY, Purpose.TREATMENT, False, "dispensing"),
        (HOSPITAL, Purpose.TREATMENT, False, "full"),
        (INSURER, Purpose.CLAIM_VERIFICATION, True, "claim"),
        (REGULATOR, Purpose.TREATMENT, True, None),
        (OrgKind.NONE, Purpose.TREATMENT, False, None),
    ],
)
def test_view_for_follows_the_table(
    kind: OrgKind, purpose: Purpose, legal_basis: bool, expected: str | None
) -> None:
    assert view_for(kind, purpose, legal_basis=legal_basis) == expected


@pytest.mark.parametrize("kind", [HOSPITAL, INSURER, PHARMACY, REGULATOR])
def test_research_opens_nothing(kind: OrgKind) -> None:
    assert view_for(kind, Purpose.RESEARCH) is None
    assert view_for(kind, Purpose.RESEARCH, legal_basis=True) is None


@pytest.mark.parametrize("name", PATIENTS)
@pytest.mark.parametrize("view", ["claim", "dispensing"])
def test_a_patient_is_dropped_from_claim_and_dispensing_views(name: str, view: str) -> None:
    assert apply_view(view, _example(name)) is None


def test_claim_view_of_a_condition_keeps_its_code_but_no_notes_or_evidence() -> None:
    condition = _example(CONDITION)
    shaped = apply_view("claim", condition)
    assert shaped is not None
    assert shaped["code"] == condition["code"]
    assert shaped["onsetDateTime"] == condition["onsetDateTime"]
    assert not {"text", "evidence", "note", "identifier", "abatementString"} & shaped.keys()
    assert shaped["subject"] == {"reference": "Patient/f201"}  # "display": "Roel" is gone
    assert "Roel" not in json.dumps(shaped)


@pytest.mark.parametrize("name", PRESCRIPTIONS)
def test_claim_view_of_a_prescription_keeps_the_medication_and_dosage(name: str) -> None:
    request = _example(name)
    shaped = apply_view("claim", request)
    assert shaped is not None
    assert shaped["medicationReference"] == request["medicationReference"]
    assert shaped["dosageInstruction"] == request["dosageInstruction"]
    assert shaped["dispenseRequest"] == request["dispenseRequest"]
    medication = next(r for r in request["contained"] if r["resourceType"] == "Medication")
    assert shaped["contained"] == [medication]
    assert not {"text", "note", "supportingInformation"} & shaped.keys()
    assert "Donald Duck" not in json.dumps(shaped)


def test_dispensing_view_keeps_the_prescription_but_not_its_diagnosis() -> None:
    request = _example("medicationrequest0301")
    shaped = apply_view("dispensing", request)
    assert shaped is not None
    assert shaped["requester"] == request["requester"]  # the pharmacist checks the prescriber
    assert shaped["dosageInstruction"] == request["dosageInstruction"]
    assert not {"reasonCode", "note", "insurance", "encounter", "text"} & shaped.keys()


@pytest.mark.parametrize("name", [CONDITION, OBSERVATION])
def test_dispensing_view_drops_the_medical_record(name: str) -> None:
    assert apply_view("dispensing", _example(name)) is None


def test_claim_view_of_an_observation_keeps_the_test_but_not_its_result() -> None:
    shaped = apply_view("claim", _example(OBSERVATION))
    assert shaped is not None
    assert shaped["code"] == EXAMPLES[OBSERVATION]["code"]
    assert "valueQuantity" not in shaped


def test_metadata_view_shows_no_clinical_content() -> None:
    shaped = apply_view("metadata", _example(CONDITION))
    assert shaped == {
        "resourceType": "Condition",
        "id": "f201",
        "subject": {"reference": "Patient/f201"},
        "encounter": {"reference": "Encounter/f201"},
        "recordedDate": "2013-04-04",
        "recorder": {"reference": "Practitioner/f201"},
    }


@pytest.mark.parametrize("name", [*PRESCRIPTIONS, OBSERVATION])
def test_metadata_view_withholds_what_fhir_cannot_show_without_clinical_content(name: str) -> None:
    assert apply_view("metadata", _example(name)) is None


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("view", ["full", "metadata"])
def test_a_view_is_a_copy(name: str, view: str) -> None:
    resource = _example(name)
    shaped = apply_view(view, resource)
    if view == "full":
        assert shaped == EXAMPLES[name]
    if shaped is not None and "text" in shaped:
        shaped["text"]["status"] = "changed"
    if shaped is not None and "managingOrganization" in shaped:
        shaped["managingOrganization"]["reference"] = "changed"
    assert resource == EXAMPLES[name]


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize("view", VIEWS)
def test_every_surviving_resource_is_valid_fhir(view: str, name: str) -> None:
    shaped = apply_view(view, _example(name))
    if shaped is not None:
        _assert_valid(shaped)
        if view != "full":
            allowed = _allowed(view, shaped["resourceType"])
            assert all(_is_allowed(key, allowed) for key in shaped)


@pytest.mark.parametrize("view", VIEWS)
def test_a_bundle_keeps_its_type_and_the_entries_the_view_keeps(view: str) -> None:
    bundle = _bundle()
    bundle |= {"timestamp": "2024-01-01T00:00:00Z", "identifier": {"value": "national-id-1"}}
    bundle["entry"][0]["request"] = {"method": "POST", "url": "Patient?identifier=1"}
    shaped = apply_view(view, bundle)
    assert shaped is not None
    _assert_valid(shaped)
    expected = [apply_view(view, entry["resource"]) for entry in bundle["entry"]]
    assert [entry["resource"] for entry in shaped["entry"]] == [r for r in expected if r]
    if view != "full":
        assert shaped.keys() == {"resourceType", "id", "type", "entry"}
        assert all(entry.keys() == {"fullUrl", "resource"} for entry in shaped["entry"])


def test_a_bundle_of_nothing_the_view_keeps_has_no_entries() -> None:
    bundle = _bundle()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    shaped = apply_view("claim", bundle)
    assert shaped == {"resourceType": "Bundle", "id": "all", "type": "collection"}


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
_NAMES = st.sampled_from(
    ["text", "note", "name", "address", "telecom", "birthDate", "evidence", "display",
     "identifier", "extension", "contained", "valueString", "_note", "_text", "photo"]
) | st.from_regex(r"_?[a-z][A-Za-z]{0,12}", fullmatch=True)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    name=st.sampled_from([CONDITION, *PRESCRIPTIONS, OBSERVATION, *PATIENTS]),
    extra=st.dictionaries(_NAMES, _JSON, min_size=1, max_size=4),
    in_subject=st.booleans(),
)
def test_elements_outside_the_allow_list_never_survive_the_claim_view(
    name: str, extra: dict[str, Any], in_subject: bool
) -> None:
    resource = _example(name)
    target = resource["subject"] if in_subject and "subject" in resource else resource
    for key, value in extra.items():
        if key not in ("resourceType", "id", "reference"):
            target[key] = value
    shaped = apply_view("claim", resource)
    if shaped is None:
        return
    allowed = _allowed("claim", resource["resourceType"])
    assert all(_is_allowed(key, allowed) for key in shaped)
    assert set(shaped.get("subject", {})) <= {"reference", "_reference"}
    assert not {"text", "note", "name", "telecom", "address", "birthDate"} & shaped.keys()


def test_a_modifier_extension_the_view_does_not_keep_withholds_the_resource() -> None:
    condition = _example(CONDITION)
    condition["modifierExtension"] = [{"url": "http://example.org/negated", "valueBoolean": True}]
    assert apply_view("claim", condition) is None
    assert apply_view("full", condition) == condition


def test_a_modifier_extension_in_a_part_named_by_parts_drops_that_part() -> None:
    condition = _example(CONDITION)
    condition["encounter"]["modifierExtension"] = [{"url": "http://example.org/m"}]
    shaped = apply_view("claim", condition)
    assert shaped is not None
    assert "encounter" not in shaped


def test_a_subject_without_a_literal_reference_withholds_the_resource() -> None:
    condition = _example(CONDITION)
    condition["subject"] = {"identifier": {"system": "urn:oid:2.16.156", "value": "110101"}}
    assert apply_view("claim", condition) is None


def test_a_contained_resource_nothing_kept_points_to_is_dropped() -> None:
    request = _example("medicationrequest0302")
    request["medicationCodeableConcept"] = {"text": "aspirin"}
    del request["medicationReference"]
    shaped = apply_view("claim", request)
    assert shaped is not None
    assert "contained" not in shaped
    _assert_valid(shaped)


def test_the_declaration_file_is_the_single_source(tmp_path: Path) -> None:
    segmentation = load_segmentation(
        _edited(
            tmp_path,
            ('Condition = [\n    "clinicalStatus",', 'Condition = [\n    "note",'),
            ('[access.insurer]\ntreatment = "none"', '[access.insurer]\ntreatment = "claim"'),
        )
    )
    condition = _example(CONDITION)
    condition["note"] = [{"text": "now declared"}]
    shaped = segmentation.apply_view("claim", condition)
    assert shaped is not None
    assert shaped["note"] == condition["note"]
    assert "clinicalStatus" not in shaped
    assert segmentation.view_for(INSURER, Purpose.TREATMENT) == "claim"
    shipped = apply_view("claim", condition)
    assert shipped is not None
    assert "note" not in shipped
    assert "clinicalStatus" in shipped
    assert view_for(INSURER, Purpose.TREATMENT) is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("\n[views]\n", "\n[views\n", "views.toml"),
        ("\n[views]\n", "\n[viewz]\n", "viewz"),
        ('"bodySite", "onset[x]"', '"bodySite", "onsett[x]"', "onsett[x]"),
        (
            'Coverage = [\n    "status", "beneficiary.reference", "payor.reference",  # required\n'
            '    "identifier"',
            'Coverag = [\n    "identifier"',
            "Coverag",
        ),
        (
            '    "subject.reference",    # required; the literal reference only\n',
            "",
            "out required subject",
        ),
        ('"status", "medication[x]",  # required\n    "contained"', '"contained"', "required"),
        ('research = "none"\n\n[access.insurer]', "\n[access.insurer]", "hospital.research"),
        ('audit = "full"', 'audit = "everything"', "everything"),
        ('audit = "full"', 'auditing = "full"', "auditing"),
        ('"entry.fullUrl", "entry.resource"]  # type', '"entry"]  # type', "holds resources"),
        ('"recordedDate",\n    "subject', '"recordedDate.value",\n    "subject', "primitive"),
        ('"entry.resource"]  # type', '"entry.resource.id"]  # type', "name it whole"),
        ('full = "*"', 'full = "all"', "full"),
        (
            'Medication = ["code", "status", "form"',
            'Dosage = ["text"]\nMedication = ["code"',
            "Dosage",
        ),
    ],
)
def test_a_malformed_declaration_is_a_config_error(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_segmentation(_edited(tmp_path, (old, new)))


def test_a_missing_declaration_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"views\.toml"):
        load_segmentation(tmp_path / "views.toml")


def test_an_unknown_view_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="research"):
        apply_view("research", _example(CONDITION))
