"""Break-glass reason codes: a small coded list (a TOML data file), so that the chain carries a
code and never a clinician's free text; the registry is deployed with the list's codes as a mask."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import ConfigError

#: The bundled reason codes (an example list; a consortium may deploy with its own).
DEFAULT_REASONS_FILE = Path(__file__).with_name("break_glass_reasons.toml")
_MAX_CODE = 255  # the registry takes a uint8


@dataclass(frozen=True)
class Reason:
    """One reason code: the number on chain, a stable name for the API and CLI, and its meaning."""

    code: int
    name: str
    text: str


def load_reasons(path: Path = DEFAULT_REASONS_FILE) -> dict[int, Reason]:
    """The reason codes in ``path`` by code; ConfigError for a file that is not such a list."""
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"break-glass reasons file {path}: {exc}") from exc
    reasons: dict[int, Reason] = {}
    for key, entry in raw.items():
        if not key.isdigit() or not 1 <= int(key) <= _MAX_CODE:
            raise ConfigError(f"break-glass reason code {key!r} is not a number from 1 to 255")
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(field), str) and entry[field] for field in ("name", "text")
        ):
            raise ConfigError(f"break-glass reason {key} needs a name and a text")
        reasons[int(key)] = Reason(int(key), entry["name"], entry["text"])
    names = [r.name for r in reasons.values()]
    if not reasons or len(set(names)) != len(names):
        raise ConfigError(f"break-glass reasons file {path}: empty, or a name used twice")
    return reasons


def reason_mask(reasons: dict[int, Reason]) -> int:
    """The bit mask the registry is deployed with: bit ``code`` set for every code listed."""
    return sum(1 << code for code in reasons)


def reason_by_name(reasons: dict[int, Reason], name: str) -> Reason | None:
    """The reason named ``name``, or None."""
    return next((r for r in reasons.values() if r.name == name), None)


#: The purpose an access entry records when break-glass authorised it, as ``break-glass:<reason
#: name>`` (the entry's ``grant`` is then the declaration's access id).
BREAK_GLASS_PURPOSE = "break-glass"


def break_glass_purpose(reason_name: str) -> str:
    """The access entry's purpose for a read under break-glass for ``reason_name``."""
    return f"{BREAK_GLASS_PURPOSE}:{reason_name}"


def is_break_glass(purpose: str | None) -> bool:
    """Whether an access entry's ``purpose`` says break-glass authorised it."""
    return purpose is not None and purpose.partition(":")[0] == BREAK_GLASS_PURPOSE
