"""Builds the gateway app: routers, problem responses, and the parts it serves from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import problems
from api.audit import AccessTraceMiddleware, periodic_sealer
from api.gateway import Gateway, build_gateway
from api.routes import audit, consents, dispenses, meta, patients, practice, prescriptions, records
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
    )
    app.state.gateway = gateway
    app.add_middleware(AccessTraceMiddleware)
    problems.install(app)
    for module in (meta, patients, records, consents, audit, prescriptions, dispenses, practice):
        app.include_router(module.router)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory api.main:app_from_env`: settings from MEDLEDGER_* variables."""
    gateway = build_gateway(load_settings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with periodic_sealer(gateway):
            yield
        gateway.close()

    app = create_app(gateway)
    app.router.lifespan_context = lifespan
    return app
