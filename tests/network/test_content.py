"""`medledger up`'s IPFS nodes: one per organisation in its own directory, peered, one swarm key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ConfigError
from ledger.network.content import consortium_swarm_key, org_ipfs_nodes
from ledger.settings import Settings
from tests.conftest import free_run

ORGS = ["hospital-a", "insurer", "regulator"]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        ipfs_api_port=free_run(3, 29_100),
        ipfs_swarm_port=free_run(3, 29_200),
        content_fetch_timeout_s=2.0,
        ipfs_redial_interval_s=0.5,
    )


def test_each_organisation_gets_a_node_in_its_own_directory_peered_with_the_others(
    settings: Settings,
) -> None:
    with org_ipfs_nodes(settings, ORGS) as nodes:
        assert [node.repo_dir for node in nodes.values()] == [
            settings.data_dir / "orgs" / org / "ipfs" for org in ORGS
        ]
        assert [node.rpc_port for node in nodes.values()] == [
            settings.ipfs_api_port + i for i in range(len(ORGS))
        ]
        with nodes["hospital-a"].store() as writer, nodes["regulator"].store() as reader:
            cid = writer.put(b"an envelope hospital A wrote")
            assert reader.get(cid) == b"an envelope hospital A wrote"
    assert not any(node.running for node in nodes.values())


def test_configured_peers_are_kept_beside_the_stacks_own(settings: Settings) -> None:
    elsewhere = "/ip4/127.0.0.1/tcp/49999/p2p/12D3KooWGd4n7w353hNroBT5f4FmBLZwgFAXXNeJgzkKTKUE1TEd"
    with org_ipfs_nodes(settings.model_copy(update={"ipfs_peers": [elsewhere]}), ORGS[:2]) as nodes:
        peers = (nodes["insurer"].repo_dir / "peers").read_text().split()
        assert peers == [elsewhere, nodes["hospital-a"].address]


def test_development_makes_the_swarm_key_once_under_the_data_directory(
    settings: Settings,
) -> None:
    key = consortium_swarm_key(settings)
    assert key == settings.data_dir / "swarm.key"
    assert key.stat().st_mode & 0o777 == 0o600
    before = key.read_text()
    assert consortium_swarm_key(settings).read_text() == before


def test_production_without_a_swarm_key_file_is_refused(settings: Settings) -> None:
    production = settings.model_copy(update={"profile": "production"})
    with pytest.raises(ConfigError, match="MEDLEDGER_IPFS_SWARM_KEY_FILE"):
        consortium_swarm_key(production)
