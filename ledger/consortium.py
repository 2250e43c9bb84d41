"""The demo consortium: its organisations, staff and keys, seeded once per chain for development.

Production consortia are admitted by a regulator's own tooling; this exists so `make run` shows a
working network on a fresh clone. Its keys have empty passphrases: development only.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger import commitment, deploy
from ledger.chain import Chain
from ledger.keys import load_key, new_key_file

#: scrypt cost for demo keys. Their passphrase is empty, so a costly KDF would guard nothing and
#: only slow every start; real keys keep eth-account's default cost.
DEMO_KDF_N = 2**10


class OrgKind(IntEnum):
    """Mirrors Membership.OrgKind."""

    HOSPITAL = 1
    INSURER = 2
    PHARMACY = 3
    REGULATOR = 4


@dataclass(frozen=True)
class StaffSpec:
    role: str  # DOCTOR_ROLE, CLERK_ROLE, PHARMACIST_ROLE, AUDITOR_ROLE
    licence: str | None = None  # licensed roles carry a (committed) licence number


@dataclass(frozen=True)
class OrgSpec:
    name: str
    kind: OrgKind
    port_offset: int | None  # its gateway listens on the API port plus this; None runs no gateway
    staff: dict[str, StaffSpec] = field(default_factory=dict)


DEMO_ORGS: tuple[OrgSpec, ...] = (
    OrgSpec("regulator", OrgKind.REGULATOR, None, {"auditor": StaffSpec("AUDITOR_ROLE")}),
    OrgSpec(
        "hospital-a",
        OrgKind.HOSPITAL,
        0,
        {
            "doctor": StaffSpec("DOCTOR_ROLE", "110101198001011234-DOC"),
            "clerk": StaffSpec("CLERK_ROLE"),
            "pharmacist": StaffSpec("PHARMACIST_ROLE", "PH-44-0001"),
        },
    ),
    OrgSpec("hospital-b", OrgKind.HOSPITAL, 1, {"doctor": StaffSpec("DOCTOR_ROLE", "DOC-B-7")}),
    OrgSpec("insurer", OrgKind.INSURER, 2, {"auditor": StaffSpec("AUDITOR_ROLE")}),
    OrgSpec(
        "pharmacy", OrgKind.PHARMACY, None, {"pharmacist": StaffSpec("PHARMACIST_ROLE", "PH-1")}
    ),
)


@dataclass
class Member:
    address: str
    key_file: str


@dataclass
class OrgRecord:
    name: str
    kind: str
    address: str
    key_file: str
    gateway_url: str | None
    staff: dict[str, Member]


@dataclass
class Consortium:
    """What `medledger up` seeded and `medledger demo` reads: data/demo/consortium.json."""

    chain_id: int
    rpc_url: str
    membership: str  # the deployment it was seeded on: a redeployed chain is seeded afresh
    regulator_key_file: str
    orgs: dict[str, OrgRecord]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Consortium:
        raw = json.loads(path.read_text())
        orgs = {
            name: OrgRecord(**{**org, "staff": {k: Member(**m) for k, m in org["staff"].items()}})
            for name, org in raw.pop("orgs").items()
        }
        return cls(orgs=orgs, **raw)

    def account(self, key_file: str) -> LocalAccount:
        account: LocalAccount = Account.from_key(load_key(Path(key_file), ""))
        return account


def demo_dir(data_dir: Path) -> Path:
    return data_dir / "demo"


def _keys_dir(data_dir: Path) -> Path:
    keys = demo_dir(data_dir) / "keys"
    keys.mkdir(parents=True, exist_ok=True, mode=0o700)
    return keys


def regulator_account(data_dir: Path) -> LocalAccount:
    """The development regulator (and deployer), created on first use."""
    path = _keys_dir(data_dir) / "regulator-root.json"
    if not path.exists():
        new_key_file(path, "", iterations=DEMO_KDF_N)
    account: LocalAccount = Account.from_key(load_key(path, ""))
    return account


def seed_demo(
    w3: Web3, data_dir: Path, rpc_url: str, api_port: int, *, confirmations: int = 1
) -> Consortium:
    """Deploy if needed and admit the demo organisations and staff once per deployment.

    Gateway URLs follow ``api_port`` on every call, so a restart on other ports finds its gateways.
    """
    path = demo_dir(data_dir) / "consortium.json"
    regulator = regulator_account(data_dir)
    deployment = deploy.ensure_deployed(
        w3, regulator, regulator.address, data_dir, confirmations=confirmations
    )
    if path.exists():
        existing = Consortium.load(path)
        if existing.membership == deployment.address("Membership"):
            for spec in DEMO_ORGS:
                existing.orgs[spec.name].gateway_url = _gateway_url(spec, api_port)
            existing.rpc_url = rpc_url
            existing.save(path)
            return existing
    keys = _keys_dir(data_dir)
    chain = Chain(w3, deployment, regulator, confirmations=confirmations)
    membership = chain.contract("Membership")
    orgs: dict[str, OrgRecord] = {}
    for spec in DEMO_ORGS:
        org_key = keys / f"{spec.name}.json"
        org_address = new_key_file(org_key, "", iterations=DEMO_KDF_N)
        chain.transact(
            membership.functions.admitOrganisation(org_address, int(spec.kind), org_address)
        )
        admin = Chain(
            w3, deployment, Account.from_key(load_key(org_key, "")), confirmations=confirmations
        )
        staff: dict[str, Member] = {}
        for label, person in spec.staff.items():
            staff_key = keys / f"{spec.name}-{label}.json"
            staff_address = new_key_file(staff_key, "", iterations=DEMO_KDF_N)
            licence = (
                commitment.commit(secrets.token_bytes(32), person.licence.encode())
                if person.licence
                else bytes(32)
            )
            role = Web3.keccak(text=person.role)
            admin.transact(
                membership.functions.registerStaff(org_address, staff_address, role, licence)
            )
            staff[label] = Member(staff_address, str(staff_key))
        orgs[spec.name] = OrgRecord(
            spec.name,
            spec.kind.name.lower(),
            org_address,
            str(org_key),
            _gateway_url(spec, api_port),
            staff,
        )
    consortium = Consortium(
        deployment.chain_id,
        rpc_url,
        deployment.address("Membership"),
        str(keys / "regulator-root.json"),
        orgs,
    )
    consortium.save(path)
    return consortium


def _gateway_url(spec: OrgSpec, api_port: int) -> str | None:
    return None if spec.port_offset is None else f"http://127.0.0.1:{api_port + spec.port_offset}"
