"""A man in the middle between KuboStore and a real IPFS node, to show how KuboStore meets a node
that misbehaves: it records every call and, on request, rewrites a command's query before the node
sees it (``rewrite["add"] = {"chunker": "size-1024"}``: a node with other import settings) or flips
the last byte of what ``cat`` answers (``alter_cat``). Everything else is the node's own answer.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx


class KuboProxy:
    """A threaded HTTP server on 127.0.0.1 forwarding to ``upstream``; ``url`` is what KuboStore
    takes."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.rewrite: dict[str, dict[str, str]] = {}
        self.alter_cat = False
        self._client = httpx.Client(base_url=upstream, timeout=60.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> KuboProxy:
        self._thread.start()
        return self

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.02)  # so stop() returns at once

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._client.close()

    def forward(self, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
        url = urlsplit(path)
        command = url.path.removeprefix("/api/v0/")
        params = dict(parse_qsl(url.query, keep_blank_values=True))
        self.calls.append((command, params))
        params |= self.rewrite.get(command, {})
        reply = self._client.post(f"{url.path}?{urlencode(params)}", headers=headers, content=body)
        if command == "cat" and self.alter_cat and reply.is_success and reply.content:
            data = reply.content
            return httpx.Response(200, content=data[:-1] + bytes([data[-1] ^ 1]))
        return reply


def _handler(proxy: KuboProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {"Content-Type": self.headers.get("Content-Type", "")}
            reply = proxy.forward(self.path, headers, body)
            self.send_response(reply.status_code)
            self.send_header("Content-Type", reply.headers.get("Content-Type", "text/plain"))
            self.send_header("Content-Length", str(len(reply.content)))
            self.end_headers()
            self.wfile.write(reply.content)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler
