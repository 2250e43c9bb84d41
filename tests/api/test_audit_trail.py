"""One audit trail across the consortium: hospital A, the insurer and the regulator each run their
own gateway on their own IPFS node; the batches each publishes are gathered and checked by the
regulator (A down or not), each patient reads their own entries from every organisation, nobody
else reads any, and a hostile member's forged batch is reported, not taken."""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account.signers.local import LocalAccount
from web3 import Web3

from api.gateway import build_gateway
from api.main import create_app
from api.serving import serve
from ledger.audit.access_log import ACCESS_LOG_KIND, AccessEntry, new_salt
from ledger.audit.manifest import Enrolment, build_manifest, open_for_regulator, parse_manifest
from ledger.audit.patient_trail import consortium_accesses
from ledger.audit.trail_index import TrailIndex, verify_consortium_trail
from ledger.chain.node import Anvil
from ledger.cli.app import EXIT_NOT_INTACT as EXIT_INCOMPLETE, EXIT_OK, main
from ledger.crypto.keys import PatientKeys, load_key, x25519_public_hex
from ledger.crypto.merkle import MerkleTree, leaf_hash, verify
from ledger.errors import DecryptionFailed
from ledger.gateway.client import GatewayClient, GatewayError
from ledger.network.consortium import seed_demo
from ledger.payload import canonicalize
from ledger.records.verify import access_batch_lookup
from ledger.settings import Settings
from ledger.store import IpfsNode, cid_of, cid_to_bytes, swarm_key_new
from tests.conftest import free_run
from tests.contracts.raw_tx import send_raw
from tests.world import Patient, Served, World, anchor, enrol_patient, fhir

ORGS = ("hospital-a", "insurer", "regulator")
FETCH_TIMEOUT_S = 2.0
# Below the ephemeral range, as tests/store/conftest.py takes its ports, in a range of our own.
_PORTS = itertools.count(27_000, 7)


@dataclass
class Consortium3:
    world: World
    nodes: dict[str, IpfsNode]
    stacks: dict[str, ExitStack]
    patients: dict[str, Patient] = field(default_factory=dict)
    records: dict[str, str] = field(default_factory=dict)

    def gateway(self, org: str) -> Any:
        return self.world.gateways[org].gateway

    def seal(self, org: str) -> None:
        while self.gateway(org).seal_access_log() is not None:
            pass


def _node(root: Path, name: str, key: Path) -> IpfsNode:
    return IpfsNode(
        repo_dir=root / name / "ipfs",
        swarm_key=key,
        api_port=free_run(1, next(_PORTS)),
        swarm_port=free_run(1, next(_PORTS)),
        fetch_timeout_s=FETCH_TIMEOUT_S,
        redial_interval_s=0.5,
    ).start()


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium3]:
    """A consortium on an anvil of its own; hospital A, the insurer and the regulator served, each
    gateway on its own IPFS node, the three nodes peered over a private swarm."""
    root = tmp_path_factory.mktemp("three")
    key = swarm_key_new(root / "swarm.key")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        Anvil(state_dir=root / "chain", port=port) as chain,
        requests.Session() as session,
        ExitStack() as outer,
    ):
        session.trust_env = False
        w3 = Web3(Web3.HTTPProvider(chain.url, session=session))
        data_dir = root / "data"
        consortium = seed_demo(w3, data_dir, chain.url, api_port=1)
        nodes = {org: _node(root, org, key) for org in ORGS}
        for org, node in nodes.items():
            node.set_peers(other.address for name, other in nodes.items() if name != org)
            outer.callback(node.wait_stopped)
            outer.callback(node.request_stop)
        gateways, stacks = {}, {}
        for org in ORGS:
            stack = outer.enter_context(ExitStack())
            settings = Settings(
                data_dir=data_dir,
                rpc_url=chain.url,
                org_key_file=Path(consortium.orgs[org].key_file),
                store_backend="kubo",
                kubo_url=nodes[org].url,
                content_fetch_timeout_s=FETCH_TIMEOUT_S,
            )
            gateway = build_gateway(settings)
            stack.callback(gateway.close)
            gateways[org] = Served(stack.enter_context(serve(create_app(gateway))), gateway)
            stacks[org] = stack
        yield Consortium3(World(consortium, data_dir, gateways, w3), nodes, stacks)


@pytest.fixture(scope="module")
def accessed(three: Consortium3) -> Consortium3:
    """Two patients of hospital A, a record each; their records read at A and checked at the
    insurer; A's batches sealed (and published) first, then the insurer's."""
    world = three.world
    for name in ("alice", "bob"):
        patient = enrol_patient(world, "hospital-a")
        three.patients[name] = patient
        three.records[name] = anchor(world, patient, fhir("observation-example.json"))["record_id"]
    for rid in three.records.values():
        with world.as_staff("hospital-a", "doctor") as doctor:
            doctor.get_json(f"/v1/records/{rid}")
        # Whatever the verdict, the check is an access, and is logged.
        with (
            world.as_staff("insurer", "auditor", "insurer") as insurer,
            contextlib.suppress(GatewayError),
        ):
            insurer.get_json(f"/v1/records/{rid}/verification")
    three.seal("hospital-a")
    three.seal("insurer")
    return three


def trail(three: Consortium3, **params: str) -> dict[str, Any]:
    with three.world.as_staff("regulator", "auditor", "regulator") as regulator:
        reply: dict[str, Any] = regulator.get_json("/v1/audit/trail", params=params)
    return reply


def anchored_batch(three: Consortium3, batch_id: int) -> tuple[bytes, str]:
    chain = three.gateway("regulator").chain
    root, org, _kind, _count, _at = chain.call(
        chain.contract("BatchAnchor").functions.batch(batch_id)
    )
    return bytes(root), str(org)


def anchor_raw(three: Consortium3, sender: LocalAccount, root: bytes, count: int, cid: str) -> int:
    """Anchor an access-log batch as ``sender``, as an attacker would: a raw transaction signed
    with its key, no client of ours in between; returns the batch id."""
    batches = three.gateway("regulator").chain.contract("BatchAnchor")
    receipt = send_raw(
        three.world.w3,
        sender,
        batches,
        "anchorBatch",
        ACCESS_LOG_KIND,
        root,
        count,
        cid_to_bytes(cid),
    )
    assert receipt["status"] == 1
    (event,) = batches.events.BatchAnchored().process_receipt(receipt)
    return int(event["args"]["batchId"])


def audit_trail_cli(three: Consortium3, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    """`medledger audit trail` as the regulator's auditor, on the regulator's gateway."""
    world = three.world
    monkeypatch.setenv("MEDLEDGER_DATA_DIR", str(world.data_dir))
    monkeypatch.setenv("MEDLEDGER_RPC_URL", three.gateway("regulator").settings.rpc_url)
    monkeypatch.setenv("PASS", "")  # the demo's keys have empty passphrases
    key = world.consortium.orgs["regulator"].staff["auditor"].key_file
    url = world.gateways["regulator"].url
    command = ["audit", "trail", "--key", str(key), "--passphrase-env", "PASS", "--gateway", url]
    return main([*command, *args])


def assert_proven(three: Consortium3, item: dict[str, Any]) -> None:
    """The entry, as served, is in the batch its organisation anchored on chain."""
    root, org = anchored_batch(three, item["chain_batch_id"])
    assert (org, "0x" + root.hex()) == (item["org"], item["root"])
    entry = AccessEntry(**item["entry"])
    proof = [bytes.fromhex(p[2:]) for p in item["proof"]]
    assert verify(proof, root, leaf_hash(entry.digest()))


def test_the_regulator_sees_one_records_trail_from_both_organisations(
    accessed: Consortium3,
) -> None:
    rid = accessed.records["alice"]
    reply = trail(accessed, record_id=rid)
    assert reply["complete"], reply["problems"]
    by_org = {item["org"] for item in reply["items"]}
    assert by_org == {
        accessed.world.org_address("hospital-a"),
        accessed.world.org_address("insurer"),
    }
    actions = {(item["org"], item["entry"]["action"]) for item in reply["items"]}
    a, insurer = accessed.world.org_address("hospital-a"), accessed.world.org_address("insurer")
    assert (a, "POST /v1/records") in actions
    assert (a, "GET /v1/records/{record_id}") in actions
    assert (insurer, "GET /v1/records/{record_id}/verification") in actions
    assert {item["entry"]["record_id"] for item in reply["items"]} == {rid}
    for item in reply["items"]:
        assert_proven(accessed, item)
    bundle = trail(accessed, record_id=rid, format="fhir")
    observers = {
        e["resource"]["source"]["observer"]["identifier"]["value"] for e in bundle["entry"]
    }
    assert observers == {f"urn:ethereum:{a}", f"urn:ethereum:{insurer}"}
    assert len(bundle["entry"]) == len(reply["items"])


def test_a_path_with_whitespace_is_logged_as_an_action_without_any(accessed: Consortium3) -> None:
    # An outsider's unrouted path is logged as sent; decoded, its whitespace would make an entry
    # that every regulator refuses, and with it the honest batch it is sealed in.
    served = accessed.world.gateways["regulator"]
    log = served.gateway.access_log
    before = max((e.seq for e in log.entries(after_seq=0, limit=10**6)), default=0)
    httpx.get(served.url + "/v1/no%20such%09route", timeout=30)
    # The entry is written once the response has gone (api/audit.py), so the client may read
    # the log before it is there; other requests to this gateway may be logged around it.
    deadline = time.monotonic() + 10
    while True:
        found = [
            e
            for e in log.entries(after_seq=before, limit=10**6)
            if e.entry.action.startswith("GET /v1/no")
        ]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    (logged,) = found
    assert logged.entry.action == "GET /v1/no%20such%09route"


def test_an_organisation_that_is_not_a_regulator_reads_no_ones_entries(
    accessed: Consortium3,
) -> None:
    insurer = accessed.gateway("insurer")
    insurer.trail.sync()
    a_batches = [
        b for b in insurer.trail.batches() if b.org == accessed.world.org_address("hospital-a")
    ]
    assert a_batches
    assert all(b.status == "ok" and not b.readable for b in a_batches)
    assert list(insurer.trail.entries()) == []
    manifest = parse_manifest(insurer.store.get(a_batches[0].cid))
    with pytest.raises(DecryptionFailed):
        open_for_regulator(manifest, insurer.org_key, insurer.org.address)
    with (
        accessed.world.as_staff("insurer", "auditor", "insurer") as staff,
        pytest.raises(GatewayError) as refused,
    ):
        staff.get_json("/v1/audit/trail")
    assert (refused.value.status, refused.value.problem_code) == (403, "audit.forbidden")
    alice = accessed.patients["alice"]
    with (
        accessed.world.client(alice.pseudonym, "regulator") as patient,
        pytest.raises(GatewayError) as refused,
    ):
        patient.get_json("/v1/audit/trail", params={"patient": alice.pseudonym.address})
    assert (refused.value.status, refused.value.problem_code) == (403, "audit.forbidden")


def test_a_patient_sees_their_entries_from_both_organisations_and_no_one_elses(
    accessed: Consortium3,
) -> None:
    world, a = accessed.world, accessed.world.org_address("hospital-a")
    alice, bob = accessed.patients["alice"], accessed.patients["bob"]
    # Asked at the insurer's gateway, not her own hospital's: any gateway serves the batches.
    served = world.gateways["insurer"]
    with GatewayClient(served.url, alice.pseudonym, served.gateway.domain, timeout=30) as client:
        found = consortium_accesses(client, [alice.keys.encryption_key(a)])
    assert found.accesses
    assert {access.entry.patient for access in found.accesses} == {alice.pseudonym.address}
    assert {access.org for access in found.accesses} == {a, world.org_address("insurer")}
    assert bob.pseudonym.address not in {access.entry.patient for access in found.accesses}
    assert accessed.records["bob"] not in {access.entry.record_id for access in found.accesses}


def test_audit_trail_checks_the_regulators_trail_against_the_chain(
    accessed: Consortium3,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    out = tmp_path / "trail.json"
    rid = accessed.records["alice"]
    assert audit_trail_cli(accessed, monkeypatch, "--record", rid, "--out", str(out)) == EXIT_OK
    printed = capsys.readouterr().out
    assert "organisations=2" in printed
    assert "mismatched=0 complete=yes" in printed
    # An entry altered after the gateway served it is named by the same check.
    served = json.loads(out.read_text())
    served["items"][0]["entry"]["outcome"] = "denied:forged"
    checked, mismatches = verify_consortium_trail(
        served["items"], access_batch_lookup(accessed.gateway("regulator").chain)
    )
    assert checked == len(served["items"])
    assert mismatches == [(0, "the entry is not in its anchored batch")]


def test_audit_mine_shows_a_patient_their_entries_from_every_organisation(
    accessed: Consortium3,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    world = accessed.world
    monkeypatch.setenv("PASS", "pw")
    key_file = tmp_path / "carol.json"
    assert main(["keys", "new", "--out", str(key_file), "--passphrase-env", "PASS"]) == EXIT_OK
    carol = enrol_patient(world, "hospital-a", PatientKeys(load_key(key_file, "pw")))
    rid = anchor(world, carol, fhir("observation-example.json"))["record_id"]
    with world.as_staff("insurer", "auditor", "insurer") as insurer:
        insurer.get_json(f"/v1/records/{rid}/verification")
    accessed.seal("hospital-a")
    accessed.seal("insurer")
    capsys.readouterr()
    url = world.gateways["regulator"].url
    args = ["audit", "mine", "--key", str(key_file), "--passphrase-env", "PASS", "--gateway", url]
    assert main(args) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    shown = [json.loads(line) for line in lines if line.startswith("{")]
    assert {e["patient"] for e in shown} == {carol.pseudonym.address}
    assert {e["org"] for e in shown} == {
        world.org_address("hospital-a"),
        world.org_address("insurer"),
    }


def test_with_hospital_a_down_the_regulator_still_has_a_complete_trail(
    accessed: Consortium3, tmp_path: Path
) -> None:
    world, rid = accessed.world, accessed.records["alice"]
    with world.as_staff("hospital-a", "doctor") as doctor:
        doctor.get_json(f"/v1/records/{rid}")
    accessed.seal("hospital-a")
    regulator = accessed.gateway("regulator")
    a = world.org_address("hospital-a")
    # A's gateway stops first: an access it logged after the response went, sealed on its way
    # out, is then on chain, and its batch is pinned below while A's node still serves it.
    accessed.stacks["hospital-a"].close()
    # The regulator's node pins A's batches here, through its node's pin API, as the
    # replication policy does.
    regulator.trail.sync(retry_unavailable=False)
    for batch in regulator.trail.batches():
        if batch.org == a and batch.cid is not None:
            regulator.store.pin(batch.cid)
    # The batches of A holding the read: sealed on request, or on A's way out if it was logged
    # after its response; a later batch of A (the seal request's own entry) need not hold it.
    holding = {e.chain_batch_id for e in regulator.trail.entries(record_id=rid) if e.org == a}
    assert holding
    accessed.nodes["hospital-a"].request_stop()  # ... then its node
    accessed.nodes["hospital-a"].wait_stopped()
    # A fresh index on the regulator's gateway: everything comes from chain and its own node.
    fresh = TrailIndex(
        tmp_path / "fresh.sqlite",
        regulator.chain,
        regulator.store,
        org=regulator.org.address,
        key=regulator.org_key,
    )
    try:
        fresh.sync()
        assert all(b.status == "ok" and b.readable for b in fresh.batches()), [
            (b.chain_batch_id, b.status, b.reason) for b in fresh.batches()
        ]
        rebuilt = list(fresh.entries(record_id=rid))
    finally:
        fresh.close()
    assert holding <= {found.chain_batch_id for found in rebuilt if found.org == a}
    assert {found.org for found in rebuilt} == {a, world.org_address("insurer")}
    reply = trail(accessed, record_id=rid)
    assert reply["complete"], reply["problems"]
    assert len(reply["items"]) == len(rebuilt)


def test_a_forged_batch_is_reported_and_not_taken(
    accessed: Consortium3, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    world, rid = accessed.world, accessed.records["alice"]
    pharmacy = world.consortium.account(world.consortium.orgs["pharmacy"].key_file)
    regulator = accessed.gateway("regulator")
    # A hostile member anchors a root for two entries and publishes a manifest of other entries
    # (crediting the record to an innocent actor), on a node the regulator's node reaches.
    anchored = [_entry(rid, pharmacy.address, "allowed") for _ in range(2)]
    claimed = [_entry(rid, pharmacy.address, "denied:x") for _ in range(2)]
    manifest = build_manifest(
        pharmacy.address,
        claimed,
        regulators={regulator.org.address: regulator.org_key.public_key()},
        patient_keys={},
    )
    cid = regulator.store.put(manifest)
    root = MerkleTree([leaf_hash(e.digest()) for e in anchored]).root
    forged = anchor_raw(accessed, pharmacy, root, 2, cid)
    # And a batch whose manifest no node has.
    missing = build_manifest(pharmacy.address, anchored, regulators={}, patient_keys={})
    unhad = anchor_raw(accessed, pharmacy, root, 2, cid_of(missing))
    reply = trail(accessed, record_id=rid)
    problems = {p["chain_batch_id"]: p for p in reply["problems"]}
    assert not reply["complete"]
    assert problems[forged]["status"] == "rejected"
    assert "anchored root" in problems[forged]["reason"]
    assert problems[unhad]["status"] == "unavailable"
    assert pharmacy.address not in {item["entry"]["actor"] for item in reply["items"]}
    assert json.dumps(reply).count("denied:x") == 0
    # The CLI names both and exits 1: the trail is not complete.
    capsys.readouterr()
    assert audit_trail_cli(accessed, monkeypatch) == EXIT_INCOMPLETE
    printed = capsys.readouterr().out
    assert f"batch {forged} of {pharmacy.address}: rejected" in printed
    assert f"batch {unhad} of {pharmacy.address}: unavailable" in printed
    assert "complete=no" in printed


def test_a_batch_sealed_before_publishing_is_reported_as_local_only(accessed: Consortium3) -> None:
    world = accessed.world
    insurer = world.consortium.account(world.consortium.orgs["insurer"].key_file)
    regulator = accessed.gateway("regulator")
    root = b"\x42" * 32
    # The manifest gateways wrote before this change: it names the batch, not its entries.
    placeholder = canonicalize(
        {
            "format": "medledger.access-log.v1",
            "org": insurer.address,
            "count": 3,
            "root": "0x" + root.hex(),
        }
    )
    cid = regulator.store.put(placeholder)
    batch_id = anchor_raw(accessed, insurer, root, 3, cid)
    problems = {p["chain_batch_id"]: p for p in trail(accessed)["problems"]}
    assert problems[batch_id]["status"] == "local_only"


def test_an_enrolment_its_pseudonym_did_not_sign_is_not_taken(accessed: Consortium3) -> None:
    world, bob = accessed.world, accessed.patients["bob"]
    insurer = accessed.gateway("insurer")
    insurer.trail.sync()
    real = insurer.trail.enrolment(bob.pseudonym.address)
    assert real is not None
    # Bob's signed enrolment, as hospital A published it, with the attacker's key put in its place.
    published = [
        e
        for b in insurer.trail.batches()
        if b.status == "ok" and b.org == world.org_address("hospital-a")
        for e in parse_manifest(insurer.store.get(str(b.cid))).enrolments
        if e.pseudonym == bob.pseudonym.address
    ]
    attacker_key = X25519PrivateKey.generate().public_key()
    swapped = Enrolment(
        bob.pseudonym.address, x25519_public_hex(attacker_key), published[0].signature
    )
    pharmacy = world.consortium.account(world.consortium.orgs["pharmacy"].key_file)
    own = [_entry(accessed.records["bob"], pharmacy.address, "allowed")]
    manifest = build_manifest(
        pharmacy.address, own, regulators={}, patient_keys={}, enrolments=[swapped]
    )
    cid = insurer.store.put(manifest)
    root = MerkleTree([leaf_hash(e.digest()) for e in own]).root
    anchor_raw(accessed, pharmacy, root, 1, cid)
    insurer.trail.sync()
    assert [b.status for b in insurer.trail.batches() if b.cid == cid] == ["ok"]
    kept = insurer.trail.enrolment(bob.pseudonym.address)
    assert kept is not None
    assert x25519_public_hex(kept) == x25519_public_hex(real)


def test_a_missing_batch_is_asked_for_again_only_after_the_retry_interval(
    accessed: Consortium3, tmp_path: Path
) -> None:
    world = accessed.world
    pharmacy = world.consortium.account(world.consortium.orgs["pharmacy"].key_file)
    regulator = accessed.gateway("regulator")
    own = [_entry(accessed.records["alice"], pharmacy.address, "allowed")]
    manifest = build_manifest(
        pharmacy.address,
        own,
        regulators={regulator.org.address: regulator.org_key.public_key()},
        patient_keys={},
    )
    root = MerkleTree([leaf_hash(e.digest()) for e in own]).root
    batch_id = anchor_raw(accessed, pharmacy, root, 1, cid_of(manifest))

    def status(retry_after_s: float) -> str:
        index = TrailIndex(
            tmp_path / "index.sqlite",
            regulator.chain,
            regulator.store,
            org=regulator.org.address,
            key=regulator.org_key,
            retry_after_s=retry_after_s,
        )
        try:
            index.sync()
            (found,) = [b for b in index.batches() if b.chain_batch_id == batch_id]
            return found.status
        finally:
            index.close()

    assert status(3600) == "unavailable"
    regulator.store.put(manifest)  # published late (or replicated at last)
    assert status(3600) == "unavailable"  # not asked for again yet
    assert status(0) == "ok"


def _entry(rid: str, actor: str, outcome: str) -> AccessEntry:
    return AccessEntry(
        at=1,
        actor=actor,
        org=actor,
        action="GET /v1/records/{record_id}",
        record_id=rid,
        version=1,
        view="full",
        patient=None,
        grant=None,
        purpose=None,
        outcome=outcome,
        salt=new_salt(),
    )
