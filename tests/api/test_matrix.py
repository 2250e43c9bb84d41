"""The authorisation matrix: every route x every caller x every consent state, walked over HTTP.

The expectation table (`TABLE`) is declared once, as data: for each route, caller and state of the
caller's organisation's consent on the record, either `Ok` (a 2xx, with what it may show) or `No`
(the refusal: status and problem code). The walk checks it both ways: no 2xx where it says refused,
a 2xx where it says allowed. A route of the app missing from the table fails the test.

"No leak" is checked three ways: a refused caller gets the same answer for a record (or grant)
that exists as for one that does not; the list endpoints show a patient or a stranger only their own
entries; and what a patient sees (items, counts, pages) does not change with another's activity.

Consent states are one record each (all of one patient, anchored by hospital-a), so every cell can
run in any order: on `none` nobody holds a grant; on `granted` each organisation holds one for its
purpose; on `expired` each held one that ran out 3 s after it was relayed; on `revoked` each holds
one the patient revoked.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount

from api.main import create_app
from ledger.consent.grants import ConsentDomain, Purpose, Scope, sign_grant, sign_revocation
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys, x25519_public_hex
from ledger.gateway.client import GatewayClient, GatewayError
from tests.world import Patient, World, anchor, enrol_patient, fhir

DAY = 86_400
EXPIRES_AFTER_S = 3
STATES = ("none", "granted", "expired", "revoked")
ROLES = (
    "stranger",
    "patient",
    "other_patient",
    "a_doctor",
    "a_clerk",
    "a_pharmacist",
    "b_doctor",
    "insurer",
    "pharmacy",
    "regulator",
)
#: Staff callers: (organisation, staff label) in ledger.network.consortium.DEMO_ORGS.
STAFF = {
    "a_doctor": ("hospital-a", "doctor"),
    "a_clerk": ("hospital-a", "clerk"),
    "a_pharmacist": ("hospital-a", "pharmacist"),
    "b_doctor": ("hospital-b", "doctor"),
    "insurer": ("insurer", "auditor"),
    "pharmacy": ("pharmacy", "pharmacist"),
    "regulator": ("regulator", "auditor"),
}
#: The purpose each organisation is granted for, in every state but `none`.
GRANTED_PURPOSE = {
    "hospital-a": Purpose.TREATMENT,
    "hospital-b": Purpose.TREATMENT,
    "insurer": Purpose.CLAIM_VERIFICATION,
    "pharmacy": Purpose.TREATMENT,
    "regulator": Purpose.AUDIT,
}
#: The `purpose` a caller reads with (None: reads as the hospital or the patient, with no purpose).
#: hospital-a's pharmacist may not read its hospital's records as staff; it asks under a grant.
READ_PURPOSE = {
    "a_pharmacist": "treatment",
    "b_doctor": "treatment",
    "insurer": "claim_verification",
    "pharmacy": "treatment",
    "regulator": "audit",
}
GATEWAY = "hospital-a"  # the record's hospital: where it is read, amended and its trail kept


# --- The expectation table ---------------------------------------------------------------------


@dataclass(frozen=True)
class Ok:
    """A 2xx. ``view``: the view a read returns ("full", or a segmented view's name);
    ``own_only``: a list that may show the caller only what is about the caller."""

    view: str | None = None
    own_only: bool = False


@dataclass(frozen=True)
class No:
    """A refusal: this status with this problem code."""

    status: int
    code: str


Outcome = Ok | No
Cell = Outcome | Mapping[str, Outcome]  # one outcome for every state, or one per state

OK = Ok()
OWN = Ok(own_only=True)
NOT_MEMBER = No(403, "auth.not_member")
WRONG_ORG = No(403, "auth.wrong_organisation")
ROLE_FORBIDDEN = No(403, "auth.role_forbidden")
FORBIDDEN = No(403, "record.forbidden")
VIEW_ONLY = No(403, "record.view_only")
NOT_RELAYER = No(403, "consent.not_relayer")
AUDIT_FORBIDDEN = No(403, "audit.forbidden")


def granted_only(allowed: Outcome, otherwise: Outcome = FORBIDDEN) -> dict[str, Outcome]:
    """Allowed only while the caller's organisation holds a grant in force."""
    return {state: allowed if state == "granted" else otherwise for state in STATES}


def every(outcome: Outcome) -> dict[str, Cell]:
    return dict.fromkeys(ROLES, outcome)


#: Hospital-a's writers (doctor, clerk) only; everyone else refused before anything is looked up.
WRITERS_ONLY: dict[str, Cell] = {
    "stranger": NOT_MEMBER,
    "patient": NOT_MEMBER,
    "other_patient": NOT_MEMBER,
    "a_doctor": OK,
    "a_clerk": OK,
    "a_pharmacist": ROLE_FORBIDDEN,
    "b_doctor": WRONG_ORG,
    "insurer": WRONG_ORG,
    "pharmacy": WRONG_ORG,
    "regulator": WRONG_ORG,
}
#: Reading the whole record (envelope, key): segmented views never get it.
WHOLE_RECORD: dict[str, Cell] = {
    "stranger": FORBIDDEN,
    "patient": OK,
    "other_patient": FORBIDDEN,
    "a_doctor": OK,
    "a_clerk": OK,
    "a_pharmacist": granted_only(OK),  # a grant to its organisation covers all its staff
    "b_doctor": granted_only(OK),
    "insurer": granted_only(VIEW_ONLY),
    "pharmacy": granted_only(VIEW_ONLY),
    "regulator": granted_only(VIEW_ONLY),
}
#: Relaying a patient's signed consent: the patient, or this gateway's organisation's staff.
RELAYERS: dict[str, Cell] = {
    **every(NOT_RELAYER),
    "patient": OK,
    "a_doctor": OK,
    "a_clerk": OK,
    "a_pharmacist": OK,
}
#: The access log: regulators (and this organisation's auditors, of which hospital-a has none) see
#: everything; a non-member sees only the entries about themselves as a patient.
AUDITORS: dict[str, Cell] = {
    **every(AUDIT_FORBIDDEN),
    "stranger": OWN,
    "patient": OWN,
    "other_patient": OWN,
    "regulator": OK,
}

TABLE: dict[str, dict[str, Cell]] = {
    "GET /v1/domain": every(OK),
    "GET /v1/health": every(OK),
    "GET /v1/consents/domain": every(OK),
    "GET /v1/claims/domain": every(OK),
    "GET /v1/console/config": every(OK),
    #: The organisations a patient may grant to (kind and address, as the chain holds them).
    "GET /v1/console/organisations": every(OK),
    #: Who a signed key is, for the console's staff sign-in: this organisation's staff only.
    "GET /v1/console/me": {**WRITERS_ONLY, "a_pharmacist": OK},
    "POST /v1/patients": WRITERS_ONLY,
    "POST /v1/records": WRITERS_ONLY,
    "POST /v1/records/{record_id}/versions": WRITERS_ONLY,
    "GET /v1/records/{record_id}": {
        "stranger": FORBIDDEN,
        "patient": Ok("full"),
        "other_patient": FORBIDDEN,
        "a_doctor": Ok("full"),
        "a_clerk": Ok("full"),
        "a_pharmacist": granted_only(Ok("full")),
        "b_doctor": granted_only(Ok("full")),
        "insurer": granted_only(Ok("claim")),
        "pharmacy": granted_only(Ok("dispensing")),
        "regulator": granted_only(Ok("metadata")),
    },
    "GET /v1/records/{record_id}/envelope": WHOLE_RECORD,
    "GET /v1/records/{record_id}/key": WHOLE_RECORD,
    "GET /v1/records/{record_id}/verification": {
        **every(OK),
        "stranger": NOT_MEMBER,
        "patient": NOT_MEMBER,  # verification is for members; the patient reads the record itself
        "other_patient": NOT_MEMBER,
    },
    "POST /v1/consents": RELAYERS,
    "POST /v1/consents/revocations": RELAYERS,
    "GET /v1/consents": every(OWN),
    "GET /v1/access-log": AUDITORS,
    "GET /v1/access-log/verification": AUDITORS,
}
#: FastAPI's own pages: not API routes, and public by design.
FRAMEWORK = {
    "GET /openapi.json",
    "HEAD /openapi.json",
    "GET /docs",
    "HEAD /docs",
    "GET /docs/oauth2-redirect",
    "HEAD /docs/oauth2-redirect",
    "GET /redoc",
    "HEAD /redoc",
}

#: Routes neither matrix walks, each with the test that covers its authorisation instead (the
#: prescription, dispense and doctor-practice routes are walked by test_prescription_matrix.py).
COVERED_ELSEWHERE = {
    route: "tests/api/test_claims.py"
    for route in (
        "GET /v1/claims",
        "GET /v1/claims/figures",
        "GET /v1/claims/{claim_id}",
        "GET /v1/payments/{payment_id}",
        "POST /v1/claims",
        "POST /v1/claims/{claim_id}/decision",
        "POST /v1/claims/{claim_id}/settlement",
        "POST /v1/payments",
    )
}
#: The pharmacist's counter: its refusals (role, organisation kind) and its relay.
COVERED_ELSEWHERE |= {
    route: "tests/api/test_counter.py"
    for route in (
        "GET /v1/counter/prescriptions",
        "GET /v1/counter/prescriptions/{prescription_id}",
        "GET /v1/counter/prescriptions/{prescription_id}/view",
    )
}
#: Registrations and filings: each refusal by role and gateway, with the positive path.
COVERED_ELSEWHERE |= {
    route: "tests/api/test_practice.py"
    for route in (
        "POST /v1/practice/registrations",
        "POST /v1/practice/registrations/{address}/revoke",
        "POST /v1/practice/filings",
        "GET /v1/practice/filings/{filing_id}",
        "POST /v1/practice/filings/{filing_id}/approve",
        "POST /v1/practice/filings/{filing_id}/reject",
        "POST /v1/practice/filings/{filing_id}/revoke",
    )
}
#: The consortium's trail (regulators only) and its published batches (ciphertext, for anyone
#: signed), across three gateways on their own IPFS nodes.
COVERED_ELSEWHERE |= {
    route: "tests/api/test_audit_trail.py"
    for route in ("GET /v1/audit/trail", "GET /v1/audit/batches")
}
#: A patient's erasure request: only the patient, refused within retention (retention branch).
COVERED_ELSEWHERE |= {"POST /v1/patients/{pseudonym}/erasure": "tests/api/test_retention.py"}
#: The organisation directory: any member reads it, nobody else.
COVERED_ELSEWHERE |= {"GET /v1/directory": "tests/api/test_directory.py"}
#: Who should hold a CID: any member asks, nobody else (four real nodes and gateways).
COVERED_ELSEWHERE |= {"GET /v1/content/{cid}": "tests/network/test_replication.py"}
#: The regulator's alerts: its staff on its own gateway, nobody else (a rules engine of their own).
COVERED_ELSEWHERE |= {
    route: "tests/api/test_alerts.py" for route in ("GET /v1/alerts", "GET /v1/alerts/{alert_id}")
}
#: Break-glass: declared at the doctor's hospital, read at the holder's, reviewed at either the
#: holder's or the regulator's; each refusal by role and gateway, with the positive path.
COVERED_ELSEWHERE |= {
    route: "tests/api/test_break_glass.py"
    for route in (
        "GET /v1/break-glass/reasons",
        "POST /v1/break-glass",
        "GET /v1/break-glass",
        "GET /v1/break-glass/{access_id}",
        "POST /v1/break-glass/{access_id}/review",
    )
}
#: Guardians' and proxies' appointments: signed by the patient, relayed by a member, listed by the
#: patient or the agent; a forged one refused (a real chain and gateway of the session world).
COVERED_ELSEWHERE |= {
    route: "tests/api/test_guardians.py"
    for route in (
        "GET /v1/consents/appointments",
        "POST /v1/consents/appointments",
        "POST /v1/consents/appointments/revocations",
    )
}
#: The regulator's overview: organisations and filings, for a regulator only.
COVERED_ELSEWHERE |= {
    route: "tests/api/test_oversight.py"
    for route in ("GET /v1/oversight/organisations", "GET /v1/oversight/filings")
}
#: Bulk writes and their receipts.
COVERED_ELSEWHERE |= {
    route: "tests/api/test_bulk.py"
    for route in ("POST /v1/records:bulk", "GET /v1/receipts/{receipt_id}")
}

#: The hospital's own staff who may not read its records: they once got 404 for an id that is not
#: anchored and 403 for one that is. Checked on their own in
#: `test_a_non_reading_member_of_the_hospital_cannot_tell_whether_a_record_exists`.
HOSPITAL_NON_READERS = {
    ("GET /v1/records/{record_id}", "a_pharmacist"),
    ("GET /v1/records/{record_id}/envelope", "a_pharmacist"),
    ("GET /v1/records/{record_id}/key", "a_pharmacist"),
}


def expected(route: str, role: str, state: str) -> Outcome:
    cell = TABLE[route][role]
    return cell if isinstance(cell, Ok | No) else cell[state]


# --- The consortium, seeded once for the module ------------------------------------------------


@dataclass
class Matrix:
    world: World
    patient: Patient
    other: Patient
    records: dict[str, str]  # state -> record id
    grants: dict[tuple[str, str], str]  # (state, organisation) -> grant id
    accounts: dict[str, LocalAccount]
    clients: dict[str, GatewayClient]
    relayed: dict[str, set[str]] = field(default_factory=dict)  # pseudonym -> grant ids relayed

    @property
    def domain(self) -> ConsentDomain:
        return ConsentDomain.of(self.world.gateways[GATEWAY].gateway.chain.deployment)

    def org_of(self, role: str) -> str | None:
        return STAFF[role][0] if role in STAFF else None

    def relay_grant(
        self, patient: Patient, record: str, grantee: str, purpose: Purpose, expires_at: int
    ) -> str:
        signed = sign_grant(
            patient.pseudonym,
            self.domain,
            grantee=grantee,
            scope=Scope.record(record),
            purpose=purpose,
            expires_at=expires_at,
        )
        response = self.client_of(patient).request("POST", "/v1/consents", json=signed.to_wire())
        assert response.status_code == 201, response.text
        grant_id = "0x" + signed.grant_id.hex()
        self.relayed.setdefault(patient.pseudonym.address, set()).add(grant_id)
        return grant_id

    def revoke(self, patient: Patient, grant_id: str) -> None:
        body = sign_revocation(patient.pseudonym, self.domain, bytes.fromhex(grant_id[2:]))
        response = self.client_of(patient).request(
            "POST", "/v1/consents/revocations", json=body.to_wire()
        )
        assert response.status_code == 201, response.text

    def client_of(self, patient: Patient) -> GatewayClient:
        role = "patient" if patient is self.patient else "other_patient"
        return self.clients[role]

    def latest_version(self, record: str) -> int:
        return self.world.gateways[GATEWAY].gateway.records.latest_version(
            bytes.fromhex(record[2:])
        )


def _chain_now(world: World) -> int:
    return int(world.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture(scope="module")
def matrix(world: World) -> Iterator[Matrix]:
    patient, other = enrol_patient(world), enrol_patient(world)
    accounts: dict[str, LocalAccount] = {
        "stranger": Account.create(),
        "patient": patient.pseudonym,
        "other_patient": other.pseudonym,
        **{role: world.staff(org, label) for role, (org, label) in STAFF.items()},
    }
    clients = {role: world.client(account, GATEWAY) for role, account in accounts.items()}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": fhir("patient-example.json")},
            {"resource": fhir("condition-example-f201-fever.json")},
            {"resource": fhir("medicationrequest0301.json")},
        ],
    }
    records = {state: str(anchor(world, patient, bundle)["record_id"]) for state in STATES}
    m = Matrix(world, patient, other, records, {}, accounts, clients)
    try:
        # The expiring grants first, so that the rest of the set-up runs while they run out. The
        # chain refuses a grant already expired by its clock; the gateway checks by the wall clock.
        expires_at = max(int(time.time()), _chain_now(world)) + EXPIRES_AFTER_S
        for org, purpose in GRANTED_PURPOSE.items():
            m.grants["expired", org] = m.relay_grant(
                patient, records["expired"], world.org_address(org), purpose, expires_at
            )
        # ... and they opened the record while in force: "expired" is a grant that ran out.
        in_force = clients["insurer"].request(
            "GET", f"/v1/records/{records['expired']}", params={"purpose": "claim_verification"}
        )
        assert in_force.status_code == 200, in_force.text
        for state in ("granted", "revoked"):
            for org, purpose in GRANTED_PURPOSE.items():
                m.grants[state, org] = m.relay_grant(
                    patient, records[state], world.org_address(org), purpose, int(time.time()) + DAY
                )
        for org in GRANTED_PURPOSE:
            m.revoke(patient, m.grants["revoked", org])
        # The other patient has a record and a grant of their own, for the lists to leave out.
        theirs = str(anchor(world, other, fhir("observation-example.json"))["record_id"])
        m.relay_grant(
            other,
            theirs,
            world.org_address("insurer"),
            Purpose.CLAIM_VERIFICATION,
            int(time.time()) + DAY,
        )
        wait = expires_at + 1 - time.time()
        assert wait < 30, f"the chain's clock is {wait:.0f} s ahead of this one"
        if wait > 0:
            time.sleep(wait)
        yield m
    finally:
        for client in clients.values():
            client.close()


# --- Building and judging one request ----------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    params: dict[str, str | int] | None = None
    json: Any = None
    content: bytes | None = None
    grant: str | None = None  # the id of the grant a relay would record


OBSERVATION = json.dumps(fhir("observation-example.json")).encode()
_ID = re.compile(r"0x[0-9a-fA-F]{64}")


def _encryption_key() -> str:
    return x25519_public_hex(X25519PrivateKey.generate().public_key())


def _fresh_enrolment(m: Matrix) -> dict[str, str]:
    keys = PatientKeys(secrets.token_bytes(32))
    hospital = m.world.org_address(GATEWAY)
    pseudonym = keys.pseudonym(hospital)
    identity = keys.public_identity(hospital)
    domain = m.world.gateways[GATEWAY].gateway.domain
    signature = sign_enrolment(
        pseudonym, domain.as_eip712(), hospital, bytes.fromhex(identity["encryption_key"][2:])
    )
    return {
        "pseudonym": pseudonym.address,
        "encryption_key": identity["encryption_key"],
        "signature": signature,
    }


def build(m: Matrix, route: str, role: str, state: str, *, record: str | None = None) -> Call:
    """The request a caller in ``role`` sends to ``route`` about the record of ``state``.

    ``record`` overrides the record (or, for a revocation, the grant) id: to ask about one that does
    not exist. Allowed writes get fresh bodies, so each can succeed on its own.
    """
    rid = record or m.records[state]
    method, template = route.split(" ", 1)
    path = template.replace("{record_id}", rid)
    purpose = READ_PURPOSE.get(role)
    reading: dict[str, str | int] = {"purpose": purpose} if purpose else {}
    allowed = isinstance(expected(route, role, state), Ok)
    match route:
        case "GET /v1/records/{record_id}" | "GET /v1/records/{record_id}/envelope":
            return Call(method, path, reading or None)
        case "GET /v1/records/{record_id}/key":
            return Call(method, path, {**reading, "encryption_key": _encryption_key()})
        case "POST /v1/patients":
            return Call(method, path, json=_fresh_enrolment(m))
        case "POST /v1/records":
            return Call(method, path, {"patient": m.patient.pseudonym.address}, content=OBSERVATION)
        case "POST /v1/records/{record_id}/versions":
            version = m.latest_version(m.records[state])
            return Call(method, path, {"expected_version": version}, content=OBSERVATION)
        case "POST /v1/consents":
            # A research grant: recorded, but it opens nothing to anyone (docs/segmentation.md),
            # so relaying it changes no cell of the matrix.
            signed = sign_grant(
                m.patient.pseudonym,
                m.domain,
                grantee=m.world.org_address("insurer"),
                scope=Scope.record(rid),
                purpose=Purpose.RESEARCH,
                expires_at=int(time.time()) + DAY,
            )
            return Call(method, path, json=signed.to_wire(), grant="0x" + signed.grant_id.hex())
        case "POST /v1/consents/revocations":
            if record is None:
                # Revoke a research grant made for the purpose, never one a cell depends on.
                grant_id = (
                    m.relay_grant(
                        m.patient,
                        rid,
                        m.world.org_address("insurer"),
                        Purpose.RESEARCH,
                        int(time.time()) + DAY,
                    )
                    if allowed
                    else m.grants["granted", "insurer"]
                )
            else:
                grant_id = record
            revocation = sign_revocation(m.patient.pseudonym, m.domain, bytes.fromhex(grant_id[2:]))
            return Call(method, path, json=revocation.to_wire())
        case "GET /v1/access-log" | "GET /v1/access-log/verification":
            return Call(method, path, {"record_id": rid})
        case _:
            return Call(method, path)


def send(m: Matrix, role: str, call: Call) -> httpx.Response:
    response = m.clients[role].request(
        call.method, call.path, params=call.params, json=call.json, content=call.content
    )
    if call.grant and response.is_success:  # relayed: the patient's list must show it from now
        m.relayed.setdefault(m.patient.pseudonym.address, set()).add(call.grant)
    return response


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def judge(m: Matrix, route: str, role: str, state: str, response: httpx.Response) -> str | None:
    """What is wrong with ``response`` for this cell, or None."""
    want = expected(route, role, state)
    status, code = response.status_code, _code(response)
    if isinstance(want, No):
        if (status, code) != (want.status, want.code):
            return f"expected {want.status} {want.code}, got {status} {code}: {response.text[:200]}"
        return None
    if not 200 <= status < 300:
        return f"expected 2xx, got {status} {code}: {response.text[:200]}"
    if route == "GET /v1/records/{record_id}/envelope":
        return None
    body = response.json()
    org = m.org_of(role)
    grant = m.grants.get((state, org)) if org and role in READ_PURPOSE else None
    if route == "GET /v1/records/{record_id}":
        shown = "full" if "salt" in body and "view" not in body else body.get("view")
        if shown != want.view:
            return f"expected the {want.view} view, got {shown}"
        if want.view != "full" and body.get("grant") != grant:
            return f"expected grant {grant}, got {body.get('grant')}"
        if want.view == "full" and body.get("patient") != m.patient.pseudonym.address:
            return "the full record names another patient"
    if route == "GET /v1/records/{record_id}/key" and body.get("grant") != grant:
        return f"expected the key under grant {grant}, got {body.get('grant')}"
    if want.own_only:
        return _own_only(m, route, role, body)
    return None


def _own_only(m: Matrix, route: str, role: str, body: Any) -> str | None:
    me = m.accounts[role].address
    if route == "GET /v1/consents":
        shown = {g["grant_id"] for g in body}
        if shown != m.relayed.get(me, set()):
            return f"listed grants {sorted(shown)}, expected {sorted(m.relayed.get(me, set()))}"
    elif route == "GET /v1/access-log":
        strangers = [e for e in body["items"] if e["patient"] != me]
        if strangers:
            return f"shows {len(strangers)} entries about someone else"
        if role == "patient" and not body["items"]:
            return "the patient does not see who touched their record"
    elif route == "GET /v1/access-log/verification":
        counted = body["checked"] + body["unanchored"]
        if role != "patient" and counted:
            return f"counts {counted} entries about someone else's record"
        if role == "patient" and not counted:
            return "the patient's own entries are not counted"
    return None


# --- The tests ---------------------------------------------------------------------------------


def _walk(routes: Iterable[Any]) -> Iterator[str]:
    """Every "METHOD path" routed, descending into included routers (which FastAPI >= 0.165
    keeps as one lazy entry each, exposing the router as ``original_router``)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _walk(included.routes)
        for method in getattr(route, "methods", None) or ():
            yield f"{method} {route.path}"


def by_state(walk: Callable[[str], list[str]]) -> list[str]:
    """``walk`` each state's record at once (one thread each: the states share nothing a write
    could race on), and the faults found, in state order."""
    with ThreadPoolExecutor(len(STATES)) as pool:
        return [fault for faults in pool.map(walk, STATES) for fault in faults]


def _routes(m: Matrix) -> set[str]:
    """The app's routes, as routed and as documented (in process and as served): a route added to
    any of them, even one hidden from the schema, must be in the table."""
    app = create_app(m.world.gateways[GATEWAY].gateway)
    served = httpx.get(m.world.gateways[GATEWAY].url + "/openapi.json", timeout=30).json()
    documented = {
        f"{method.upper()} {path}"
        for schema in (app.openapi(), served)
        for path, operations in schema["paths"].items()
        for method in operations
    }
    routed = set(_walk(app.routes))
    assert documented <= routed, f"documented but not found routed: {documented - routed}"
    return routed | documented


def test_every_route_is_in_the_table(matrix: Matrix) -> None:
    routes = _routes(matrix)
    # The prescription routes' table is walked by its own module, which builds on this one's
    # callers and cells: imported here, not at the top, so that neither import runs first.
    from tests.api.test_prescription_matrix import PRESCRIPTION_TABLE

    tables = set(TABLE) | set(PRESCRIPTION_TABLE)
    walked = routes - FRAMEWORK - set(COVERED_ELSEWHERE)
    assert walked == tables, (
        f"not in a table: {sorted(walked - tables)}; "
        f"in a table but not routed: {sorted(tables - routes)}"
    )
    assert set(COVERED_ELSEWHERE) <= routes, sorted(set(COVERED_ELSEWHERE) - routes)
    for route, cells in TABLE.items():
        assert set(cells) == set(ROLES), f"{route}: callers {set(ROLES) ^ set(cells)}"
        for cell in cells.values():
            assert isinstance(cell, Ok | No) or set(cell) == set(STATES), route


@pytest.mark.parametrize("route", list(TABLE))
def test_the_matrix(matrix: Matrix, route: str) -> None:
    """Each caller in each consent state gets exactly what the table says, 2xx or refusal."""

    def walk(state: str) -> list[str]:
        wrong = []
        for role in ROLES:
            response = send(matrix, role, build(matrix, route, role, state))
            fault = judge(matrix, route, role, state, response)
            if fault:
                wrong.append(f"{role:14} {state:8} {fault}")
        return wrong

    wrong = by_state(walk)
    assert not wrong, f"{route}:\n" + "\n".join(wrong)


def _normalised(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, _ID.sub("0x<id>", response.text)


#: Routes whose request names a record (or a grant) and so could tell one that exists.
ABOUT_A_RECORD = [
    route
    for route in TABLE
    if "{record_id}" in route or route.startswith(("POST /v1/consents", "GET /v1/access-log"))
]


@pytest.mark.parametrize("route", ABOUT_A_RECORD)
def test_a_refusal_does_not_tell_whether_the_record_exists(matrix: Matrix, route: str) -> None:
    """A caller who may not read the record gets the same refusal, byte for byte apart from ids,
    for it (or a grant on it) as for a record (or grant) that does not exist."""

    def walk(state: str) -> list[str]:
        differing = []
        for role in ROLES:
            if isinstance(expected(route, role, state), Ok):
                continue
            if isinstance(expected("GET /v1/records/{record_id}", role, state), Ok):
                continue  # it may read a view of the record: that the record exists is no secret
            missing = "0x" + secrets.token_hex(32)
            real = send(matrix, role, build(matrix, route, role, state))
            fake = send(matrix, role, build(matrix, route, role, state, record=missing))
            if _normalised(real) != _normalised(fake):
                differing.append(
                    f"{role:14} {state:8} existing: {_normalised(real)} "
                    f"missing: {_normalised(fake)}"
                )
        return differing

    differing = by_state(walk)
    assert not differing, f"{route}:\n" + "\n".join(differing)


@pytest.mark.parametrize(("route", "role"), sorted(HOSPITAL_NON_READERS))
def test_a_non_reading_member_of_the_hospital_cannot_tell_whether_a_record_exists(
    matrix: Matrix, route: str, role: str
) -> None:
    real = send(matrix, role, build(matrix, route, role, "none"))
    fake = send(matrix, role, build(matrix, route, role, "none", record="0x" + "ab" * 32))
    assert real.status_code == 403
    assert _normalised(real) == _normalised(fake)


# --- Lists and pages: nothing about anyone else, not even how much there is --------------------


def _key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["at"], entry["actor"], entry["action"], entry["record_id"], entry["outcome"])


def _pages(client: GatewayClient, route: str, limit: int) -> list[tuple[list[Any], bool]]:
    """Every page of ``route`` at ``limit`` per page: (its entries, whether more follow). The
    cursors themselves are sealed afresh each time, so they are not compared."""
    pages: list[tuple[list[Any], bool]] = []
    params: dict[str, Any] = {"limit": limit}
    while True:
        page = client.get_json(route, params=params)
        pages.append(([_key(e) for e in page["items"]], page["next_after"] is not None))
        if page["next_after"] is None:
            return pages
        params["after"] = page["next_after"]
        assert len(pages) < 100, "the pages do not end"


def _trail_view(client: GatewayClient) -> dict[str, Any]:
    """Everything a non-member can learn from the access log: items, pages, counts."""
    whole = client.get_json("/v1/access-log", params={"limit": 500})
    counts = client.get_json("/v1/access-log/verification")
    return {
        "items": whole["items"],
        "more": whole["next_after"] is not None,
        "pages": _pages(client, "/v1/access-log", 1),
        "pages_of_3": _pages(client, "/v1/access-log", 3),
        "counts": (counts["checked"], counts["unanchored"], counts["mismatches"]),
        "fhir": len(client.get_json("/v1/access-log", params={"format": "fhir"})["entry"]),
    }


def _someone_else_is_busy(m: Matrix) -> None:
    """Another patient's record is written, read, refused and consented to at the same gateway."""
    theirs = str(anchor(m.world, m.other, fhir("observation-example.json"))["record_id"])
    other = m.clients["other_patient"]
    for _ in range(3):
        assert other.request("GET", f"/v1/records/{theirs}").status_code == 200
    m.relay_grant(
        m.other,
        theirs,
        m.world.org_address("insurer"),
        Purpose.CLAIM_VERIFICATION,
        int(time.time()) + DAY,
    )
    refused = m.clients["b_doctor"].request(
        "GET", f"/v1/records/{theirs}", params={"purpose": "treatment"}
    )
    assert refused.status_code == 403
    insurer = m.clients["insurer"].request(
        "GET", f"/v1/records/{theirs}", params={"purpose": "claim_verification"}
    )
    assert insurer.status_code == 200
    other.get_json("/v1/access-log")


def test_what_a_patient_sees_does_not_change_with_someone_elses_activity(matrix: Matrix) -> None:
    """A patient's (and a stranger's) trail, its pages and its counts, and their list of grants,
    are the same before and after another patient's busy day at the same gateway."""
    world = matrix.world
    mine = enrol_patient(world)
    record = str(anchor(world, mine, fhir("observation-example.json"))["record_id"])
    stranger = Account.create()
    with world.client(mine.pseudonym, GATEWAY) as me, world.client(stranger, GATEWAY) as them:
        assert me.request("GET", f"/v1/records/{record}").status_code == 200
        refused = matrix.clients["insurer"].request(
            "GET", f"/v1/records/{record}", params={"purpose": "claim_verification"}
        )
        assert refused.status_code == 403
        granted = sign_grant(
            mine.pseudonym,
            matrix.domain,
            grantee=world.org_address("insurer"),
            scope=Scope.record(record),
            purpose=Purpose.AUDIT,
            expires_at=int(time.time()) + DAY,
        )
        me.post_json("/v1/consents", granted.to_wire())
        for client in (me, them):
            consents = client.get_json("/v1/consents")
            before = _trail_view(client)
            _someone_else_is_busy(matrix)
            assert _trail_view(client) == before
            assert client.get_json("/v1/consents") == consents
        mine_before = _trail_view(me)
    # The patient's own trail is all there, and only theirs, however it is paged.
    items = mine_before["items"]
    assert {e["patient"] for e in items} == {mine.pseudonym.address}
    outcomes = [(e["action"], e["outcome"]) for e in items]
    assert ("GET /v1/records/{record_id}", "denied:record.forbidden") in outcomes
    assert ("POST /v1/consents", "allowed") in outcomes
    keys = [_key(e) for e in items]
    for paged in (mine_before["pages"], mine_before["pages_of_3"]):
        assert [key for page, _ in paged for key in page] == keys
    assert mine_before["counts"][:2] == (0, len(items))  # nothing sealed yet: all unanchored
    assert mine_before["fhir"] == len(items)


def test_naming_someone_else_in_a_filter_shows_nothing(matrix: Matrix) -> None:
    """A patient's or a stranger's filters narrow their own trail; they never widen it."""
    theirs = matrix.other.pseudonym.address
    for role in ("patient", "stranger"):
        client = matrix.clients[role]
        for params in (
            {"patient": theirs},
            {"actor": theirs},
            {"org": matrix.world.org_address(GATEWAY)},
        ):
            items = client.get_json("/v1/access-log", params=params)["items"]
            assert {e["patient"] for e in items} <= {matrix.accounts[role].address}, (role, params)
        counts = client.get_json("/v1/access-log/verification", params={"patient": theirs})
        mine = client.get_json("/v1/access-log/verification")
        assert counts == mine, role


def test_a_patients_trail_does_not_count_other_peoples_entries(matrix: Matrix) -> None:
    """No gateway-wide sequence numbers reach a patient (the gaps would count other people's
    entries), and a paging cursor is good only for the caller it was issued to."""
    patient = enrol_patient(matrix.world)
    record = str(anchor(matrix.world, patient, fhir("observation-example.json"))["record_id"])
    with matrix.world.client(patient.pseudonym, GATEWAY) as client:
        client.get_json(f"/v1/records/{record}")
        page = client.get_json("/v1/access-log", params={"limit": 1})
    assert [e["seq"] for e in page["items"]] == [None]
    assert page["next_after"] is not None
    with pytest.raises(GatewayError) as err:
        matrix.clients["stranger"].get_json("/v1/access-log", params={"after": page["next_after"]})
    assert (err.value.status, err.value.problem_code) == (422, "audit.bad_cursor")
