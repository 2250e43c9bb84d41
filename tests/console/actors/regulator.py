"""Actor commands for the regulator journeys (helper-owned): the other parties' steps around the
regulator's console, each in Python as that party's own staff, as ledger/demo and
tests/api/test_practice.py make them.

- ``regulator-new-filing``: hospital B admits a new doctor (so that approving their filing never
  changes what the seeded doctors may do in other journeys), the regulator records their
  registration at hospital B, and hospital A's clerk files for them to practise at hospital A.
- ``regulator-filing``: the filing as hospital A's clerk reads it from the chain at its own gateway.
- ``regulator-await-trail``: waits until the regulator's gateway has hospital A's anchored entry of
  that filing in the consortium's trail, so that the page's trail search finds it.
- ``regulator-break-glass``: a new patient's record at hospital A (enrolled by its clerk, anchored
  by its doctor), and hospital B's doctor declaring break-glass on it (ledger/demo/breakglass.py),
  which waits for the regulator's review.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.chain.deploy import load_deployment
from ledger.network.joining import join_args
from tests.console.actors._common import as_staff, consortium, new_patient_with_record

YEAR = 365 * 86_400
FILING_ACTION = "POST /v1/practice/filings"


def new_filing(args: dict[str, Any]) -> dict[str, Any]:
    del args
    c = consortium()
    w3 = Web3(Web3.HTTPProvider(c.rpc_url, request_kwargs={"timeout": 30}))
    deployment = load_deployment(w3, Path(os.environ["MEDLEDGER_DATA_DIR"]))
    hospital_b, hospital_a = c.orgs["hospital-b"], c.orgs["hospital-a"]
    admin = Chain(w3, deployment, c.account(hospital_b.key_file))
    membership = admin.contract("Membership")
    doctor = Account.create()
    licence = Web3.keccak(text=f"salted licence commitment {doctor.address}")
    role = Web3.keccak(text="DOCTOR_ROLE")
    admin.transact(
        membership.functions.registerStaff(
            *join_args(membership, doctor, hospital_b.address, role, licence)
        )
    )
    start = int(w3.eth.get_block("latest")["timestamp"]) - 60
    with as_staff("regulator", "auditor") as regulator:
        regulator.post_json(
            "/v1/practice/registrations",
            {
                "doctor": doctor.address,
                "institution": hospital_b.address,
                "valid_from": start,
                "valid_to": start + YEAR,
                "practising_since": start - 10 * YEAR,
            },
        )
    with as_staff("hospital-a", "clerk") as clerk:
        filed: dict[str, Any] = clerk.post_json(
            "/v1/practice/filings",
            {
                "doctor": doctor.address,
                "scope": ["prescribing"],
                "valid_from": start,
                "valid_to": start + YEAR,
            },
        )
        clerk_address = clerk.account.address
    return {**filed, "clerk": clerk_address, "hospital_a": hospital_a.address}


def read_filing(args: dict[str, Any]) -> dict[str, Any]:
    with as_staff("hospital-a", "clerk") as clerk:
        filing: dict[str, Any] = clerk.get_json(f"/v1/practice/filings/{args['filing_id']}")
    return filing


def await_trail(args: dict[str, Any]) -> dict[str, Any]:
    """Hospital A's entry of the clerk's filing, anchored and in the regulator's trail (90 s)."""
    org = consortium().orgs["hospital-a"].address
    deadline = time.monotonic() + 90
    with as_staff("regulator", "auditor") as regulator:
        while True:
            trail: dict[str, Any] = regulator.get_json("/v1/audit/trail", params={"org": org})
            filed = [
                i
                for i in trail["items"]
                if i["entry"]["action"] == FILING_ACTION
                and i["entry"]["actor"].lower() == args["clerk"].lower()
            ]
            if filed or time.monotonic() > deadline:
                assert filed, f"hospital A's filing entry is not in the trail: {trail['problems']}"
                return {"entries": len(trail["items"]), "filed": len(filed)}
            time.sleep(1)


def break_glass(args: dict[str, Any]) -> dict[str, Any]:
    del args
    _, record = new_patient_with_record()
    with as_staff("hospital-b", "doctor") as at_b:
        declared: dict[str, Any] = at_b.post_json(
            "/v1/break-glass",
            {"record_id": record, "reason": "unconscious_patient"},
        )
    return declared


COMMANDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "regulator-new-filing": new_filing,
    "regulator-filing": read_filing,
    "regulator-await-trail": await_trail,
    "regulator-break-glass": break_glass,
}
