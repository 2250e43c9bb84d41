"""Requests malformed below the handlers (body bytes, query, method, size): each gets a documented
problem with a stable code, found by the schemathesis battery and kept fixed here."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import httpx
import pytest

from tests.world import MAX_PAYLOAD, World

ZERO_ID = "0x" + "00" * 32


def _problem(response: httpx.Response) -> tuple[int, str]:
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == response.status_code
    return response.status_code, body["code"]


def test_a_json_body_that_is_not_text_is_422_request_invalid(world: World) -> None:
    with world.as_staff("hospital-a", "clerk") as clerk:
        response = clerk.request("POST", "/v1/patients", content=b"\xff\xfe{", params=None)
    assert _problem(response) == (422, "request.invalid")


def test_an_unknown_query_parameter_is_422_not_ignored(world: World) -> None:
    """``?verison=1`` (sic) must not quietly read the latest version."""
    with world.as_staff("hospital-a", "doctor") as doctor:
        response = doctor.request("GET", f"/v1/records/{ZERO_ID}", params={"verison": 1})
    assert _problem(response) == (422, "request.invalid")
    assert "verison" in response.json()["detail"]


def test_an_undeclared_method_is_405_with_allow(world: World) -> None:
    response = httpx.request("DELETE", f"{world.gateways['hospital-a'].url}/v1/domain")
    assert _problem(response) == (405, "method_not_allowed")
    assert response.headers["allow"] == "GET"


def test_an_oversized_body_is_refused_before_it_is_read(world: World) -> None:
    """A body model (enrolment) used to make the gateway read any body in full, unauthenticated,
    before the size limit applied: a memory exhaustion. Now the declared length alone refuses it,
    while the body has not been sent."""
    url = httpx.URL(world.gateways["hospital-a"].url)
    head = (
        f"POST /v1/patients HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {100 * MAX_PAYLOAD}\r\n\r\n{{"
    )
    with socket.create_connection((url.host, url.port), timeout=5) as sock:
        sock.sendall(head.encode())
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = json.loads(response.read())
    assert response.status == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert body["code"] == "payload.too_large"


@pytest.fixture(scope="module")
def openapi(world: World) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(f"{world.gateways['hospital-a'].url}/openapi.json").json()
    return document


def test_every_error_response_is_documented_as_a_problem(openapi: dict[str, Any]) -> None:
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")):
                    assert list(response["content"]) == ["application/problem+json"], (
                        method,
                        path,
                        status,
                    )


def test_signed_operations_require_all_four_signing_headers_together(
    openapi: dict[str, Any],
) -> None:
    headers = {
        "X-MedLedger-Signer",
        "X-MedLedger-Timestamp",
        "X-MedLedger-Nonce",
        "X-MedLedger-Signature",
    }
    unsigned = {
        ("get", "/v1/domain"),
        ("get", "/v1/consents/domain"),
        ("get", "/v1/claims/domain"),
        ("get", "/v1/health"),
        ("get", "/v1/console/config"),
        ("get", "/v1/console/organisations"),
    }
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            if (method, path) in unsigned:
                assert "security" not in operation
            else:
                assert [set(r) for r in operation["security"]] == [headers], (method, path)
                assert "401" in operation["responses"]
