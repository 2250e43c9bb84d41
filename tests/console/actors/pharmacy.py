"""Actor commands for the pharmacy journeys (helper-owned): the steps before the counter, as the
demo takes them (ledger/demo/flow.py steps 1-3, ledger/demo/prescriptions.py steps 14 and 17)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.demo.flow import DEMO_BUNDLE
from ledger.demo.prescriptions import RAMIPRIL, medication_request
from ledger.gateway.client import fetch_domain
from ledger.prescribing.signature import issue_signed
from tests.console.actors._common import as_staff, consortium, gateway_url


def approved_prescription(args: dict[str, Any]) -> dict[str, Any]:
    """A new patient enrolled at hospital A with an offline visit's record; hospital B's doctor,
    under the seeded practice filing, prescribes ramipril at hospital A as its follow-up; hospital
    A's pharmacist approves it. Returns the prescription id and its expiry."""
    del args
    hospital = consortium().orgs["hospital-a"]
    keys = PatientKeys(secrets.token_bytes(32))
    pseudonym = keys.pseudonym(hospital.address)
    identity = keys.public_identity(hospital.address)
    domain = fetch_domain(gateway_url("hospital-a"), timeout=30)
    key = bytes.fromhex(identity["encryption_key"][2:])
    with as_staff("hospital-a", "clerk") as clerk:
        clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": sign_enrolment(pseudonym, domain.as_eip712(), hospital.address, key),
            },
        )
    with as_staff("hospital-a", "doctor") as doctor:
        record = doctor.post_json(
            "/v1/records",
            content=json.dumps(DEMO_BUNDLE).encode(),
            params={"patient": pseudonym.address},
        )["record_id"]
    params = {"patient": pseudonym.address, "online": "true", "follow_up_record": record}
    with as_staff("hospital-b", "doctor", gateway="hospital-a") as doctor:
        body = json.dumps(medication_request(RAMIPRIL)).encode()
        receipt = issue_signed(doctor, body, params)  # the doctor's own key signs the issuance
    pid = receipt["prescription_id"]
    with as_staff("hospital-a", "pharmacist") as pharmacist:
        approved = pharmacist.post_json(f"/v1/prescriptions/{pid}/review", {"decision": "approve"})
    return {
        "prescription_id": pid,
        "expires_at": receipt["expires_at"],
        "patient": pseudonym.address,
        "status": approved["status"],
    }


COMMANDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "approved-prescription": approved_prescription,
}
