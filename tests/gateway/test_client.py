"""GatewayClient against a real HTTP server whose handler verifies the raw request it receives."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from api.serving import serve
from ledger.gateway.auth import (
    AuthError,
    GatewayDomain,
    SqliteNonceStore,
    request_target,
    verify_request,
)
from ledger.gateway.client import GatewayClient, GatewayError, GatewayUnavailable, fetch_domain

DOMAIN = GatewayDomain(
    31337,
    "0x5FbDB2315678afecb367f032d93F642f64180aa3",  # type: ignore[arg-type]
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",  # type: ignore[arg-type]
)
STAFF: LocalAccount = Account.from_key(b"\x01" * 32)
SKEW = 60


def make_app(nonces: SqliteNonceStore) -> FastAPI:
    app = FastAPI()

    @app.get("/v1/domain")
    def domain() -> dict[str, object]:
        return DOMAIN.as_eip712()

    @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def echo(request: Request) -> Response:
        body = await request.body()
        target = request_target(request.scope["raw_path"], request.scope["query_string"])
        try:
            signer = verify_request(
                request.headers,
                DOMAIN,
                request.method,
                target,
                body,
                now=int(time.time()),
                max_skew_s=SKEW,
                nonces=nonces,
            )
        except AuthError as exc:
            return problem(401, exc.code, str(exc))
        if "fail" in request.query_params:
            return problem(int(request.query_params["fail"]), "test.failed", "asked to fail")
        if "html" in request.query_params:
            return PlainTextResponse("<h1>Bad Gateway</h1>", status_code=502)
        return JSONResponse(
            {"signer": signer, "target": target, "sha256": hashlib.sha256(body).hexdigest()}
        )

    return app


def problem(status: int, code: str, detail: str) -> JSONResponse:
    body = {"type": "about:blank", "title": "Refused", "status": status, "detail": detail}
    return JSONResponse(
        {**body, "code": code}, status_code=status, media_type="application/problem+json"
    )


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with (
        SqliteNonceStore(tmp_path_factory.mktemp("gateway") / "nonces.sqlite") as nonces,
        serve(make_app(nonces)) as url,
    ):
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[GatewayClient]:
    with GatewayClient(base_url, STAFF, DOMAIN, timeout=5) as client:
        yield client


def test_get_with_query_is_verified_as_sent(client: GatewayClient) -> None:
    reply = client.get_json("/v1/records", params={"patient": "é x", "tag": ["a", "b"]})
    assert reply["signer"] == STAFF.address
    assert reply["target"] == "/v1/records?patient=%C3%A9+x&tag=a&tag=b"


def test_post_json_signs_the_bytes_sent(client: GatewayClient) -> None:
    document = {"resourceType": "Patient", "name": [{"text": "Zhāng Wěi"}]}
    reply = client.post_json("/v1/records", document)
    assert reply["signer"] == STAFF.address
    sent = httpx.Request("POST", "http://x", json=document).read()
    assert reply["sha256"] == hashlib.sha256(sent).hexdigest()


def test_post_json_with_raw_content_signs_those_bytes(client: GatewayClient) -> None:
    body = b'{"resourceType": "Patient"}\n'
    reply = client.post_json("/v1/records", content=body)
    assert (reply["signer"], reply["sha256"]) == (STAFF.address, hashlib.sha256(body).hexdigest())


def test_raw_content_and_empty_body_are_signed(client: GatewayClient) -> None:
    assert client.request("PUT", "/v1/blob", content=b"\x00\xff" * 100).status_code == 200
    assert client.request("DELETE", "/v1/blob").status_code == 200


def test_base_url_path_prefix_is_part_of_the_signed_path(base_url: str) -> None:
    with GatewayClient(f"{base_url}/gw/", STAFF, DOMAIN, timeout=5) as client:
        assert client.get_json("v1/records")["target"] == "/gw/v1/records"


def test_identical_requests_get_fresh_nonces(client: GatewayClient) -> None:
    first = client.request("GET", "/v1/records")
    second = client.request("GET", "/v1/records")
    assert first.status_code == second.status_code == 200
    assert first.request.headers["X-MedLedger-Nonce"] != second.request.headers["X-MedLedger-Nonce"]


def test_query_altered_in_transit_is_refused(base_url: str) -> None:
    class AddParam(httpx.HTTPTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            request.url = request.url.copy_add_param("patient", "someone-else")
            return super().handle_request(request)

    tampering = GatewayClient(base_url, STAFF, DOMAIN, timeout=5, transport=AddParam())
    with tampering, pytest.raises(GatewayError) as refused:
        tampering.get_json("/v1/records")
    assert (refused.value.status, refused.value.problem_code) == (401, "auth.signer_mismatch")


def test_replayed_request_is_refused(client: GatewayClient, base_url: str) -> None:
    original = client.request("GET", "/v1/records").request
    with httpx.Client() as attacker:
        replay = attacker.send(httpx.Request("GET", original.url, headers=original.headers))
    assert replay.status_code == 401
    assert replay.json()["code"] == "auth.replayed"


def test_problem_response_raises_with_its_status_and_code(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as refused:
        client.post_json("/v1/records", {}, params={"fail": "409"})
    assert (refused.value.status, refused.value.problem_code) == (409, "test.failed")
    assert refused.value.detail == "asked to fail"
    assert refused.value.code == "gateway.error"


def test_error_without_problem_body_raises_without_code(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as refused:
        client.get_json("/v1/records", params={"html": "1"})
    assert (refused.value.status, refused.value.problem_code) == (502, None)


def test_unreachable_gateway_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with (
        GatewayClient(closed, STAFF, DOMAIN, timeout=2) as client,
        pytest.raises(GatewayUnavailable),
    ):
        client.get_json("/v1/records")
    with pytest.raises(GatewayUnavailable):
        fetch_domain(closed, timeout=2)


def test_fetch_domain_reads_the_gateway_domain(base_url: str) -> None:
    assert fetch_domain(base_url) == DOMAIN


def test_fetch_domain_refuses_another_applications_domain() -> None:
    other = {**DOMAIN.as_eip712(), "name": "Some Other dApp"}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=other))
    with pytest.raises(GatewayError, match="unusable domain"):
        fetch_domain("http://gateway.invalid", transport=transport)
