"""`python -m tests.console.actors <command> '<json>'`: one actor step, one JSON line out."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

from tests.console.actors import patient, pharmacy, regulator

COMMANDS: dict[str, Callable[[dict[str, Any]], Any]] = {
    **patient.COMMANDS,
    **regulator.COMMANDS,
    **pharmacy.COMMANDS,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in COMMANDS:
        print(f"usage: python -m tests.console.actors {{{'|'.join(sorted(COMMANDS))}}} '<json>'")
        return 2
    print(json.dumps(COMMANDS[argv[0]](json.loads(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
