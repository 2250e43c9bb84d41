"""Retention of medical records (Measures for the Administration of Medical Records in Medical
Institutions, 2013, art. 29; 2018 internet diagnosis measures art. 22): what class a record is and
from when its period counts, read from its FHIR content at anchoring; the writing gateway's index of
every version it anchored and until when it must be kept; and a patient's erasure, refused within
the period and, after it, done by destroying the patient's key-encryption key at this hospital.

A record's class comes from its Encounters' ``class`` (v3 ActCode): inpatient codes (IMP, ACUTE,
NONAC, SS, OBSENC, PRENC) count 30 years from the last discharge (``period.end``), virtual (VR) is
an internet consultation record, anything else outpatient, each counted from the last visit. An
audio or video ``Media`` (or ``DocumentReference`` attachment) is a recording. A record with none of
these is unclassified and kept as long as the longest class, from its anchoring.
"""

from __future__ import annotations

import calendar
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError

__all__ = [
    "RecordClass",
    "Retained",
    "RetentionIndex",
    "RetentionPeriods",
    "RetentionRunning",
    "classify",
    "retained_until",
]

_INPATIENT = frozenset({"IMP", "ACUTE", "NONAC", "SS", "OBSENC", "PRENC"})
_VIRTUAL = frozenset({"VR"})


class RecordClass(StrEnum):
    """What kind of record a version is, for how long it is kept."""

    OUTPATIENT = "outpatient"
    INPATIENT = "inpatient"
    INTERNET = "internet"
    RECORDING = "recording"
    UNCLASSIFIED = "unclassified"


#: Why each class is kept as long as it is: the rule an erasure refusal names.
RULES: dict[RecordClass, str] = {
    RecordClass.OUTPATIENT: "outpatient records are kept {years} years after the last visit "
    "(medical records measures 2013, art. 29)",
    RecordClass.INPATIENT: "inpatient records are kept {years} years after the last discharge "
    "(medical records measures 2013, art. 29)",
    RecordClass.INTERNET: "internet consultation records are kept {years} years "
    "(internet diagnosis measures 2018, art. 22)",
    RecordClass.RECORDING: "consultation recordings are kept {years} years "
    "(internet diagnosis supervision rules 2022)",
    RecordClass.UNCLASSIFIED: "a record of no known class is kept as long as the longest class, "
    "{years} years from its anchoring",
}


@dataclass(frozen=True)
class RetentionPeriods:
    """The years each class is kept (settings ``MEDLEDGER_RETENTION_*_YEARS``)."""

    outpatient: int = 15
    inpatient: int = 30
    internet: int = 15
    recording: int = 3

    def years(self, record_class: RecordClass) -> int:
        if record_class is RecordClass.UNCLASSIFIED:
            return self.longest
        return int(getattr(self, record_class.value))

    @property
    def longest(self) -> int:
        return max(self.outpatient, self.inpatient, self.internet, self.recording)


class RetentionRunning(LedgerError):
    """The patient's records are within their retention period: erasure is refused until it ends."""

    code = "retention.period_running"

    def __init__(self, retained: Retained, years: int) -> None:
        self.retained = retained
        ends = datetime.fromtimestamp(retained.until, UTC).date().isoformat()
        rule = RULES[retained.record_class].format(years=years)
        super().__init__(
            f"erasure refused: {rule}; record 0x{retained.record_id.hex()} version "
            f"{retained.version} is kept until {ends}"
        )


@dataclass(frozen=True)
class Retained:
    """One anchored version and until when (Unix seconds) it must be kept (patient lowercased)."""

    record_id: bytes
    version: int
    cid: str
    patient: str
    record_class: RecordClass
    counted_from: int
    until: int


def classify(resource: dict[str, Any], anchored_at: int) -> tuple[RecordClass, int]:
    """The record's class and the Unix second its retention counts from."""
    resources = list(_resources(resource))
    if any(_is_recording(r) for r in resources):
        return RecordClass.RECORDING, _recorded_at(resources, anchored_at)
    encounters = [r for r in resources if r.get("resourceType") == "Encounter"]
    if not encounters:
        return RecordClass.UNCLASSIFIED, anchored_at
    codes = {(e.get("class") or {}).get("code") for e in encounters}
    if codes & _INPATIENT:
        record_class = RecordClass.INPATIENT
    elif codes <= _VIRTUAL:
        record_class = RecordClass.INTERNET
    else:
        record_class = RecordClass.OUTPATIENT
    moments = [_period_last(e.get("period") or {}) for e in encounters]
    known = [m for m in moments if m is not None]
    return record_class, max(known) if known else anchored_at


def retained_until(counted_from: int, years: int) -> int:
    """``years`` calendar years after ``counted_from`` (29 February falls on 28 February)."""
    start = datetime.fromtimestamp(counted_from, UTC)
    year = start.year + years
    day = min(start.day, calendar.monthrange(year, start.month)[1])
    return int(start.replace(year=year, day=day).timestamp())


def _resources(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield resource
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry") or ():
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict):
                yield inner
    for contained in resource.get("contained") or ():
        if isinstance(contained, dict):
            yield contained


def _is_recording(resource: dict[str, Any]) -> bool:
    kind = resource.get("resourceType")
    if kind == "Media":
        attachments = [resource.get("content") or {}]
    elif kind == "DocumentReference":
        attachments = [(c or {}).get("attachment") or {} for c in resource.get("content") or ()]
    else:
        return False
    return any(str(a.get("contentType", "")).startswith(("audio/", "video/")) for a in attachments)


def _recorded_at(resources: list[dict[str, Any]], anchored_at: int) -> int:
    for r in resources:
        for field in ("createdDateTime", "issued", "date"):
            moment = _moment(r.get(field))
            if moment is not None:
                return moment
    return anchored_at


def _period_last(period: dict[str, Any]) -> int | None:
    return _moment(period.get("end")) or _moment(period.get("start"))


def _moment(value: object) -> int | None:
    """A FHIR date or dateTime as Unix seconds; a partial date counts from its last day."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 4:
            value = f"{value}-12-31"
        elif len(value) == 7:
            year, month = int(value[:4]), int(value[5:7])
            value = f"{value}-{calendar.monthrange(year, month)[1]:02d}"
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


class RetentionIndex:
    """The writing gateway's index: every version it anchored, its class and its end of retention;
    and the patients whose keys it destroyed. SQLite in the gateway's data directory."""

    def __init__(self, path: Path, periods: RetentionPeriods) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.periods = periods
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(
            """
            CREATE TABLE IF NOT EXISTS retained (
                record_id BLOB NOT NULL, version INTEGER NOT NULL, cid TEXT NOT NULL,
                patient TEXT NOT NULL, class TEXT NOT NULL, counted_from INTEGER NOT NULL,
                until INTEGER NOT NULL, PRIMARY KEY (record_id, version));
            CREATE INDEX IF NOT EXISTS retained_patient ON retained (patient);
            CREATE INDEX IF NOT EXISTS retained_cid ON retained (cid);
            CREATE TABLE IF NOT EXISTS erasures (
                patient TEXT PRIMARY KEY, erased_at INTEGER NOT NULL);
            """
        )

    def note(
        self,
        *,
        record_id: bytes,
        version: int,
        cid: str,
        patient: str,
        resource: dict[str, Any],
        anchored_at: int | None = None,
    ) -> Retained:
        """Index a version this gateway anchored, classified from its FHIR ``resource``."""
        at = int(time.time()) if anchored_at is None else anchored_at
        record_class, counted_from = classify(resource, at)
        until = retained_until(counted_from, self.periods.years(record_class))
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO retained VALUES (?, ?, ?, ?, ?, ?, ?)",
                (record_id, version, cid, patient.lower(), record_class.value, counted_from, until),
            )
        return Retained(record_id, version, cid, patient, record_class, counted_from, until)

    def note_unclassified(self, versions: list[tuple[bytes, int, str, str]]) -> None:
        """Index many ``(record id, version, cid, patient)`` at once, unread: each kept as long as
        the longest class, from now (bulk writes, whose content this process never parses)."""
        at = int(time.time())
        until = retained_until(at, self.periods.longest)
        rows = [
            (rid, version, cid, patient.lower(), RecordClass.UNCLASSIFIED.value, at, until)
            for rid, version, cid, patient in versions
        ]
        # One transaction: in autocommit each row would be a commit of its own (a WAL write and
        # sync a version, ~140 us of CPU and ~2 ms a row: most of a bulk request's gateway time).
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT OR REPLACE INTO retained VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def held_until(self, cid: str) -> int | None:
        """Until when ``cid`` must be kept, if this gateway anchored it."""
        with self._lock:
            row = self._db.execute(
                "SELECT MAX(until) FROM retained WHERE cid = ?", (cid,)
            ).fetchone()
        return None if row[0] is None else int(row[0])

    def longest_for(self, patient: str) -> Retained | None:
        """The patient's version kept longest, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT record_id, version, cid, patient, class, counted_from, until "
                "FROM retained WHERE patient = ? ORDER BY until DESC LIMIT 1",
                (patient.lower(),),
            ).fetchone()
        if row is None:
            return None
        return Retained(bytes(row[0]), row[1], row[2], row[3], RecordClass(row[4]), row[5], row[6])

    def versions_of(self, patient: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM retained WHERE patient = ?", (patient.lower(),)
            ).fetchone()
        return int(row[0])

    def check_erasable(self, patient: str, now: int) -> None:
        """RetentionRunning unless every version of ``patient``'s has passed its retention."""
        longest = self.longest_for(patient)
        if longest is not None and longest.until > now:
            raise RetentionRunning(longest, self.periods.years(longest.record_class))

    def mark_erased(self, patient: str, at: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO erasures VALUES (?, ?)", (patient.lower(), at))

    def erased_at(self, patient: str) -> int | None:
        with self._lock:
            row = self._db.execute(
                "SELECT erased_at FROM erasures WHERE patient = ?", (patient.lower(),)
            ).fetchone()
        return None if row is None else int(row[0])

    def close(self) -> None:
        self._db.close()
