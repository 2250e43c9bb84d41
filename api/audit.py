"""Every access decision on the gateway, allowed or denied, goes to the access log, in one place.

Dependencies and routes fill in a request's `Trace` (who, what, under which grant); this middleware
records it with the outcome once the response status is known, whatever raised on the way.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.audit.access_log import AccessEntry, now
from ledger.errors import LedgerError
from ledger.gateway.auth import SIGNER_HEADER

if TYPE_CHECKING:
    from api.gateway import Gateway

log = logging.getLogger("medledger.audit")

#: Paths whose requests are not access decisions.
_UNTRACED = (
    "/v1/domain",
    "/v1/consents/domain",
    "/v1/claims/domain",
    "/v1/health",
    "/v1/console/config",
    "/docs",
    "/openapi.json",
    "/redoc",
)


@dataclass
class Trace:
    """What a request touched, filled in as it is decided."""

    actor: str | None = None
    org: str | None = None
    record_id: str | None = None
    version: int | None = None
    view: str | None = None
    patient: str | None = None
    grant: str | None = None
    purpose: str | None = None


def get_trace(request: Request) -> Trace:
    trace: Trace = request.scope.setdefault("medledger.trace", Trace())
    return trace


CurrentTrace = Annotated[Trace, Depends(get_trace)]


class AccessTraceMiddleware:
    """Records one AccessEntry per traced request, with the problem code of a refusal."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/v1/") or path in _UNTRACED:
            await self.app(scope, receive, send)
            return
        trace = scope.setdefault("medledger.trace", Trace())
        response: dict[str, Any] = {"status": 500, "body": b""}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
            elif message["type"] == "http.response.body" and response["status"] >= 400:
                response["body"] += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            gateway = scope["app"].state.gateway
            gateway.access_log.record(_entry(scope, trace, response["status"], response["body"]))


def _entry(scope: Scope, trace: Trace, status: int, body: bytes) -> AccessEntry:
    claimed = dict(scope.get("headers", [])).get(SIGNER_HEADER.lower().encode(), b"").decode()
    route = scope.get("route")
    # An unrouted path is the caller's, decoded: quoted again, so that no whitespace of theirs
    # splits the action (a FHIR code, and "METHOD PATH" for whoever reads a published batch).
    path = getattr(route, "path", None) or quote(scope["path"], safe="/{}:@!$&'()*+,;=")
    action = f"{scope['method']} {path}"
    return AccessEntry(
        at=now(),
        actor=trace.actor or claimed or "anonymous",
        org=trace.org,
        action=action,
        record_id=trace.record_id,
        version=trace.version,
        view=trace.view,
        patient=trace.patient,
        grant=trace.grant,
        purpose=trace.purpose,
        outcome="allowed" if status < 400 else f"denied:{_problem_code(body, status)}",
    )


def _problem_code(body: bytes, status: int) -> str:
    try:
        code = json.loads(body).get("code")
    except (ValueError, AttributeError):
        code = None
    return str(code) if code else f"http.{status}"


@contextmanager
def periodic_sealer(gateway: Gateway) -> Iterator[None]:
    """Seal and anchor the access log every ``access_log_seal_interval_s`` while the app runs,
    and once more on the way out, so that a clean stop leaves no entry unanchored."""
    stop = threading.Event()

    def seal_all(*, backlog_only: bool = False) -> None:
        """Seal until nothing waits; ``backlog_only``: only while batches come out full, so that
        entries arriving during a seal wait for the next interval instead of being sealed at
        once in a small batch after small batch (a transaction and a manifest each)."""
        full = gateway.settings.access_log_batch_max
        try:
            while (sealed := gateway.seal_access_log()) is not None:
                if backlog_only and sealed.count < full:
                    break
        except LedgerError as exc:  # the chain may be down for a while; entries wait, durable
            log.warning("access log not anchored this round: %s", exc)

    def run() -> None:
        while not stop.wait(gateway.settings.access_log_seal_interval_s):
            seal_all(backlog_only=True)

    thread = threading.Thread(target=run, name="access-log-sealer", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        seal_all()
