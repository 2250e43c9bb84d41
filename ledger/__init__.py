"""MedLedger's Python core: hashes and state on chain, encrypted payloads in a content store.

The public surface is re-exported here. Names load on first use (PEP 562) because web3 and
fhir.resources take seconds to import and `medledger cid` should not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

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
    "Chain": "ledger.chain.connection",
    "connect": "ledger.chain.connection",
    "Deployment": "ledger.chain.deploy",
    "ensure_deployed": "ledger.chain.deploy",
    "load_deployment": "ledger.chain.deploy",
    # content
    "ContentStore": "ledger.store",
    "Cid": "ledger.store",
    "cid_of": "ledger.store",
    "open_store": "ledger.store",
    "Payload": "ledger.payload",
    "parse_payload": "ledger.payload",
    "canonicalize": "ledger.payload",
    # records
    "RecordBook": "ledger.records.book",
    "AnchorReceipt": "ledger.records.book",
    "RecordDocument": "ledger.records.document",
    "Verdict": "ledger.records.document",
    "verify_against_ledger": "ledger.records.verify",
    # keys and signing
    "PatientKeys": "ledger.crypto.keys",
    "new_key_file": "ledger.crypto.keys",
    "load_key": "ledger.crypto.keys",
    "GatewayDomain": "ledger.gateway.auth",
    "sign_request": "ledger.gateway.auth",
    "GatewayClient": "ledger.gateway.client",
}

__all__ = ["__version__", *_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.chain.connection import Chain, connect
    from ledger.chain.deploy import Deployment, ensure_deployed, load_deployment
    from ledger.crypto.keys import PatientKeys, load_key, new_key_file
    from ledger.errors import (
        ChainError,
        ConfigError,
        ContractRevert,
        CryptoError,
        LedgerError,
        PayloadError,
        StoreError,
    )
    from ledger.gateway.auth import GatewayDomain, sign_request
    from ledger.gateway.client import GatewayClient
    from ledger.payload import Payload, canonicalize, parse_payload
    from ledger.records.book import AnchorReceipt, RecordBook
    from ledger.records.document import RecordDocument, Verdict
    from ledger.records.verify import verify_against_ledger
    from ledger.settings import Settings, load_settings
    from ledger.store import Cid, ContentStore, cid_of, open_store
