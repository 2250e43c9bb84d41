"""Replication as a policy, across real processes: four organisations, each with its own Helia node
and its own gateway (kubo backend) on the session's anvil, peered only through the on-chain
directory. A record hospital A anchors ends up pinned on A and on the two holders rendezvous hashing
picks; suspending a holder moves its share to another organisation and drops its node from the
consortium; a pinner restarted after missing events catches up from its SQLite cursor."""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from web3 import Web3

from api.gateway import Gateway, build_gateway
from api.main import create_app
from api.serving import serve
from ledger.chain.connection import Chain
from ledger.chain.directory import OrgDirectory
from ledger.chain.node import Anvil
from ledger.cli.app import main as cli
from ledger.errors import ContentNotFound
from ledger.network.anchored import ContentIndex
from ledger.network.consortium import regulator_account, seed_demo
from ledger.network.holders import choose_holders
from ledger.network.peers import NodeRpc
from ledger.network.replication import Replicator
from ledger.settings import Settings
from ledger.store import IpfsNode, cid_from_bytes, cid_of, cid_to_bytes, swarm_key_new
from tests.conftest import free_run
from tests.world import Served, World, enrol_patient, fhir

ORGS = ("hospital-a", "hospital-b", "insurer", "pharmacy")
FETCH_TIMEOUT_S = 2.0
WAIT_S = 40.0
_PORTS = itertools.count(26_000, 5)


def _port() -> int:
    return free_run(1, next(_PORTS))


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def connected(node: IpfsNode) -> set[str]:
    """The peer ids ``node`` has a connection to now."""
    rpc = NodeRpc(node.url)
    try:
        return rpc.connected()
    finally:
        rpc.close()


def peering(node: IpfsNode) -> set[str]:
    rpc = NodeRpc(node.url)
    try:
        return set(rpc.peering())
    finally:
        rpc.close()


def _peered_exactly(node: IpfsNode, others: set[str]) -> bool:
    return peering(node) == others and connected(node) == others


def _dropped(node: IpfsNode, peer: str) -> bool:
    return peer not in connected(node) and peer not in peering(node)


def _connected_to(node: IpfsNode, peer: str) -> bool:
    return peer in connected(node)


def _pins(member: Member, cid: str) -> bool:
    return member.has(cid)


def _lets_go(member: Member, cid: str) -> bool:
    return not member.has(cid)


@dataclass
class Member:
    name: str
    address: str
    node: IpfsNode
    gateway: Gateway
    worker: ExitStack = field(default_factory=ExitStack)

    @property
    def replicator(self) -> Replicator:
        assert self.gateway.replicator is not None
        return self.gateway.replicator

    def start_worker(self, replicator: Replicator | None = None) -> None:
        self.gateway.replicator = replicator or self.replicator
        self.worker.enter_context(self.replicator.running())

    def stop_worker(self) -> None:
        self.worker.close()

    def has(self, cid: str) -> bool:
        return self.gateway.store.has(cid)


@dataclass
class Net:
    world: World
    members: dict[str, Member]
    regulator: Chain

    def expected_holders(self, cid: str, writer: str = "hospital-a") -> list[str]:
        addresses = {m.address: m.name for m in self.members.values()}
        chosen = choose_holders(
            cid_to_bytes(cid), self.members[writer].address, list(addresses), factor=2
        )
        return [addresses[a] for a in chosen]

    def membership(self, action: str, org: str) -> None:
        membership = self.regulator.contract("Membership")
        fn = getattr(membership.functions, action)
        self.regulator.transact(fn(self.members[org].address))

    def anchor_record(self, hospital: str = "hospital-a") -> str:
        patient = enrol_patient(self.world, hospital)
        resource = fhir("observation-example.json")
        resource["id"] = secrets.token_hex(8)  # a new envelope, a new CID
        with self.world.as_staff(hospital, "doctor", hospital) as doctor:
            receipt = doctor.post_json(
                "/v1/records",
                content=json.dumps(resource).encode(),
                params={"patient": patient.pseudonym.address},
            )
        return str(receipt["cid"])


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory, anvil: Anvil, w3: Web3) -> Iterator[Net]:
    root = tmp_path_factory.mktemp("replication")
    data = root / "data"
    consortium = seed_demo(w3, data, anvil.url, api_port=1)
    key = swarm_key_new(root / "swarm.key")
    members: dict[str, Member] = {}
    served: dict[str, Served] = {}
    with ExitStack() as stack:
        for name in ORGS:
            # No static peers: each node learns the others from the directory only.
            node = IpfsNode(
                repo_dir=root / name / "ipfs",
                swarm_key=key,
                api_port=_port(),
                swarm_port=_port(),
                fetch_timeout_s=FETCH_TIMEOUT_S,
                redial_interval_s=0.5,
            )
            stack.enter_context(node)
            settings = Settings(
                data_dir=data,
                rpc_url=anvil.url,
                org_key_file=Path(consortium.orgs[name].key_file),
                max_payload_bytes=64 * 1024,
                store_backend="kubo",
                kubo_url=node.url,
                content_fetch_timeout_s=FETCH_TIMEOUT_S,
                replication_interval_s=0.2,
                replication_retry_max_s=1.0,
            )
            gateway = build_gateway(settings)
            stack.callback(gateway.close)
            served[name] = Served(stack.enter_context(serve(create_app(gateway))), gateway)
            member = Member(name, consortium.orgs[name].address, node, gateway)
            stack.callback(member.stop_worker)
            member.start_worker()
            members[name] = member
        regulator = Chain(
            w3, members["hospital-a"].gateway.chain.deployment, regulator_account(data)
        )
        yield Net(World(consortium, data, served, w3), members, regulator)


# Rendezvous hashing, on its own.


def _org(i: int) -> str:
    return str(Account.from_key(Web3.keccak(text=f"medledger/tests/replication/{i}")).address)


def test_rendezvous_choice_is_deterministic_and_ignores_order_and_excludes_the_writer() -> None:
    orgs = [_org(i) for i in range(6)]
    cid = cid_to_bytes(cid_of(b"an envelope"))
    chosen = choose_holders(cid, orgs[0], orgs, 2)
    assert len(chosen) == 2
    assert orgs[0] not in chosen
    assert choose_holders(cid, orgs[0], list(reversed(orgs)), 2) == chosen
    assert choose_holders(cid, orgs[0].lower(), [o.lower() for o in orgs], 2) == chosen
    # Fewer candidates than the factor: all of them.
    assert sorted(choose_holders(cid, orgs[0], orgs[:3], 5)) == sorted(orgs[1:3])


def test_rendezvous_spreads_and_a_leaving_holder_moves_only_its_share() -> None:
    orgs = [_org(i) for i in range(6)]
    counts = dict.fromkeys(orgs, 0)
    moved = 0
    cids = [cid_to_bytes(cid_of(f"envelope {i}".encode())) for i in range(1200)]
    for cid in cids:
        chosen = choose_holders(cid, orgs[0], orgs, 2)
        for org in chosen:
            counts[org] += 1
        after = choose_holders(cid, orgs[0], [o for o in orgs if o != orgs[1]], 2)
        if orgs[1] not in chosen:
            assert after == chosen  # an organisation leaving moves nothing it did not hold
        else:
            moved += 1
            assert set(chosen) - {orgs[1]} <= set(after)
    assert counts[orgs[0]] == 0
    # 2400 assignments over 5 candidates: 480 each expected; a fair hash stays well inside.
    assert all(400 < counts[o] < 560 for o in orgs[1:]), counts
    assert moved == counts[orgs[1]]


def test_every_event_that_names_content_is_followed() -> None:
    from ledger.chain import _artifacts
    from ledger.network.anchored import CID_EVENTS

    followed = {(contract, event) for contract, event, _, _ in CID_EVENTS}
    named: set[tuple[str, str]] = set()
    for path in sorted(_artifacts.ARTIFACTS_DIR.glob("*.json")):
        if path.name == "manifest.json":
            continue
        abis: list[Any] = list(_artifacts.load(path.stem).abi)
        for abi in abis:
            inputs = {(i["name"], i["type"]) for i in abi.get("inputs", [])}
            if abi["type"] == "event" and inputs & {("cid", "bytes"), ("manifest", "bytes")}:
                named.add((path.stem, abi["name"]))
    assert named == followed


# Across real nodes and gateways.


def test_each_gateway_publishes_its_node_and_peers_from_the_directory(net: Net) -> None:
    directory = net.members["insurer"].gateway.directory
    for member in net.members.values():
        entry = directory.entry(member.address)
        assert entry.peer_id == member.node.peer_id
        assert entry.addrs == (f"/ip4/127.0.0.1/tcp/{member.node.swarm_port}",)
    for member in net.members.values():
        others = {m.node.peer_id for m in net.members.values() if m is not member}
        eventually(partial(_peered_exactly, member.node, others), f"{member.name} peers")


def test_a_record_is_pinned_by_its_writer_and_its_two_assigned_holders(net: Net) -> None:
    cid = net.anchor_record()
    holders = net.expected_holders(cid)
    (other,) = set(ORGS) - {"hospital-a", *holders}
    assert net.members["hospital-a"].has(cid)
    for name in holders:
        eventually(partial(_pins, net.members[name], cid), f"{name} pins {cid}")
    assert net.members[other].replicator.index.pins().get(cid) is None
    assert not net.members[other].has(cid)


def test_a_batch_manifest_and_the_envelopes_it_lists_are_replicated(net: Net) -> None:
    """Bulk-written versions are named on chain only through their batch's manifest: the
    pinners read it and replicate every envelope it lists, as for one anchored alone."""
    a = net.members["hospital-a"]
    patient = enrol_patient(net.world)
    items = []
    for value in (1, 2, 3):
        resource = fhir("observation-example.json")
        resource["id"] = secrets.token_hex(8)
        resource["valueQuantity"] = {"value": value, "unit": "mmHg"}
        items.append({"patient": patient.pseudonym.address, "resource": resource})
    with net.world.as_staff("hospital-a", "doctor") as doctor:
        receipts = doctor.post_json("/v1/records:bulk", {"items": items})["receipts"]
    assert a.gateway.anchorer.run_once() == 3
    anchor_contract = a.gateway.chain.contract("BatchAnchor")
    (event,) = anchor_contract.events.BatchAnchored().get_logs(
        from_block=a.gateway.chain.head(), argument_filters={"org": a.address}
    )
    manifest = cid_from_bytes(bytes(event["args"]["manifest"]))
    for cid in [manifest, *(r["cid"] for r in receipts)]:
        for name in net.expected_holders(cid):
            eventually(partial(_pins, net.members[name], cid), f"{name} pins {cid}")
    placement = net.members["insurer"].replicator.placement(receipts[0]["cid"])
    assert placement is not None
    assert (placement.content.event, placement.content.writer) == ("BatchItem", a.address)


def test_a_suspended_holders_share_moves_to_another_organisation_and_back(net: Net) -> None:
    cid = net.anchor_record()
    first, second = net.expected_holders(cid)
    (other,) = set(ORGS) - {"hospital-a", first, second}
    for name in (first, second):
        eventually(partial(_pins, net.members[name], cid), f"{name} pins {cid}")
    net.membership("suspendOrganisation", first)
    try:
        eventually(partial(_pins, net.members[other], cid), f"{other} takes over {cid}")
        # The suspended organisation is no holder any more, but keeps the content within its
        # retention (the longest period, from anchoring: it cannot read the record's class).
        net.members[first].replicator.run_once()
        assert net.members[first].has(cid)
        assert net.members[second].has(cid)
    finally:
        # With no retention to keep it, the organisation no longer assigned lets it go.
        replicator = net.members[other].replicator
        policy = replicator.policy
        replicator.policy = replace(policy, retain_s=0.0)
        net.membership("reinstateOrganisation", first)
    try:
        eventually(partial(_pins, net.members[first], cid), f"{first} pins {cid} again")
        eventually(partial(_lets_go, net.members[other], cid), f"{other} unpins {cid}")
    finally:
        replicator.policy = policy


def test_a_suspended_organisations_node_is_dropped_and_cannot_fetch(net: Net) -> None:
    suspended = net.members["pharmacy"]
    writer = net.members["hospital-a"]
    peer = suspended.node.peer_id
    eventually(partial(_connected_to, writer.node, peer), "peered first")
    net.membership("suspendOrganisation", "pharmacy")
    try:
        for member in net.members.values():
            if member is not suspended:
                eventually(partial(_dropped, member.node, peer), f"{member.name} drops it")
        cid = writer.gateway.store.put(b"written after the pharmacy was suspended")
        with pytest.raises(ContentNotFound):
            suspended.gateway.store.get(cid)
        # Nor can it dial in: the others' nodes refuse its connection, not just forget it.
        assert peer not in connected(writer.node)
    finally:
        net.membership("reinstateOrganisation", "pharmacy")
    eventually(partial(_connected_to, writer.node, peer), "the reinstated node is peered again")


def test_a_cid_no_peer_has_yet_is_retried_until_the_writers_node_is_back(net: Net) -> None:
    a = net.members["hospital-a"]
    others = [m for m in net.members.values() if m is not a]
    for member in others:
        member.stop_worker()
    try:
        cid = net.anchor_record()
        holders = [net.members[name] for name in net.expected_holders(cid)]
        a.node.stop()
        try:
            for member in others:
                member.start_worker()
            for holder in holders:
                eventually(partial(_failed_once, holder, cid), f"{holder.name} tries and fails")
                assert not holder.has(cid)
            with net.world.as_staff("insurer", "auditor", gateway=holders[0].name) as auditor:
                placement = auditor.get_json(f"/v1/content/{cid}")
            assert (placement["assigned_here"], placement["pinned_here"]) == (True, False)
            assert "not found" in placement["pin_error"]
        finally:
            a.node.start()
        for holder in holders:
            # The node pins first; the holder records its round's pins after (in one batch).
            eventually(partial(_pins, holder, cid), f"{holder.name} pins on a retry")
            eventually(
                lambda holder=holder: holder.replicator.index.pin_state(cid) == (True, 0, None),
                f"{holder.name} records the pin and clears the error",
            )
    finally:
        for member in others:
            member.stop_worker()
            member.start_worker()


def _failed_once(member: Member, cid: str) -> bool:
    state = member.replicator.index.pin_state(cid)
    return state is not None and not state[0] and state[1] >= 1 and bool(state[2])


def test_a_restarted_pinner_catches_up_on_what_it_missed_and_what_its_node_lost(
    net: Net,
) -> None:
    # Anchor until the insurer is among the holders (two in three records are its share).
    insurer = net.members["insurer"]
    insurer.stop_worker()
    cursor = insurer.replicator.index.cursor
    missed = []
    for _ in range(12):
        cid = net.anchor_record()
        if "insurer" in net.expected_holders(cid):
            missed.append(cid)
        if len(missed) == 2:
            break
    assert missed, "no record fell to the insurer in 12 tries"
    time.sleep(1.0)
    assert not any(insurer.has(cid) for cid in missed)
    # And one it had pinned is lost from its node meanwhile (a node restored from a backup).
    held = [cid for cid, pinned in insurer.replicator.index.pins().items() if pinned]
    assert held, "the insurer held nothing yet"
    insurer.gateway.store.unpin(held[0])
    missed.append(held[0])
    # A new pinner on the same database, as a restarted gateway builds it.
    old = insurer.replicator
    index = ContentIndex(old.index._chain, _db(insurer))
    assert index.cursor == cursor
    restarted = Replicator(
        old.directory,
        old.store,
        index,
        org=insurer.address,
        org_key=insurer.gateway.org_key,
        node=old.node,
        policy=old.policy,
    )
    old.index.close()
    insurer.start_worker(restarted)
    for cid in missed:
        eventually(partial(_pins, insurer, cid), f"the insurer catches up on {cid}")
    assert index.cursor > cursor


def _db(member: Member) -> Path:
    return member.gateway.settings.data_dir / "gateways" / f"{member.address}.sqlite"


def test_get_content_names_writer_and_holders_and_whether_this_node_pins_it(net: Net) -> None:
    cid = net.anchor_record()
    holders = net.expected_holders(cid)
    (other,) = set(ORGS) - {"hospital-a", *holders}
    for name in holders:
        eventually(partial(_pins, net.members[name], cid), f"{name} pins")
    with net.world.as_staff("insurer", "auditor", gateway=holders[0]) as auditor:
        placement = auditor.get_json(f"/v1/content/{cid}")
    assert placement["cid"] == cid
    assert placement["event"] == "RecordAnchored"
    assert placement["writer"] == {
        "org": net.members["hospital-a"].address,
        "name": "hospital-a",
        "kind": "hospital",
        "peer_id": net.members["hospital-a"].node.peer_id,
        "active": True,
    }
    assert [h["name"] for h in placement["holders"]] == holders
    assert [h["peer_id"] for h in placement["holders"]] == [
        net.members[h].node.peer_id for h in holders
    ]
    assert (placement["replication_factor"], placement["pinned_here"]) == (2, True)
    assert (placement["assigned_here"], placement["pin_error"]) == (True, None)
    with net.world.as_staff("insurer", "auditor", gateway=other) as auditor:
        elsewhere = auditor.get_json(f"/v1/content/{cid}")
    assert (elsewhere["pinned_here"], elsewhere["assigned_here"]) == (False, False)


@pytest.mark.parametrize(
    ("cid", "status", "code"),
    [
        ("not-a-cid", 422, "content.bad_cid"),
        ("bafyfoo", 422, "content.bad_cid"),
        ("z", 422, "content.bad_cid"),
        (cid_of(b"never anchored by anyone"), 404, "content.unknown"),
    ],
)
def test_get_content_refuses_a_bad_or_unknown_cid(
    net: Net, cid: str, status: int, code: str
) -> None:
    from ledger.gateway.client import GatewayError

    with (
        net.world.as_staff("insurer", "auditor", gateway="insurer") as auditor,
        pytest.raises(GatewayError) as err,
    ):
        auditor.get_json(f"/v1/content/{cid}")
    assert (err.value.status, err.value.problem_code) == (status, code)


def test_a_non_member_may_not_ask_who_holds_a_cid(net: Net) -> None:
    from ledger.gateway.client import GatewayError

    cid = net.anchor_record()
    with (
        net.world.client(Account.create(), gateway="insurer") as stranger,
        pytest.raises(GatewayError) as err,
    ):
        stranger.get_json(f"/v1/content/{cid}")
    assert (err.value.status, err.value.problem_code) == (403, "auth.not_member")


def test_the_cli_prints_a_cids_holders(net: Net, capsys: pytest.CaptureFixture[str]) -> None:
    cid = net.anchor_record()
    holders = net.expected_holders(cid)
    key_file = net.world.consortium.orgs["insurer"].staff["auditor"].key_file
    os.environ["MEDLEDGER_TEST_PASSPHRASE"] = ""
    url = net.world.gateways["insurer"].url
    args = ["content", "holders", cid, "--key", key_file, "--gateway", url]
    assert cli([*args, "--passphrase-env", "MEDLEDGER_TEST_PASSPHRASE"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"cid {cid} (RecordAnchored")
    assert lines[1].split()[:3] == ["writer", net.members["hospital-a"].address, "hospital-a"]
    assert [line.split()[2] for line in lines[2:4]] == holders
    assert cli(["content", "holders", "nope", "--key", key_file, "--gateway", url]) == 2
    assert "not a CID" in capsys.readouterr().err


def test_a_member_claiming_anothers_node_is_no_holder_and_changes_no_peering(net: Net) -> None:
    """Insurer B, a member with no node, publishes hospital A's peer id with an address of its
    own, by a raw transaction signed with its key: first claim wins, so it is never assigned
    content and nobody's node dials where it points."""
    from ledger.crypto.keys import load_key, x25519_from_eth_key, x25519_public_hex
    from tests.contracts.raw_tx import send_raw

    hostile_file = Path(net.world.consortium.orgs["insurer-b"].key_file)
    hostile = Account.from_key(load_key(hostile_file, ""))
    a = net.members["hospital-a"]
    directory = a.gateway.chain.contract("OrgDirectory")
    key = bytes.fromhex(
        x25519_public_hex(x25519_from_eth_key(load_key(hostile_file, "")).public_key())[2:]
    )
    claimed = a.node.peer_id.encode()
    receipt = send_raw(
        net.world.w3, hostile, directory, "setEntry", key, claimed, [b"/ip4/127.0.0.1/tcp/1"]
    )
    assert receipt["status"] == 1
    try:
        time.sleep(1.0)  # a few replication rounds see the new entry
        cid = net.anchor_record("hospital-b")
        placement = net.members["insurer"].replicator.placement(cid)
        assert placement is not None
        assert hostile.address not in placement.candidates.orgs
        assert placement.holders == [
            net.members[n].address for n in net.expected_holders(cid, "hospital-b")
        ]
        for member in net.members.values():
            if member is not a:
                assert a.node.peer_id in connected(member.node)
    finally:
        send_raw(net.world.w3, hostile, directory, "setEntry", key, b"", [])


def test_peering_follows_a_moved_address_and_drops_a_peer_no_longer_wanted(
    tmp_path: Path,
) -> None:
    """On one node of its own: a peer whose published address changed is re-added under the new
    one; a peer no longer in the directory leaves the peering set."""
    from ledger.network.peers import sync_peering

    peer = "12D3KooWGd4n7w353hNroBT5f4FmBLZwgFAXXNeJgzkKTKUE1TEd"
    with IpfsNode(
        repo_dir=tmp_path / "ipfs",
        swarm_key=swarm_key_new(tmp_path / "swarm.key"),
        api_port=_port(),
        swarm_port=_port(),
        fetch_timeout_s=FETCH_TIMEOUT_S,
    ) as node:
        rpc = NodeRpc(node.url)
        try:
            assert sync_peering(rpc, {peer: f"/ip4/127.0.0.1/tcp/1/p2p/{peer}"}) == ([peer], [])
            assert sync_peering(rpc, {peer: f"/ip4/127.0.0.1/tcp/1/p2p/{peer}"}) == ([], [])
            assert sync_peering(rpc, {peer: f"/ip4/127.0.0.1/tcp/2/p2p/{peer}"}) == ([peer], [])
            assert rpc.peering() == {peer: ["/ip4/127.0.0.1/tcp/2"]}
            assert sync_peering(rpc, {}) == ([], [peer])
            assert rpc.peering() == {}
        finally:
            rpc.close()


def test_announced_addresses_are_the_setting_else_the_nodes_own_without_the_peer_id() -> None:
    from ledger.network.peers import announced_addrs
    from ledger.store import NodeIdentity

    peer = "12D3KooWGd4n7w353hNroBT5f4FmBLZwgFAXXNeJgzkKTKUE1TEd"
    own = NodeIdentity(ID=peer, Addresses=[f"/ip4/127.0.0.1/tcp/4001/p2p/{peer}"] * 2)
    assert announced_addrs(own, []) == ["/ip4/127.0.0.1/tcp/4001"]
    public = [f"/ip4/203.0.113.{i}/tcp/4001" for i in range(10)]
    assert announced_addrs(own, public) == public[:8]


def test_a_gateway_whose_node_is_down_publishes_its_key_and_the_peer_once_the_node_answers(
    tmp_path: Path, w3: Web3
) -> None:
    """On a deployment of its own: the node is not running when the gateway starts, so only the
    key is published; the next try (the replication worker makes one each round until one
    succeeds) publishes the peer once the node answers."""
    from ledger.chain.deploy import deploy_contracts
    from ledger.crypto.keys import x25519_from_eth_key
    from ledger.network.peers import publish_entry
    from ledger.types import OrgKind

    regulator = Account.from_key(Web3.keccak(text="medledger/tests/replication/regulator"))
    org = Account.from_key(Web3.keccak(text="medledger/tests/replication/late-node"))
    deployment = deploy_contracts(w3, Account.create(), regulator.address)
    chain = Chain(w3, deployment, regulator)
    chain.transact(
        chain.contract("Membership").functions.admitOrganisation(
            org.address, OrgKind.HOSPITAL, org.address
        )
    )
    directory = OrgDirectory(Chain(w3, deployment, org))
    key = x25519_from_eth_key(bytes(org.key))
    node = IpfsNode(
        repo_dir=tmp_path / "ipfs",
        swarm_key=swarm_key_new(tmp_path / "swarm.key"),
        api_port=_port(),
        swarm_port=_port(),
    )
    rpc = NodeRpc(node.url)
    try:
        assert publish_entry(directory, key, rpc) is False
        assert (directory.entry(org.address).peer_id, directory.entry(org.address).addrs) == (
            "",
            (),
        )
        with node:
            assert publish_entry(directory, key, rpc) is True
            entry = directory.entry(org.address)
            assert entry.peer_id == node.peer_id
            assert entry.addrs == (f"/ip4/127.0.0.1/tcp/{node.swarm_port}",)
    finally:
        rpc.close()
