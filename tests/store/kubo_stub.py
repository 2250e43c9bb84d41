"""A Kubo RPC stand-in over the embedded store: Kubo itself cannot be installed on this machine.

It answers ``add``, ``cat``, ``pin/add``, ``pin/rm`` and ``pin/ls`` as Kubo does (POST only, command
errors as HTTP 500 with ``{"Message", "Code", "Type"}``), records every call, and misbehaves on
request: ``wrong_cid`` answers ``add`` with the CID of the same bytes in 1 KiB chunks, as a node
with other import settings would; ``alter_cat`` flips a byte of what ``cat`` returns; ``fail_with``
answers every command with that error message.
"""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ledger.errors import ContentNotFound
from ledger.store import EmbeddedStore, cid_from_bytes
from ledger.store._unixfs import iter_blocks


class KuboStub:
    """A threaded HTTP server on 127.0.0.1; ``url`` is what KuboStore takes."""

    def __init__(self, root: Path) -> None:
        self.store = EmbeddedStore(root, durable=False)
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.wrong_cid = False
        self.alter_cat = False
        self.fail_with: str | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> KuboStub:
        self._thread.start()
        return self

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.02)  # so stop() returns at once

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def answer(self, command: str, params: dict[str, str], body: bytes, ctype: str) -> Any:
        """What Kubo would send: JSON, or bytes for cat; errors as ContentNotFound or ValueError."""
        self.calls.append((command, params))
        cid = params.get("arg", "")
        if self.fail_with:
            raise ValueError(self.fail_with)
        if command == "add":
            data = _multipart_file(body, ctype)
            stored = self.store.put(data)
            if self.wrong_cid:
                *_, (root, _) = iter_blocks(io.BytesIO(data), chunk_size=1024)
                stored = cid_from_bytes(root)
            return {"Name": stored, "Hash": stored, "Size": str(len(data))}
        if command == "cat":
            try:
                data = self.store.get(cid)
            except ContentNotFound:
                raise ContentNotFound(
                    f"block was not found locally (offline): ipld: could not find {cid}"
                ) from None
            return data[:-1] + bytes([data[-1] ^ 1]) if self.alter_cat and data else data
        if command == "pin/add":
            self.store.pin(cid)
            return {"Pins": [cid]}
        if command == "pin/rm":
            if not self.store.has(cid):
                raise ValueError("not pinned or pinned indirectly")
            self.store.unpin(cid)
            return {"Pins": [cid]}
        if command == "pin/ls":
            if not self.store.has(cid):
                raise ValueError(f"path '{cid}' is not pinned")
            return {"Keys": {cid: {"Type": "recursive"}}}
        raise LookupError(command)


def _handler(stub: KuboStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send(405, "text/plain", b"405 - Method Not Allowed\n")

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            command = url.path.removeprefix("/api/v0/")
            params = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            try:
                reply = stub.answer(command, params, body, self.headers.get("Content-Type", ""))
            except LookupError:
                self._send(404, "text/plain", b"404 page not found")
            except (ContentNotFound, ValueError) as exc:
                error = {"Message": str(exc), "Code": 0, "Type": "error"}
                self._send(500, "application/json", json.dumps(error).encode())
            else:
                if isinstance(reply, bytes):
                    self._send(200, "text/plain", reply)
                else:
                    self._send(200, "application/json", json.dumps(reply).encode() + b"\n")

        def _send(self, status: int, ctype: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


def _multipart_file(body: bytes, ctype: str) -> bytes:
    """The one file part of a multipart/form-data body, as Kubo's add reads it."""
    boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
    parts = body.split(b"--" + boundary)[1:-1]
    if len(parts) != 1:
        raise ValueError(f"expected one file part, got {len(parts)}")
    _headers, content = parts[0].split(b"\r\n\r\n", 1)
    return content.removesuffix(b"\r\n")
