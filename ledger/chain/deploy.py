"""Deploys the ledger's contracts and records where they live: a file per chain id in the data dir.

A recorded deployment is trusted only while the node's chain id, the code at its addresses and the
compiled artifacts all still match it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import requests
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.types import TxParams

from ledger.chain import _artifacts
from ledger.chain._receipts import wait_for_receipt
from ledger.consent import emergency
from ledger.errors import (
    ChainIdMismatch,
    ChainUnavailable,
    DeploymentError,
    DeploymentMissing,
    DeploymentStale,
)
from ledger.prescribing import validity

if TYPE_CHECKING:
    from ledger.settings import Settings

#: Deployed in this order, each constructor given these arguments: the regulator's account, or the
#: addresses of contracts deployed before it.
_CONSTRUCTOR_ARGS: Mapping[str, tuple[str, ...]] = {
    "Membership": ("regulator",),
    "RecordRegistry": ("Membership",),
    "ConsentRegistry": ("Membership", "RecordRegistry"),
    "BatchAnchor": ("Membership",),
    "PracticeRegistry": ("Membership", "min_internet_practice_years"),
    "PrescriptionRegistry": (
        "Membership",
        "RecordRegistry",
        "PracticeRegistry",
        "prescription_online_days",
        "prescription_offline_days",
        "utc_offset_s",
    ),
    "ClaimRegistry": ("Membership", "ConsentRegistry"),
    "OrgDirectory": ("Membership",),
    "BreakGlassRegistry": (
        "Membership",
        "RecordRegistry",
        "PracticeRegistry",
        "PrescriptionRegistry",
        "break_glass_daily_limit",
        "break_glass_window_s",
        "break_glass_review_window_s",
        "break_glass_reasons",
    ),
}
CONTRACTS = tuple(_CONSTRUCTOR_ARGS)
#: Years of independent practice an internet diagnosis filing needs (2018 measures, art. 25),
#: until the regulator sets another number on chain; MEDLEDGER_MIN_INTERNET_PRACTICE_YEARS.
MIN_INTERNET_PRACTICE_YEARS = 3


@dataclass(frozen=True)
class PrescriptionValidity:
    """The local rule for how long prescriptions are valid, which the PrescriptionRegistry is
    deployed with: the days, and the zone whose offset now is every hospital's default."""

    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(validity.DEFAULT_TIME_ZONE))
    online_days: int = validity.ONLINE_DAYS
    offline_days: int = validity.OFFLINE_DAYS

    def utc_offset_s(self) -> int:
        """The zone's offset from UTC now: the contract's default for every hospital (a zone with
        daylight saving needs a regulator to record each hospital's offset at every change)."""
        return validity.utc_offset_s(self.zone, datetime.now(UTC))


@dataclass(frozen=True)
class BreakGlassTerms:
    """What the BreakGlassRegistry is deployed with: the first per-doctor daily limit (the
    regulator changes it on chain), how long a declaration opens its record and how long its
    review is on time, in seconds, and the reason codes as a bit mask."""

    daily_limit: int = 3
    window_s: int = 4 * 3600
    review_window_s: int = 72 * 3600
    reasons: int = field(default_factory=lambda: emergency.reason_mask(emergency.load_reasons()))

    @classmethod
    def from_settings(cls, settings: Settings) -> BreakGlassTerms:
        """The terms ``settings`` name (MEDLEDGER_BREAK_GLASS_*)."""
        return cls(
            daily_limit=settings.break_glass_daily_limit,
            window_s=settings.break_glass_window_s,
            review_window_s=settings.break_glass_review_window_s,
            reasons=emergency.reason_mask(
                emergency.load_reasons(settings.break_glass_reasons_file)
            ),
        )


@dataclass(frozen=True)
class Deployment:
    """Where the contracts live on one chain, since which block, and from which artifacts."""

    chain_id: int
    addresses: Mapping[str, ChecksumAddress]
    block_number: int
    artifacts: Mapping[str, str]  # contract name -> sha256 of its artifact file

    def address(self, name: str) -> ChecksumAddress:
        """The address of contract ``name``; DeploymentMissing if it is not in this deployment."""
        try:
            return self.addresses[name]
        except KeyError:
            raise DeploymentMissing(
                f"no {name} in the deployment on chain {self.chain_id}"
            ) from None

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "addresses": dict(self.addresses),
                    "artifacts": dict(self.artifacts),
                    "block_number": self.block_number,
                    "chain_id": self.chain_id,
                },
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )

    @classmethod
    def from_json(cls, text: str) -> Deployment:
        data: dict[str, Any] = json.loads(text)
        return cls(
            chain_id=int(data["chain_id"]),
            addresses={k: Web3.to_checksum_address(v) for k, v in data["addresses"].items()},
            block_number=int(data["block_number"]),
            artifacts=dict(data["artifacts"]),
        )

    def save(self, data_dir: Path) -> Path:
        """Write to ``<data_dir>/deployments/<chain_id>.json`` atomically; returns the path."""
        path = deployment_path(data_dir, self.chain_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".json.partial")
        partial.write_text(self.to_json())
        os.replace(partial, path)
        return path


def deployment_path(data_dir: Path, chain_id: int) -> Path:
    return data_dir / "deployments" / f"{chain_id}.json"


def deploy_contracts(
    w3: Web3,
    account: LocalAccount,
    regulator: str,
    *,
    onto: Deployment | None = None,
    prescription_validity: PrescriptionValidity | None = None,
    tx_timeout_s: float = 60.0,
    confirmations: int = 1,
    min_internet_practice_years: int = MIN_INTERNET_PRACTICE_YEARS,
    break_glass: BreakGlassTerms | None = None,
) -> Deployment:
    """Deploy every contract from ``account``, making ``regulator`` the membership's regulator.

    With ``onto``, deploy only the contracts it lacks, wired to the ones it has: the same ledger,
    extended by contracts added since it was made. ``prescription_validity`` (default: China
    Standard Time, online 2 days, offline 1) fixes the prescription registry's validity rule and
    default UTC offset; take it from the settings, as ``break_glass`` (default: its settings'
    defaults) for the break-glass registry.
    """
    _artifacts.check_sources()
    chain_id = _chain_id(w3)
    addresses = dict(onto.addresses) if onto else {}
    digests = dict(onto.artifacts) if onto else {}
    blocks = [onto.block_number] if onto else []
    for name in CONTRACTS:
        if name in addresses:
            continue
        known: dict[str, Any] = {
            "regulator": Web3.to_checksum_address(regulator),
            "min_internet_practice_years": min_internet_practice_years,
            **addresses,
        }
        if name == "PrescriptionRegistry":
            rule = prescription_validity or PrescriptionValidity()
            known["prescription_online_days"] = rule.online_days
            known["prescription_offline_days"] = rule.offline_days
            known["utc_offset_s"] = rule.utc_offset_s()
        if name == "BreakGlassRegistry":
            terms = break_glass or BreakGlassTerms()
            known["break_glass_daily_limit"] = terms.daily_limit
            known["break_glass_window_s"] = terms.window_s
            known["break_glass_review_window_s"] = terms.review_window_s
            known["break_glass_reasons"] = terms.reasons
        artifact = _artifacts.load(name)
        addresses[name], block = _deploy_one(
            w3,
            account,
            chain_id,
            artifact,
            *(known[arg] for arg in _CONSTRUCTOR_ARGS[name]),
            tx_timeout_s=tx_timeout_s,
            confirmations=confirmations,
        )
        digests[name] = artifact.sha256
        blocks.append(block)
    return Deployment(
        chain_id=chain_id, addresses=addresses, block_number=blocks[0], artifacts=digests
    )


def load_deployment(w3: Web3, data_dir: Path, *, chain_id: int | None = None) -> Deployment:
    """The recorded deployment for the node's chain, checked against the node and the artifacts.

    ``chain_id``, if given, is the chain the caller expects; the node must be on it.
    """
    deployment = _load_recorded(w3, data_dir, chain_id)
    missing = [name for name in CONTRACTS if name not in deployment.addresses]
    if missing:
        raise DeploymentMissing(
            f"the deployment on chain {deployment.chain_id} has no {', '.join(missing)}; "
            "`medledger up` deploys what is missing onto the same ledger"
        )
    return deployment


def ensure_deployed(
    w3: Web3,
    account: LocalAccount,
    regulator: str,
    data_dir: Path,
    *,
    prescription_validity: PrescriptionValidity | None = None,
    confirmations: int = 1,
    min_internet_practice_years: int = MIN_INTERNET_PRACTICE_YEARS,
    break_glass: BreakGlassTerms | None = None,
) -> Deployment:
    """The recorded deployment, completed with any contract it lacks; or a new one if none is
    recorded or its code is gone. What it returns is what is recorded."""
    try:
        recorded: Deployment | None = _load_recorded(w3, data_dir, None)
    except DeploymentMissing:
        recorded = None
    deployment = deploy_contracts(
        w3,
        account,
        regulator,
        onto=recorded,
        prescription_validity=prescription_validity,
        confirmations=confirmations,
        min_internet_practice_years=min_internet_practice_years,
        break_glass=break_glass,
    )
    if deployment != recorded:
        deployment.save(data_dir)
    return deployment


def _load_recorded(w3: Web3, data_dir: Path, chain_id: int | None) -> Deployment:
    """The recorded deployment, its contracts checked against the node and the artifacts; it may
    lack contracts added since it was made."""
    node_chain_id = _chain_id(w3)
    if chain_id is not None and chain_id != node_chain_id:
        raise ChainIdMismatch(
            f"expected chain {chain_id}, but the node is on chain {node_chain_id}"
        )
    path = deployment_path(data_dir, node_chain_id)
    try:
        deployment = Deployment.from_json(path.read_text())
    except FileNotFoundError:
        raise DeploymentMissing(
            f"no deployment recorded for chain {node_chain_id} ({path})"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"malformed deployment file {path}: {exc}") from exc
    if deployment.chain_id != node_chain_id:
        raise ChainIdMismatch(
            f"{path} records chain {deployment.chain_id}, but the node is on chain {node_chain_id}"
        )
    recorded = [name for name in CONTRACTS if name in deployment.addresses]
    for name in recorded:
        if not w3.eth.get_code(deployment.address(name)):
            raise DeploymentMissing(
                f"no code at {deployment.address(name)} for {name} on chain {node_chain_id}; "
                "was the chain reset?"
            )
    changed = [
        name for name in recorded if deployment.artifacts.get(name) != _artifacts.load(name).sha256
    ]
    if changed:
        raise DeploymentStale(
            f"artifacts changed since deployment on chain {node_chain_id}: {', '.join(changed)}; "
            f"redeploying means a new, empty ledger (move {path} aside to do so)"
        )
    return deployment


def _deploy_one(
    w3: Web3,
    account: LocalAccount,
    chain_id: int,
    artifact: _artifacts.Artifact,
    *args: Any,
    tx_timeout_s: float,
    confirmations: int = 1,
) -> tuple[ChecksumAddress, int]:
    """Deploy ``artifact``; returns the contract's address and the block it was deployed in."""
    name = artifact.name
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    try:
        tx: TxParams = factory.constructor(*args).build_transaction(
            {
                "from": account.address,
                "nonce": w3.eth.get_transaction_count(account.address, "pending"),
                # The consortium network is gas-free; a legacy transaction at price 0 says so.
                "gasPrice": 0,
                "chainId": chain_id,
            }
        )
        signed = account.sign_transaction(tx)  # type: ignore[arg-type]
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        receipt = wait_for_receipt(
            w3,
            tx_hash,
            signed.raw_transaction,
            timeout_s=tx_timeout_s,
            confirmations=confirmations,
        )
    except ContractLogicError as exc:
        raise DeploymentError(f"deploying {name} reverted: {exc.data}") from exc
    except (Web3RPCError, TimeExhausted) as exc:
        raise DeploymentError(f"deploying {name} failed: {exc}") from exc
    except (requests.RequestException, OSError) as exc:
        raise ChainUnavailable(str(exc)) from exc
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise DeploymentError(f"deploying {name} failed in {tx_hash.to_0x_hex()}")
    return Web3.to_checksum_address(address), receipt["blockNumber"]


def _chain_id(w3: Web3) -> int:
    try:
        return w3.eth.chain_id
    except (requests.RequestException, OSError) as exc:
        raise ChainUnavailable(str(exc)) from exc
