"""ledger.network.consortium: the demo seeding publishes every organisation's envelope key in the
organisation directory, once."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from web3 import Web3

from ledger.chain import deploy
from ledger.chain.connection import Chain
from ledger.chain.directory import OrgDirectory
from ledger.chain.node import Anvil
from ledger.crypto.keys import load_key, x25519_from_eth_key
from ledger.network.consortium import DEMO_ORGS, seed_demo


def test_seeding_publishes_every_demo_organisations_key_without_a_peer(
    w3: Web3, anvil: Anvil, tmp_path: Path
) -> None:
    consortium = seed_demo(w3, tmp_path, anvil.url, api_port=1)
    directory = OrgDirectory(Chain(w3, deploy.load_deployment(w3, tmp_path)))
    for spec in DEMO_ORGS:
        org = consortium.orgs[spec.name]
        entry = directory.entry(org.address)
        expected = x25519_from_eth_key(load_key(Path(org.key_file), "")).public_key()
        assert entry.raw_key() == expected.public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert (entry.peer_id, entry.addrs, entry.usable) == ("", (), True)


def test_seeding_again_publishes_nothing_new(w3: Web3, anvil: Anvil, tmp_path: Path) -> None:
    seed_demo(w3, tmp_path, anvil.url, api_port=1)
    directory = OrgDirectory(Chain(w3, deploy.load_deployment(w3, tmp_path)))
    published = directory.organisations()
    head = w3.eth.block_number
    seed_demo(w3, tmp_path, anvil.url, api_port=1)
    assert directory.organisations() == published
    assert w3.eth.block_number == head
