"""The authorisation matrix for prescriptions: every prescription, dispense and practice route x
every caller x every state of the prescription, walked over HTTP against the real gateways.

The same callers as the record matrix (tests/api/test_matrix.py), and its `Ok`/`No` cells; the
states are the prescription's (`PRESCRIPTION_STATES`) rather than a consent's: a pharmacy's view
and every write depend on them. Each state has its own prescription, for its own patient (two of
one drug for one patient would be blocked as duplicate therapy), issued by hospital-a's doctor.
A refused call changes nothing, so the refused callers share that prescription; an allowed write
gets a fresh one in the same state, so that each allowed cell can succeed on its own. Reviews and
dispenses by the pharmacy go through the pharmacy's own gateway (the contract takes the reviewing
or dispensing organisation from the sender), and so does its reading of a dispense (sealed for it
and the issuing hospital); everything else goes through hospital-a's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger.gateway.client import GatewayClient
from tests.api.test_matrix import ROLES, STAFF, No, Ok, Outcome, every
from tests.api.test_prescriptions import MEDICATION_REQUEST, diagnosis_record, dispense_body, issue
from tests.world import Patient, World, enrol_patient

PRESCRIPTION_STATES = ("pending", "approved", "dispensed", "cancelled")
HOSPITAL = "hospital-a"

OK = Ok()
NOT_MEMBER = No(403, "auth.not_member")
WRONG_ORG = No(403, "auth.wrong_organisation")
ROLE_FORBIDDEN = No(403, "auth.role_forbidden")
NOT_REGULATOR = No(403, "auth.not_regulator")
FORBIDDEN = No(403, "prescription.forbidden")
NOT_DISPENSABLE = No(403, "prescription.not_dispensable")


def in_states(allowed: Outcome, states: tuple[str, ...], otherwise: Outcome) -> dict[str, Outcome]:
    return {state: allowed if state in states else otherwise for state in PRESCRIPTION_STATES}


ALREADY_DISPENSED = No(409, "prescription.already_dispensed")
UNEXPECTED_STATUS = No(409, "prescription.unexpected_status")


#: A review, a dispense or a cancel by whoever may make it: allowed in the states it applies to,
#: else refused by the contract as the prescription stands.
def contract_decides(allowed_in: tuple[str, ...]) -> dict[str, Outcome]:
    cells = {state: UNEXPECTED_STATUS for state in PRESCRIPTION_STATES}
    return {**cells, "dispensed": ALREADY_DISPENSED} | dict.fromkeys(allowed_in, OK)


#: A write through a member's own gateway: its own staff only, then the role.
def staff_writes(role_may: dict[str, Any]) -> dict[str, Any]:
    return {
        **every(WRONG_ORG),
        "stranger": NOT_MEMBER,
        "patient": NOT_MEMBER,
        "other_patient": NOT_MEMBER,
        "a_doctor": ROLE_FORBIDDEN,
        "a_clerk": ROLE_FORBIDDEN,
        "a_pharmacist": ROLE_FORBIDDEN,
        **role_may,
    }


#: Metadata lists: members of the organisation named, and regulators.
def metadata(*roles: str) -> dict[str, Any]:
    return {
        **every(NOT_REGULATOR),
        "stranger": NOT_MEMBER,
        "patient": NOT_MEMBER,
        "other_patient": NOT_MEMBER,
        **dict.fromkeys((*roles, "regulator"), OK),
    }


#: Only hospital-a's pharmacist, and the pharmacy through its own gateway, review and dispense.
PHARMACISTS = {"pharmacy": None, "a_pharmacist": None}

PRESCRIPTION_TABLE: dict[str, dict[str, Any]] = {
    "POST /v1/prescriptions": {
        **every(ROLE_FORBIDDEN),
        "stranger": NOT_MEMBER,
        "patient": NOT_MEMBER,
        "other_patient": NOT_MEMBER,
        "a_doctor": OK,
        # Hospital-b's doctor holds the demo consortium's approved filing at hospital-a
        # (ledger.network.consortium.DEMO_FILING): the contract's canPrescribe lets them prescribe
        # here.
        "b_doctor": OK,
    },
    # Signing a draft: any doctor of a member may try, and only a draft waiting at this gateway
    # for them can be signed; no state's prescription is one (they are issued), so none is here.
    # tests/api/test_prescription_signature.py walks the drafts themselves.
    "POST /v1/prescriptions/{prescription_id}/issue": {
        **every(ROLE_FORBIDDEN),
        "stranger": NOT_MEMBER,
        "patient": NOT_MEMBER,
        "other_patient": NOT_MEMBER,
        "a_doctor": No(404, "prescription.draft_unknown"),
        "b_doctor": No(404, "prescription.draft_unknown"),
    },
    "POST /v1/prescriptions/{prescription_id}/review": staff_writes(
        dict.fromkeys(PHARMACISTS, contract_decides(("pending",)))
    ),
    "POST /v1/prescriptions/{prescription_id}/dispense": staff_writes(
        dict.fromkeys(PHARMACISTS, contract_decides(("approved",)))
    ),
    "POST /v1/prescriptions/{prescription_id}/cancel": staff_writes(
        {"a_doctor": contract_decides(("pending", "approved")), "pharmacy": ROLE_FORBIDDEN}
    ),
    "GET /v1/prescriptions/{prescription_id}": {
        **every(FORBIDDEN),
        "patient": Ok("full"),
        "a_doctor": Ok("full"),
        "a_clerk": Ok("full"),
        "a_pharmacist": Ok("full"),
        # A member pharmacy: approved ones, and the one it dispensed.
        "pharmacy": in_states(Ok("dispensing"), ("approved", "dispensed"), NOT_DISPENSABLE),
    },
    "GET /v1/prescriptions": metadata("a_doctor", "a_clerk", "a_pharmacist"),
    "GET /v1/dispenses": metadata("pharmacy"),
    # Opened on the reader's own organisation's gateway: hospital-a's staff there (it issued), the
    # pharmacy's on its own (it dispensed); sealed for those two organisations and no one else.
    "GET /v1/dispenses/{prescription_id}": {
        **every(WRONG_ORG),
        "stranger": NOT_MEMBER,
        "patient": NOT_MEMBER,
        "other_patient": NOT_MEMBER,
        **dict.fromkeys(
            ("a_doctor", "a_clerk", "a_pharmacist", "pharmacy"),
            in_states(OK, ("dispensed",), No(404, "dispense.not_found")),
        ),
    },
    "GET /v1/practice/doctors/{address}": metadata("a_doctor"),
}


# --- The world: one prescription per state, and the callers --------------------------------------


@dataclass
class Rx:
    """What the prescription routes are walked over."""

    world: World
    prescriptions: dict[str, tuple[str, Patient, str]]  # state -> (id, its patient, diagnosis)
    other: Patient
    stranger: LocalAccount
    #: One client per (signer, gateway), kept open for the module.
    clients: dict[tuple[str, str], GatewayClient] = field(default_factory=dict)

    def account(self, role: str, state: str) -> LocalAccount:
        if role == "patient":
            return self.prescriptions[state][1].pseudonym
        if role == "other_patient":
            return self.other.pseudonym
        if role == "stranger":
            return self.stranger
        return self.world.staff(*STAFF[role])


def _reviewed(world: World, pid: str) -> None:
    with world.as_staff(HOSPITAL, "pharmacist") as pharmacist:
        pharmacist.post_json(f"/v1/prescriptions/{pid}/review", {"decision": "approve"})


def prescription_in(world: World, state: str) -> tuple[str, Patient, str]:
    """A new prescription of hospital-a's doctor in ``state``, for a new patient of its own, and
    the diagnosis record it follows up."""
    patient = enrol_patient(world)
    record = diagnosis_record(world, patient)
    pid = str(issue(world, patient, record=record)["prescription_id"])
    if state in ("approved", "dispensed"):
        _reviewed(world, pid)
    if state == "dispensed":
        with world.as_staff("pharmacy", "pharmacist", gateway="pharmacy") as pharmacy:
            pharmacy.post_json(f"/v1/prescriptions/{pid}/dispense", content=dispense_body(pid))
    if state == "cancelled":
        with world.as_staff(HOSPITAL, "doctor") as doctor:
            doctor.post_json(f"/v1/prescriptions/{pid}/cancel")
    return pid, patient, record


@pytest.fixture(scope="module")
def rx(world: World) -> Iterator[Rx]:
    prescriptions = {state: prescription_in(world, state) for state in PRESCRIPTION_STATES}
    m = Rx(world, prescriptions, enrol_patient(world), Account.create())
    yield m
    for client in m.clients.values():
        client.close()


# --- Building, sending and judging one request ---------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    gateway: str = HOSPITAL
    params: dict[str, str | int] | None = None
    json: Any = None
    content: bytes | None = None


def expected(route: str, role: str, state: str) -> Outcome:
    cell = PRESCRIPTION_TABLE[route][role]
    return cell if isinstance(cell, Ok | No) else cell[state]


def build(m: Rx, route: str, role: str, state: str) -> Call:
    """The request ``role`` sends to ``route`` about the prescription in ``state``; an allowed write
    is about a fresh prescription in that state."""
    write = route.startswith("POST /v1/prescriptions/")
    fresh = write and isinstance(expected(route, role, state), Ok)
    pid = prescription_in(m.world, state)[0] if fresh else m.prescriptions[state][0]
    method, template = route.split(" ", 1)
    path = template.replace("{prescription_id}", pid)
    on_own = write or route == "GET /v1/dispenses/{prescription_id}"
    own_gateway = "pharmacy" if role == "pharmacy" and on_own else HOSPITAL
    match route:
        case "POST /v1/prescriptions":
            _, patient, record = m.prescriptions[state]
            if isinstance(expected(route, role, state), Ok):
                # Nothing in force for this patient: the same drug again is a duplicate therapy,
                # which the pre-review blocks before the chain hears of it.
                patient = enrol_patient(m.world)
                record = diagnosis_record(m.world, patient)
            params: dict[str, str | int] = {
                "patient": patient.pseudonym.address,
                "follow_up_record": record,
            }
            return Call(method, path, params=params, content=_json(MEDICATION_REQUEST))
        case "POST /v1/prescriptions/{prescription_id}/issue":
            return Call(method, path, json={"signature": "0x" + "11" * 65})
        case "POST /v1/prescriptions/{prescription_id}/review":
            return Call(method, path, own_gateway, json={"decision": "approve"})
        case "POST /v1/prescriptions/{prescription_id}/dispense":
            return Call(method, path, own_gateway, content=dispense_body(pid))
        case "GET /v1/prescriptions":
            return Call(method, path, params={"institution": m.world.org_address(HOSPITAL)})
        case "GET /v1/dispenses":
            return Call(method, path, params={"pharmacy": m.world.org_address("pharmacy")})
        case "GET /v1/practice/doctors/{address}":
            doctor = m.world.staff(HOSPITAL, "doctor").address
            return Call(method, path.replace("{address}", doctor))
        case _:
            return Call(method, path, own_gateway)


def _json(resource: Mapping[str, Any]) -> bytes:
    import json

    return json.dumps(resource).encode()


def send(m: Rx, role: str, state: str, call: Call) -> httpx.Response:
    account = m.account(role, state)
    key = (account.address, call.gateway)
    if key not in m.clients:
        m.clients[key] = m.world.client(account, call.gateway)
    return m.clients[key].request(
        call.method, call.path, params=call.params, json=call.json, content=call.content
    )


def _code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def judge(route: str, role: str, state: str, response: httpx.Response) -> str | None:
    """What is wrong with ``response`` for this cell, or None."""
    want = expected(route, role, state)
    status, code = response.status_code, _code(response)
    if isinstance(want, No):
        if (status, code) != (want.status, want.code):
            return f"expected {want.status} {want.code}, got {status} {code}: {response.text[:200]}"
        return None
    if not 200 <= status < 300:
        return f"expected 2xx, got {status} {code}: {response.text[:200]}"
    if want.view is not None and response.json().get("view") != want.view:
        return f"expected the {want.view} view, got {response.json().get('view')}"
    return None


def test_every_cell_is_declared() -> None:
    for route, cells in PRESCRIPTION_TABLE.items():
        assert set(cells) == set(ROLES), f"{route}: callers {set(ROLES) ^ set(cells)}"
        for cell in cells.values():
            assert isinstance(cell, Ok | No) or set(cell) == set(PRESCRIPTION_STATES), route


@pytest.mark.parametrize("route", list(PRESCRIPTION_TABLE))
def test_the_prescription_matrix(rx: Rx, route: str) -> None:
    """Each caller, for the prescription in each state, gets exactly what the table says: the
    refusal it names, or a 2xx (and the view it names). Refused callers go first, on the state's
    shared prescription; an allowed write then gets a fresh one. A route whose cells do not depend
    on the state (issuing, the metadata lists) is walked once."""
    wrong = []
    cells = PRESCRIPTION_TABLE[route].values()
    # A route no cell of which depends on the state is walked once.
    states = PRESCRIPTION_STATES if any(isinstance(c, dict) for c in cells) else ("approved",)
    for state in states:
        order = sorted(ROLES, key=lambda role: isinstance(expected(route, role, state), Ok))
        for role in order:
            response = send(rx, role, state, build(rx, route, role, state))
            fault = judge(route, role, state, response)
            if fault:
                wrong.append(f"{role:14} {state:10} {fault}")
    assert not wrong, f"{route}:\n" + "\n".join(wrong)
