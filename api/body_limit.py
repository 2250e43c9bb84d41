"""Caps the request body for every route, as it is read: a route with a body model would otherwise
have the whole body read into memory before any dependency could refuse it."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem
from ledger.errors import PayloadTooLarge


class BodyLimit:
    """ASGI middleware: a declared length over ``limit`` is refused before a byte is read, and a
    body that grows past it while streaming stops the read; both are 413 ``payload.too_large``.

    (FastAPI's own ``max_body_size`` answers a declared length in text/plain, not as a problem.)
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            detail = f"request body of {declared} bytes exceeds the {self.limit}-byte limit"
            await problem(413, PayloadTooLarge.code, detail)(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                # An HTTPException passes through FastAPI's body parsing to the problem handlers.
                raise HTTPException(413, f"request body exceeds the {self.limit}-byte limit")
            return message

        await self.app(scope, limited, send)
