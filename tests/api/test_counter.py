"""The pharmacist's counter (api/routes/counter.py) through the real gateways over HTTP, on a real
anvil: what a pharmacy may dispense (approved, not dispensed, not expired), one prescription's
chain facts, and the dispensing view relayed to the issuing hospital with the pharmacist's own
signature for the hospital's domain."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ledger.gateway.auth import sign_request
from tests.api.test_prescriptions import diagnosis_record, dispense, issue, refused, review
from tests.world import Patient, World


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    return diagnosis_record(world, patient)


@pytest.fixture
def relaying(world: World) -> Iterator[None]:
    """The pharmacies' gateways knowing hospital A's, as `medledger up` tells each gateway."""
    hospital = world.org_address("hospital-a")
    saved = {}
    for name in ("pharmacy", "pharmacy-b"):
        gateway = world.gateways[name].gateway
        saved[name] = gateway.settings
        peers = {hospital: world.gateways["hospital-a"].url}
        gateway.settings = gateway.settings.model_copy(update={"peer_gateways": peers})
    yield
    for name, settings in saved.items():
        world.gateways[name].gateway.settings = settings


def listed(world: World, pharmacy: str = "pharmacy") -> list[str]:
    with world.as_staff(pharmacy, "pharmacist", gateway=pharmacy) as pharmacist:
        return [p["prescription_id"] for p in pharmacist.get_json("/v1/counter/prescriptions")]


def counter_facts(world: World, pid: str, pharmacy: str = "pharmacy") -> Any:
    with world.as_staff(pharmacy, "pharmacist", gateway=pharmacy) as pharmacist:
        return pharmacist.get_json(f"/v1/counter/prescriptions/{pid}")


def relayed_view(world: World, pid: str, pharmacy: str = "pharmacy") -> httpx.Response:
    """As the page does it: signed for hospital A's domain, sent to the pharmacy's own gateway."""
    hospital = world.gateways["hospital-a"].gateway.domain
    path = f"/v1/prescriptions/{pid}"
    headers = sign_request(world.staff(pharmacy, "pharmacist"), hospital, "GET", path, b"")
    url = f"{world.gateways[pharmacy].url}/v1/counter/prescriptions/{pid}/view"
    return httpx.get(url, headers=headers, timeout=30, trust_env=False)


def test_an_approved_prescription_is_listed_until_one_pharmacy_dispenses_it(
    world: World, patient: Patient, record: str
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    assert pid not in listed(world)  # pending: not the pharmacy's yet
    review(world, pid)
    assert pid in listed(world)
    assert pid in listed(world, "pharmacy-b")
    facts = counter_facts(world, pid)
    assert facts["status"] == "approved"
    assert facts["dispensable"] is True
    assert facts["expired"] is False
    assert facts["dispense"] is None
    assert facts["review"]["approved"] is True
    assert facts["review"]["org"] == world.org_address("hospital-a")
    assert "resource" not in facts  # chain facts only: the content is the hospital's to open

    dispense(world, pid)
    assert pid not in listed(world)
    assert pid not in listed(world, "pharmacy-b")
    after = counter_facts(world, pid, "pharmacy-b")
    assert after["status"] == "dispensed"
    assert after["dispensable"] is False
    assert after["dispense"]["pharmacy"] == world.org_address("pharmacy")
    assert refused(lambda: dispense(world, pid, "pharmacy-b")) == (
        409,
        "prescription.already_dispensed",
    )


def test_the_counter_is_a_pharmacists_of_a_pharmacys_gateway(
    world: World, patient: Patient, record: str
) -> None:
    with world.as_staff("pharmacy", "pharmacist", gateway="hospital-a") as foreign:
        assert refused(lambda: foreign.get_json("/v1/counter/prescriptions")) == (
            403,
            "auth.wrong_organisation",
        )
    with world.as_staff("hospital-a", "pharmacist") as hospital_pharmacist:
        assert refused(lambda: hospital_pharmacist.get_json("/v1/counter/prescriptions")) == (
            403,
            "counter.not_pharmacy",
        )
    unknown = "0x" + "ab" * 32
    with world.as_staff("pharmacy", "pharmacist", gateway="pharmacy") as pharmacist:
        status, code = refused(lambda: pharmacist.get_json(f"/v1/counter/prescriptions/{unknown}"))
    assert (status, code) == (404, "prescription.unknown")


def test_the_dispensing_view_is_relayed_to_the_issuing_hospital_under_the_pharmacists_signature(
    world: World, patient: Patient, record: str, relaying: None
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    pending = relayed_view(world, pid)
    assert pending.status_code == 403  # the hospital's own refusal, passed on as it came
    assert pending.json()["code"] == "prescription.not_dispensable"
    review(world, pid)
    answer = relayed_view(world, pid)
    assert answer.status_code == 200, answer.text
    view = answer.json()
    assert view["view"] == "dispensing"
    assert view["salt"] is None
    assert "reasonCode" not in view["resource"]  # no diagnosis for a pharmacy
    assert view["resource"]["medicationCodeableConcept"]["coding"][0]["code"] == "C09AA05"

    # Signed for the pharmacy's own domain, the hospital refuses it: the relay cannot re-sign.
    own = world.gateways["pharmacy"].gateway.domain
    path = f"/v1/prescriptions/{pid}"
    headers = sign_request(world.staff("pharmacy", "pharmacist"), own, "GET", path, b"")
    url = f"{world.gateways['pharmacy'].url}/v1/counter/prescriptions/{pid}/view"
    forged = httpx.get(url, headers=headers, timeout=30, trust_env=False)
    assert forged.status_code == 401
    assert forged.json()["code"] == "auth.signer_mismatch"


def test_the_relay_names_a_hospital_it_knows_no_gateway_for(
    world: World, patient: Patient, record: str
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    answer = relayed_view(world, pid)
    assert answer.status_code == 502
    assert answer.json()["code"] == "counter.hospital_unknown"
