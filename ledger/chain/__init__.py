"""The chain side of a gateway: the connection to the ledger's contracts, their deployment and
compiled artifacts, waiting for receipts, and the local anvil node for development and tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "Anvil": "ledger.chain.node",
    "Chain": "ledger.chain.connection",
    "Deployment": "ledger.chain.deploy",
    "NodeProcess": "ledger.chain.node",
    "connect": "ledger.chain.connection",
    "ensure_deployed": "ledger.chain.deploy",
    "load_deployment": "ledger.chain.deploy",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.chain.connection import Chain, connect
    from ledger.chain.deploy import Deployment, ensure_deployed, load_deployment
    from ledger.chain.node import Anvil, NodeProcess
