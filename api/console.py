"""The browser console and the API's own documentation, served by the gateway from its own files.

Every organisation's gateway serves the console (console/, built by Vite into console/dist) at
``/console/``, on the origin of its own API, so the page signs requests to the gateway it came from
and needs no CORS. ``/docs`` is Swagger UI from the same build (swagger-ui-dist, copied by
console/vite.config.ts), not FastAPI's default CDN: a hospital intranet has no internet.
The pages may load nothing from another origin: a Content-Security-Policy says so to the browser.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.audit import CurrentTrace
from api.deps import GatewayDep, OwnStaff, org_kind
from api.problems import SIGNED_PROBLEMS, problem, responses
from api.schemas import ConsoleConfigPublic, ConsoleStaffPublic

__all__ = ["install"]

#: What the console's pages may load: their own origin only, and images as data: URIs.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
LANGUAGES = ("zh-CN", "en")

router = APIRouter(prefix="/v1/console", tags=["meta"])


@router.get("/config", response_model=ConsoleConfigPublic)
def config(gateway: GatewayDep) -> ConsoleConfigPublic:
    """What the console shows before anyone signs in: whose gateway this is, and the zone and
    languages times and text are shown in. Unsigned, like ``/v1/domain``."""
    settings = gateway.settings
    offset = datetime.now(UTC).astimezone(settings.zone).utcoffset()
    return ConsoleConfigPublic(
        organisation=gateway.org.address,
        kind=org_kind(gateway, gateway.org.address).name.lower(),
        chain_id=gateway.chain.chain_id,
        time_zone=settings.time_zone,
        utc_offset_minutes=int(offset.total_seconds() // 60) if offset else 0,
        languages=list(LANGUAGES),
        default_language=LANGUAGES[0],
    )


@router.get("/me", response_model=ConsoleStaffPublic, responses=responses(*SIGNED_PROBLEMS))
def me(member: OwnStaff, trace: CurrentTrace) -> ConsoleStaffPublic:
    """Who signed this request, as the chain knows them: staff of this gateway's organisation and
    their role (what the console shows them); 403 for anyone else, as every staff route is."""
    trace.view = "metadata"
    assert member.org is not None  # OwnStaff checked both
    assert member.role is not None
    return ConsoleStaffPublic(address=member.address, organisation=member.org, role=member.role)


class ConsoleOrganisationPublic(BaseModel):
    """An organisation a patient may name in a grant: its address and the kind it was admitted."""

    model_config = ConfigDict(extra="forbid")

    org: str
    kind: str  # hospital | insurer | pharmacy | regulator
    usable: bool


@router.get("/organisations", response_model=list[ConsoleOrganisationPublic])
def organisations(gateway: GatewayDep) -> list[ConsoleOrganisationPublic]:
    """The directory's organisations and their kinds, for a patient's consent form (a patient is
    no member, so cannot read /v1/directory). Unsigned, like ``/v1/console/config``: it is what
    the chain already tells anyone."""
    directory = gateway.directory
    return [
        ConsoleOrganisationPublic(
            org=org,
            kind=org_kind(gateway, org).name.lower(),
            usable=directory.entry(org).usable,
        )
        for org in directory.organisations()
    ]


class _ConsoleHeaders:
    """Adds the console's Content-Security-Policy (and no-sniff) to everything under /console/."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"content-security-policy", CONSOLE_CSP.encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI, dist: Path) -> None:
    """Serve the built console from ``dist`` at /console/ and Swagger UI at /docs; without a build,
    both answer 503 ``console.not_built`` saying how to build it (the API itself is unaffected)."""
    app.include_router(router)
    built = (dist / "index.html").is_file()
    if built:
        app.mount("/console", _ConsoleHeaders(StaticFiles(directory=dist, html=True)))
    else:

        @app.get("/console", include_in_schema=False)
        @app.get("/console/{rest:path}", include_in_schema=False)
        def not_built() -> Response:
            return _not_built(dist)

    @app.get("/docs", include_in_schema=False)
    def docs(request: Request) -> Response:
        if not built:
            return _not_built(dist)
        root = request.scope.get("root_path", "")
        return _swagger(f"{root}/openapi.json", f"{root}/console/swagger")


def _swagger(openapi_url: str, assets: str) -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=openapi_url,
        title="MedLedger gateway API",
        swagger_js_url=f"{assets}/swagger-ui-bundle.js",
        swagger_css_url=f"{assets}/swagger-ui.css",
        swagger_favicon_url=f"{assets}/favicon-32x32.png",
    )


def _not_built(dist: Path) -> Response:
    return problem(
        503,
        "console.not_built",
        f"the console is not built in {dist}; run `make console` (make run does it)",
    )
