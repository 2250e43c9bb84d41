"""ledger.chain.deploy: deploy once, record it, trust the record only while node and artifacts
match."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eth_account import Account
from web3 import Web3

from ledger.chain import _artifacts
from ledger.chain.deploy import (
    CONTRACTS,
    Deployment,
    PrescriptionValidity,
    deploy_contracts,
    deployment_path,
    ensure_deployed,
    load_deployment,
)
from ledger.errors import ChainIdMismatch, DeploymentMissing, DeploymentStale

#: No balance anywhere: the chain is gas-free.
DEPLOYER = Account.from_key(Web3.keccak(text="medledger/tests/deploy/deployer"))
REGULATOR = Account.from_key(Web3.keccak(text="medledger/tests/deploy/regulator"))


@pytest.fixture
def recorded(w3: Web3, tmp_path: Path) -> Deployment:
    """A fresh deployment, recorded under ``tmp_path``."""
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address)
    deployment.save(tmp_path)
    return deployment


def test_deployment_records_addresses_block_and_artifact_digests(w3: Web3) -> None:
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address)
    assert deployment.chain_id == w3.eth.chain_id
    assert tuple(deployment.addresses) == CONTRACTS
    (first,) = w3.eth.get_block_receipts(deployment.block_number)
    assert first["contractAddress"] == deployment.address("Membership")
    assert deployment.artifacts == {name: _artifacts.load(name).sha256 for name in CONTRACTS}


def _bound(w3: Web3, deployment: Deployment, name: str) -> Any:
    return w3.eth.contract(address=deployment.address(name), abi=_artifacts.load(name).abi)


@pytest.mark.parametrize("name", ["RecordRegistry", "PracticeRegistry", "PrescriptionRegistry"])
def test_every_registry_is_deployed_against_the_membership(w3: Web3, name: str) -> None:
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address)
    registry = _bound(w3, deployment, name)
    assert registry.functions.membership().call() == deployment.address("Membership")


def test_consent_registry_is_deployed_against_the_membership_and_the_records(w3: Web3) -> None:
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address)
    consent = w3.eth.contract(
        address=deployment.address("ConsentRegistry"), abi=_artifacts.load("ConsentRegistry").abi
    )
    assert consent.functions.membership().call() == deployment.address("Membership")
    assert consent.functions.records().call() == deployment.address("RecordRegistry")


def test_prescriptions_consult_the_deployed_record_and_practice_registries(w3: Web3) -> None:
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address)
    prescriptions = _bound(w3, deployment, "PrescriptionRegistry")
    assert prescriptions.functions.recordRegistry().call() == deployment.address("RecordRegistry")
    assert prescriptions.functions.practiceRegistry().call() == deployment.address(
        "PracticeRegistry"
    )


def test_prescription_validity_is_that_of_china_standard_time_by_default(w3: Web3) -> None:
    prescriptions = _bound(
        w3, deploy_contracts(w3, DEPLOYER, REGULATOR.address), "PrescriptionRegistry"
    )
    functions = prescriptions.functions
    assert (functions.validityDays(True).call(), functions.validityDays(False).call()) == (2, 1)
    assert functions.utcOffset(REGULATOR.address).call() == 8 * 3_600


def test_prescription_validity_follows_the_zone_and_the_rule(w3: Web3) -> None:
    rule = PrescriptionValidity(zone=ZoneInfo("Asia/Kathmandu"), online_days=3, offline_days=1)
    deployment = deploy_contracts(w3, DEPLOYER, REGULATOR.address, prescription_validity=rule)
    functions = _bound(w3, deployment, "PrescriptionRegistry").functions
    assert (functions.validityDays(True).call(), functions.validityDays(False).call()) == (3, 1)
    assert functions.utcOffset(REGULATOR.address).call() == 5 * 3_600 + 45 * 60


def test_a_recorded_deployment_loads_as_it_was_saved(
    w3: Web3, tmp_path: Path, recorded: Deployment
) -> None:
    assert load_deployment(w3, tmp_path) == recorded


def test_asking_for_a_contract_outside_the_deployment_is_refused(recorded: Deployment) -> None:
    with pytest.raises(DeploymentMissing, match="no Consent"):
        recorded.address("Consent")


def test_ensure_deployed_deploys_once_then_loads(w3: Web3, tmp_path: Path) -> None:
    first = ensure_deployed(w3, DEPLOYER, REGULATOR.address, tmp_path)
    block = w3.eth.block_number
    assert ensure_deployed(w3, DEPLOYER, REGULATOR.address, tmp_path) == first
    assert w3.eth.block_number == block
    assert deployment_path(tmp_path, first.chain_id).is_file()


def test_ensure_deployed_redeploys_when_the_code_is_gone(w3: Web3, tmp_path: Path) -> None:
    gone = Deployment(
        chain_id=w3.eth.chain_id,
        addresses=dict.fromkeys(CONTRACTS, REGULATOR.address),
        block_number=1,
        artifacts={},
    )
    gone.save(tmp_path)
    fresh = ensure_deployed(w3, DEPLOYER, REGULATOR.address, tmp_path)
    assert fresh.addresses != gone.addresses
    assert load_deployment(w3, tmp_path) == fresh


@pytest.fixture
def older(tmp_path: Path, recorded: Deployment) -> Deployment:
    """``recorded`` as a release before ConsentRegistry recorded it, under ``tmp_path``."""
    deployment = dataclasses.replace(
        recorded,
        addresses={k: v for k, v in recorded.addresses.items() if k != "ConsentRegistry"},
        artifacts={k: v for k, v in recorded.artifacts.items() if k != "ConsentRegistry"},
    )
    deployment.save(tmp_path)
    return deployment


def test_ensure_deployed_completes_a_deployment_made_before_a_contract_was_added(
    w3: Web3, tmp_path: Path, recorded: Deployment, older: Deployment
) -> None:
    completed = ensure_deployed(w3, DEPLOYER, REGULATOR.address, tmp_path)
    assert {k: completed.addresses[k] for k in older.addresses} == older.addresses
    assert completed.address("ConsentRegistry") not in recorded.addresses.values()
    assert completed.block_number == older.block_number
    assert load_deployment(w3, tmp_path) == completed
    consent = w3.eth.contract(
        address=completed.address("ConsentRegistry"), abi=_artifacts.load("ConsentRegistry").abi
    )
    assert consent.functions.records().call() == older.address("RecordRegistry")


def test_loading_a_deployment_that_lacks_a_contract_is_refused(
    w3: Web3, tmp_path: Path, older: Deployment
) -> None:
    with pytest.raises(DeploymentMissing, match="has no ConsentRegistry; `medledger up` deploys"):
        load_deployment(w3, tmp_path)


def test_loading_without_a_record_is_refused(w3: Web3, tmp_path: Path) -> None:
    with pytest.raises(
        DeploymentMissing, match=f"no deployment recorded for chain {w3.eth.chain_id}"
    ):
        load_deployment(w3, tmp_path)


def test_loading_from_a_node_on_another_chain_is_refused(
    w3: Web3, tmp_path: Path, recorded: Deployment
) -> None:
    with pytest.raises(
        ChainIdMismatch, match=f"expected chain 1, but the node is on chain {w3.eth.chain_id}"
    ):
        load_deployment(w3, tmp_path, chain_id=1)


def test_loading_a_record_made_on_another_chain_is_refused(
    w3: Web3, tmp_path: Path, recorded: Deployment
) -> None:
    elsewhere = dataclasses.replace(recorded, chain_id=1)
    deployment_path(tmp_path, w3.eth.chain_id).write_text(elsewhere.to_json())
    with pytest.raises(ChainIdMismatch, match="records chain 1"):
        load_deployment(w3, tmp_path)


def test_loading_when_the_code_is_gone_is_refused(
    w3: Web3, tmp_path: Path, recorded: Deployment
) -> None:
    moved = dataclasses.replace(
        recorded, addresses={**recorded.addresses, "RecordRegistry": REGULATOR.address}
    )
    moved.save(tmp_path)
    with pytest.raises(
        DeploymentMissing, match=f"no code at {REGULATOR.address} for RecordRegistry"
    ):
        load_deployment(w3, tmp_path)


def test_loading_after_the_artifacts_changed_is_refused(
    w3: Web3, tmp_path: Path, recorded: Deployment
) -> None:
    older = dataclasses.replace(recorded, artifacts={**recorded.artifacts, "Membership": "0" * 64})
    older.save(tmp_path)
    with pytest.raises(
        DeploymentStale,
        match=f"artifacts changed since deployment on chain {w3.eth.chain_id}: Membership",
    ):
        load_deployment(w3, tmp_path)
