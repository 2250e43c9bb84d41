"""Guardians and proxies through the real gateway over HTTP, on a real anvil: a patient appoints an
agent by signing, the agent reads and grants for them as itself and is logged as itself, and a
child under six is seen online only while a guardian's appointment is in force."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from ledger.consent.agents import AgentKind, Appointment, SignedAppointment
from ledger.consent.grants import Purpose, Scope
from ledger.consent.wallet import AgentWallet, PatientWallet
from ledger.gateway.client import GatewayError
from tests.api.test_prescriptions import issue
from tests.world import Patient, World, anchor, enrol_patient, fhir

DAY = 86_400


def refused(call: Any) -> tuple[int, str | None]:
    with pytest.raises(GatewayError) as err:
        call()
    return err.value.status, err.value.problem_code


def url(world: World) -> str:
    return world.gateways["hospital-a"].url


def appoint(world: World, patient: Patient, agent: LocalAccount, kind: AgentKind) -> str:
    with PatientWallet(patient.keys, url(world)) as wallet:
        receipt = wallet.appoint(agent.address, kind, expires_at=int(time.time()) + DAY)
    return str(receipt["appointment_id"])


def patient_resource(born: date) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "child", "birthDate": born.isoformat()}


def visit_record(world: World, patient: Patient, born: date) -> str:
    """An offline visit with its diagnosis and the patient's birth date."""
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": patient_resource(born)},
            {"resource": fhir("condition-example-f201-fever.json")},
        ],
    }
    return str(anchor(world, patient, bundle)["record_id"])


def online_consultation(born: date) -> bytes:
    encounter = {
        "resourceType": "Encounter",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "VR"},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": patient_resource(born)}, {"resource": encounter}],
    }
    return json.dumps(bundle).encode()


def years_ago(years: int) -> date:
    today = datetime.now().date()
    return today.replace(year=today.year - years) + timedelta(days=2)


@pytest.fixture
def agent() -> LocalAccount:
    created: LocalAccount = Account.create()
    return created


@pytest.fixture
def record(world: World, patient: Patient) -> str:
    return visit_record(world, patient, date(1980, 1, 1))


# -- appointing and listing ----------------------------------------------------------------------


def test_the_patient_and_the_agent_both_see_the_appointment(
    world: World, patient: Patient, agent: LocalAccount
) -> None:
    appointment_id = appoint(world, patient, agent, AgentKind.PROXY)
    with PatientWallet(patient.keys, url(world)) as wallet:
        mine = wallet.appointments()
    with AgentWallet(agent, url(world)) as as_agent:
        theirs = as_agent.appointments()
    expected = {
        "appointment_id": appointment_id,
        "patient": patient.pseudonym.address,
        "agent": agent.address,
        "kind": "proxy",
        "status": "active",
    }
    for listed in (mine, theirs):
        assert [{k: v for k, v in a.items() if k != "expires_at"} for a in listed] == [expected]


def test_an_appointment_signed_by_someone_else_is_refused(
    world: World, patient: Patient, agent: LocalAccount
) -> None:
    """The would-be agent signs its own appointment as if it were the patient's and sends it."""
    with PatientWallet(patient.keys, url(world)) as wallet:
        domain = wallet.consent_domain()
    terms = Appointment(patient.pseudonym.address, agent.address, AgentKind.GUARDIAN, 2**40, 1)
    signature = agent.sign_message(encode_typed_data(full_message=terms.typed_data(domain)))
    body = SignedAppointment(terms, domain, bytes(signature.signature)).to_wire()
    with world.client(agent) as as_agent:
        status = refused(lambda: as_agent.post_json("/v1/consents/appointments", body))
    assert status == (403, "consent.signer_not_patient")


# -- the agent reads, logged as itself ------------------------------------------------------------


def test_an_agent_reads_the_patients_record_and_is_logged_as_itself(
    world: World, patient: Patient, agent: LocalAccount, record: str
) -> None:
    appointment_id = appoint(world, patient, agent, AgentKind.PROXY)
    with AgentWallet(agent, url(world)) as as_agent:
        document = as_agent.record(record)
        trail = as_agent.accesses(patient.pseudonym.address)
    assert document["record_id"] == record
    assert document["patient"] == patient.pseudonym.address
    read = [e for e in trail if e["actor"] == agent.address and e["record_id"] == record]
    assert [(e["patient"], e["grant"], e["outcome"]) for e in read] == [
        (patient.pseudonym.address, f"appointment:{appointment_id}", "allowed")
    ]
    with PatientWallet(patient.keys, url(world)) as wallet:
        seen_by_patient = wallet.accesses()
    assert any(e["actor"] == agent.address and e["record_id"] == record for e in seen_by_patient)


def test_a_stranger_reads_neither_the_record_nor_the_trail(
    world: World, patient: Patient, agent: LocalAccount, record: str
) -> None:
    with AgentWallet(agent, url(world)) as stranger:
        assert refused(lambda: stranger.record(record)) == (403, "record.forbidden")
        assert refused(lambda: stranger.grants(patient.pseudonym.address)) == (
            403,
            "consent.not_agent",
        )
        # Asking for someone else's trail gives only the asker's own entries.
        trail = stranger.accesses(patient.pseudonym.address)
    assert all(e["patient"] in (None, agent.address) for e in trail)


def test_a_revoked_agent_reads_no_more(
    world: World, patient: Patient, agent: LocalAccount, record: str
) -> None:
    appointment_id = appoint(world, patient, agent, AgentKind.GUARDIAN)
    with AgentWallet(agent, url(world)) as as_agent:
        as_agent.record(record)
        with PatientWallet(patient.keys, url(world)) as wallet:
            wallet.revoke_appointment(appointment_id)
            assert [a["status"] for a in wallet.appointments()] == ["revoked"]
        assert refused(lambda: as_agent.record(record)) == (403, "record.forbidden")


# -- the agent grants ------------------------------------------------------------------------------


def test_a_guardians_grant_opens_the_record_and_names_the_guardian(
    world: World, patient: Patient, agent: LocalAccount, record: str
) -> None:
    appoint(world, patient, agent, AgentKind.GUARDIAN)
    insurer = world.org_address("insurer")
    with AgentWallet(agent, url(world)) as as_agent:
        receipt = as_agent.grant(
            patient.pseudonym.address,
            insurer,
            Scope.record(record),
            Purpose.CLAIM_VERIFICATION,
            expires_at=int(time.time()) + DAY // 2,
        )
        listed = as_agent.grants(patient.pseudonym.address)
    assert [g["grant_id"] for g in listed] == [receipt["grant_id"]]
    with world.as_staff("insurer", "auditor") as auditor:
        view = auditor.get_json(f"/v1/records/{record}", params={"purpose": "claim_verification"})
    assert view["grant"] == receipt["grant_id"]
    consent = world.gateways["hospital-a"].gateway.chain.contract("ConsentRegistry")
    named = consent.events.ConsentGrantedByAgent().get_logs(
        from_block=0, argument_filters={"agent": agent.address}
    )
    assert ["0x" + bytes(e["args"]["grantId"]).hex() for e in named] == [receipt["grant_id"]]


def test_a_proxy_may_not_grant_for_research(
    world: World, patient: Patient, agent: LocalAccount, record: str
) -> None:
    appoint(world, patient, agent, AgentKind.PROXY)
    with AgentWallet(agent, url(world)) as as_agent:
        call = lambda: as_agent.grant(  # noqa: E731
            patient.pseudonym.address,
            world.org_address("insurer"),
            Scope.record(record),
            Purpose.RESEARCH,
            expires_at=int(time.time()) + DAY // 2,
        )
        assert refused(call) == (403, "consent.agent_may_not_grant")


# -- a young child online --------------------------------------------------------------------------


def test_an_online_prescription_for_a_child_under_six_needs_a_guardian(
    world: World, patient: Patient, agent: LocalAccount
) -> None:
    visit = visit_record(world, patient, years_ago(3))
    assert refused(lambda: issue(world, patient, record=visit)) == (
        403,
        "consent.guardian_required",
    )
    appoint(world, patient, agent, AgentKind.PROXY)  # a proxy is not a guardian
    assert refused(lambda: issue(world, patient, record=visit)) == (
        403,
        "consent.guardian_required",
    )
    appoint(world, patient, Account.create(), AgentKind.GUARDIAN)
    receipt = issue(world, patient, record=visit)
    assert receipt["pre_review"]["outcome"] == "passed"


def test_the_refusal_is_in_the_access_log(world: World, patient: Patient) -> None:
    visit = visit_record(world, patient, years_ago(2))
    refused(lambda: issue(world, patient, record=visit))
    with PatientWallet(patient.keys, url(world)) as wallet:
        outcomes = [
            e["outcome"] for e in wallet.accesses() if e["action"] == "POST /v1/prescriptions"
        ]
    assert outcomes == ["denied:consent.guardian_required"]


def test_a_child_of_six_and_an_offline_visit_need_no_guardian(
    world: World, patient: Patient
) -> None:
    six = visit_record(world, patient, years_ago(6) - timedelta(days=4))
    assert issue(world, patient, record=six)["pre_review"]["outcome"] == "passed"
    young = enrol_young(world)
    assert (
        issue(world, young[0], record=young[1], online=False)["pre_review"]["outcome"] == "passed"
    )


def enrol_young(world: World) -> tuple[Patient, str]:
    child = enrol_patient(world)
    return child, visit_record(world, child, years_ago(1))


def test_an_online_consultation_record_for_a_child_needs_a_guardian(
    world: World, patient: Patient, agent: LocalAccount
) -> None:
    body = online_consultation(years_ago(4))
    params = {"patient": patient.pseudonym.address}
    with world.as_staff("hospital-a", "doctor") as doctor:
        call = lambda: doctor.post_json("/v1/records", content=body, params=params)  # noqa: E731
        assert refused(call) == (403, "consent.guardian_required")
        appoint(world, patient, agent, AgentKind.GUARDIAN)
        assert call()["version"] == 1
