"""Prescription statuses as the PrescriptionRegistry contract keeps them, and their FHIR R4
MedicationRequest.status.

| contract status | FHIR status | why |
| --- | --- | --- |
| Pending | draft | awaiting the pharmacist: "not yet actionable ... requires ... verification" |
| Approved | active | a pharmacy may dispense it |
| Rejected | stopped | halted for good by the pharmacist, before anything was dispensed |
| Cancelled | cancelled | withdrawn by the prescriber before dispense |
| Dispensed | completed | everything it asked for has happened |
| Pending or Approved, past ``expires_at`` | stopped | lapsed before dispense |

Nothing the contract does yields ``on-hold`` (no suspension) or ``entered-in-error`` (no voiding).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType
from typing import Final, Literal

__all__ = ["FHIR_STATUS", "FhirStatus", "PrescriptionStatus", "fhir_status"]

FhirStatus = Literal[
    "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown"
]
"""FHIR R4 MedicationRequest.status (value set ``medicationrequest-status``)."""


class PrescriptionStatus(IntEnum):
    """``IPrescriptionRegistry.Status``, in the contract's order."""

    NONE = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3
    CANCELLED = 4
    DISPENSED = 5


FHIR_STATUS: Final[Mapping[PrescriptionStatus, FhirStatus]] = MappingProxyType(
    {
        PrescriptionStatus.PENDING: "draft",
        PrescriptionStatus.APPROVED: "active",
        PrescriptionStatus.REJECTED: "stopped",
        PrescriptionStatus.CANCELLED: "cancelled",
        PrescriptionStatus.DISPENSED: "completed",
    }
)
"""The FHIR status of each contract status while the prescription has not expired."""

_LAPSES = frozenset({PrescriptionStatus.PENDING, PrescriptionStatus.APPROVED})


def fhir_status(status: PrescriptionStatus, *, expired: bool) -> FhirStatus:
    """The FHIR MedicationRequest.status of a prescription in ``status``.

    ``expired`` is whether its ``expires_at`` has passed (see ``validity.is_valid``). ValueError for
    ``NONE``: a prescription never issued has no status.
    """
    if status is PrescriptionStatus.NONE:
        raise ValueError("a prescription that was never issued has no status")
    if expired and status in _LAPSES:
        return "stopped"
    return FHIR_STATUS[status]
