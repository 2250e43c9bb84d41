"""The chain side of a gateway: the connection to the ledger's contracts, their deployment and
compiled artifacts, the organisation directory, waiting for receipts, and the local anvil node for
development and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.chain.connection import Chain as Chain, connect as connect
    from ledger.chain.deploy import (
        Deployment as Deployment,
        ensure_deployed as ensure_deployed,
        load_deployment as load_deployment,
    )
    from ledger.chain.directory import (
        DirectoryEntry as DirectoryEntry,
        OrgDirectory as OrgDirectory,
    )
    from ledger.chain.node import Anvil as Anvil, NodeProcess as NodeProcess
