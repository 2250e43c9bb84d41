"""Every setting the ledger and its gateway read, from the environment (prefix ``MEDLEDGER_``).

Numbers that differ by place or deployment live here, never as constants in code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.errors import ConfigError

#: Passphrases that only a development profile may use.
_PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "password", "secret", "medledger"})


class Settings(BaseSettings):
    """One organisation's gateway and tools, configured from ``MEDLEDGER_*`` variables."""

    model_config = SettingsConfigDict(env_prefix="MEDLEDGER_", env_file=None, extra="ignore")

    profile: Literal["development", "production"] = "development"
    data_dir: Path = Path("data")

    # Chain: with no rpc_url, `medledger up` starts a local anvil on anvil_port.
    rpc_url: str | None = None
    chain_id: int = 31337
    anvil_port: int = Field(default=8545, ge=1, le=65535)
    anvil_bin: Path | None = None
    tx_timeout_s: float = Field(default=30.0, gt=0)
    # Blocks that must hold a transaction before it counts as done: 1 where blocks are final at
    # once (Besu QBFT); more on a chain that can reorganise (Clique, the local network).
    tx_confirmations: int = Field(default=1, ge=1)

    # The local multi-node network (`medledger network up`): EthereumJS Clique signers on loopback,
    # node i on network_rpc_port + i and network_p2p_port + i, gateways from network_api_port.
    network_signers: int = Field(default=3, ge=3, le=16)
    network_chain_id: int = Field(default=13_372_026, gt=0)
    network_block_period_s: int = Field(default=2, ge=1)
    network_rpc_port: int = Field(default=8645, ge=1, le=65535)
    network_p2p_port: int = Field(default=30403, ge=1, le=65535)
    network_api_port: int = Field(default=8100, ge=1, le=65535)
    network_tx_confirmations: int = Field(default=3, ge=1)

    # The organisation this gateway speaks for: its key signs the transactions it sends.
    org_key_file: Path | None = None
    org_key_passphrase: SecretStr = SecretStr("")

    # Content store.
    store_backend: Literal["embedded", "kubo"] = "embedded"
    kubo_url: str = "http://127.0.0.1:5001"

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    max_payload_bytes: int = Field(default=1_048_576, gt=0)
    request_max_skew_s: int = Field(default=300, gt=0)

    # Local practice: the time zone prescription validity is counted in.
    time_zone: str = "Asia/Shanghai"

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> Settings:
        if self.profile != "production":
            return self
        if self.org_key_file is None:
            raise ValueError("production needs MEDLEDGER_ORG_KEY_FILE")
        if self.org_key_passphrase.get_secret_value().lower() in _PLACEHOLDER_SECRETS:
            raise ValueError(
                "production refuses an empty or placeholder MEDLEDGER_ORG_KEY_PASSPHRASE"
            )
        if self.rpc_url is None:
            raise ValueError(
                "production needs MEDLEDGER_RPC_URL (a local anvil is for development)"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def local_rpc_url(self) -> str:
        return self.rpc_url or f"http://127.0.0.1:{self.anvil_port}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, raising ConfigError with every problem listed."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(problems) from exc
