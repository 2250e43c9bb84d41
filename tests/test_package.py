"""The package's public surface: every name in __all__ resolves, and importing it stays cheap."""

from __future__ import annotations

import subprocess
import sys

import pytest

import ledger


def test_every_exported_name_resolves() -> None:
    for name in ledger.__all__:
        assert getattr(ledger, name) is not None, name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        ledger.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_importing_the_package_does_not_import_web3() -> None:
    code = "import sys, ledger; print('web3' in sys.modules, 'fhir' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
