"""ConsentRegistry's guardians and proxies: a patient appoints an agent by signing, the agent signs
grants and revocations for them while the appointment is in force, and the chain names the agent.

Every attack is a raw transaction signed by the attacker's key (raw_tx), with calldata encoded from
the committed ABI; the consortium is set up with the ledger's own client.
"""

from __future__ import annotations

from typing import Any

import pytest
from contract_helpers import (
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    OTHER_PATIENT,
    OUTSIDER,
    PATIENT,
    OrgKind,
    account,
    admit,
    chain_client,
    emitted,
    latest_timestamp,
    next_block_at,
    record_id,
    register,
)
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hostile_prescription_helpers import refused_raw
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain.deploy import Deployment
from ledger.consent.agents import (
    AgentKind,
    Appointment,
    SignedAppointment,
    sign_appointment,
    sign_appointment_revocation,
)
from ledger.consent.grants import (
    ConsentDomain,
    Purpose,
    Scope,
    SignedGrant,
    sign_grant,
    sign_revocation,
)

GUARDIAN = account("guardian-of-the-patient")
PROXY = account("proxy-of-the-patient")
RECORD = record_id(HOSPITAL.address, "agents: the patient's record")
OTHERS_RECORD = record_id(HOSPITAL.address, "agents: the other patient's record")
FAR = 2**40
SOON = 2**39


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, registry: Contract) -> None:
    """A hospital with a doctor, an insurer, and one record for each of two patients."""
    act = chain_client(w3, deployment)
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    for record, patient in ((RECORD, PATIENT), (OTHERS_RECORD, OTHER_PATIENT)):
        act(HOSPITAL).transact(
            registry.functions.anchorRecord(
                record, Web3.keccak(record), b"bafkreicid", patient.address, DOCTOR.address
            )
        )


@pytest.fixture(scope="module")
def domain(deployment: Deployment) -> ConsentDomain:
    return ConsentDomain.of(deployment)


def _appointment(
    domain: ConsentDomain,
    *,
    patient: LocalAccount = PATIENT,
    agent: LocalAccount = GUARDIAN,
    kind: AgentKind = AgentKind.GUARDIAN,
    expires_at: int = SOON,
    nonce: int = 100,
) -> SignedAppointment:
    return sign_appointment(
        patient, domain, agent=agent.address, kind=kind, expires_at=expires_at, nonce=nonce
    )


def _appoint(w3: Web3, consent: Contract, signed: SignedAppointment) -> TxReceipt:
    receipt = send_raw(w3, HOSPITAL, consent, "appointAgent", *signed.as_args())
    assert receipt["status"] == 1
    return receipt


def _agent_grant(
    domain: ConsentDomain,
    *,
    agent: LocalAccount = GUARDIAN,
    patient: LocalAccount = PATIENT,
    record: bytes = RECORD,
    purpose: Purpose = Purpose.TREATMENT,
    expires_at: int = SOON,
    nonce: int = 200,
) -> SignedGrant:
    """A grant of ``record`` to the insurer, signed by ``agent`` for ``patient``."""
    return sign_grant(
        agent,
        domain,
        grantee=INSURER.address,
        scope=Scope.record(record),
        purpose=purpose,
        expires_at=expires_at,
        nonce=nonce,
        patient=patient.address,
    )


def _authorised(
    consent: Contract, record: bytes = RECORD, purpose: int = Purpose.TREATMENT
) -> bool:
    ok, _grant = consent.functions.isAuthorised(INSURER.address, record, purpose, 0).call()
    return bool(ok)


# Appointing


def test_a_relayed_appointment_is_stored_and_announced(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    signed = _appointment(domain)
    receipt = _appoint(w3, consent, signed)
    appointment_id = signed.appointment.appointment_id
    assert emitted(consent, receipt) == [
        (
            "AgentAppointed",
            {
                "appointmentId": appointment_id,
                "patient": PATIENT.address,
                "agent": GUARDIAN.address,
                "kind": int(AgentKind.GUARDIAN),
                "expiresAt": SOON,
                "nonce": 100,
            },
        )
    ]
    assert tuple(consent.functions.appointment(appointment_id).call()) == (
        PATIENT.address,
        int(AgentKind.GUARDIAN),
        SOON,
        False,
        GUARDIAN.address,
    )
    assert consent.functions.agentInForce(PATIENT.address, GUARDIAN.address, 0).call() == [
        int(AgentKind.GUARDIAN),
        appointment_id,
    ]
    assert consent.functions.guardianInForce(PATIENT.address, 0).call() == [True, appointment_id]
    assert consent.functions.guardianInForce(OTHER_PATIENT.address, 0).call() == [False, bytes(32)]


def test_an_appointment_not_signed_by_the_patient_is_refused(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    """The would-be agent signs the patient's appointment of itself: the chain wants the patient."""
    terms = _appointment(domain).appointment
    signature = GUARDIAN.sign_message(encode_typed_data(full_message=terms.typed_data(domain)))
    args = (terms.as_args(), domain.as_args(), signature.signature)
    name, why = refused_raw(w3, HOSPITAL, consent, "appointAgent", *args)
    assert (name, why) == (
        "ConsentSignerNotPatient",
        {"signer": GUARDIAN.address, "patient": PATIENT.address},
    )


def test_a_hospital_relaying_a_forged_appointment_is_refused(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    """A hostile hospital signs, with its own key, the patient's appointment of its own doctor."""
    terms = Appointment(PATIENT.address, DOCTOR.address, AgentKind.GUARDIAN, SOON, 5)
    signature = HOSPITAL.sign_message(encode_typed_data(full_message=terms.typed_data(domain)))
    name, why = refused_raw(
        w3,
        HOSPITAL,
        consent,
        "appointAgent",
        terms.as_args(),
        domain.as_args(),
        signature.signature,
    )
    assert (name, why) == (
        "ConsentSignerNotPatient",
        {"signer": HOSPITAL.address, "patient": PATIENT.address},
    )
    assert consent.functions.guardianInForce(PATIENT.address, 0).call() == [False, bytes(32)]


def test_an_outsider_cannot_relay_an_appointment(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    name, why = refused_raw(w3, OUTSIDER, consent, "appointAgent", *_appointment(domain).as_args())
    assert (name, why) == ("ConsentRelayerNotMember", {"relayer": OUTSIDER.address})


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"kind": 0}, ("ConsentUnknownAgentKind", {"kind": 0})),
        ({"kind": 3}, ("ConsentUnknownAgentKind", {"kind": 3})),
        ({"agent": PATIENT.address}, ("ConsentBadAgent", {"agent": PATIENT.address})),
        ({"agent": "0x" + "00" * 20}, ("ConsentBadAgent", {"agent": "0x" + "00" * 20})),
    ],
)
def test_an_appointment_of_no_one_or_of_no_kind_is_refused(
    w3: Web3,
    consent: Contract,
    domain: ConsentDomain,
    fields: dict[str, Any],
    error: tuple[str, Any],
) -> None:
    typed = _appointment(domain).appointment.typed_data(domain)
    typed["message"].update(fields)
    signature = bytes(PATIENT.sign_message(encode_typed_data(full_message=typed)).signature)
    m = typed["message"]
    terms = (m["patient"], m["agent"], m["kind"], m["expiresAt"], m["nonce"])
    name, why = refused_raw(
        w3, HOSPITAL, consent, "appointAgent", terms, domain.as_args(), signature
    )
    if "agent" in why:
        why["agent"] = why["agent"].lower()
        error = (error[0], {"agent": error[1]["agent"].lower()})
    assert (name, why) == error


def test_an_appointment_is_relayed_once(w3: Web3, consent: Contract, domain: ConsentDomain) -> None:
    signed = _appointment(domain)
    _appoint(w3, consent, signed)
    name, why = refused_raw(w3, HOSPITAL, consent, "appointAgent", *signed.as_args())
    assert (name, why) == (
        "ConsentAlreadyAppointed",
        {"appointmentId": signed.appointment.appointment_id},
    )


# Agents granting


def test_a_guardian_grants_for_the_patient_and_the_chain_names_it(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    appointment = _appointment(domain)
    _appoint(w3, consent, appointment)
    signed = _agent_grant(domain, purpose=Purpose.CLAIM_VERIFICATION)
    receipt = send_raw(w3, HOSPITAL, consent, "grantConsent", *signed.as_args())
    assert receipt["status"] == 1
    names = [name for name, _ in emitted(consent, receipt)]
    assert names == ["ConsentGranted", "ConsentGrantedByAgent"]
    assert emitted(consent, receipt)[0][1]["patient"] == PATIENT.address
    assert emitted(consent, receipt)[1][1] == {
        "grantId": signed.grant_id,
        "agent": GUARDIAN.address,
        "appointmentId": appointment.appointment.appointment_id,
    }
    assert consent.functions.grantAppointment(signed.grant_id).call() == (
        appointment.appointment.appointment_id
    )
    assert _authorised(consent, purpose=Purpose.CLAIM_VERIFICATION)


def test_the_patients_own_grant_names_no_agent(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    signed = sign_grant(
        PATIENT,
        domain,
        grantee=INSURER.address,
        scope=Scope.record(RECORD),
        purpose=Purpose.TREATMENT,
        expires_at=FAR,
        nonce=9,
    )
    receipt = send_raw(w3, HOSPITAL, consent, "grantConsent", *signed.as_args())
    assert [name for name, _ in emitted(consent, receipt)] == ["ConsentGranted"]
    assert consent.functions.grantAppointment(signed.grant_id).call() == bytes(32)


def test_an_agent_whose_appointment_expired_cannot_grant(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    ends = latest_timestamp(w3) + 100
    _appoint(w3, consent, _appointment(domain, expires_at=ends))
    next_block_at(w3, ends)
    signed = _agent_grant(domain, expires_at=ends)
    name, why = refused_raw(w3, HOSPITAL, consent, "grantConsent", *signed.as_args())
    assert (name, why) == (
        "ConsentAgentNotInForce",
        {"signer": GUARDIAN.address, "patient": PATIENT.address},
    )
    assert not _authorised(consent)


def test_an_agent_whose_appointment_was_revoked_cannot_grant(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    appointment = _appointment(domain)
    _appoint(w3, consent, appointment)
    end = sign_appointment_revocation(
        PATIENT, domain, appointment.appointment.appointment_id, nonce=101
    )
    receipt = send_raw(w3, INSURER, consent, "revokeAppointment", *end.as_args())
    assert emitted(consent, receipt) == [
        (
            "AgentAppointmentRevoked",
            {
                "appointmentId": appointment.appointment.appointment_id,
                "patient": PATIENT.address,
                "nonce": 101,
            },
        )
    ]
    name, why = refused_raw(w3, HOSPITAL, consent, "grantConsent", *_agent_grant(domain).as_args())
    assert (name, why) == (
        "ConsentAgentNotInForce",
        {"signer": GUARDIAN.address, "patient": PATIENT.address},
    )
    assert consent.functions.guardianInForce(PATIENT.address, 0).call() == [False, bytes(32)]


def test_an_agent_of_one_patient_cannot_grant_for_another(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    _appoint(w3, consent, _appointment(domain))
    signed = _agent_grant(domain, patient=OTHER_PATIENT, record=OTHERS_RECORD)
    name, why = refused_raw(w3, HOSPITAL, consent, "grantConsent", *signed.as_args())
    assert (name, why) == (
        "ConsentSignerNotPatient",
        {"signer": GUARDIAN.address, "patient": OTHER_PATIENT.address},
    )
    assert not _authorised(consent, OTHERS_RECORD)


def test_a_proxy_grants_for_treatment_only(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    _appoint(w3, consent, _appointment(domain, agent=PROXY, kind=AgentKind.PROXY))
    research = _agent_grant(domain, agent=PROXY, purpose=Purpose.RESEARCH)
    name, why = refused_raw(w3, HOSPITAL, consent, "grantConsent", *research.as_args())
    assert (name, why) == (
        "ConsentAgentMayNotGrant",
        {"agent": PROXY.address, "kind": int(AgentKind.PROXY), "purpose": int(Purpose.RESEARCH)},
    )
    treatment = _agent_grant(domain, agent=PROXY, nonce=201)
    assert send_raw(w3, HOSPITAL, consent, "grantConsent", *treatment.as_args())["status"] == 1
    assert _authorised(consent)
    # A proxy is no guardian: a young child is not seen online on its appointment.
    assert consent.functions.guardianInForce(PATIENT.address, 0).call() == [False, bytes(32)]


def test_an_agents_grant_may_not_outlast_its_appointment(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    _appoint(w3, consent, _appointment(domain))
    name, why = refused_raw(
        w3, HOSPITAL, consent, "grantConsent", *_agent_grant(domain, expires_at=SOON + 1).as_args()
    )
    assert (name, why) == (
        "ConsentGrantOutlastsAppointment",
        {"expiresAt": SOON + 1, "appointmentExpiresAt": SOON},
    )


def test_an_agents_grants_lapse_when_its_appointment_is_revoked(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    appointment = _appointment(domain)
    _appoint(w3, consent, appointment)
    send_raw(w3, HOSPITAL, consent, "grantConsent", *_agent_grant(domain).as_args())
    assert _authorised(consent)
    end = sign_appointment_revocation(
        PATIENT, domain, appointment.appointment.appointment_id, nonce=7
    )
    send_raw(w3, HOSPITAL, consent, "revokeAppointment", *end.as_args())
    assert not _authorised(consent)


def test_only_the_patient_revokes_an_appointment(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    appointment = _appointment(domain)
    _appoint(w3, consent, appointment)
    own_end = sign_appointment_revocation(
        GUARDIAN, domain, appointment.appointment.appointment_id, nonce=8
    )
    name, why = refused_raw(w3, HOSPITAL, consent, "revokeAppointment", *own_end.as_args())
    assert (name, why) == (
        "ConsentSignerNotPatient",
        {"signer": GUARDIAN.address, "patient": PATIENT.address},
    )
    unknown = sign_appointment_revocation(PATIENT, domain, b"\x07" * 32, nonce=8)
    name, why = refused_raw(w3, HOSPITAL, consent, "revokeAppointment", *unknown.as_args())
    assert (name, why) == ("ConsentUnknownAppointment", {"appointmentId": b"\x07" * 32})


# Agents revoking


def test_an_agent_revokes_the_patients_grant_and_is_named(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    appointment = _appointment(domain, agent=PROXY, kind=AgentKind.PROXY)
    _appoint(w3, consent, appointment)
    own = sign_grant(
        PATIENT,
        domain,
        grantee=INSURER.address,
        scope=Scope.record(RECORD),
        purpose=Purpose.CLAIM_VERIFICATION,
        expires_at=FAR,
        nonce=3,
    )
    send_raw(w3, HOSPITAL, consent, "grantConsent", *own.as_args())
    revocation = sign_revocation(PROXY, domain, own.grant_id, nonce=4)
    receipt = send_raw(w3, INSURER, consent, "revokeConsent", *revocation.as_args())
    assert emitted(consent, receipt) == [
        ("ConsentRevoked", {"grantId": own.grant_id, "patient": PATIENT.address, "nonce": 4}),
        (
            "ConsentRevokedByAgent",
            {
                "grantId": own.grant_id,
                "agent": PROXY.address,
                "appointmentId": appointment.appointment.appointment_id,
            },
        ),
    ]
    assert not _authorised(consent, purpose=Purpose.CLAIM_VERIFICATION)


def test_a_stranger_cannot_revoke_the_patients_grant(
    w3: Web3, consent: Contract, domain: ConsentDomain
) -> None:
    own = sign_grant(
        PATIENT,
        domain,
        grantee=INSURER.address,
        scope=Scope.record(RECORD),
        purpose=Purpose.TREATMENT,
        expires_at=FAR,
        nonce=3,
    )
    send_raw(w3, HOSPITAL, consent, "grantConsent", *own.as_args())
    revocation = sign_revocation(GUARDIAN, domain, own.grant_id, nonce=4)
    name, why = refused_raw(w3, INSURER, consent, "revokeConsent", *revocation.as_args())
    assert (name, why) == (
        "ConsentSignerNotPatient",
        {"signer": GUARDIAN.address, "patient": PATIENT.address},
    )
    assert _authorised(consent)
