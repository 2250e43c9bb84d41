"""A typed HTTP client for the gateway API that signs every request it sends with one account."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount

from ledger.errors import LedgerError
from ledger.gateway.auth import GatewayDomain, request_target, sign_request

__all__ = ["GatewayClient", "GatewayError", "GatewayUnavailable", "QueryParams", "fetch_domain"]

_JSON_TYPES = ("application/problem+json", "application/json")

QueryParams = Mapping[str, str | int | Sequence[str | int]]


class GatewayError(LedgerError):
    """The gateway refused a request; ``status`` and ``problem_code`` come from its response."""

    code = "gateway.error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        problem_code: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.problem_code = problem_code
        self.detail = detail


class GatewayUnavailable(GatewayError):
    """The gateway cannot be reached, or did not answer in time."""

    code = "gateway.unavailable"


class GatewayClient:
    """Signs each request with ``account`` under ``domain`` over exactly the path and bytes sent."""

    def __init__(
        self,
        base_url: str,
        account: LocalAccount,
        domain: GatewayDomain,
        *,
        timeout: float | httpx.Timeout = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.account = account
        self.domain = domain
        # A followed redirect would resend the signature for the old path; let the caller decide.
        self._http = httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport, follow_redirects=False
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: QueryParams | None = None,
    ) -> httpx.Response:
        """Send one signed request and return the response, whatever its status."""
        request = self._http.build_request(method, path, json=json, content=content, params=params)
        # Sign the request as built, after httpx has merged the base URL, encoded the query and
        # serialised the JSON: those are the bytes the gateway will see.
        raw_path, _, query = request.url.raw_path.partition(b"?")
        target = request_target(raw_path, query)
        request.headers.update(
            sign_request(self.account, self.domain, request.method, target, request.read())
        )
        try:
            return self._http.send(request)
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"{request.method} {request.url}: {exc}") from exc

    def get_json(self, path: str, *, params: QueryParams | None = None) -> Any:
        """GET ``path`` and return its JSON body; GatewayError on a 4xx or 5xx."""
        return _json_or_raise(self.request("GET", path, params=params))

    def post_json(
        self,
        path: str,
        json: Any = None,
        *,
        content: bytes | None = None,
        params: QueryParams | None = None,
    ) -> Any:
        """POST ``json`` (or raw ``content``) and return the JSON reply; GatewayError on 4xx/5xx."""
        return _json_or_raise(self.request("POST", path, json=json, content=content, params=params))

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._http.close()

    def __enter__(self) -> GatewayClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def fetch_domain(
    base_url: str,
    *,
    timeout: float | httpx.Timeout = 10.0,
    transport: httpx.BaseTransport | None = None,
) -> GatewayDomain:
    """Ask a gateway which domain to sign under (``GET /v1/domain``, unauthenticated)."""
    with httpx.Client(base_url=base_url, timeout=timeout, transport=transport) as http:
        try:
            response = http.get("/v1/domain")
        except httpx.TransportError as exc:
            raise GatewayUnavailable(f"GET {base_url} /v1/domain: {exc}") from exc
    body = _json_or_raise(response)
    try:
        return GatewayDomain.from_eip712(body if isinstance(body, dict) else {})
    except ValueError as exc:
        raise GatewayError(f"unusable domain: {exc}", status=response.status_code) from exc


def _json_or_raise(response: httpx.Response) -> Any:
    if response.is_error:
        raise _problem(response)
    try:
        return response.json()
    except ValueError as exc:
        raise GatewayError(
            f"{response.status_code} reply is not JSON", status=response.status_code
        ) from exc


def _problem(response: httpx.Response) -> GatewayError:
    """Read an RFC 9457 problem body if there is one; a proxy's HTML error page is not."""
    problem: dict[str, Any] = {}
    if response.headers.get("content-type", "").startswith(_JSON_TYPES):
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            problem = body
    code = problem.get("code")
    detail = problem.get("detail")
    title = problem.get("title") or response.reason_phrase
    return GatewayError(
        f"{response.status_code} {code or title}: {detail or title}",
        status=response.status_code,
        problem_code=code if isinstance(code, str) else None,
        detail=detail if isinstance(detail, str) else None,
    )
