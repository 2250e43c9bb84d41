"""Prescriptions per second one client issues, and dispenses, through the gateways, end to end.

The stack is what `make run` starts (anvil, gateways as processes) on a scratch data directory. Each
round, sequentially: hospital A's doctor issues (pre-review, seal, store, anchor), its pharmacist
approves, pharmacy A dispenses through its own gateway. Issue and dispense are timed apart; the
approval between them is not counted. Usage: python bench/prescriptions.py [N]
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.demo.prescriptions import RAMIPRIL, medication_dispense, medication_request
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.stack import running_stack
from ledger.prescribing.signature import issue_signed
from ledger.settings import Settings

PATIENTS = 10

DIAGNOSIS = {
    "resourceType": "Condition",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
    "subject": {"reference": "Patient/p1"},
}


def main(n: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Settings(
                data_dir=Path(tmp),
                api_port=18800,
                anvil_port=18845,
                ipfs_api_port=18810,  # each organisation's IPFS node: one port more each
                ipfs_swarm_port=18830,
            )
        ) as stack,
    ):
        consortium = stack.consortium
        assert consortium is not None
        hospital = consortium.orgs["hospital-a"]
        url, pharmacy_url = stack.gateways["hospital-a"], stack.gateways["pharmacy"]
        domain, pharmacy_domain = fetch_domain(url), fetch_domain(pharmacy_url)

        def account(org: str, label: str) -> LocalAccount:
            return consortium.account(consortium.orgs[org].staff[label].key_file)

        with (
            GatewayClient(url, account("hospital-a", "doctor"), domain, timeout=30) as doctor,
            GatewayClient(url, account("hospital-a", "pharmacist"), domain, timeout=30) as review,
            GatewayClient(
                pharmacy_url, account("pharmacy", "pharmacist"), pharmacy_domain, timeout=30
            ) as pharmacy,
        ):
            # A hospital's prescriptions are spread over its patients: the pre-review reads each
            # patient's prescriptions in force, not the hospital's.
            patients = [_follow_up_patient(doctor, hospital.address) for _ in range(PATIENTS)]
            body = json.dumps(medication_request(RAMIPRIL)).encode()
            issuing = dispensing = 0.0
            for i in range(n):
                params = patients[i % PATIENTS]
                started = time.perf_counter()
                # Draft, check and sign with the doctor's key, issue: the doctor's own signature.
                pid = issue_signed(doctor, body, params)["prescription_id"]
                issuing += time.perf_counter() - started
                review.post_json(f"/v1/prescriptions/{pid}/review", {"decision": "approve"})
                started = time.perf_counter()
                pharmacy.post_json(
                    f"/v1/prescriptions/{pid}/dispense",
                    content=json.dumps(medication_dispense(pid)).encode(),
                )
                dispensing += time.perf_counter() - started
    print(f"issued_per_s={n / issuing:.1f} dispensed_per_s={n / dispensing:.1f}")


def _follow_up_patient(doctor: GatewayClient, hospital: str) -> dict[str, str]:
    """A new patient enrolled at ``hospital`` with an offline diagnosis record to follow up."""
    keys = PatientKeys(secrets.token_bytes(32))
    pseudonym = keys.pseudonym(hospital)
    identity = keys.public_identity(hospital)
    enc = bytes.fromhex(identity["encryption_key"][2:])
    doctor.post_json(
        "/v1/patients",
        {
            "pseudonym": pseudonym.address,
            "encryption_key": identity["encryption_key"],
            "signature": sign_enrolment(pseudonym, doctor.domain.as_eip712(), hospital, enc),
        },
    )
    record = doctor.post_json(
        "/v1/records", content=json.dumps(DIAGNOSIS).encode(), params={"patient": pseudonym.address}
    )["record_id"]
    return {"patient": pseudonym.address, "follow_up_record": record}


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
