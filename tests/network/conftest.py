"""A local multi-node network for the session: three EthereumJS Clique signers, a gateway each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.network.supervisor import RunningNetwork, running_network
from ledger.settings import Settings
from tests.conftest import free_run

THREE_GATEWAYS = {"hospital-a": 0, "insurer": 1, "hospital-b": 2}


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
