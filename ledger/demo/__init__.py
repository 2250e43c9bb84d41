"""`medledger demo`: the whole flow, records and consent, prescriptions, claims, walked step by step
against a running stack; kept out of the core, which it only drives through the API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.demo.flow import run_demo as run_demo
