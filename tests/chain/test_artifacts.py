"""ledger.chain._artifacts: compiled contracts, and the check that they match today's sources."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ledger.chain import _artifacts
from ledger.chain.deploy import CONTRACTS
from ledger.errors import DeploymentStale


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A copy of contracts/ whose manifest is the committed one."""
    copy = tmp_path / "contracts"
    shutil.copytree(_artifacts.CONTRACTS_DIR, copy)
    return copy


def test_each_deployable_contract_loads_with_abi_and_bytecode() -> None:
    for name in CONTRACTS:
        artifact = _artifacts.load(name)
        assert artifact.name == name
        assert artifact.abi
        # Nonempty hex; not a fixed first opcode: with four immutables, PrescriptionRegistry's
        # init code starts PUSH2 (0x61) where the others start PUSH1 (0x60).
        assert bytes.fromhex(artifact.bytecode.removeprefix("0x"))
        assert bytes.fromhex(artifact.deployed_bytecode.removeprefix("0x"))
        assert artifact.compiler.startswith("0.8.37+commit.")


def test_the_manifest_names_each_artifacts_digest() -> None:
    manifest = _artifacts.load_manifest()
    assert manifest["artifacts"] == {name: _artifacts.load(name).sha256 for name in CONTRACTS}
    assert manifest["settings"]["evmVersion"] == "paris"


def test_an_artifact_never_compiled_is_stale() -> None:
    with pytest.raises(DeploymentStale, match="no compiled artifact for Consent"):
        _artifacts.load("Consent")


def test_the_committed_artifacts_are_compiled_from_the_current_sources() -> None:
    _artifacts.check_sources()


def test_a_changed_source_is_stale(sources: Path) -> None:
    with (sources / "Membership.sol").open("a") as source:
        source.write("\n")
    expected = r"^contracts/Membership\.sol changed since compile; run make compile$"
    with pytest.raises(DeploymentStale, match=expected):
        _artifacts.check_sources(sources)


def test_a_new_source_is_stale(sources: Path) -> None:
    (sources / "interfaces" / "IConsent.sol").write_text("")
    with pytest.raises(
        DeploymentStale, match=r"contracts/interfaces/IConsent\.sol is new since compile"
    ):
        _artifacts.check_sources(sources)


def test_a_removed_source_is_stale(sources: Path) -> None:
    (sources / "MembershipGated.sol").unlink()
    with pytest.raises(
        DeploymentStale, match=r"contracts/MembershipGated\.sol was removed since compile"
    ):
        _artifacts.check_sources(sources)


def test_without_sources_nothing_is_checked(tmp_path: Path) -> None:
    _artifacts.check_sources(tmp_path / "contracts")


def test_error_abis_cover_every_contracts_custom_errors_once() -> None:
    names = [abi["name"] for abi in _artifacts.all_error_abis()]
    assert len(names) == len(set(names))
    assert {
        "AccessControlUnauthorizedAccount",
        "MembershipZeroAddress",
        "RecordVersionConflict",
    } <= set(names)
