"""Hostile input for a real gateway: schemathesis generates valid, invalid and boundary requests for
every operation in the OpenAPI document the gateway serves, signed (so they reach the handlers) and
unsigned, and checks each response: never a 5xx, always a documented status, content type and
schema. Runs on the session's anvil against hospital A's gateway over HTTP.

`make test` runs a small budget (the "test" hypothesis profile); `make fuzz` at least 10,000
requests (HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from eth_account import Account
from eth_account.signers.local import LocalAccount
from hypothesis import settings, strategies as st
from schemathesis import BaseSchema, GenerationMode, HookContext

from ledger.gateway.auth import GatewayDomain, request_target, sign_request
from tests.conftest import BATTERY_TIMEOUT_S, PROFILE
from tests.world import World, anchor, enrol_patient, fhir

pytestmark = [pytest.mark.security, pytest.mark.timeout(BATTERY_TIMEOUT_S)]

#: `make fuzz` must generate at least this many requests; `make test` at least the smaller one.
MIN_REQUESTS = {"fuzz": 10_000, "test": 1_000}
RECORD_ID = re.compile(r"0x[0-9a-fA-F]{64}")
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
WRITES = ("POST /v1/records", "POST /v1/records/{record_id}/versions")
SAMPLES = ("observation-example.json", "condition-example-f201-fever.json")


class CountingSession(requests.Session):
    """Counts what it sends; never reads proxy settings from the environment (loopback only)."""

    def __init__(self) -> None:
        super().__init__()
        self.trust_env = False
        self.sent = 0

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.sent += 1
        return super().send(request, **kwargs)


class SigningSession(CountingSession):
    """Signs each request as it goes on the wire (path, query and body exactly as sent) with
    ledger.gateway.auth.sign_request, as one of several identities: mostly a doctor of the
    gateway's own hospital, so generation reaches the handlers, sometimes someone the handler must
    refuse. The identity follows from the request's content, so a replayed example is signed by
    the same key.
    """

    def __init__(self, domain: GatewayDomain, identities: list[LocalAccount]) -> None:
        super().__init__()
        self.domain = domain
        self.identities = identities

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        assert isinstance(body, bytes), "a streamed body cannot be signed"
        path, _, query = (request.path_url or "/").partition("?")
        target = request_target(path, query)
        digest = hashlib.sha256(f"{request.method} {target}".encode() + body).digest()
        account = self.identities[digest[0] % len(self.identities)]
        request.headers.update(
            sign_request(account, self.domain, request.method or "", target, body)
        )
        return super().send(request, **kwargs)


@dataclass
class Seeded:
    """Real values for the generator to draw on, so that some requests reach the success paths."""

    patient: LocalAccount  # the pseudonym key: the patient may read their own records
    records: list[str]
    bodies: list[dict[str, Any]]


@pytest.fixture(scope="module")
def seeded(world: World) -> Seeded:
    patient = enrol_patient(world)
    receipts = [anchor(world, patient, fhir(name)) for name in SAMPLES]
    return Seeded(
        patient=patient.pseudonym,
        records=[r["record_id"] for r in receipts],
        bodies=[fhir(name) for name in SAMPLES],
    )


def _configured(world: World, seeded: Seeded, *, signed: bool) -> BaseSchema:
    url = world.gateways["hospital-a"].url
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=settings().max_examples,
        # Signed: the session writes the four signing headers, so generated ones would only be
        # overwritten (and a "missing header" negative case signed after all). Unsigned: generated
        # garbage in those headers is exactly the hostile input wanted.
        with_security_parameters=not signed,
    )
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    excluded = ["positive_data_acceptance"]  # replaced by `not_refused_as_malformed` below
    if signed:
        # Checks that drop the credentials and expect a refusal: this session signs everything.
        excluded += ["ignored_auth"]
    schema.config.checks.update(included_check_names=["all"], excluded_check_names=excluded)
    _draw_on(schema, seeded)
    return schema


def _draw_on(schema: BaseSchema, seeded: Seeded) -> None:
    """Hooks that sometimes swap a valid generated value for a real one (never a malformed value,
    so negative cases stay negative)."""

    def swap(
        values: dict[str, Any] | None, name: str, real: list[str], shape: re.Pattern[str]
    ) -> st.SearchStrategy[Any]:
        value = (values or {}).get(name)
        if values is None or not isinstance(value, str) or not shape.fullmatch(value):
            return st.just(values)
        return st.one_of(st.just(values), st.sampled_from(real).map(lambda r: {**values, name: r}))

    def real_record(_: HookContext, path: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        return swap(path, "record_id", seeded.records, RECORD_ID)

    def real_patient(_: HookContext, query: dict[str, Any] | None) -> st.SearchStrategy[Any]:
        return swap(query, "patient", [seeded.patient.address], ADDRESS)

    def real_fhir(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
        operation = context.operation
        if operation is None or operation.label not in WRITES or not isinstance(body, dict):
            return st.just(body)
        return st.one_of(st.just(body), st.sampled_from(seeded.bodies))

    schema.hook("flatmap_path_parameters")(real_record)
    schema.hook("flatmap_query")(real_patient)
    schema.hook("flatmap_body")(real_fhir)


@schemathesis.check
def not_refused_as_malformed(ctx: Any, response: Any, case: Any) -> bool | None:
    """Input the schema calls valid is never refused as malformed (`request.invalid`); a gateway
    may still refuse it for what it means (not FHIR, unknown patient), with its own code."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code == 422 and _problem_code(response) == "request.invalid":
        raise AssertionError(f"schema-valid input refused as malformed: {response.text}")
    return None


@schemathesis.check
def problem_names_its_status(ctx: Any, response: Any, case: Any) -> bool | None:
    """An error's problem body states the HTTP status it was sent with."""
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert body.get("status") == response.status_code, body
        assert isinstance(body.get("code"), str), body
        assert body["code"], body
    return None


def _problem_code(response: Any) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


@pytest.fixture(scope="module")
def signed_schema(world: World, seeded: Seeded) -> BaseSchema:
    return _configured(world, seeded, signed=True)


@pytest.fixture(scope="module")
def unsigned_schema(world: World, seeded: Seeded) -> BaseSchema:
    return _configured(world, seeded, signed=False)


@pytest.fixture(scope="module")
def tally(battery_report: Callable[[str], None]) -> Iterator[dict[str, CountingSession]]:
    sessions: dict[str, CountingSession] = {}
    yield sessions
    counts = {name: s.sent for name, s in sessions.items()}
    total = sum(counts.values())
    battery_report(f"schemathesis: {total} requests ({counts})")
    assert total >= MIN_REQUESTS.get(PROFILE, 0), f"only {total} requests generated"


@pytest.fixture(scope="module")
def signing(
    world: World, seeded: Seeded, tally: dict[str, CountingSession]
) -> Iterator[SigningSession]:
    own = [world.staff("hospital-a", label) for label in ("doctor", "clerk", "pharmacist")]
    others = [world.staff("hospital-b", "doctor"), world.staff("insurer", "auditor")]
    outsider: LocalAccount = Account.create()
    identities = [own[0]] * 4 + own[1:] + others + [seeded.patient, outsider]
    with SigningSession(world.gateways["hospital-a"].gateway.domain, identities) as session:
        tally["signed"] = session
        yield session


@pytest.fixture(scope="module")
def unsigned(tally: dict[str, CountingSession]) -> Iterator[CountingSession]:
    with CountingSession() as session:
        tally["unsigned"] = session
        yield session


@pytest.fixture(autouse=True)
def _node_id(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy loader names subtests through Node._nodeid, which pytest 9 no longer
    # sets; give it the node id it expects.
    request.node._nodeid = request.node.nodeid


signed_api = schemathesis.pytest.from_fixture("signed_schema")
unsigned_api = schemathesis.pytest.from_fixture("unsigned_schema")


@signed_api.parametrize()
def test_signed_requests_get_documented_answers_and_no_server_error(
    case: Any, signing: SigningSession
) -> None:
    case.call_and_validate(session=signing, timeout=30)


@unsigned_api.parametrize()
def test_unsigned_requests_get_documented_answers_and_no_server_error(
    case: Any, unsigned: CountingSession
) -> None:
    case.call_and_validate(session=unsigned, timeout=30)
