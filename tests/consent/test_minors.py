"""The age a gateway reads from FHIR content, for the rule that a young child is seen online only
with a guardian: whole years on the local day of the consultation, partial dates read young."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ledger.consent.minors import (
    age_on,
    birth_date,
    consultation_start,
    is_online_consultation,
)
from ledger.settings import Settings

SHANGHAI = ZoneInfo("Asia/Shanghai")


def patient(born: str) -> dict[str, object]:
    return {"resourceType": "Patient", "birthDate": born}


@pytest.mark.parametrize(
    ("born", "day", "age"),
    [
        (date(2020, 6, 15), date(2026, 6, 14), 5),
        (date(2020, 6, 15), date(2026, 6, 15), 6),
        (date(2020, 2, 29), date(2026, 2, 28), 5),
        (date(2020, 2, 29), date(2026, 3, 1), 6),
    ],
)
def test_age_is_whole_years_on_the_day(born: date, day: date, age: int) -> None:
    assert age_on(born, day) == age


def test_the_local_day_decides_a_birthday_across_midnight() -> None:
    """16:30 UTC on the eve of the sixth birthday is already the birthday in Shanghai."""
    at = datetime(2026, 6, 14, 16, 30, tzinfo=UTC)
    born = date(2020, 6, 15)
    assert age_on(born, at.astimezone(SHANGHAI).date()) == 6
    assert age_on(born, at.date()) == 5


@pytest.mark.parametrize(
    ("raw", "read"),
    [
        ("2020-06-15", date(2020, 6, 15)),
        ("2020-06", date(2020, 6, 30)),
        ("2020", date(2020, 12, 31)),
        ("2020-02", date(2020, 2, 29)),
    ],
)
def test_a_partial_birth_date_is_read_as_its_last_possible_day(raw: str, read: date) -> None:
    assert birth_date([patient(raw)]) == read


def test_the_birth_date_is_found_in_a_bundle_or_contained_and_only_on_a_patient() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"resource": {"resourceType": "RelatedPerson", "birthDate": "1990-01-01"}},
            {"resource": patient("2022-03-04")},
        ],
    }
    contained = {"resourceType": "MedicationRequest", "contained": [patient("2021-01-01")]}
    assert birth_date([bundle]) == date(2022, 3, 4)
    assert birth_date([contained]) == date(2021, 1, 1)
    assert birth_date([{"resourceType": "RelatedPerson", "birthDate": "1990-01-01"}]) is None
    assert birth_date([patient("not a date")]) is None


def test_only_a_virtual_encounter_is_an_online_consultation() -> None:
    virtual = {
        "resourceType": "Encounter",
        "class": {"code": "VR"},
        "period": {"start": "2026-01-02T09:00:00+08:00"},
    }
    in_person = {"resourceType": "Encounter", "class": {"code": "AMB"}}
    assert is_online_consultation({"resourceType": "Bundle", "entry": [{"resource": virtual}]})
    assert not is_online_consultation(in_person)
    assert consultation_start(virtual) == datetime(2026, 1, 2, 1, 0, tzinfo=UTC)
    assert (
        consultation_start({"resourceType": "Encounter", "period": {"start": "2026-01-02"}}) is None
    )


def test_the_age_threshold_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().online_min_age_without_guardian == 6
    monkeypatch.setenv("MEDLEDGER_ONLINE_MIN_AGE_WITHOUT_GUARDIAN", "14")
    assert Settings().online_min_age_without_guardian == 14


@pytest.mark.parametrize(
    "content",
    [
        {"resourceType": "Bundle", "entry": 5},
        {"resourceType": "Bundle", "entry": [5, {"resource": "x"}]},
        {"resourceType": "Encounter", "class": "VR", "period": "today"},
        {"resourceType": "Encounter", "class": {"code": ["VR"]}},
        {"resourceType": "Patient", "contained": 7, "birthDate": 19},
        {"resourceType": "Encounter", "period": {"start": "0001-01-01T00:00:00+14:00"}},
        {"resourceType": "Encounter", "period": {"start": "9999-12-31T23:00:00-05:00"}},
    ],
)
def test_content_not_of_fhirs_shape_is_skipped_not_an_error(content: dict[str, object]) -> None:
    """The gateway reads the age before the record book validates the content."""
    assert birth_date([content]) is None
    assert not is_online_consultation(content)
    assert consultation_start(content) is None
