"""The consortium's swarm key: made once in development, required in production (each
organisation's node and its peers: tests/network/test_org.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.errors import ConfigError
from ledger.network.content import consortium_swarm_key
from ledger.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path)


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
