"""Running a consortium's network: each organisation's node (its directory and processes), joining,
the local Clique signers and their supervisor, the `medledger up` stack, the demo consortium's
seeding, the production Besu configs; and the content network through the directory: peering,
the holders of each anchored CID, and the replication worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.network.anchored import CID_EVENTS as CID_EVENTS, ContentIndex as ContentIndex
    from ledger.network.clique import CliqueNode as CliqueNode
    from ledger.network.consortium import Consortium as Consortium, seed_demo as seed_demo
    from ledger.network.holders import Candidates as Candidates, choose_holders as choose_holders
    from ledger.network.joining import StaffJoin as StaffJoin, join_args as join_args
    from ledger.network.local import LocalNetwork as LocalNetwork, NetworkPorts as NetworkPorts
    from ledger.network.org import OrgNode as OrgNode, org_dir as org_dir
    from ledger.network.org_join import join as join, start_org as start_org
    from ledger.network.peers import NodeRpc as NodeRpc, publish_entry as publish_entry
    from ledger.network.replication import (
        ReplicationPolicy as ReplicationPolicy,
        Replicator as Replicator,
    )
    from ledger.network.stack import Stack as Stack, running_stack as running_stack
    from ledger.network.supervisor import (
        RunningNetwork as RunningNetwork,
        running_network as running_network,
    )
