"""The demo's expiry step, on a scratch chain whose clock the demo may move.

A running network's clock cannot honestly be moved, and waiting until 24:00 is no demo. So this
step starts a throwaway anvil in a temporary directory, deploys and seeds the same consortium on it,
serves hospital A's and pharmacy A's gateways from this process over real HTTP, and walks the
same API: an offline prescription is issued and approved, the next block is set to its last valid
second (dispensed), and for a second prescription to one second later (410 `prescription.expired`).
Nothing of it touches the running stack; the directory is deleted afterwards.
"""

from __future__ import annotations

import json
import secrets
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from web3 import Web3

from api.gateway import build_gateway
from api.main import create_app
from api.serving import serve
from ledger.chain.connection import connect
from ledger.chain.node import Anvil
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
from ledger.network.consortium import Consortium, seed_demo
from ledger.prescribing.signature import issue_signed
from ledger.settings import Settings

__all__ = ["expiry_facts"]

_ATORVASTATIN = {"system": "http://www.whocc.no/atc", "code": "C10AA05", "display": "atorvastatin"}
_METFORMIN = {"system": "http://www.whocc.no/atc", "code": "A10BA02", "display": "metformin"}
_DIAGNOSIS = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "resource": {
                "resourceType": "Condition",
                "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
                "subject": {"reference": "Patient/p1"},
            }
        }
    ],
}


@dataclass
class _Scratch:
    consortium: Consortium
    urls: dict[str, str]
    w3: Web3

    def as_staff(self, org: str, label: str, gateway: str) -> GatewayClient:
        account = self.consortium.account(self.consortium.orgs[org].staff[label].key_file)
        url = self.urls[gateway]
        return GatewayClient(url, account, fetch_domain(url), timeout=30)

    def next_block_at(self, timestamp: int) -> None:
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


@contextmanager
def _scratch_chain(settings: Settings) -> Iterator[_Scratch]:
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="medledger-expiry-")))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        node = stack.enter_context(Anvil(state_dir=root / "chain", port=port))
        w3 = connect(node.url)
        consortium = seed_demo(w3, root / "data", node.url, api_port=1)
        urls = {}
        for name in ("hospital-a", "pharmacy"):
            gateway = build_gateway(
                settings.model_copy(
                    update={
                        "data_dir": root / "data",
                        "rpc_url": node.url,
                        "org_key_file": Path(consortium.orgs[name].key_file),
                    }
                )
            )
            stack.callback(gateway.close)
            urls[name] = stack.enter_context(serve(create_app(gateway)))
        yield _Scratch(consortium, urls, w3)


def expiry_facts(
    settings: Settings,
    medication_request: Callable[[dict[str, str]], dict[str, Any]],
    medication_dispense: Callable[[str], dict[str, Any]],
) -> dict[str, object]:
    """Walk the expiry on a scratch chain; the facts the demo prints (raises if one fails)."""
    with _scratch_chain(settings) as scratch:
        hospital = scratch.consortium.orgs["hospital-a"]
        keys = PatientKeys(secrets.token_bytes(32))
        pseudonym = keys.pseudonym(hospital.address)
        identity = keys.public_identity(hospital.address)
        with scratch.as_staff("hospital-a", "clerk", "hospital-a") as clerk:
            signature = sign_enrolment(
                pseudonym,
                clerk.domain.as_eip712(),
                hospital.address,
                bytes.fromhex(identity["encryption_key"][2:]),
            )
            clerk.post_json(
                "/v1/patients",
                {
                    "pseudonym": pseudonym.address,
                    "encryption_key": identity["encryption_key"],
                    "signature": signature,
                },
            )
        receipts = []
        with scratch.as_staff("hospital-a", "doctor", "hospital-a") as doctor:
            record = doctor.post_json(
                "/v1/records",
                content=json.dumps(_DIAGNOSIS).encode(),
                params={"patient": pseudonym.address},
            )["record_id"]
            for drug in (_ATORVASTATIN, _METFORMIN):  # two classes: no duplicate therapy
                receipts.append(
                    issue_signed(
                        doctor,
                        json.dumps(medication_request(drug)).encode(),
                        {
                            "patient": pseudonym.address,
                            "online": "false",
                            "follow_up_record": record,
                        },
                    )
                )
        with scratch.as_staff("hospital-a", "pharmacist", "hospital-a") as pharmacist:
            for receipt in receipts:
                pid = receipt["prescription_id"]
                pharmacist.post_json(f"/v1/prescriptions/{pid}/review", {"decision": "approve"})
        last, late = receipts
        with scratch.as_staff("pharmacy", "pharmacist", "pharmacy") as pharmacy:

            def dispense(pid: str) -> Any:
                body = json.dumps(medication_dispense(pid)).encode()
                return pharmacy.post_json(f"/v1/prescriptions/{pid}/dispense", content=body)

            scratch.next_block_at(last["expires_at"])
            in_time = dispense(last["prescription_id"])
            scratch.next_block_at(max(last["expires_at"], late["expires_at"]) + 1)
            try:
                dispense(late["prescription_id"])
            except GatewayError as exc:
                refused = f"{exc.status} {exc.problem_code}"
            else:
                refused = "accepted"
    if refused != "410 prescription.expired":
        raise GatewayError(f"an expired prescription was not refused as expired: {refused}")
    return {
        "expires_at": last["expires_at"],
        "at_expiry": f"dispensed in block {in_time['block']} (its last valid second)",
        "one_second_on": refused,
        "where": "a scratch chain of this demo's own, whose clock it moved; then deleted",
    }
