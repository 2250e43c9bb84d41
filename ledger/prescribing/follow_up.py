"""What makes a record a valid follow-up basis for an online prescription, beyond what the chain
sees: it shows a diagnosis (a Condition), made at an offline visit (no virtual encounter)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ledger.errors import LedgerError

__all__ = ["FollowUpNotDiagnosis", "FollowUpNotOffline", "check_follow_up"]


class FollowUpNotDiagnosis(LedgerError):
    """The follow-up record holds no diagnosis (Condition), so it proves no earlier visit."""

    code = "prescription.follow_up_not_diagnosis"


class FollowUpNotOffline(FollowUpNotDiagnosis):
    """The follow-up record is of a virtual (online) encounter: internet hospitals may follow up
    only a diagnosis first made in person."""

    code = "prescription.follow_up_not_offline"


#: FHIR v3 ActCode encounter classes that are not an in-person visit.
_VIRTUAL_CLASSES = frozenset({"VR"})


def check_follow_up(record_id: bytes, resource: dict[str, Any]) -> None:
    """Raise unless ``resource`` (a record's first version) shows a diagnosis made offline."""
    if not any(r.get("resourceType") == "Condition" for r in _resources(resource)):
        raise FollowUpNotDiagnosis(
            f"record 0x{record_id.hex()} holds no Condition: it does not show a diagnosis"
        )
    if any(_is_virtual(r) for r in _resources(resource)):
        raise FollowUpNotOffline(
            f"record 0x{record_id.hex()} is of a virtual encounter, not an offline visit"
        )


def _resources(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``resource`` and, for a Bundle, every resource in it (nested Bundles too)."""
    yield resource
    if resource.get("resourceType") == "Bundle":
        for entry in resource.get("entry", ()):
            yield from _resources(entry.get("resource") or {})


def _is_virtual(resource: dict[str, Any]) -> bool:
    if resource.get("resourceType") != "Encounter":
        return False
    encounter_class = resource.get("class") or {}
    return encounter_class.get("code") in _VIRTUAL_CLASSES
