"""MedLedger's Python core: hashes and state on chain, encrypted payloads in a content store.

The public surface is re-exported here. Names load on first use (PEP 562) because web3 and
fhir.resources take seconds to import and `medledger cid` should not pay for them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # errors
    "LedgerError": "ledger.errors",
    "ConfigError": "ledger.errors",
    "PayloadError": "ledger.errors",
    "CryptoError": "ledger.errors",
    "StoreError": "ledger.errors",
    "ChainError": "ledger.errors",
    "ContractRevert": "ledger.errors",
    # settings and wiring
    "Settings": "ledger.settings",
    "load_settings": "ledger.settings",
    "Chain": "ledger.chain",
    "connect": "ledger.chain",
    "Deployment": "ledger.deploy",
    "ensure_deployed": "ledger.deploy",
    "load_deployment": "ledger.deploy",
    # content
    "ContentStore": "ledger.store",
    "Cid": "ledger.store",
    "cid_of": "ledger.store",
    "open_store": "ledger.store",
    "Payload": "ledger.payload",
    "parse_payload": "ledger.payload",
    "canonicalize": "ledger.payload",
    # records
    "RecordBook": "ledger.records",
    "AnchorReceipt": "ledger.records",
    "RecordDocument": "ledger.document",
    "Verdict": "ledger.document",
    "verify_against_ledger": "ledger.verify",
    # keys and signing
    "PatientKeys": "ledger.keys",
    "new_key_file": "ledger.keys",
    "load_key": "ledger.keys",
    "GatewayDomain": "ledger.auth",
    "sign_request": "ledger.auth",
    "GatewayClient": "ledger.client",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ledger' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from ledger.auth import GatewayDomain, sign_request
    from ledger.chain import Chain, connect
    from ledger.client import GatewayClient
    from ledger.deploy import Deployment, ensure_deployed, load_deployment
    from ledger.document import RecordDocument, Verdict
    from ledger.errors import (
        ChainError,
        ConfigError,
        ContractRevert,
        CryptoError,
        LedgerError,
        PayloadError,
        StoreError,
    )
    from ledger.keys import PatientKeys, load_key, new_key_file
    from ledger.payload import Payload, canonicalize, parse_payload
    from ledger.records import AnchorReceipt, RecordBook
    from ledger.settings import Settings, load_settings
    from ledger.store import Cid, ContentStore, cid_of, open_store
    from ledger.verify import verify_against_ledger
