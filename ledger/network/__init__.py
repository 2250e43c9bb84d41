"""Running a consortium's network: the local Clique signers and their supervisor, the `medledger up`
stack, the demo consortium's seeding, and the production Besu configs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "CliqueNode": "ledger.network.clique",
    "Consortium": "ledger.network.consortium",
    "LocalNetwork": "ledger.network.local",
    "NetworkPorts": "ledger.network.local",
    "RunningNetwork": "ledger.network.supervisor",
    "Stack": "ledger.network.stack",
    "StaffJoin": "ledger.network.joining",
    "join_args": "ledger.network.joining",
    "running_network": "ledger.network.supervisor",
    "running_stack": "ledger.network.stack",
    "seed_demo": "ledger.network.consortium",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.network.clique import CliqueNode
    from ledger.network.consortium import Consortium, seed_demo
    from ledger.network.joining import StaffJoin, join_args
    from ledger.network.local import LocalNetwork, NetworkPorts
    from ledger.network.stack import Stack, running_stack
    from ledger.network.supervisor import RunningNetwork, running_network
