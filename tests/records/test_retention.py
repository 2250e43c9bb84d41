"""ledger.records.retention: a record's class and the moment its retention counts from, read from
its FHIR content; the index's answers; calendar years."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.records.retention import (
    RecordClass,
    RetentionIndex,
    RetentionPeriods,
    RetentionRunning,
    classify,
    retained_until,
)

ANCHORED = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
PATIENT = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2"


def _at(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def _encounter(code: str, **period: str) -> dict[str, Any]:
    return {"resourceType": "Encounter", "class": {"code": code}, "period": period}


def _bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "entry": [{"resource": r} for r in resources]}


@pytest.mark.parametrize(
    ("code", "record_class"),
    [
        ("AMB", RecordClass.OUTPATIENT),
        ("EMER", RecordClass.OUTPATIENT),
        ("IMP", RecordClass.INPATIENT),
        ("ACUTE", RecordClass.INPATIENT),
        ("VR", RecordClass.INTERNET),
    ],
)
def test_the_encounter_class_decides(code: str, record_class: RecordClass) -> None:
    resource = _encounter(code, start="2020-03-01T08:00:00+08:00", end="2020-03-04T10:00:00+08:00")
    assert classify(resource, ANCHORED) == (record_class, _at("2020-03-04T10:00:00+08:00"))


def test_an_inpatient_stay_among_visits_makes_the_record_inpatient_from_the_last_one() -> None:
    resource = _bundle(
        _encounter("IMP", start="2019-01-01", end="2019-01-10"),
        _encounter("AMB", start="2021-06-01"),
    )
    assert classify(resource, ANCHORED) == (RecordClass.INPATIENT, _at("2021-06-01T00:00:00+00:00"))


def test_a_virtual_visit_with_an_outpatient_one_is_outpatient() -> None:
    resource = _bundle(_encounter("VR", start="2021-01-01"), _encounter("AMB", start="2021-02-01"))
    assert classify(resource, ANCHORED)[0] is RecordClass.OUTPATIENT


def test_an_audio_recording_is_a_recording() -> None:
    media = {
        "resourceType": "Media",
        "createdDateTime": "2024-05-05T10:00:00Z",
        "content": {"contentType": "audio/ogg"},
    }
    assert classify(media, ANCHORED) == (RecordClass.RECORDING, _at("2024-05-05T10:00:00+00:00"))


def test_a_partial_date_counts_from_its_last_day() -> None:
    assert classify(_encounter("AMB", start="2020-02"), ANCHORED)[1] == _at(
        "2020-02-29T00:00:00+00:00"
    )


def test_no_encounter_is_unclassified_from_its_anchoring() -> None:
    assert classify({"resourceType": "Observation"}, ANCHORED) == (
        RecordClass.UNCLASSIFIED,
        ANCHORED,
    )


def test_calendar_years_and_a_leap_day() -> None:
    assert retained_until(_at("2020-02-29T12:00:00+00:00"), 15) == _at("2035-02-28T12:00:00+00:00")
    assert retained_until(_at("2021-06-01T00:00:00+00:00"), 30) == _at("2051-06-01T00:00:00+00:00")


def test_the_index_refuses_erasure_until_the_longest_ends(tmp_path: Path) -> None:
    index = RetentionIndex(tmp_path / "r.sqlite", RetentionPeriods(outpatient=15, recording=3))
    try:
        short = {
            "resourceType": "Media",
            "createdDateTime": "2020-01-01",
            "content": {"contentType": "video/mp4"},
        }
        index.note(record_id=bytes(32), version=1, cid="bafy1", patient=PATIENT, resource=short)
        long = _encounter("AMB", start="2020-01-01")
        index.note(record_id=bytes(32), version=2, cid="bafy2", patient=PATIENT, resource=long)
        ends = _at("2035-01-01T00:00:00+00:00")
        with pytest.raises(RetentionRunning, match="15 years after the last visit") as info:
            index.check_erasable(PATIENT.lower(), ends - 1)
        assert "kept until 2035-01-01" in str(info.value)
        assert info.value.code == "retention.period_running"
        index.check_erasable(PATIENT, ends)
        assert index.held_until("bafy1") == _at("2023-01-01T00:00:00+00:00")
        assert index.held_until("unknown") is None
    finally:
        index.close()
