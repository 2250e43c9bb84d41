"""`medledger demo`, steps 14-20: prescriptions, from the doctor's rights to the one dispense.

Hospital-b's doctor, under an approved multi-point practice filing, prescribes at hospital A for
the demo patient (following up the record of step 3); a doctor without a filing and a
first-diagnosis patient are refused; pre-review stops a controlled drug; hospital A's pharmacist
approves; pharmacy A reads the dispensing view and dispenses through its own gateway, sealing the
MedicationDispense for hospital A too (its key from the organisation directory), which hospital A
opens on its own gateway; pharmacy B is refused. Expiry (step 20b) is shown on a scratch chain of
the demo's own (ledger.demo.expiry): a running network's clock cannot be moved honestly.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.demo.expiry import expiry_facts
from ledger.errors import LedgerError
from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
from ledger.network.consortium import Consortium
from ledger.prescribing.signature import issue_signed
from ledger.settings import load_settings

RAMIPRIL = {"system": "http://www.whocc.no/atc", "code": "C09AA05", "display": "ramipril"}
#: On the bundled example rules' list of drugs not prescribable online.
MORPHINE = {"system": "http://www.whocc.no/atc", "code": "N02AA01", "display": "morphine"}


def medication_request(drug: dict[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"coding": [drug]},
        "subject": {"reference": "Patient/p1"},
        "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]}],
        "dosageInstruction": [{"text": "5 mg once a day"}],
        "dispenseRequest": {"quantity": {"value": 30, "unit": "TAB", "code": "TAB"}},
    }


def medication_dispense(prescription_id: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense",
        "status": "completed",
        "medicationCodeableConcept": {"coding": [RAMIPRIL]},
        "subject": {"reference": "Patient/p1"},
        "authorizingPrescription": [{"reference": f"MedicationRequest/{prescription_id}"}],
        "quantity": {"value": 30, "unit": "TAB"},
    }


def prescription_steps(
    consortium: Consortium,
    pseudonym: LocalAccount,
    record_id: str,
    step: Callable[..., None],
    check: Callable[[bool, str], None],
) -> str:
    """Steps 14-20 (see the module docstring); ``step`` prints, ``check`` raises DemoFailed.
    Returns the id of the prescription dispensed, which the claim steps claim for."""
    orgs = consortium.orgs
    hospital = orgs["hospital-a"]
    assert hospital.gateway_url is not None
    url = hospital.gateway_url
    domain = fetch_domain(url)

    def as_staff(org: str, label: str, gateway_url: str = url) -> GatewayClient:
        account = consortium.account(orgs[org].staff[label].key_file)
        return GatewayClient(gateway_url, account, fetch_domain(gateway_url), timeout=30)

    def issue(org: str, label: str, patient: str, drug: dict[str, str], record: str | None) -> Any:
        params = {"patient": patient, "online": "true"}
        if record is not None:
            params["follow_up_record"] = record
        with as_staff(org, label) as doctor:
            body = json.dumps(medication_request(drug)).encode()
            # The doctor's own key signs the issuance; the hospital only relays it.
            return issue_signed(doctor, body, params)

    receipt = issue("hospital-b", "doctor", pseudonym.address, RAMIPRIL, record_id)
    pid = receipt["prescription_id"]
    check(receipt["pre_review"]["outcome"] == "passed", f"pre-review: {receipt['pre_review']}")
    step(
        14,
        "hospital B's doctor, under an approved filing, prescribes at hospital A (a follow-up)",
        prescription=pid,
        follow_up=record_id,
        expires_at=receipt["expires_at"],
        transaction=receipt["transaction"],
    )

    locum = refusal(lambda: issue("hospital-b", "locum", pseudonym.address, RAMIPRIL, record_id))
    first = PatientKeys(secrets.token_bytes(32))
    newcomer = first.pseudonym(hospital.address)
    identity = first.public_identity(hospital.address)
    with as_staff("hospital-a", "clerk") as clerk:
        key = bytes.fromhex(identity["encryption_key"][2:])
        clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": newcomer.address,
                "encryption_key": identity["encryption_key"],
                "signature": sign_enrolment(newcomer, domain.as_eip712(), hospital.address, key),
            },
        )
    first_visit = refusal(lambda: issue("hospital-a", "doctor", newcomer.address, RAMIPRIL, None))
    check(locum.endswith("prescriber_not_permitted"), f"doctor without a filing: {locum}")
    check(first_visit.endswith("first_diagnosis"), f"first diagnosis: {first_visit}")
    step(
        15,
        "refused: a doctor with no filing at hospital A; a patient with no offline record",
        no_filing=locum,
        first_visit=first_visit,
    )

    try:
        issue("hospital-a", "doctor", pseudonym.address, MORPHINE, record_id)
        blocked = GatewayError("morphine was issued")
    except GatewayError as exc:
        blocked = exc
    check(blocked.problem_code == "prescription.pre_review_blocked", "morphine was not stopped")
    check("controlled-online" in (blocked.detail or ""), f"pre-review: {blocked.detail}")
    step(
        16,
        "pre-review stops a controlled drug online: not issued, nothing clinical goes on chain",
        refused=f"{blocked.status} {blocked.problem_code}",
        finding=blocked.detail,
    )
    with as_staff("hospital-a", "pharmacist") as pharmacist:
        approved = pharmacist.post_json(f"/v1/prescriptions/{pid}/review", {"decision": "approve"})
    step(17, "hospital A's pharmacist approves the follow-up prescription", **approved)

    pharmacies = orgs["pharmacy"], orgs["pharmacy-b"]
    # At hospital A's gateway: the issuing hospital opens the prescription and cuts the view.
    with as_staff("pharmacy", "pharmacist") as pharmacy_at_hospital:
        view = pharmacy_at_hospital.get_json(f"/v1/prescriptions/{pid}")
    check("reasonCode" not in view["resource"], "the dispensing view shows the diagnosis")
    step(
        18,
        "pharmacy A reads the dispensing view at hospital A's gateway: no diagnosis, no salt",
        view=view["view"],
        fhir_status=view["fhir_status"],
        keeps=", ".join(sorted(view["resource"])),
    )

    body = json.dumps(medication_dispense(pid)).encode()
    path = f"/v1/prescriptions/{pid}/dispense"
    assert pharmacies[0].gateway_url is not None
    assert pharmacies[1].gateway_url is not None
    with as_staff("pharmacy", "pharmacist", pharmacies[0].gateway_url) as pharmacy_a:
        dispensed = pharmacy_a.post_json(path, content=body)
    step(
        19,
        "pharmacy A dispenses through its own gateway (the chain takes the pharmacy as sender)",
        pharmacy=dispensed["pharmacy"],
        cid=dispensed["cid"],
        transaction=dispensed["transaction"],
    )
    with as_staff("hospital-a", "pharmacist") as hospital_pharmacist:
        opened = hospital_pharmacist.get_json(f"/v1/dispenses/{pid}")
    check(opened["cid"] == dispensed["cid"], f"hospital A opened another dispense: {opened['cid']}")
    step(
        "19b",
        "hospital A opens the MedicationDispense on its own gateway: the pharmacy sealed it for "
        "hospital A too, under the key hospital A published in the organisation directory",
        status=opened["resource"]["status"],
        cid=opened["cid"],
    )
    with as_staff("pharmacy-b", "pharmacist", pharmacies[1].gateway_url) as pharmacy_b:
        second = refusal(lambda: pharmacy_b.post_json(path, content=body))
    check(second.endswith("already_dispensed"), f"second dispense: {second}")
    step(
        20,
        "pharmacy B is refused: a prescription is dispensed once across all pharmacies",
        pharmacy_b=second,
    )
    # The running stack's settings (time zone, validity), for gateways on a chain of the demo's own.
    facts = expiry_facts(load_settings(), medication_request, medication_dispense)
    step(
        "20b",
        "an expired prescription is refused (offline: valid until 24:00 the same day, local time)",
        **facts,
    )
    return str(pid)


def refusal(call: Callable[[], Any]) -> str:
    """The status and problem code of a call the demo expects refused."""
    try:
        call()
    except GatewayError as exc:
        return f"{exc.status} {exc.problem_code}"
    raise _Unrefused("a call the demo expected refused was accepted")


class _Unrefused(LedgerError):
    """A call the demo shows refused was accepted."""

    code = "demo.failed"
