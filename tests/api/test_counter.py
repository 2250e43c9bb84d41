"""The pharmacist's counter (api/routes/counter.py) through the real gateways over HTTP, on a real
anvil: what a pharmacy may dispense (approved, not dispensed, not expired), one prescription's
chain facts, and the dispensing view relayed to the issuing hospital: the relay signed by the
pharmacist for the pharmacy's gateway, the hospital's request by the same key for the hospital's
domain, the relay in the pharmacy's own access trail."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from api.routes.counter import relay_name
from ledger.gateway.auth import GatewayDomain, sign_request
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


def relayed_view(
    world: World,
    pid: str,
    pharmacy: str = "pharmacy",
    *,
    signer: LocalAccount | None = None,
    relay_key: LocalAccount | None = None,
    relay_domain: GatewayDomain | None = None,
    signed: bool = True,
) -> httpx.Response:
    """As the page does it: the hospital's GET signed for hospital A's domain (or
    ``relay_domain``) by ``relay_key`` in X-Relay- headers, the relay itself signed by ``signer``
    for the pharmacy's own gateway (unless not ``signed``), sent to the pharmacy's gateway; both
    keys are the pharmacy's pharmacist unless named."""
    pharmacist = signer or world.staff(pharmacy, "pharmacist")
    hospital = relay_domain or world.gateways["hospital-a"].gateway.domain
    inner = sign_request(relay_key or pharmacist, hospital, "GET", f"/v1/prescriptions/{pid}", b"")
    headers = {relay_name(name): value for name, value in inner.items()}
    path = f"/v1/counter/prescriptions/{pid}/view"
    if signed:
        own = world.gateways[pharmacy].gateway.domain
        headers |= sign_request(pharmacist, own, "GET", path, b"")
    url = f"{world.gateways[pharmacy].url}{path}"
    return httpx.get(url, headers=headers, timeout=30, trust_env=False)


def last_seq(world: World, org: str) -> int:
    """The sequence number of the last entry in ``org``'s gateway's access log."""
    log = world.gateways[org].gateway.access_log
    return max((e.seq for e in log.entries(limit=100_000)), default=0)


def relay_entries(world: World, pid: str, pharmacy: str = "pharmacy") -> list[Any]:
    """The pharmacy's own access entries of its relay for ``pid``."""
    log = world.gateways[pharmacy].gateway.access_log
    action = "GET /v1/counter/prescriptions/{prescription_id}/view"
    return [e.entry for e in log.entries(record_id=pid) if e.entry.action == action]


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

    # Signed for the pharmacy's own domain, the relay refuses it before calling the hospital.
    forged = relayed_view(world, pid, relay_domain=world.gateways["pharmacy"].gateway.domain)
    assert forged.status_code == 401
    assert forged.json()["code"] == "auth.signer_mismatch"


def test_an_unsigned_relay_is_refused_and_logged_without_calling_the_hospital(
    world: World, patient: Patient, record: str, relaying: None
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    review(world, pid)
    hospital_seq = last_seq(world, "hospital-a")
    seq = last_seq(world, "pharmacy")
    answer = relayed_view(world, pid, signed=False)
    assert answer.status_code == 401
    assert answer.json()["code"] == "auth.missing"
    # The hospital's gateway was never called: no read of the prescription in its log since (the
    # review's own entry may land after its response, so the log as a whole need not be still).
    since = world.gateways["hospital-a"].gateway.access_log.entries(after_seq=hospital_seq)
    assert [e.entry.action for e in since if e.entry.action.startswith("GET ")] == []
    log = world.gateways["pharmacy"].gateway.access_log
    action = "GET /v1/counter/prescriptions/{prescription_id}/view"
    (denied,) = [e.entry for e in log.entries(after_seq=seq) if e.entry.action == action]
    # No signature of the pharmacy's: the relayed signer is not taken for the relay's actor.
    assert (denied.actor, denied.outcome) == ("anonymous", "denied:auth.missing")


def test_a_relayed_signature_by_another_key_is_refused(
    world: World, patient: Patient, record: str, relaying: None
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    review(world, pid)
    other = world.staff("pharmacy-b", "pharmacist")  # a real pharmacist, of another pharmacy
    answer = relayed_view(world, pid, relay_key=other)
    assert answer.status_code == 403
    assert answer.json()["code"] == "counter.relay_signer_mismatch"
    (entry,) = relay_entries(world, pid)
    assert (entry.actor, entry.outcome) == (
        world.staff("pharmacy", "pharmacist").address,
        "denied:counter.relay_signer_mismatch",
    )


def test_the_relay_is_a_pharmacists_of_this_pharmacy(
    world: World, patient: Patient, record: str, relaying: None
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    review(world, pid)
    # Pharmacy B's pharmacist, signing both for themself, at pharmacy A's gateway.
    answer = relayed_view(world, pid, signer=world.staff("pharmacy-b", "pharmacist"))
    assert answer.status_code == 403
    assert answer.json()["code"] == "auth.wrong_organisation"


def test_the_relay_is_in_the_pharmacys_own_access_trail(
    world: World, patient: Patient, record: str, relaying: None
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    assert relayed_view(world, pid).status_code == 403  # pending: the hospital refuses
    review(world, pid)
    assert relayed_view(world, pid).status_code == 200
    pharmacist = world.staff("pharmacy", "pharmacist").address
    entries = relay_entries(world, pid)
    assert [e.outcome for e in entries] == ["denied:prescription.not_dispensable", "allowed"]
    for e in entries:
        assert (e.actor, e.org, e.view) == (pharmacist, world.org_address("pharmacy"), "dispensing")
        assert e.patient == patient.pseudonym.address


def test_the_relay_names_a_hospital_it_knows_no_gateway_for(
    world: World, patient: Patient, record: str
) -> None:
    pid = str(issue(world, patient, record=record)["prescription_id"])
    answer = relayed_view(world, pid)
    assert answer.status_code == 502
    assert answer.json()["code"] == "counter.hospital_unknown"
