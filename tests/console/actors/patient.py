"""Actor commands for the patient journey: hospital A's clerk relays the enrolment the patient
signed in the page, its doctor anchors a record for that pseudonym, and the insurer reads it under
the patient's grant (or is refused once it is revoked). Each call is the demo's (demo/flow.py)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ledger.crypto.keys import PatientKeys, load_key, new_key_file
from ledger.demo.flow import DEMO_BUNDLE
from ledger.gateway.client import GatewayError
from ledger.network.consortium import DEMO_KDF_N
from tests.console.actors._common import as_staff, consortium

HOSPITAL = "hospital-a"


def enrol(args: dict[str, Any]) -> dict[str, Any]:
    """The clerk relays ``request`` (the page's signed enrolment: pseudonym, key, signature)."""
    with as_staff(HOSPITAL, "clerk") as clerk:
        enrolled: dict[str, Any] = clerk.post_json("/v1/patients", args["request"])
    return enrolled


def anchor(args: dict[str, Any]) -> dict[str, Any]:
    """The doctor anchors the demo's FHIR Bundle for ``pseudonym``; returns the receipt."""
    with as_staff(HOSPITAL, "doctor") as doctor:
        receipt: dict[str, Any] = doctor.post_json(
            "/v1/records",
            content=json.dumps(DEMO_BUNDLE).encode(),
            params={"patient": args["pseudonym"]},
        )
    return receipt


def insurer_read(args: dict[str, Any]) -> dict[str, Any]:
    """The insurer's auditor asks hospital A for its claim view of ``record_id``: the view's
    resource types, or the refusal's status and problem code."""
    with as_staff("insurer", "auditor", gateway=HOSPITAL) as insurer:
        try:
            view = insurer.get_json(
                f"/v1/records/{args['record_id']}", params={"purpose": "claim_verification"}
            )
        except GatewayError as exc:
            return {"allowed": False, "status": exc.status, "code": exc.problem_code}
    kinds = [e["resource"]["resourceType"] for e in view["resource"].get("entry", [])]
    return {"allowed": True, "view": view["view"], "kinds": kinds}


def break_glass(args: dict[str, Any]) -> dict[str, Any]:
    """Hospital B's doctor declares break-glass for ``record_id`` on chain and reads it at hospital
    A's gateway on that declaration alone (ledger/demo/breakglass.py)."""
    with as_staff("hospital-b", "doctor") as at_b:
        declared: dict[str, Any] = at_b.post_json(
            "/v1/break-glass", {"record_id": args["record_id"], "reason": "unconscious_patient"}
        )
    with as_staff("hospital-b", "doctor", gateway=HOSPITAL) as at_a:
        document = at_a.get_json(
            f"/v1/records/{args['record_id']}", params={"break_glass": declared["access_id"]}
        )
    return {"access_id": declared["access_id"], "version": document["version"]}


def key_file(args: dict[str, Any]) -> dict[str, Any]:
    """A patient key file as the CLI writes it (``new_key_file``) under ``passphrase``, and the
    pseudonym the Python derives from it for hospital A, for the page to import and agree with."""
    path = Path(tempfile.mkdtemp(prefix="patient-key-")) / "patient.json"
    new_key_file(path, args["passphrase"], iterations=DEMO_KDF_N)
    keys = PatientKeys(load_key(path, args["passphrase"]))
    hospital = consortium().orgs[HOSPITAL].address
    return {"path": str(path), "pseudonym": keys.pseudonym(hospital).address}


COMMANDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "patient-enrol": enrol,
    "patient-anchor": anchor,
    "patient-insurer-read": insurer_read,
    "patient-key-file": key_file,
    "patient-break-glass": break_glass,
}
