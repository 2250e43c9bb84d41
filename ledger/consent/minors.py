"""A child under six is seen online only with a guardian (2018 internet diagnosis measures): the
age from ``Patient.birthDate`` in FHIR content, on the local day of the consultation, and the chain
asked whether a guardian's appointment is in force. A gateway rule: the chain holds no birth
date."""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ledger.consent.agents import guardian_in_force
from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.chain.connection import Chain

__all__ = [
    "GuardianRequired",
    "age_on",
    "birth_date",
    "consultation_start",
    "is_online_consultation",
    "require_guardian_if_young",
]

#: FHIR v3 ActCode encounter classes that are not an in-person visit.
_VIRTUAL_CLASSES = frozenset({"VR"})


class GuardianRequired(LedgerError):
    """The patient is under MEDLEDGER_ONLINE_MIN_AGE_WITHOUT_GUARDIAN and no guardian's
    appointment is in force: they may not be seen online."""

    code = "consent.guardian_required"


def resources(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``resource``, every resource in it if a Bundle (nested too), and every contained one.

    Read before the content is validated (the gateway checks the age first): anything not of
    FHIR's shape is skipped here and refused by the validation after.
    """
    yield resource
    yield from (r for r in _list(resource.get("contained")) if isinstance(r, dict))
    if resource.get("resourceType") == "Bundle":
        for entry in _list(resource.get("entry")):
            inner = entry.get("resource") if isinstance(entry, dict) else None
            if isinstance(inner, dict):
                yield from resources(inner)


def birth_date(contents: Iterable[dict[str, Any]]) -> date | None:
    """The first ``Patient.birthDate`` in ``contents``; None if none states one.

    A partial date (``2021``, ``2021-05``) is read as its last possible day: a child who may be
    under the age counts as under it.
    """
    for content in contents:
        for found in resources(content):
            raw = found.get("birthDate") if found.get("resourceType") == "Patient" else None
            if isinstance(raw, str):
                return _latest_day(raw)
    return None


def age_on(born: date, day: date) -> int:
    """Whole years from ``born`` to ``day``; a 29 February birthday falls on 1 March."""
    years = day.year - born.year
    return years - 1 if (day.month, day.day) < (born.month, born.day) else years


def is_online_consultation(content: dict[str, Any]) -> bool:
    """Whether ``content`` records a virtual encounter (class ``VR``): an online consultation."""
    return any(
        r.get("resourceType") == "Encounter"
        and str(_dict(r.get("class")).get("code")) in _VIRTUAL_CLASSES
        for r in resources(content)
    )


def require_guardian_if_young(
    chain: Chain,
    patient: str,
    contents: Iterable[dict[str, Any]],
    *,
    at: datetime,
    zone: ZoneInfo,
    min_age: int,
) -> str | None:
    """Refuse (GuardianRequired) to see ``patient`` online at ``at`` if the birth date in
    ``contents`` makes them younger than ``min_age`` on that local day in ``zone`` and no guardian's
    appointment for them is in force then; the guardian's appointment id when one let it through.

    Content that states no birth date passes: the gateway cannot tell the age (docs/rules.md).
    """
    born = birth_date(contents)
    if born is None or age_on(born, at.astimezone(zone).date()) >= min_age:
        return None
    appointment = guardian_in_force(chain, patient, int(at.timestamp()))
    if appointment is None:
        raise GuardianRequired(
            f"patient {patient} is under {min_age} on {at.astimezone(zone).date()} "
            f"({zone.key}): seen online only with a guardian, and none is appointed in force"
        )
    return appointment


def consultation_start(content: dict[str, Any]) -> datetime | None:
    """When the virtual encounter in ``content`` began (``Encounter.period.start``), if stated
    with a time zone."""
    for r in resources(content):
        if r.get("resourceType") != "Encounter":
            continue
        start = _dict(r.get("period")).get("start")
        try:
            when = datetime.fromisoformat(start) if isinstance(start, str) else None
        except ValueError:
            continue
        if when is not None and when.tzinfo is not None and 1 < when.year < 9999:
            return when.astimezone(UTC)
    return None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _latest_day(raw: str) -> date | None:
    parts = raw.split("T")[0].split("-")
    try:
        year = int(parts[0])
        month = int(parts[1]) if len(parts) > 1 else 12
        day = int(parts[2]) if len(parts) > 2 else calendar.monthrange(year, month)[1]
        return date(year, month, day)
    except (ValueError, IndexError):
        return None
