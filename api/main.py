"""Builds the gateway app: routers, problem responses, and the parts it serves from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, nullcontext
from typing import Any

from fastapi import Depends, FastAPI

from api import console, problems
from api.audit import AccessTraceMiddleware, periodic_sealer
from api.body_limit import BodyLimit
from api.deps import known_query_only
from api.gateway import Gateway, build_gateway
from api.routes import (
    alerts,
    appointments,
    audit,
    audit_trail,
    break_glass,
    bulk,
    claims,
    consents,
    content,
    counter,
    directory,
    dispenses,
    meta,
    patients,
    payments,
    practice,
    prescriptions,
    receipts,
    records,
    retention,
)
from ledger.settings import load_settings


def create_app(gateway: Gateway) -> FastAPI:
    """The HTTP API for one organisation; the caller owns ``gateway`` and closes it."""

    app = FastAPI(
        title="MedLedger gateway",
        version="0.1.0",
        summary="One organisation's gateway to the MedLedger consortium ledger.",
        description=(
            "Requests are signed with the caller's Ethereum key (EIP-712); "
            "see docs/authentication.md."
        ),
        dependencies=[Depends(known_query_only)],
        docs_url=None,  # api/console.py serves /docs from local assets, not a CDN
    )
    app.add_middleware(BodyLimit, limit=gateway.settings.max_payload_bytes)
    app.state.gateway = gateway
    app.add_middleware(AccessTraceMiddleware)
    problems.install(app)
    routers = (meta, patients, bulk, records, receipts, consents, audit, prescriptions, dispenses)
    for module in (*routers, audit_trail, directory, content, practice):
        app.include_router(module.router)
    for module in (payments, claims, retention):
        app.include_router(module.router)
    app.include_router(appointments.router)
    app.include_router(alerts.router)
    app.include_router(break_glass.router)
    app.include_router(counter.router)
    console.install(app, gateway.settings.console_dir)
    _complete_openapi(app)
    return app


def _complete_openapi(app: FastAPI) -> None:
    """Two things FastAPI's generated document gets wrong for this API, put right once when built:
    error responses are documented under application/json, but sent as application/problem+json;
    and each signing header is listed as an alternative security requirement, but a signed request
    needs all four (one requirement object lists them together)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            for path in build().get("paths", {}).values():
                for operation in path.values():
                    _problem_media_type(operation.get("responses", {}))
                    if operation.get("security"):
                        together = {k: v for r in operation["security"] for k, v in r.items()}
                        operation["security"] = [together]
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _problem_media_type(responses: dict[str, Any]) -> None:
    for status, response in responses.items():
        content = response.get("content", {})
        if status[:1] in "45" and "application/json" in content:
            content["application/problem+json"] = content.pop("application/json")


def app_from_env() -> FastAPI:
    """For `uvicorn --factory api.main:app_from_env`: settings from MEDLEDGER_* variables."""
    gateway = build_gateway(load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The outbox resumes first: a batch transaction a crash left signed goes back to the node
        # before any other write of this gateway takes a nonce.
        # Replication runs where the store is the organisation's own IPFS node (kubo backend).
        replicator = gateway.replicator if gateway.replicates else None
        replicating = replicator.running() if replicator is not None else nullcontext()
        # A regulator's gateway runs its rules engine (ledger.audit.supervision).
        supervising = gateway.supervision.running() if gateway.supervision else nullcontext()
        with gateway.anchorer.running(), periodic_sealer(gateway), replicating, supervising:
            yield
        gateway.close()

    app = create_app(gateway)
    app.router.lifespan_context = lifespan
    return app
