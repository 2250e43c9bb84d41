"""Contract-test fixtures: one deployment per module, each test isolated in an anvil snapshot."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from contract_helpers import DEPLOYER, REGULATOR, Act, chain_client, isolated
from web3 import Web3
from web3.contract import Contract

from ledger.chain import _artifacts
from ledger.chain.deploy import Deployment, deploy_contracts


@pytest.fixture(scope="module")
def deployment(w3: Web3) -> Deployment:
    return deploy_contracts(w3, DEPLOYER, REGULATOR.address)


@pytest.fixture(autouse=True)
def _isolated(w3: Web3) -> Iterator[None]:
    """Revert to the state the module's fixtures built, so that no test sees another's writes.

    Module-scoped fixtures are set up before this snapshot is taken; function-scoped ones after.
    """
    with isolated(w3):
        yield


def _contract(w3: Web3, deployment: Deployment, name: str) -> Contract:
    return w3.eth.contract(address=deployment.address(name), abi=_artifacts.load(name).abi)


@pytest.fixture(scope="module")
def membership(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "Membership")


@pytest.fixture(scope="module")
def registry(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "RecordRegistry")


@pytest.fixture(scope="module")
def practice(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "PracticeRegistry")


@pytest.fixture(scope="module")
def prescriptions(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "PrescriptionRegistry")


@pytest.fixture
def act(w3: Web3, deployment: Deployment) -> Act:
    """``act(account)``: the ledger's own chain client sending as ``account``, fresh per test so
    its nonce count never outlives a snapshot revert."""
    return chain_client(w3, deployment)


@pytest.fixture(scope="module")
def consent(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "ConsentRegistry")


@pytest.fixture(scope="module")
def claims(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "ClaimRegistry")


@pytest.fixture(scope="module")
def directory(w3: Web3, deployment: Deployment) -> Contract:
    return _contract(w3, deployment, "OrgDirectory")
