"""`medledger demo`, steps G1-G4: a child under six, seen online only with a guardian.

A three-year-old is enrolled at hospital A and seen there in person (the record states their birth
date); an online follow-up prescription is refused while no guardian is appointed; the child's key
(held for them by their parent) appoints the parent as guardian, and the prescription is issued.
The parent then reads the child's record and grants an insurer claim verification with the
parent's own key: the chain names the guardian, and the child's access log shows the guardian's
read as the guardian's, under the appointment.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.consent.agents import AgentKind
from ledger.consent.grants import Purpose, Scope
from ledger.consent.patients import sign_enrolment
from ledger.consent.wallet import AgentWallet, PatientWallet, days_from_now
from ledger.crypto.keys import PatientKeys
from ledger.demo.prescriptions import RAMIPRIL, medication_request, refusal
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium

__all__ = ["guardian_steps"]


def guardian_steps(
    consortium: Consortium, step: Callable[..., None], check: Callable[[bool, str], None]
) -> None:
    """Steps G1-G4 (see the module docstring); ``step`` prints, ``check`` raises DemoFailed."""
    hospital = consortium.orgs["hospital-a"]
    assert hospital.gateway_url is not None
    url = hospital.gateway_url

    def as_staff(label: str) -> GatewayClient:
        account = consortium.account(hospital.staff[label].key_file)
        return GatewayClient(url, account, fetch_domain(url), timeout=30)

    child = PatientKeys(secrets.token_bytes(32))
    pseudonym = child.pseudonym(hospital.address)
    born = date.today() - timedelta(days=3 * 365 + 40)
    visit = _enrol_and_visit(as_staff, url, child, pseudonym, hospital.address, born)
    step(
        "G1",
        "a three-year-old is enrolled and seen in person at hospital A (birth date in the record)",
        pseudonym=pseudonym.address,
        born=born.isoformat(),
        record=visit,
    )

    def prescribe() -> Any:
        params = {"patient": pseudonym.address, "online": "true", "follow_up_record": visit}
        with as_staff("doctor") as doctor:
            body = json.dumps(medication_request(RAMIPRIL)).encode()
            return doctor.post_json("/v1/prescriptions", content=body, params=params)

    refused = refusal(prescribe)
    check(refused == "403 consent.guardian_required", f"online, under six, alone: {refused}")
    step("G2", "an online prescription for the child, with no guardian: refused", refused=refused)

    parent: LocalAccount = Account.create()
    with PatientWallet(child, url) as wallet:
        appointed = wallet.appoint(
            parent.address, AgentKind.GUARDIAN, expires_at=days_from_now(365)
        )
    issued = prescribe()
    step(
        "G3",
        "the child's key (held by the parent) appoints the parent guardian; now it is issued",
        guardian=parent.address,
        appointment=appointed["appointment_id"],
        prescription=issued["prescription_id"],
    )

    insurer = consortium.orgs["insurer"].address
    with AgentWallet(parent, url) as as_parent:
        read = as_parent.record(visit)
        granted = as_parent.grant(
            pseudonym.address,
            insurer,
            Scope.record(visit),
            Purpose.CLAIM_VERIFICATION,
            expires_at=days_from_now(30),
        )
        trail = as_parent.accesses(pseudonym.address, record_id=visit)
    mine = [e for e in trail if e["actor"] == parent.address]
    check(read["patient"] == pseudonym.address, "the guardian read another patient's record")
    check(
        any(e["grant"] == f"appointment:{appointed['appointment_id']}" for e in mine),
        f"the guardian's read is not logged as the guardian's: {mine}",
    )
    step(
        "G4",
        "the guardian reads the record and grants the insurer, with its own key, logged as itself",
        grant=granted["grant_id"],
        logged=", ".join(sorted({f"{e['action']} {e['outcome']} {e['grant']}" for e in mine})),
    )


def _enrol_and_visit(
    as_staff: Callable[[str], GatewayClient],
    url: str,
    child: PatientKeys,
    pseudonym: LocalAccount,
    hospital: str,
    born: date,
) -> str:
    identity = child.public_identity(hospital)
    key = bytes.fromhex(identity["encryption_key"][2:])
    domain = fetch_domain(url)
    with as_staff("clerk") as clerk:
        clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": sign_enrolment(pseudonym, domain.as_eip712(), hospital, key),
            },
        )
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "c1", "birthDate": born.isoformat()}},
            {
                "resource": {
                    "resourceType": "Condition",
                    "code": {
                        "coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]
                    },
                    "subject": {"reference": "Patient/c1"},
                }
            },
        ],
    }
    with as_staff("doctor") as doctor:
        receipt = doctor.post_json(
            "/v1/records",
            content=json.dumps(bundle).encode(),
            params={"patient": pseudonym.address},
        )
    return str(receipt["record_id"])
