"""Actor commands for the pharmacy journeys (helper-owned): the steps before the counter, as the
demo takes them (ledger/demo/flow.py steps 1-3, ledger/demo/prescriptions.py steps 14 and 17)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ledger.demo.prescriptions import RAMIPRIL, medication_request
from ledger.prescribing.signature import issue_signed
from tests.console.actors._common import as_staff, new_patient_with_record


def approved_prescription(args: dict[str, Any]) -> dict[str, Any]:
    """A new patient enrolled at hospital A with an offline visit's record; hospital B's doctor,
    under the seeded practice filing, prescribes ramipril at hospital A as its follow-up; hospital
    A's pharmacist approves it. Returns the prescription id and its expiry."""
    del args
    pseudonym, record = new_patient_with_record()
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
