"""Retention and erasure through the real gateways over HTTP: a record's class and the moment its
period counts from are read from its FHIR Encounter at anchoring; a patient's erasure request is
refused within the period with the rule and the date it ends, and after it the writing hospital
destroys the patient's key-encryption key: the record no longer opens there, while its anchor,
its ciphertext and the patient's own wrap remain."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger.crypto.envelope import kek_label, open_envelope, parse_envelope
from ledger.gateway.client import GatewayError
from tests.world import Patient, World, anchor, fhir

OBSERVATION = fhir("observation-example.json")


def _visit(klass: str, ended: datetime) -> dict[str, Any]:
    """A Bundle of one Encounter of ``klass`` (v3 ActCode) that ended at ``ended``, and a result."""
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": klass},
        "period": {
            "start": (ended - timedelta(days=2)).isoformat(),
            "end": ended.isoformat(),
        },
    }
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": encounter}, {"resource": OBSERVATION}],
    }


def _years_ago(years: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=365 * years + years // 4 + 2)


def _erase(world: World, patient: Patient) -> Any:
    with world.client(patient.pseudonym, "hospital-a") as client:
        return client.post_json(f"/v1/patients/{patient.pseudonym.address}/erasure")


def _refused(call: Any) -> tuple[int | None, str | None, str]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code, err.value.detail or ""


def _read(world: World, record: str) -> Any:
    with world.as_staff("hospital-a", "doctor") as doctor:
        return doctor.get_json(f"/v1/records/{record}")


def test_erasure_within_the_outpatient_period_is_refused_with_the_rule_and_its_end(
    world: World, patient: Patient
) -> None:
    ended = _years_ago(1)
    record = anchor(world, patient, _visit("AMB", ended))["record_id"]
    status, code, detail = _refused(lambda: _erase(world, patient))
    assert (status, code) == (409, "retention.period_running")
    assert "outpatient records are kept 15 years after the last visit" in detail
    assert f"kept until {ended.replace(year=ended.year + 15).date().isoformat()}" in detail
    assert _read(world, record)["resource"]["entry"][1]["resource"] == OBSERVATION


def test_an_inpatient_record_is_kept_thirty_years_after_discharge(
    world: World, patient: Patient
) -> None:
    ended = _years_ago(20)
    anchor(world, patient, _visit("IMP", ended))
    status, code, detail = _refused(lambda: _erase(world, patient))
    assert (status, code) == (409, "retention.period_running")
    assert "inpatient records are kept 30 years after the last discharge" in detail
    assert f"kept until {ended.replace(year=ended.year + 30).date().isoformat()}" in detail


def test_a_record_of_no_known_class_is_kept_the_longest_from_its_anchoring(
    world: World, patient: Patient
) -> None:
    anchor(world, patient, OBSERVATION)
    status, code, detail = _refused(lambda: _erase(world, patient))
    assert (status, code) == (409, "retention.period_running")
    assert "30 years from its anchoring" in detail


def test_after_the_period_erasure_destroys_the_key_and_the_record_no_longer_opens_here(
    world: World, patient: Patient
) -> None:
    record = anchor(world, patient, _visit("AMB", _years_ago(16)))
    rid = record["record_id"]
    gateway = world.gateways["hospital-a"].gateway
    blob = gateway.records.envelope(bytes.fromhex(rid[2:]), 1)
    assert kek_label(world.org_address("hospital-a")) in parse_envelope(blob).wrapped_keys
    assert world.org_address("hospital-a") not in parse_envelope(blob).wrapped_keys

    erased = _erase(world, patient)
    assert (erased["patient"], erased["versions"]) == (patient.pseudonym.address, 1)

    status, code, _ = _refused(lambda: _read(world, rid))
    assert (status, code) == (410, "record.erased")
    # The anchor and the ciphertext remain and verify; the patient's own wrap still opens.
    assert gateway.records.envelope(bytes.fromhex(rid[2:]), 1) == blob
    with world.as_staff("insurer", "adjuster", gateway="insurer") as member:
        verification = member.get_json(f"/v1/records/{rid}/verification")
    assert verification["versions"][0]["cid"] == record["cid"]
    assert verification["intact"]
    assert verification["versions"][0]["content"] == "intact"
    plaintext = open_envelope(
        blob,
        private_key=patient.keys.encryption_key(world.org_address("hospital-a")),
        label=patient.pseudonym.address,
        record_id=bytes.fromhex(rid[2:]),
        version=1,
    )
    assert json.loads(plaintext)["resource"]["entry"][1]["resource"] == OBSERVATION


def test_only_the_patient_may_ask_for_erasure(world: World, patient: Patient) -> None:
    anchor(world, patient, _visit("AMB", _years_ago(16)))
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.post_json(  # noqa: E731
            f"/v1/patients/{patient.pseudonym.address}/erasure"
        )
        status, code, _ = _refused(call)
    assert (status, code) == (403, "patient.not_the_patient")


def test_a_bulk_written_record_is_kept_the_longest_and_its_erasure_refused(
    world: World, patient: Patient
) -> None:
    """The bulk path does not parse content in the gateway's process: kept as unclassified."""
    item = {"patient": patient.pseudonym.address, "resource": _visit("AMB", _years_ago(16))}
    with world.as_staff("hospital-a", "doctor") as client:
        client.post_json("/v1/records:bulk", {"items": [item]})
    status, code, detail = _refused(lambda: _erase(world, patient))
    assert (status, code) == (409, "retention.period_running")
    assert "30 years from its anchoring" in detail
