"""What every actor command needs: the stack's consortium, and a signed client as its staff."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.demo.flow import DEMO_BUNDLE
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium


def stack() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(os.environ["MEDLEDGER_E2E"]).read_text())
    return data


def consortium() -> Consortium:
    """The consortium `medledger up` seeded (its data/demo/consortium.json)."""
    return Consortium.load(Path(os.environ["MEDLEDGER_DATA_DIR"]) / "demo" / "consortium.json")


def staff(org: str, label: str) -> LocalAccount:
    c = consortium()
    return c.account(c.orgs[org].staff[label].key_file)


def gateway_url(org: str) -> str:
    url = consortium().orgs[org].gateway_url
    assert url is not None, f"{org} runs no gateway"
    return url


def client(account: LocalAccount, org: str) -> GatewayClient:
    """``account`` signing requests to ``org``'s gateway."""
    url = gateway_url(org)
    return GatewayClient(url, account, fetch_domain(url, timeout=30), timeout=60)


def as_staff(org: str, label: str, gateway: str | None = None) -> GatewayClient:
    return client(staff(org, label), gateway or org)


def new_patient_with_record() -> tuple[LocalAccount, str]:
    """A new patient enrolled at hospital A by its clerk, with the demo's record anchored by its
    doctor, as the demo's first steps do: the pseudonym and the record id."""
    hospital = consortium().orgs["hospital-a"]
    keys = PatientKeys(secrets.token_bytes(32))
    pseudonym = keys.pseudonym(hospital.address)
    identity = keys.public_identity(hospital.address)
    key = bytes.fromhex(identity["encryption_key"][2:])
    domain = fetch_domain(gateway_url("hospital-a"), timeout=30)
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
        record: str = doctor.post_json(
            "/v1/records",
            content=json.dumps(DEMO_BUNDLE).encode(),
            params={"patient": pseudonym.address},
        )["record_id"]
    return pseudonym, record
