"""Actor commands for the regulator journeys (helper-owned)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

COMMANDS: dict[str, Callable[[dict[str, Any]], Any]] = {}
