"""Each organisation on a host of its own (tests/network/netns.py): its IPFS node and gateway as
real processes in their own network namespace, sharing only the chain and the swarm key."""

from __future__ import annotations

from tests.network.netns import SeparateConsortium


def test_every_gateway_answers_from_its_own_host(separate: SeparateConsortium) -> None:
    addresses = {m.host.address for m in separate.orgs.values()}
    assert len(addresses) == (len(separate.orgs) if separate.hosts.mode == "netns" else 1)
