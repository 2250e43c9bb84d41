"""Lazy re-exports for the packages' ``__init__`` modules (PEP 562).

A package declares its public surface once, as the ``from ... import X as X`` lines of its
``if TYPE_CHECKING:`` block: type checkers read them as explicit re-exports, and at run time each
name's module is imported only on first use, so importing a package stays cheap and no package
imports its own submodules eagerly.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def lazy_exports(package: str, init_file: str) -> tuple[Callable[[str], Any], list[str]]:
    """A module ``__getattr__`` for the names ``init_file`` imports under ``if TYPE_CHECKING:``,
    and the package's ``__all__`` (those names, sorted)."""
    exports = _declared(Path(init_file))

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__, sorted(exports)


def _declared(init_file: Path) -> dict[str, str]:
    exports: dict[str, str] = {}
    for node in ast.parse(init_file.read_text()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name):
            if node.test.id != "TYPE_CHECKING":
                continue
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom) and statement.module:
                    exports.update(
                        {alias.asname or alias.name: statement.module for alias in statement.names}
                    )
    return exports
