"""The ledger on a real peer-to-peer network: writes cross nodes, and a signer's loss is survived.

Three EthereumJS signers seal Clique blocks on loopback; hospital A's gateway talks to node 1, the
insurer's to node 2, hospital B's to node 3. Every acknowledged write (a 201 with a block) must be
readable through every node at the end, including the one that was killed and came back.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount

from ledger.chain.connection import Chain, connect
from ledger.chain.deploy import load_deployment
from ledger.chain.node import is_listening
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
from ledger.network.org import OrgNode, status, stop_processes
from ledger.network.org_join import start_org
from ledger.network.supervisor import RunningNetwork

pytestmark = pytest.mark.network

FIXTURES = Path(__file__).parent.parent / "fixtures" / "fhir"


def _staff(net: RunningNetwork, org: str, label: str) -> LocalAccount:
    return net.consortium.account(net.consortium.orgs[org].staff[label].key_file)


def _client(net: RunningNetwork, org: str, label: str) -> GatewayClient:
    url = net.gateways[org]
    return GatewayClient(url, _staff(net, org, label), fetch_domain(url), timeout=120)


def _enrol(net: RunningNetwork) -> LocalAccount:
    keys = PatientKeys(secrets.token_bytes(32))
    hospital = net.consortium.orgs["hospital-a"].address
    pseudonym = keys.pseudonym(hospital)
    identity = keys.public_identity(hospital)
    domain = fetch_domain(net.gateways["hospital-a"])
    signature = sign_enrolment(
        pseudonym, domain.as_eip712(), hospital, bytes.fromhex(identity["encryption_key"][2:])
    )
    with _client(net, "hospital-a", "clerk") as clerk:
        clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": signature,
            },
        )
    return pseudonym


def _anchor(net: RunningNetwork, patient: LocalAccount) -> dict[str, Any]:
    resource = json.loads((FIXTURES / "observation-example.json").read_text())
    with _client(net, "hospital-a", "doctor") as doctor:
        receipt: dict[str, Any] = doctor.post_json(
            "/v1/records",
            content=json.dumps(resource).encode(),
            params={"patient": patient.address},
        )
    return receipt


def _verified_by_insurer(net: RunningNetwork, record_id: str) -> dict[str, Any]:
    with _client(net, "insurer", "auditor") as insurer:
        check: dict[str, Any] = insurer.get_json(f"/v1/records/{record_id}/verification")
    return check


def _anchored_on(node_url: str, net: RunningNetwork, record_id: str) -> int:
    """The record's latest version as ``node_url`` sees it on chain."""
    w3 = connect(node_url)
    chain = Chain(w3, load_deployment(w3, net.network.root.parent))
    registry = chain.contract("RecordRegistry")
    return int(chain.call(registry.functions.latestVersion(bytes.fromhex(record_id[2:]))))


def test_a_write_on_node_1_is_verified_through_node_2(net: RunningNetwork) -> None:
    assert net.gateway_nodes["hospital-a"] != net.gateway_nodes["insurer"]
    receipt = _anchor(net, _enrol(net))
    check = _verified_by_insurer(net, receipt["record_id"])
    assert check["anchored"] is True
    assert check["intact"] is True
    assert check["hospital"] == net.consortium.orgs["hospital-a"].address
    assert check["latest_version"] == 1


def test_a_killed_signer_is_survived_and_catches_up(net: RunningNetwork) -> None:
    nodes = net.network.nodes
    victim = nodes[2]  # hospital B's node; hospital A writes through node 1, the insurer reads on 2
    assert victim.url not in (net.gateway_nodes["hospital-a"], net.gateway_nodes["insurer"])
    patient = _enrol(net)
    acknowledged = [_anchor(net, patient)["record_id"]]

    victim.kill()
    started = time.monotonic()
    survivors = [n for n in nodes if n is not victim]
    head_at_kill = max(n.block_number() for n in survivors)
    try:
        for _ in range(3):
            acknowledged.append(_anchor(net, patient)["record_id"])
        net.network.wait_blocks(3)
    except GatewayError as exc:
        # A stalled chain shows as a write not mined in time: say where each survivor stands.
        raise AssertionError(f"{exc}; heads: {net.network.heads(survivors)}") from exc
    finally:
        if not victim.running:  # the module's later tests need all three nodes, pass or fail
            net.network.start_node(victim)
    assert min(n.block_number() for n in survivors) >= head_at_kill + 3
    print(f"sealed past a dead signer for {time.monotonic() - started:.1f}s")

    target = net.network.wait_blocks(2, timeout_s=120)
    assert victim.block_hash(target) == survivors[0].block_hash(target)

    for record_id in acknowledged:
        assert _verified_by_insurer(net, record_id)["intact"] is True
        for node in nodes:
            assert _anchored_on(node.url, net, record_id) == 1, (node.name, record_id)


def test_an_organisations_node_stops_and_starts_with_its_signer(net: RunningNetwork) -> None:
    node = OrgNode.of(net.network.root.parent, "hospital-a")
    signer = net.network.nodes[0]  # hospital A's gateway talks to node 1, which it runs
    assert net.gateway_nodes["hospital-a"] == signer.url
    rows = {row.process: row for row in status(node)}
    assert list(rows) == ["chain", "ipfs", "gateway"]
    assert rows["chain"].pid == signer.pid
    assert all(row.healthy for row in rows.values())

    assert stop_processes(node) == ["gateway", "ipfs", "chain"]
    assert not is_listening(signer.url)
    survivors = net.network.nodes[1:]
    head = max(n.block_number() for n in survivors)

    start_org(node)
    assert all(row.healthy for row in status(node))
    deadline = time.monotonic() + 120
    while signer.block_number() < head + 2:
        assert time.monotonic() < deadline, "the restarted signer did not catch up"
        time.sleep(0.5)
    # Hospital A writes again through its own restarted node; the insurer verifies on node 2.
    receipt = _anchor(net, _enrol(net))
    assert _verified_by_insurer(net, receipt["record_id"])["intact"] is True
