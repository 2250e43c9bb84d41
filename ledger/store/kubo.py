"""The Kubo backend: an IPFS node's RPC API (``/api/v0``), with every CID checked on our side."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

import httpx

from ledger.errors import (
    ContentCorrupt,
    ContentNotFound,
    ContentUnavailable,
    StoreError,
    StoreUnavailable,
)
from ledger.store import _unixfs
from ledger.store._car import car_of
from ledger.store.base import Cid, ContentStore
from ledger.store.cid import binary_cid, cid_from_bytes, cid_of, cid_to_bytes

# Spelled out rather than left to the node's Import config (a unixfs-v1-2025 profile would build
# 1 MiB chunks under 1024 links). A node ignores options it does not know, so an older one is not
# refused over max-file-links: the CID it answers is checked against ours instead.
ADD_PARAMS = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{_unixfs.CHUNK_SIZE}",
    "max-file-links": str(_unixfs.MAX_LINKS),
    "trickle": "false",
    "hash": "sha2-256",
    "pin": "true",
}
_NOT_FOUND = re.compile(r"not found|could not find", re.IGNORECASE)
# How a node says its wait for the network ran out: Kubo when the request's timeout option expires,
# scripts/ipfs_node.mjs when no block came in time. Checked before _NOT_FOUND.
_TIMED_OUT = re.compile(r"deadline exceeded|no block from this node or its peers", re.IGNORECASE)
#: Time an answer may take beyond the node's own fetch timeout before the node counts as hung.
_GRACE_S = 5.0
_IMPORT_WAIT_S, _IMPORT_WAIT_PER_ROOT_S = 30.0, 0.01
_NOT_PINNED = re.compile(r"not pinned", re.IGNORECASE)


class KuboStore(ContentStore):
    """Content in a Kubo node, reached over HTTP; the node's GC reclaims what ``remove`` unpins.

    With ``fetch_timeout_s``, a ``cat`` or ``pin/add`` asks the node to give up on the network
    after that long (Kubo's ``timeout`` RPC option), and content no peer delivered in time raises
    ContentUnavailable; the HTTP wait then allows the node that long and a grace period more.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        fetch_timeout_s: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._url = url
        self._fetch = {} if fetch_timeout_s is None else {"timeout": f"{fetch_timeout_s:g}s"}
        if fetch_timeout_s is not None:
            timeout = max(timeout, fetch_timeout_s + _GRACE_S)
        self._client = httpx.Client(
            base_url=url.rstrip("/") + "/api/v0/",
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    def put(self, data: bytes) -> Cid:
        expected = cid_of(data)
        files = {"file": ("blob", data, "application/octet-stream")}
        reply = _last_json_line(self._call("add", params=ADD_PARAMS, files=files))
        stored = str(reply.get("Hash", ""))
        if _same(stored, expected):
            return expected
        with suppress(StoreError):  # leave nothing pinned under a CID no one will ask for
            self._call("pin/rm", params={"arg": stored})
        raise StoreError(
            f"Kubo at {self._url} stored the content as {stored!r}, not {expected}: its import "
            "settings differ from ipfs add --cid-version=1 (raw leaves, 256 KiB chunks, "
            "balanced layout of 174 links, sha2-256)"
        )

    def put_many(self, blobs: Iterable[bytes]) -> list[Cid]:
        """Store and pin every blob in one request: a CAR file of all their blocks, imported
        with Kubo's ``dag/import``, each blob's root pinned. The CIDs are computed here, as
        ``put`` would (the node checks every block against its CID); StoreError unless the node
        answers every root as pinned."""
        roots, archive = car_of(blobs)
        if not roots:
            return []
        files = {"file": ("batch.car", archive, "application/vnd.ipld.car")}
        # A batch of thousands takes the node seconds: the wait grows with it.
        wait = httpx.Timeout(_IMPORT_WAIT_S + len(roots) * _IMPORT_WAIT_PER_ROOT_S, connect=5.0)
        reply = self._call("dag/import", params={"pin-roots": "true"}, files=files, timeout=wait)
        pinned: set[bytes] = set()
        for line in reply.text.splitlines():
            root = _import_root(line)
            if root is None:
                continue
            cid, error = root
            if error:
                raise StoreError(f"Kubo at {self._url} did not pin {cid}: {error}")
            with suppress(ValueError):
                pinned.add(cid_to_bytes(cid))
        missing = [root for root in roots if root not in pinned]
        if missing:
            raise StoreError(
                f"Kubo at {self._url} did not report {len(missing)} of {len(roots)} imported "
                f"roots as pinned, {cid_from_bytes(missing[0])} among them"
            )
        return [cid_from_bytes(root) for root in roots]

    def get(self, cid: str) -> bytes:
        wanted = binary_cid(cid)
        data = self._call("cat", params={"arg": cid, **self._fetch}).content
        if cid_to_bytes(cid_of(data)) != wanted:
            raise ContentCorrupt(f"Kubo at {self._url} returned bytes that do not hash to {cid}")
        return data

    def pin(self, cid: str) -> None:
        binary_cid(cid)
        self._call("pin/add", params={"arg": cid, **self._fetch})

    def unpin(self, cid: str) -> None:
        binary_cid(cid)
        try:
            self._call("pin/rm", params={"arg": cid})
        except StoreError as exc:
            if not _NOT_PINNED.search(str(exc)):
                raise

    def remove(self, cid: str) -> None:
        self.unpin(cid)

    def has(self, cid: str) -> bool:
        try:
            binary_cid(cid)
            self._call("pin/ls", params={"arg": cid, "type": "recursive"})
        except ContentNotFound:
            return False
        except StoreError as exc:
            if _NOT_PINNED.search(str(exc)):
                return False
            raise
        return True

    def close(self) -> None:
        self._client.close()

    def _call(self, command: str, **kwargs: Any) -> httpx.Response:
        """POST an RPC command (Kubo refuses GET); map failures onto the store's errors."""
        try:
            response = self._client.post(command, **kwargs)
        except httpx.RemoteProtocolError as exc:
            if command != "cat":
                raise StoreUnavailable(f"Kubo at {self._url} hung up: {exc!r}") from exc
            # cat streams: the status went out with the first block, so scripts/ipfs_node.mjs can
            # only cut the stream when a later block does not come in time. (Kubo ends it with an
            # X-Stream-Error trailer instead, which httpx does not surface: the truncated bytes
            # then fail the CID check as ContentCorrupt.)
            raise ContentUnavailable(
                f"Kubo at {self._url} cut the content off midway: a block did not come in time, "
                f"or the node stopped ({exc!r})"
            ) from exc
        except httpx.TransportError as exc:
            raise StoreUnavailable(f"Kubo at {self._url} is unreachable: {exc!r}") from exc
        except httpx.RequestError as exc:
            raise StoreError(f"Kubo at {self._url} answered {command} unreadably: {exc}") from exc
        if response.is_success:
            return response
        message = _error_message(response)
        if _TIMED_OUT.search(message):
            raise ContentUnavailable(f"Kubo at {self._url}: {message}")
        if _NOT_FOUND.search(message):
            raise ContentNotFound(f"Kubo at {self._url}: {message}")
        raise StoreError(f"Kubo at {self._url} refused {command}: {message}")


def _error_message(response: httpx.Response) -> str:
    """Kubo's error JSON carries ``Message``; anything else is reported by status and body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("Message"), str):
        return str(body["Message"])
    return f"HTTP {response.status_code}: {response.text[:200]}"


def _last_json_line(response: httpx.Response) -> dict[str, Any]:
    # add streams one JSON object a line (progress, then one per file); the file's comes last.
    lines = [line for line in response.text.splitlines() if line.strip()]
    try:
        reply = json.loads(lines[-1])
    except (IndexError, ValueError) as exc:
        raise StoreError(f"unreadable answer from Kubo add: {response.text[:200]!r}") from exc
    if not isinstance(reply, dict):
        raise StoreError(f"unreadable answer from Kubo add: {response.text[:200]!r}")
    return reply


def _import_root(line: str) -> tuple[str, str] | None:
    """(CID, pin error) of one ``dag/import`` answer line naming a root; None for any other line
    (Kubo may add a statistics line)."""
    try:
        body = json.loads(line)
        root = body["Root"]
        return str(root["Cid"]["/"]), str(root.get("PinErrorMsg") or "")
    except (ValueError, KeyError, TypeError):
        return None


def _same(stored: str, expected: Cid) -> bool:
    """Compare binary forms: the node may print a CID in another base than ours."""
    try:
        return cid_to_bytes(stored) == cid_to_bytes(expected)
    except ValueError:
        return False
