"""ledger.prescribing.status, .practice and .reasons: the contracts' enums mirrored in order, the
FHIR MedicationRequest.status of each prescription status, and reason codes as bytes32."""

from __future__ import annotations

import re
from enum import IntEnum
from pathlib import Path
from typing import get_args

import pytest

from ledger.prescribing import (
    FHIR_STATUS,
    FhirStatus,
    FilingStatus,
    PrescriptionStatus,
    RegistrationStatus,
    decode_reason,
    encode_reason,
    fhir_status,
)

INTERFACES = Path(__file__).resolve().parents[2] / "contracts" / "interfaces"
#: FHIR R4 value set http://hl7.org/fhir/ValueSet/medicationrequest-status, in its order.
MEDICATION_REQUEST_STATUS = (
    "active",
    "on-hold",
    "cancelled",
    "completed",
    "entered-in-error",
    "stopped",
    "draft",
    "unknown",
)


def _solidity_enum(interface: str, name: str) -> list[str]:
    source = (INTERFACES / interface).read_text()
    match = re.search(rf"enum {name} \{{([^}}]*)\}}", source)
    assert match is not None, f"no enum {name} in {interface}"
    return [member.strip() for member in match.group(1).split(",")]


def _upper_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


@pytest.mark.parametrize(
    ("interface", "name", "mirror"),
    [
        ("IPrescriptionRegistry.sol", "Status", PrescriptionStatus),
        ("IPracticeRegistry.sol", "RegistrationStatus", RegistrationStatus),
        ("IPracticeRegistry.sol", "FilingStatus", FilingStatus),
    ],
)
def test_python_enums_mirror_the_contracts_in_order(
    interface: str, name: str, mirror: type[IntEnum]
) -> None:
    members = _solidity_enum(interface, name)
    assert [_upper_snake(m) for m in members] == [m.name for m in mirror]
    assert [m.value for m in mirror] == list(range(len(members)))


# FHIR status


def test_the_fhir_status_type_is_the_r4_value_set() -> None:
    assert get_args(FhirStatus) == MEDICATION_REQUEST_STATUS


@pytest.mark.parametrize(
    ("status", "fhir"),
    [
        (PrescriptionStatus.PENDING, "draft"),
        (PrescriptionStatus.APPROVED, "active"),
        (PrescriptionStatus.REJECTED, "stopped"),
        (PrescriptionStatus.CANCELLED, "cancelled"),
        (PrescriptionStatus.DISPENSED, "completed"),
    ],
)
def test_each_status_maps_onto_fhir_while_in_force(
    status: PrescriptionStatus, fhir: FhirStatus
) -> None:
    assert fhir_status(status, expired=False) == fhir
    assert FHIR_STATUS[status] == fhir


@pytest.mark.parametrize("status", [PrescriptionStatus.PENDING, PrescriptionStatus.APPROVED])
def test_a_prescription_that_lapsed_before_dispense_is_stopped(
    status: PrescriptionStatus,
) -> None:
    assert fhir_status(status, expired=True) == "stopped"


@pytest.mark.parametrize(
    ("status", "fhir"),
    [
        (PrescriptionStatus.REJECTED, "stopped"),
        (PrescriptionStatus.CANCELLED, "cancelled"),
        (PrescriptionStatus.DISPENSED, "completed"),
    ],
)
def test_a_closed_prescription_keeps_its_status_after_expiry(
    status: PrescriptionStatus, fhir: FhirStatus
) -> None:
    assert fhir_status(status, expired=True) == fhir


def test_every_issued_status_has_a_fhir_status() -> None:
    assert set(FHIR_STATUS) == set(PrescriptionStatus) - {PrescriptionStatus.NONE}


def test_a_prescription_never_issued_has_no_fhir_status() -> None:
    with pytest.raises(ValueError, match="never issued"):
        fhir_status(PrescriptionStatus.NONE, expired=False)


def test_the_map_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        FHIR_STATUS[PrescriptionStatus.PENDING] = "active"  # type: ignore[index]


# Reason codes


@pytest.mark.parametrize("code", ["a", "controlled-online", "rule.v2", "x" * 32])
def test_a_reason_code_round_trips(code: str) -> None:
    raw = encode_reason(code)
    assert len(raw) == 32
    assert raw.startswith(code.encode())
    assert decode_reason(raw) == code


@pytest.mark.parametrize(
    "code",
    ["", "x" * 33, "Controlled", "dose too high", "-leading", "剂量", "a\0b"],
    ids=["empty", "too-long", "uppercase", "space", "leading-dash", "non-ascii", "nul"],
)
def test_text_that_is_no_reason_code_is_refused(code: str) -> None:
    with pytest.raises(ValueError, match="not a reason code"):
        encode_reason(code)


def test_zero_bytes_decode_as_no_reason() -> None:
    assert decode_reason(bytes(32)) is None


@pytest.mark.parametrize(
    "raw",
    [b"short", b"Free Text".ljust(32, b"\0"), b"\xff" * 32],
    ids=["wrong-length", "not-a-code", "not-ascii"],
)
def test_bytes_that_hold_no_reason_code_are_refused(raw: bytes) -> None:
    with pytest.raises(ValueError, match="reason"):
        decode_reason(raw)
