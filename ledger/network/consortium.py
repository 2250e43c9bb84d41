"""The demo consortium: its organisations, staff and keys, seeded once per chain for development.

Production consortia are admitted by a regulator's own tooling; this exists so `make run` shows a
working network on a fresh clone. Its keys have empty passphrases: development only.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain import deploy
from ledger.chain.connection import Chain
from ledger.chain.directory import OrgDirectory
from ledger.crypto import commitment
from ledger.crypto.keys import load_key, new_key_file, x25519_from_eth_key
from ledger.network.joining import join_args
from ledger.network.org import org_dir
from ledger.prescribing import FilingStatus, PracticeScope, RegistrationStatus
from ledger.types import OrgKind

#: The follow-up window the demo hospitals are seeded with when no setting says otherwise.
DEMO_FOLLOW_UP_WINDOW_S = 90 * 86_400

#: scrypt cost for demo keys. Their passphrase is empty, so a costly KDF would guard nothing and
#: only slow every start; real keys keep eth-account's default cost.
DEMO_KDF_N = 2**10


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
    # The regulator's gateway records registrations and decides filings; offset 6 leaves 5 free.
    OrgSpec("regulator", OrgKind.REGULATOR, 6, {"auditor": StaffSpec("AUDITOR_ROLE")}),
    OrgSpec(
        "hospital-a",
        OrgKind.HOSPITAL,
        0,
        {
            "doctor": StaffSpec("DOCTOR_ROLE", "110101198001011234-DOC"),
            "clerk": StaffSpec("CLERK_ROLE"),
            "pharmacist": StaffSpec("PHARMACIST_ROLE", "PH-44-0001"),
            # Reviews break-glass reads of hospital-a's records by other hospitals.
            "auditor": StaffSpec("AUDITOR_ROLE"),
        },
    ),
    OrgSpec(
        "hospital-b",
        OrgKind.HOSPITAL,
        1,
        {
            "doctor": StaffSpec("DOCTOR_ROLE", "DOC-B-7"),
            # Registered at hospital-b like "doctor", but with no filing at hospital-a.
            "locum": StaffSpec("DOCTOR_ROLE", "DOC-B-9"),
        },
    ),
    # The national medical insurance bureau; its clerk ("adjuster") decides claims.
    OrgSpec(
        "insurer",
        OrgKind.INSURER,
        2,
        {"auditor": StaffSpec("AUDITOR_ROLE"), "adjuster": StaffSpec("CLERK_ROLE")},
    ),
    OrgSpec("pharmacy", OrgKind.PHARMACY, 3, {"pharmacist": StaffSpec("PHARMACIST_ROLE", "PH-1")}),
    OrgSpec(
        "pharmacy-b", OrgKind.PHARMACY, 4, {"pharmacist": StaffSpec("PHARMACIST_ROLE", "PH-2")}
    ),
    # A commercial insurer: the second insurer a service could be claimed at twice.
    OrgSpec("insurer-b", OrgKind.INSURER, 5, {"adjuster": StaffSpec("CLERK_ROLE")}),
)

#: The multi-point practice filing the demo seeds: hospital-b's doctor may prescribe at hospital-a.
DEMO_FILING = ("hospital-b", "doctor", "hospital-a")
#: How long seeded registrations and the filing are in force, from seeding.
DEMO_PRACTICE_S = 5 * 365 * 86_400
#: How long before seeding the demo doctors' independent practice began: enough for internet
#: diagnosis filings under any default (the rule needs 3 years).
DEMO_PRACTISED_S = 10 * 365 * 86_400


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
    w3: Web3,
    data_dir: Path,
    rpc_url: str,
    api_port: int,
    *,
    prescription_validity: deploy.PrescriptionValidity | None = None,
    follow_up_window_s: int = DEMO_FOLLOW_UP_WINDOW_S,
    confirmations: int = 1,
    min_internet_practice_years: int = deploy.MIN_INTERNET_PRACTICE_YEARS,
    break_glass: deploy.BreakGlassTerms | None = None,
) -> Consortium:
    """Deploy if needed and admit the demo organisations and staff once per deployment, each
    publishing its envelope key in the organisation directory; record the doctors' registrations,
    the demo filing and the hospitals' follow-up windows as the regulator.

    Each step is taken only if the file or the chain does not show it done, so a consortium seeded
    by an earlier version gains what was added since. Gateway URLs follow ``api_port`` on every
    call, so a restart on other ports finds its gateways.
    """
    path = demo_dir(data_dir) / "consortium.json"
    regulator = regulator_account(data_dir)
    deployment = deploy.ensure_deployed(
        w3,
        regulator,
        regulator.address,
        data_dir,
        prescription_validity=prescription_validity,
        confirmations=confirmations,
        min_internet_practice_years=min_internet_practice_years,
        break_glass=break_glass,
    )
    keys = _keys_dir(data_dir)
    consortium = _recorded(path, deployment.address("Membership"))
    if consortium is None:
        consortium = Consortium(
            deployment.chain_id,
            rpc_url,
            deployment.address("Membership"),
            str(keys / "regulator-root.json"),
            {},
        )
    consortium.rpc_url = rpc_url
    chain = Chain(w3, deployment, regulator, confirmations=confirmations)
    for spec in DEMO_ORGS:
        org = consortium.orgs.get(spec.name) or _admit(chain, data_dir, spec)
        _keep_key_in_org_dir(data_dir, org)
        consortium.orgs[spec.name] = org
        admin = Chain(w3, deployment, consortium.account(org.key_file), confirmations=confirmations)
        for label, person in spec.staff.items():
            if label not in org.staff:
                org.staff[label] = _register(admin, keys, org, label, person)
        # The envelope key only: each organisation's node publishes its peer when it starts.
        if chain.call(chain.contract("Membership").functions.isActiveOrganisation(org.address)):
            OrgDirectory(admin).publish(x25519_from_eth_key(load_key(Path(org.key_file), "")))
        org.gateway_url = _gateway_url(spec, api_port)
        consortium.save(path)
    _seed_practice(chain, consortium, follow_up_window_s)
    return consortium


def _recorded(path: Path, membership: str) -> Consortium | None:
    """The consortium seeded on this deployment, if any: a redeployed chain is seeded afresh."""
    if not path.exists():
        return None
    existing = Consortium.load(path)
    return existing if existing.membership == membership else None


def org_key_path(data_dir: Path, org: str) -> Path:
    """Where the organisation key lives: in the organisation's own directory."""
    return org_dir(data_dir, org) / "keys" / f"{org}.json"


def _admit(chain: Chain, data_dir: Path, spec: OrgSpec) -> OrgRecord:
    org_key = org_key_path(data_dir, spec.name)
    org_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    org_address = new_key_file(org_key, "", iterations=DEMO_KDF_N)
    membership = chain.contract("Membership")
    chain.transact(membership.functions.admitOrganisation(org_address, int(spec.kind), org_address))
    return OrgRecord(spec.name, spec.kind.name.lower(), org_address, str(org_key), None, {})


def _keep_key_in_org_dir(data_dir: Path, org: OrgRecord) -> None:
    """Move a key seeded before organisations had directories (data/demo/keys) into its own."""
    wanted = org_key_path(data_dir, org.name)
    if Path(org.key_file) != wanted and Path(org.key_file).is_file() and not wanted.exists():
        wanted.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.replace(org.key_file, wanted)
        org.key_file = str(wanted)


def _register(admin: Chain, keys: Path, org: OrgRecord, label: str, person: StaffSpec) -> Member:
    staff_key = keys / f"{org.name}-{label}.json"
    staff_address = new_key_file(staff_key, "", iterations=DEMO_KDF_N)
    licence = (
        commitment.commit(secrets.token_bytes(32), person.licence.encode())
        if person.licence
        else bytes(32)
    )
    role = Web3.keccak(text=person.role)
    membership = admin.contract("Membership")
    # The new staff member consents to joining with its own key; the admin submits that consent.
    staff: LocalAccount = Account.from_key(load_key(staff_key, ""))
    admin.transact(
        membership.functions.registerStaff(
            *join_args(membership, staff, org.address, role, licence)
        )
    )
    return Member(staff_address, str(staff_key))


def _seed_practice(chain: Chain, consortium: Consortium, follow_up_window_s: int) -> None:
    """As the regulator: each demo doctor's registration at their hospital, the demo filing
    (filed by the target hospital, then approved), and every demo hospital's follow-up window."""
    membership = chain.contract("Membership")
    practice = chain.contract("PracticeRegistry")
    prescriptions = chain.contract("PrescriptionRegistry")
    now = int(chain.w3.eth.get_block("latest")["timestamp"])
    # The regulator organisation's account, which its gateway signs with, acts as a regulator.
    regulator_org = consortium.orgs["regulator"].address
    regulator_role = chain.call(membership.functions.REGULATOR_ROLE())
    if not chain.call(membership.functions.hasRole(regulator_role, regulator_org)):
        chain.transact(membership.functions.grantRole(regulator_role, regulator_org))
    hospitals = [spec for spec in DEMO_ORGS if spec.kind is OrgKind.HOSPITAL]
    for spec in hospitals:
        hospital = consortium.orgs[spec.name]
        for label, person in spec.staff.items():
            if person.role != "DOCTOR_ROLE":
                continue
            doctor = hospital.staff[label].address
            *_, status = chain.call(practice.functions.registration(doctor))
            if RegistrationStatus(status) is RegistrationStatus.ACTIVE:
                continue
            _org, _role, licence, _active = chain.call(membership.functions.staff(doctor))
            chain.transact(
                practice.functions.recordRegistration(
                    doctor,
                    hospital.address,
                    licence,
                    now,
                    now + DEMO_PRACTICE_S,
                    now - DEMO_PRACTISED_S,
                )
            )
        policy_set, window = chain.call(prescriptions.functions.followUpPolicy(hospital.address))
        if not policy_set or window != follow_up_window_s:
            chain.transact(
                prescriptions.functions.setFollowUpWindow(hospital.address, follow_up_window_s)
            )
    home, label, target = DEMO_FILING
    doctor = consortium.orgs[home].staff[label].address
    institution = consortium.orgs[target]
    filing_id = demo_filing_id(doctor, institution.address)
    *_, filing_status = chain.call(practice.functions.filing(filing_id))
    if FilingStatus(filing_status) is FilingStatus.NONE:
        filer = Chain(
            chain.w3,
            chain.deployment,
            consortium.account(institution.key_file),
            confirmations=chain.confirmations,
        )
        filer.transact(
            practice.functions.fileForPractice(
                filing_id,
                doctor,
                institution.address,
                int(PracticeScope.INTERNET_DIAGNOSIS | PracticeScope.PRESCRIBING),
                now,
                now + DEMO_PRACTICE_S,
            )
        )
        filing_status = FilingStatus.PENDING
    if FilingStatus(filing_status) is FilingStatus.PENDING:
        chain.transact(practice.functions.approveFiling(filing_id))


def demo_filing_id(doctor: str, institution: str) -> bytes:
    """The id of the demo's filing for ``doctor`` at ``institution``: one per pair."""
    return bytes(Web3.keccak(text=f"medledger/demo/filing/{doctor}/{institution}"))


def _gateway_url(spec: OrgSpec, api_port: int) -> str | None:
    return None if spec.port_offset is None else f"http://127.0.0.1:{api_port + spec.port_offset}"
