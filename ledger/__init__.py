"""MedLedger's Python core: hashes and state on chain, encrypted payloads in a content store.

The public surface is re-exported here. Names load on first use (PEP 562) because web3 and
fhir.resources take seconds to import and `medledger cid` should not pay for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__version__ = "0.1.0"

__getattr__, _exported = lazy_exports(__name__, __file__)
__all__ = ["__version__", *_exported]

if TYPE_CHECKING:
    from ledger.chain.connection import Chain as Chain, connect as connect
    from ledger.chain.deploy import (
        Deployment as Deployment,
        ensure_deployed as ensure_deployed,
        load_deployment as load_deployment,
    )
    from ledger.crypto.keys import (
        PatientKeys as PatientKeys,
        load_key as load_key,
        new_key_file as new_key_file,
    )
    from ledger.errors import (
        ChainError as ChainError,
        ConfigError as ConfigError,
        ContractRevert as ContractRevert,
        CryptoError as CryptoError,
        LedgerError as LedgerError,
        PayloadError as PayloadError,
        StoreError as StoreError,
    )
    from ledger.gateway.auth import GatewayDomain as GatewayDomain, sign_request as sign_request
    from ledger.gateway.client import GatewayClient as GatewayClient
    from ledger.payload import (
        Payload as Payload,
        canonicalize as canonicalize,
        parse_payload as parse_payload,
    )
    from ledger.records.book import AnchorReceipt as AnchorReceipt, RecordBook as RecordBook
    from ledger.records.document import RecordDocument as RecordDocument, Verdict as Verdict
    from ledger.records.verify import verify_against_ledger as verify_against_ledger
    from ledger.settings import Settings as Settings, load_settings as load_settings
    from ledger.store import (
        Cid as Cid,
        ContentStore as ContentStore,
        cid_of as cid_of,
        open_store as open_store,
    )
