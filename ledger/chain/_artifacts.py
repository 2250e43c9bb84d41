"""The compiled contracts (ABI, bytecode) that scripts/compile.mjs writes to ledger/artifacts/.

Also checks, in a checkout, that they were compiled from the contracts/ sources as they are now.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, cast

from eth_typing import ABI, ABIError, HexStr
from eth_utils.abi import abi_to_signature

from ledger.errors import DeploymentStale

ARTIFACTS_DIR = Path(__file__).resolve().parents[1] / "artifacts"
#: Present only in a checkout; an installed package ships artifacts without sources.
CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
_MANIFEST = "manifest.json"
#: How compile.mjs names our source units: repo-relative, so OpenZeppelin's stay apart.
_SOURCE_PREFIX = "contracts/"


class Manifest(TypedDict):
    """manifest.json: what went into a compile and what came out, as sha256 hex digests."""

    artifacts: dict[str, str]
    compiler: str
    generatedBy: str
    settings: dict[str, Any]
    sources: dict[str, str]


@dataclass(frozen=True)
class Artifact:
    """One deployable contract as compiled; ``sha256`` is that of its artifact file."""

    name: str
    abi: ABI
    bytecode: HexStr
    deployed_bytecode: HexStr
    compiler: str
    sha256: str


def load(name: str, artifacts_dir: Path = ARTIFACTS_DIR) -> Artifact:
    """The artifact of contract ``name``; DeploymentStale if it was never compiled."""
    path = artifacts_dir / f"{name}.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DeploymentStale(
            f"no compiled artifact for {name} ({path}); run make compile"
        ) from exc
    data = json.loads(raw)
    return Artifact(
        name=data["contractName"],
        abi=data["abi"],
        bytecode=data["bytecode"],
        deployed_bytecode=data["deployedBytecode"],
        compiler=data["compiler"],
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def load_manifest(artifacts_dir: Path = ARTIFACTS_DIR) -> Manifest:
    """The manifest of the last compile; DeploymentStale if there is none."""
    path = artifacts_dir / _MANIFEST
    try:
        return cast(Manifest, json.loads(path.read_bytes()))
    except FileNotFoundError as exc:
        raise DeploymentStale(f"no {path}; run make compile") from exc


def sources_digest(contracts_dir: Path = CONTRACTS_DIR) -> dict[str, str]:
    """sha256 of every .sol file under ``contracts_dir``, keyed as the manifest keys them."""
    return {
        _SOURCE_PREFIX + path.relative_to(contracts_dir).as_posix(): hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        for path in sorted(contracts_dir.rglob("*.sol"))
    }


def check_sources(contracts_dir: Path = CONTRACTS_DIR, artifacts_dir: Path = ARTIFACTS_DIR) -> None:
    """DeploymentStale unless the artifacts were compiled from the sources as they are now.

    Does nothing without a contracts/ directory (an installed package has artifacts only).
    """
    if not contracts_dir.is_dir():
        return
    current = sources_digest(contracts_dir)
    compiled = {
        unit: digest
        for unit, digest in load_manifest(artifacts_dir)["sources"].items()
        if unit.startswith(_SOURCE_PREFIX)
    }
    problems = [
        f"{unit} {_difference(unit, current, compiled)} since compile"
        for unit in sorted(current.keys() | compiled.keys())
        if current.get(unit) != compiled.get(unit)
    ]
    if problems:
        raise DeploymentStale("; ".join(problems) + "; run make compile")


def _difference(unit: str, current: dict[str, str], compiled: dict[str, str]) -> str:
    if unit not in compiled:
        return "is new"
    if unit not in current:
        return "was removed"
    return "changed"


def all_error_abis(artifacts_dir: Path = ARTIFACTS_DIR) -> list[ABIError]:
    """Every custom error ABI entry across all artifacts, once each, for decoding reverts."""
    errors: dict[str, ABIError] = {}
    for name in sorted(load_manifest(artifacts_dir)["artifacts"]):
        for entry in load(name, artifacts_dir).abi:
            if entry["type"] == "error":
                errors.setdefault(abi_to_signature(entry), entry)
    return [errors[key] for key in sorted(errors)]
