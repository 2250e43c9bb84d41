"""Every setting the ledger and its gateway read, from the environment (prefix ``MEDLEDGER_``).

Numbers that differ by place or deployment live here, never as constants in code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.audit.supervision_rules import DEFAULT_SUPERVISION_RULES_FILE
from ledger.claiming.rules import DEFAULT_CLAIM_RULES_FILE
from ledger.consent.emergency import DEFAULT_REASONS_FILE
from ledger.errors import ConfigError
from ledger.prescribing.prereview import DEFAULT_RULES_FILE
from ledger.prescribing.validity import DEFAULT_TIME_ZONE, OFFLINE_DAYS, ONLINE_DAYS

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
    # Gas allowance per transaction; the network is gas-free, so this only bounds a runaway call.
    tx_gas_limit: int = Field(default=2_000_000, gt=21_000)

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
    # Each gateway's organisation runs its IPFS node there too: API and libp2p from these on.
    network_ipfs_api_port: int = Field(default=5101, ge=1, le=65535)
    network_ipfs_swarm_port: int = Field(default=4101, ge=1, le=65535)
    network_tx_confirmations: int = Field(default=3, ge=1)

    # The organisation this gateway speaks for: its key signs the transactions it sends.
    org_key_file: Path | None = None
    org_key_passphrase: SecretStr = SecretStr("")

    # Content store.
    store_backend: Literal["embedded", "kubo"] = "embedded"
    kubo_url: str = "http://127.0.0.1:5001"
    # How long a fetch from the IPFS network may wait for a block before the content counts as
    # unavailable (the `timeout` option on the node's cat and pin/add).
    content_fetch_timeout_s: float = Field(default=10.0, gt=0)

    # The organisation's IPFS node (scripts/ipfs_node.mjs, or Kubo with the same key): the
    # consortium's swarm key (Kubo's swarm.key format), its RPC API on ipfs_api_port (what kubo_url
    # names), libp2p on ipfs_swarm_port, the peers it keeps connected to (multiaddrs ending in
    # /p2p/<peer id>), and how often it re-dials a lost one.
    ipfs_swarm_key_file: Path | None = None
    ipfs_host: str = "127.0.0.1"
    # Where the node's RPC API listens: it has no authentication (Kubo's neither), so loopback,
    # the gateway beside it, unless the gateway runs on another machine of the organisation.
    ipfs_api_host: str = "127.0.0.1"
    ipfs_api_port: int = Field(default=5001, ge=1, le=65535)
    ipfs_swarm_port: int = Field(default=4001, ge=1, le=65535)
    ipfs_peers: list[str] = Field(default_factory=list)
    ipfs_redial_interval_s: float = Field(default=5.0, gt=0)
    node_bin: Path | None = None
    # What this organisation publishes in the directory as its node's addresses, where the node's
    # own listen addresses are not what peers dial (NAT, a container, 0.0.0.0): multiaddrs without
    # the /p2p/ part, at most 8. Empty: the addresses the node's `id` reports.
    ipfs_announce_addrs: list[str] = Field(default_factory=list, max_length=8)

    # Replication (kubo backend only): every CID anchored on chain is pinned by its writer and by
    # this many other active organisations, chosen by rendezvous hashing over the directory. The
    # pinner polls the chain this often, retries a CID no peer has yet with exponential backoff up
    # to replication_retry_max_s, and pins this many CIDs at a time.
    replication_factor: int = Field(default=2, ge=0)
    replication_interval_s: float = Field(default=1.0, gt=0)
    replication_retry_max_s: float = Field(default=60.0, gt=0)
    replication_pin_workers: int = Field(default=4, ge=1)

    # API.
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    max_payload_bytes: int = Field(default=1_048_576, gt=0)
    request_max_skew_s: int = Field(default=300, gt=0)

    # Access log: sealed into a Merkle batch anchored on chain this often, at most this many each.
    access_log_seal_interval_s: float = Field(default=5.0, gt=0)
    access_log_batch_max: int = Field(default=1000, ge=1)
    # The consortium trail: how long a batch whose manifest no node had waits before it is asked
    # for again (each ask waits up to content_fetch_timeout_s, on the request that makes it).
    access_trail_retry_s: float = Field(default=60.0, ge=0)
    # The same for a record batch's manifest, in the batch index every gateway keeps.
    batch_manifest_retry_s: float = Field(default=60.0, ge=0)

    # Batch anchoring of record versions (POST /v1/records:bulk): accepted into a durable SQLite
    # outbox (default: beside the gateway's database), sealed into one Merkle batch when this many
    # wait or this often, its root anchored in one BatchAnchor transaction.
    record_outbox_path: Path | None = None
    record_batch_max: int = Field(default=10_000, ge=1, le=2**32 - 1)
    record_batch_interval_s: float = Field(default=1.0, gt=0)
    bulk_max_items: int = Field(default=1000, ge=1)
    # Processes a bulk write validates and seals in (0: in the request's own thread).
    bulk_workers: int = Field(default=2, ge=0)
    receipt_max_wait_s: float = Field(default=30.0, gt=0)

    # Local practice: the time zone prescription validity is counted in, and for how many local days
    # (the issue day counted): online until 24:00 of the next day, offline until 24:00 the same day.
    time_zone: str = DEFAULT_TIME_ZONE
    prescription_online_days: int = Field(default=ONLINE_DAYS, ge=1)
    prescription_offline_days: int = Field(default=OFFLINE_DAYS, ge=1)
    # The follow-up window (days since the offline diagnosis record) that the development consortium
    # seeds its hospitals with; on a real network each hospital's admin sets its own on chain.
    demo_follow_up_window_days: int = Field(default=90, ge=0)
    # The automated pre-review's rules (JSON); the default is an example set, not a policy.
    prereview_rules_file: Path = DEFAULT_RULES_FILE
    # Claims: the currency payments and claims are in (ISO 4217; amounts are kept in its minor
    # unit), and this insurer's coverage rules (JSON); the default is an example, not a policy.
    currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")
    claim_rules_file: Path = DEFAULT_CLAIM_RULES_FILE

    # The rules an internet hospital is held to (docs/rules.md lists each with its source).
    # -- break-glass --
    # Declarations one doctor may make per local day (the registry's first value; the regulator
    # changes it on chain), how long one opens its record, how long its review is on time, and the
    # reason codes (TOML) the registry is deployed with.
    break_glass_daily_limit: int = Field(default=3, ge=0, le=65_535)
    break_glass_window_s: int = Field(default=4 * 3600, ge=1)
    break_glass_review_window_s: int = Field(default=72 * 3600, ge=1)
    break_glass_reasons_file: Path = DEFAULT_REASONS_FILE

    # -- guardians and proxies --
    # A patient younger than this (whole years, from Patient.birthDate, on the local day of the
    # consultation in time_zone) is seen online only while a guardian's appointment is in force.
    online_min_age_without_guardian: int = Field(default=6, ge=0, le=150)

    # -- prescription limits and practice filings --
    # Years of independent practice a doctor needs to be filed for internet diagnosis (2018
    # measures art. 25): the PracticeRegistry is deployed with it; the regulator may change it on
    # chain. The days' supply limits are in the pre-review rules file (its "supply" section).
    min_internet_practice_years: int = Field(default=3, ge=0, le=255)
    # Who may issue (branch prescriber): seconds a doctor has to sign a drafted prescription.
    prescription_signing_window_s: int = Field(default=600, ge=10, le=86_400)

    # -- retention --
    # Years a record is kept (docs/rules.md, docs/operations.md): outpatient after the last visit,
    # inpatient after the last discharge, internet consultation records, recordings. Replication
    # keeps every CID for the longest; a patient's erasure is refused until their records' end.
    retention_outpatient_years: int = Field(default=15, ge=0)
    retention_inpatient_years: int = Field(default=30, ge=0)
    retention_internet_years: int = Field(default=15, ge=0)
    retention_recording_years: int = Field(default=3, ge=0)
    # The writing hospital's per-patient key-encryption keys (default: beside the gateway's
    # database). Erasure deletes a patient's file here: see docs/operations.md on backups.
    kek_store_dir: Path | None = None

    # -- real-time supervision --
    # The regulator's rules engine (ledger/audit/supervision.py; docs/rules.md): its rules (JSON;
    # the default is an example set), how often it follows the chain and the consortium trail, how
    # long a prescription no node delivered waits before it is fetched again (doubling each time),
    # and its SQLite file (default: beside the gateway's database).
    supervision_rules_file: Path = DEFAULT_SUPERVISION_RULES_FILE
    supervision_interval_s: float = Field(default=2.0, gt=0)
    supervision_retry_s: float = Field(default=30.0, gt=0)
    supervision_db_path: Path | None = None

    # Other organisations' gateways by organisation address, for the pharmacist's counter to relay
    # a pharmacist's signed read of a prescription to its issuing hospital (api/routes/counter.py).
    peer_gateways: dict[str, str] = Field(default_factory=dict)

    # -- the browser console --
    # The built console (console/dist, `make console`) every gateway serves at /console/, with
    # Swagger UI's assets for /docs; without a build both answer 503 console.not_built.
    console_dir: Path = Path(__file__).resolve().parents[1] / "console" / "dist"

    @field_validator("peer_gateways", mode="before")
    @classmethod
    def _peers_json(cls, value: object) -> object:
        # As org.env writes it: a JSON object on one line (the environment parses it the same).
        return json.loads(value) if isinstance(value, str) else value

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
        if self.prereview_rules_file.resolve() == DEFAULT_RULES_FILE.resolve():
            raise ValueError(
                "production needs MEDLEDGER_PREREVIEW_RULES_FILE (the bundled rules are examples)"
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
