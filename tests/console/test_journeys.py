"""The console's journeys in Debian's Chromium against the real stack (issue #15): each runs a
console/e2e/*.test.mjs script and leaves its screenshots under test-artifacts/console/<name>/."""

from __future__ import annotations

import pytest

from tests.console.conftest import ARTIFACTS, Stack, run_journey


@pytest.mark.timeout(600)
def test_the_shell_is_chinese_first_switches_to_english_and_serves_docs_offline(
    stack: Stack,
) -> None:
    run_journey(stack, "shell")
    shots = sorted(p.name for p in (ARTIFACTS / "shell").glob("*.png"))
    assert len(shots) == 4, shots


@pytest.mark.timeout(600)
def test_a_pharmacy_dispenses_and_a_second_pharmacy_is_refused(stack: Stack) -> None:
    run_journey(stack, "pharmacy")
    shots = sorted(p.name for p in (ARTIFACTS / "pharmacy").glob("*.png"))
    assert len(shots) == 8, shots
    assert shots[-2].endswith("pharmacy-b-refused.png"), shots


@pytest.mark.timeout(600)
def test_the_regulator_approves_a_filing_with_a_reason_and_audits_a_trail(stack: Stack) -> None:
    run_journey(stack, "regulator")
    shots = sorted(p.name for p in (ARTIFACTS / "regulator").glob("*.png"))
    assert len(shots) == 13, shots
    assert any("filing-approved" in s for s in shots)
    assert any("trail-hospital-a" in s for s in shots)


@pytest.mark.timeout(600)
def test_a_patient_keys_enrols_reads_grants_revokes_and_sees_the_insurer_refused(
    stack: Stack,
) -> None:
    run_journey(stack, "patient")
    shots = sorted(p.name for p in (ARTIFACTS / "patient").glob("*.png"))
    assert len(shots) == 10, shots
    assert shots[7].endswith("who-accessed.png"), shots
