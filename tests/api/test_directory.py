"""GET /v1/directory over HTTP: every demo organisation's published key, read from the chain by
any member at any gateway; refused to anyone who is not a member."""

from __future__ import annotations

from pathlib import Path

import pytest
from eth_account import Account

from ledger.crypto.keys import load_key, x25519_from_eth_key, x25519_public_hex
from ledger.gateway.client import GatewayError
from tests.world import World


def test_a_member_reads_every_organisations_published_key(world: World) -> None:
    with world.as_staff("insurer", "auditor", gateway="insurer") as auditor:
        listed = {e["org"]: e for e in auditor.get_json("/v1/directory")}
    for org in world.consortium.orgs.values():
        key = x25519_from_eth_key(load_key(Path(org.key_file), "")).public_key()
        assert listed[org.address]["encryption_key"] == x25519_public_hex(key)
        assert listed[org.address]["usable"] is True


def test_the_active_listing_is_the_chains_active_peers(world: World) -> None:
    with world.as_staff("hospital-a", "doctor") as doctor:
        active = doctor.get_json("/v1/directory", params={"active": "true"})
        every = doctor.get_json("/v1/directory")
    assert [e["org"] for e in active] == [e["org"] for e in every if e["usable"]]


def test_a_non_member_may_not_read_the_directory(world: World) -> None:
    with world.client(Account.create()) as stranger, pytest.raises(GatewayError) as err:
        stranger.get_json("/v1/directory")
    assert (err.value.status, err.value.problem_code) == (403, "auth.not_member")
