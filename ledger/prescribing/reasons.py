"""Reason codes on chain: short ASCII codes in a ``bytes32``, left-aligned and zero-padded, so that
a block explorer shows them as text, and no free text (which could carry health data) reaches the
chain."""

from __future__ import annotations

import re

__all__ = ["decode_reason", "encode_reason"]

_CODE = re.compile(r"[a-z0-9][a-z0-9.\-]{0,31}")


def encode_reason(code: str) -> bytes:
    """The ``bytes32`` for ``code``: 1 to 32 of lowercase letters, digits, ``-`` and ``.``."""
    if not _CODE.fullmatch(code):
        raise ValueError(f"not a reason code (1-32 of a-z 0-9 - .): {code[:40]!r}")
    return code.encode("ascii").ljust(32, b"\0")


def decode_reason(raw: bytes) -> str | None:
    """The code a ``bytes32`` holds; None for 32 zero bytes (no reason); ValueError if no code."""
    if len(raw) != 32:
        raise ValueError(f"a reason is 32 bytes, not {len(raw)}")
    text = raw.rstrip(b"\0")
    if not text:
        return None
    code = text.decode("ascii", errors="replace")
    if not _CODE.fullmatch(code):
        raise ValueError(f"not a reason code: {raw.hex()}")
    return code
