"""A local multi-node network for the session: three EthereumJS Clique signers, a gateway each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.network.supervisor import RunningNetwork, running_network
from ledger.settings import Settings
from tests.conftest import HOST_MODES, free_run
from tests.network.netns import Hosts, SeparateConsortium, separate_consortium

THREE_GATEWAYS = {"hospital-a": 0, "insurer": 1, "hospital-b": 2}

#: The organisations tests/network/test_separate_hosts.py runs, each on a host of its own.
SEPARATE_ORGS = ("hospital-a", "hospital-b", "insurer", "regulator")
#: Hospital A seals a record batch at three versions, or after a minute: a smaller bulk write is
#: still in its outbox when its machine dies.
SEPARATE_SETTINGS = {
    "hospital-a": {"MEDLEDGER_RECORD_BATCH_MAX": "3", "MEDLEDGER_RECORD_BATCH_INTERVAL_S": "60"}
}


@pytest.fixture(scope="session")
def network_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    rpc = free_run(3, 38_645)
    p2p = free_run(3, 39_403)
    api = free_run(3, 38_100)
    return Settings(
        data_dir=Path(tmp_path_factory.mktemp("network")),
        network_rpc_port=rpc,
        network_p2p_port=p2p,
        network_api_port=api,
        network_ipfs_api_port=free_run(3, 39_500),
        network_ipfs_swarm_port=free_run(3, 39_600),
        ipfs_redial_interval_s=0.5,
        network_block_period_s=1,
        tx_timeout_s=60,
    )


@pytest.fixture(scope="session")
def net(network_settings: Settings) -> Iterator[RunningNetwork]:
    # Three gateways, one on each node, are what the tests speak to; `medledger network up` runs
    # every organisation's.
    with running_network(network_settings, THREE_GATEWAYS) as running:
        yield running


@pytest.fixture(scope="module")
def machines() -> Iterator[Hosts]:
    """This module's hosts: network namespaces on a bridge as root, else loopback (the mode is
    printed at the end of the run); every process on them killed and every namespace removed at
    the end, whatever happened."""
    with Hosts() as made:
        HOST_MODES.add(f"{made.mode}{f' ({made.why})' if made.why else ''}")
        yield made


@pytest.fixture(scope="module")
def separate(
    tmp_path_factory: pytest.TempPathFactory, machines: Hosts
) -> Iterator[SeparateConsortium]:
    """The demo consortium with hospital A, hospital B, the insurer and the regulator each on a
    host of its own: its own IPFS node, gateway and directory; one anvil on the bridge."""
    root = Path(tmp_path_factory.mktemp("separate"))
    with separate_consortium(root, machines, SEPARATE_ORGS, SEPARATE_SETTINGS) as running:
        yield running
