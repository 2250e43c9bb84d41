"""A gateway whose organisation key also sends from elsewhere (a second gateway, an operator's
wallet, a hostile insider holding the key): its next write resynchronises the nonce and goes
through, instead of answering 500 `chain.error: nonce too low`."""

from __future__ import annotations

import json
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.gateway.client import GatewayError
from tests.world import Patient, World

BASIC = {"resourceType": "Basic", "code": {"text": "nonce resync"}}


def _write(world: World, patient: Patient) -> dict[str, Any]:
    with world.as_staff("hospital-a", "doctor") as doctor:
        receipt: dict[str, Any] = doctor.post_json(
            "/v1/records",
            content=json.dumps(BASIC).encode(),
            params={"patient": patient.pseudonym.address},
        )
    return receipt


def _send_from_elsewhere(world: World, key: LocalAccount) -> None:
    """A transaction signed with the organisation's key and sent straight to the node, as raw
    JSON-RPC: nothing of the gateway sees it."""
    w3 = world.w3
    tx = {
        "to": key.address,
        "value": 0,
        "gas": 21_000,
        "gasPrice": 0,
        "nonce": w3.eth.get_transaction_count(key.address, "pending"),
        "chainId": w3.eth.chain_id,
    }
    raw = key.sign_transaction(tx).raw_transaction
    reply = w3.provider.make_request("eth_sendRawTransaction", ["0x" + raw.hex()])  # type: ignore[arg-type]
    assert "error" not in reply, reply
    w3.eth.wait_for_transaction_receipt(reply["result"])


def test_a_write_after_the_org_key_sent_elsewhere_goes_through(
    world: World, patient: Patient
) -> None:
    key = world.consortium.account(world.consortium.orgs["hospital-a"].key_file)
    _write(world, patient)  # the gateway now counts nonces locally
    _send_from_elsewhere(world, key)
    receipt = _write(world, patient)
    tx = world.w3.eth.get_transaction(receipt["transaction"])
    assert tx["from"] == key.address
    assert tx["nonce"] == world.w3.eth.get_transaction_count(key.address) - 1


def test_writes_keep_going_after_several_outside_sends(world: World, patient: Patient) -> None:
    key = world.consortium.account(world.consortium.orgs["hospital-a"].key_file)
    _write(world, patient)
    for _ in range(3):
        _send_from_elsewhere(world, key)
    first, second = _write(world, patient), _write(world, patient)
    assert first["block"] < second["block"]


def test_a_nonce_taken_on_every_attempt_is_a_503_nonce_conflict(
    world: World, patient: Patient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stands in for a key sending from elsewhere faster than the gateway can resynchronise: the
    node's count, as this gateway reads it, is always one already spent."""
    key = world.consortium.account(world.consortium.orgs["hospital-a"].key_file)
    _write(world, patient)
    eth = world.gateways["hospital-a"].gateway.chain.w3.eth
    assert eth is not world.w3.eth
    monkeypatch.setattr(eth, "get_transaction_count", lambda *_args, **_kw: 0)
    _send_from_elsewhere(world, key)
    with pytest.raises(GatewayError) as err:
        _write(world, patient)
    assert (err.value.status, err.value.problem_code) == (503, "chain.nonce_conflict")
    monkeypatch.undo()
    _write(world, patient)
