"""ledger.chain.directory: an organisation publishes its own entry once, reads another's key, and
is told plainly when an organisation has none to seal to."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment, deploy_contracts
from ledger.chain.directory import OrgDirectory
from ledger.crypto.keys import x25519_from_eth_key
from ledger.errors import OrgNotInDirectory, OrgNotUsable
from ledger.types import OrgKind


def _account(label: str) -> LocalAccount:
    key: LocalAccount = Account.from_key(Web3.keccak(text=f"medledger/tests/directory/{label}"))
    return key


REGULATOR, HOSPITAL, PHARMACY = _account("regulator"), _account("hospital"), _account("pharmacy")


@pytest.fixture
def deployment(w3: Web3) -> Deployment:
    deployment = deploy_contracts(w3, _account("deployer"), REGULATOR.address)
    regulator = Chain(w3, deployment, REGULATOR)
    membership = regulator.contract("Membership")
    for org, kind in ((HOSPITAL, OrgKind.HOSPITAL), (PHARMACY, OrgKind.PHARMACY)):
        regulator.transact(membership.functions.admitOrganisation(org.address, kind, org.address))
    return deployment


def directory_of(w3: Web3, deployment: Deployment, org: LocalAccount) -> OrgDirectory:
    return OrgDirectory(Chain(w3, deployment, org))


def raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_a_published_key_is_what_another_member_reads(w3: Web3, deployment: Deployment) -> None:
    hospital_key = x25519_from_eth_key(bytes(HOSPITAL.key))
    directory_of(w3, deployment, HOSPITAL).publish(
        hospital_key, peer_id="12D3KooWx", addrs=["/ip4/10.0.0.1/tcp/4001"]
    )
    entry = directory_of(w3, deployment, PHARMACY).entry(HOSPITAL.address)
    assert raw(entry.encryption_key) == raw(hospital_key.public_key())
    assert (entry.peer_id, entry.addrs, entry.usable) == (
        "12D3KooWx",
        ("/ip4/10.0.0.1/tcp/4001",),
        True,
    )


def test_publishing_the_same_entry_again_sends_nothing(w3: Web3, deployment: Deployment) -> None:
    directory = directory_of(w3, deployment, HOSPITAL)
    key = x25519_from_eth_key(bytes(HOSPITAL.key))
    assert directory.publish(key) is not None
    head = w3.eth.block_number
    assert directory.publish(key) is None
    assert w3.eth.block_number == head


def test_an_organisation_without_an_entry_has_no_key(w3: Web3, deployment: Deployment) -> None:
    with pytest.raises(OrgNotInDirectory):
        directory_of(w3, deployment, PHARMACY).encryption_key(HOSPITAL.address)


def test_a_suspended_organisation_has_no_key_to_seal_to(w3: Web3, deployment: Deployment) -> None:
    directory_of(w3, deployment, HOSPITAL).publish(x25519_from_eth_key(bytes(HOSPITAL.key)))
    regulator = Chain(w3, deployment, REGULATOR)
    regulator.transact(
        regulator.contract("Membership").functions.suspendOrganisation(HOSPITAL.address)
    )
    with pytest.raises(OrgNotUsable):
        directory_of(w3, deployment, PHARMACY).encryption_key(HOSPITAL.address)


def test_active_peers_leave_out_a_suspended_organisation(w3: Web3, deployment: Deployment) -> None:
    for org in (HOSPITAL, PHARMACY):
        directory_of(w3, deployment, org).publish(x25519_from_eth_key(bytes(org.key)))
    regulator = Chain(w3, deployment, REGULATOR)
    regulator.transact(
        regulator.contract("Membership").functions.suspendOrganisation(HOSPITAL.address)
    )
    directory = directory_of(w3, deployment, PHARMACY)
    assert [e.org for e in directory.active_peers()] == [PHARMACY.address]
    assert directory.organisations() == [HOSPITAL.address, PHARMACY.address]


def test_refreshing_the_key_keeps_the_published_peer(w3: Web3, deployment: Deployment) -> None:
    """The gateway refreshes its key on every start; the peer its IPFS node published stays."""
    directory = directory_of(w3, deployment, HOSPITAL)
    key = x25519_from_eth_key(bytes(HOSPITAL.key))
    directory.publish(key, peer_id="12D3KooWx", addrs=["/ip4/10.0.0.1/tcp/4001"])
    assert directory.publish(key) is None
    entry = directory.entry(HOSPITAL.address)
    assert (entry.peer_id, entry.addrs) == ("12D3KooWx", ("/ip4/10.0.0.1/tcp/4001",))


def test_publishing_empty_addresses_clears_them(w3: Web3, deployment: Deployment) -> None:
    directory = directory_of(w3, deployment, HOSPITAL)
    key = x25519_from_eth_key(bytes(HOSPITAL.key))
    directory.publish(key, peer_id="12D3KooWx", addrs=["/ip4/10.0.0.1/tcp/4001"])
    directory.publish(key, peer_id="", addrs=[])
    entry = directory.entry(HOSPITAL.address)
    assert (entry.peer_id, entry.addrs) == ("", ())
