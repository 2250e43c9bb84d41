"""A seeded consortium on the session's anvil, with real gateways for two hospitals, two
pharmacies and two insurers over HTTP.

The fixtures `world` and `patient` (a pytest plugin, see tests/conftest.py) and helpers to use them.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.gateway import Gateway, build_gateway
from api.main import create_app
from api.serving import serve
from ledger.chain.node import Anvil
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient
from ledger.network.consortium import Consortium, seed_demo
from ledger.settings import Settings

FIXTURES = Path(__file__).parent / "fixtures" / "fhir"
MAX_PAYLOAD = 64 * 1024


@dataclass
class Served:
    url: str
    gateway: Gateway


@dataclass
class World:
    """The consortium, its served gateways, and a way to speak to them as anyone."""

    consortium: Consortium
    data_dir: Path
    gateways: dict[str, Served]
    w3: Web3

    def staff(self, org: str, label: str) -> LocalAccount:
        return self.consortium.account(self.consortium.orgs[org].staff[label].key_file)

    def client(self, account: LocalAccount, gateway: str = "hospital-a") -> GatewayClient:
        served = self.gateways[gateway]
        return GatewayClient(served.url, account, served.gateway.domain, timeout=30)

    def as_staff(self, org: str, label: str, gateway: str = "hospital-a") -> GatewayClient:
        return self.client(self.staff(org, label), gateway)

    def org_address(self, name: str) -> str:
        return self.consortium.orgs[name].address

    def stored_envelopes(self) -> int:
        """How many envelopes the shared content store holds pinned."""
        return sum(1 for p in (self.data_dir / "store" / "pins").rglob("*") if p.is_file())

    def anchored_events(self) -> int:
        registry = self.gateways["hospital-a"].gateway.chain.contract("RecordRegistry")
        anchored = registry.events.RecordAnchored.get_logs(from_block=0)
        amended = registry.events.RecordAmended.get_logs(from_block=0)
        return len(anchored) + len(amended)


#: The organisations whose gateways a world serves.
SERVED = (
    "hospital-a",
    "hospital-b",
    "pharmacy",
    "pharmacy-b",
    "regulator",
    "insurer",
    "insurer-b",
)


@contextmanager
def open_world(data_dir: Path, rpc_url: str, w3: Web3) -> Iterator[World]:
    """Seed the demo consortium on the chain at ``rpc_url`` and serve its gateways over HTTP."""
    consortium = seed_demo(w3, data_dir, rpc_url, api_port=1)
    gateways: dict[str, Served] = {}
    with ExitStack() as stack:
        for name in SERVED:
            settings = Settings(
                data_dir=data_dir,
                rpc_url=rpc_url,
                org_key_file=Path(consortium.orgs[name].key_file),
                max_payload_bytes=MAX_PAYLOAD,
            )
            gateway = build_gateway(settings)
            stack.callback(gateway.close)
            gateways[name] = Served(stack.enter_context(serve(create_app(gateway))), gateway)
        yield World(consortium, data_dir, gateways, w3)


@contextmanager
def private_world(root: Path) -> Iterator[tuple[World, Anvil]]:
    """A consortium on an anvil of its own under ``root``, for tests that move its clock or stop
    it: the session's world is left alone."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Anvil(state_dir=root / "chain", port=port) as node,
        requests.Session() as session,
    ):
        session.trust_env = False
        w3 = Web3(Web3.HTTPProvider(node.url, session=session))
        with open_world(root / "data", node.url, w3) as opened:
            yield opened, node


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil, w3: Web3) -> Iterator[World]:
    with open_world(tmp_path_factory.mktemp("consortium"), anvil.url, w3) as opened:
        yield opened


@dataclass
class Patient:
    keys: PatientKeys
    pseudonym: LocalAccount


def enrol_patient(
    world: World, hospital: str = "hospital-a", keys: PatientKeys | None = None
) -> Patient:
    """A patient (new, unless ``keys`` are given), enrolled at ``hospital`` by its staff on the
    patient's own signature, under the pseudonym the keys derive for that hospital."""
    keys = keys or PatientKeys(secrets.token_bytes(32))
    address = world.org_address(hospital)
    pseudonym = keys.pseudonym(address)
    identity = keys.public_identity(address)
    domain = world.gateways[hospital].gateway.domain
    signature = sign_enrolment(
        pseudonym, domain.as_eip712(), address, bytes.fromhex(identity["encryption_key"][2:])
    )
    with world.as_staff(hospital, "clerk" if hospital == "hospital-a" else "doctor", hospital) as c:
        c.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": signature,
            },
        )
    return Patient(keys, pseudonym)


@pytest.fixture
def patient(world: World) -> Patient:
    return enrol_patient(world)


def fhir(name: str) -> dict[str, Any]:
    """An official HL7 R4 example from tests/fixtures/fhir."""
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def anchor(world: World, patient: Patient, resource: dict[str, Any]) -> dict[str, Any]:
    with world.as_staff("hospital-a", "doctor") as doctor:
        receipt: dict[str, Any] = doctor.post_json(
            "/v1/records",
            content=json.dumps(resource).encode(),
            params={"patient": patient.pseudonym.address},
        )
    return receipt
