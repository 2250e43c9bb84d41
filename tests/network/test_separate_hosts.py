"""Each organisation on a host of its own (tests/network/netns.py): its IPFS node and gateway as
real processes, in their own network namespace where one can be had, sharing only the chain and
the swarm key. Tests run in file order: hospital A writes, its machine dies, the rest carry on,
and A comes back; the last test looks at everything the hosts ever sent.
"""

from __future__ import annotations

import base64
import errno
import json
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.audit.trail_index import verify_consortium_trail
from ledger.chain.connection import Chain
from ledger.consent.grants import Purpose, Scope
from ledger.consent.patients import sign_enrolment
from ledger.consent.wallet import PatientWallet, days_from_now
from ledger.crypto.envelope import open_with_wrapped_key
from ledger.crypto.keys import PatientKeys, x25519_from_eth_key, x25519_public_hex
from ledger.errors import ContentNotFound
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.org_join import sync_peers
from ledger.records.verify import access_batch_lookup
from ledger.store import IpfsNode, cid_from_bytes, swarm_key_new
from ledger.store.ipfs_node import PEERS_FILE
from tests.network.netns import FETCH_TIMEOUT_S, SeparateConsortium, Socket, wait_until

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"


def _bundle(note: str) -> dict[str, Any]:
    """A small FHIR Bundle, different for each ``note``."""
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:5d1a2f1e-3b0a-4f7e-9a55-1f3c2b9d0a02",
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": note},
                    "valueString": secrets.token_hex(8),
                },
            }
        ],
    }


# --- The swarm key: a node without it is not one of ours -------------------------------------


@pytest.fixture(scope="module")
def outsider(
    separate: SeparateConsortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IpfsNode]:
    """A node on a host of its own with another swarm key, configured to dial every consortium
    node, and admitted by their allow-lists: only the key keeps it out."""
    root = Path(tmp_path_factory.mktemp("outsider"))
    host = separate.hosts.add("outsider")
    node = IpfsNode(
        repo_dir=root / "ipfs",
        swarm_key=swarm_key_new(root / "other-swarm.key"),
        api_port=host.port(5001),
        swarm_port=host.port(4001),
        host=host.address,
        api_host=host.address,  # read from the root namespace, as the members' (netns.py)
        peers=[m.node.address for m in separate.orgs.values()],
        fetch_timeout_s=FETCH_TIMEOUT_S,
        redial_interval_s=0.5,
        prefix=host.prefix,
    )
    node.start()
    host.adopt(node.pid)
    members = separate.orgs.values()
    for machine in members:
        others = [m.node.address for m in members if m is not machine]
        machine.node.set_peers([*others, node.address])
    yield node
    for machine in members:
        sync_peers(machine.directory)  # back to what the chain's directory lists
    node.stop()


def _peers(node: IpfsNode) -> set[str]:
    reply = httpx.post(f"{node.url}/api/v0/swarm/peers", timeout=5).json()
    return {peer["Peer"] for peer in reply["Peers"]}


def test_a_node_with_another_swarm_key_cannot_connect(
    separate: SeparateConsortium, outsider: IpfsNode
) -> None:
    hospital = separate.orgs["hospital-a"].node
    reply = httpx.post(
        f"{outsider.url}/api/v0/swarm/connect", params={"arg": hospital.address}, timeout=30
    )
    assert reply.status_code == 500
    time.sleep(2.0)  # four re-dials each way
    assert _peers(outsider) == set()
    for machine in separate.orgs.values():
        assert outsider.peer_id not in _peers(machine.node)
    # The consortium's own nodes are connected all the while: the key, not the network, decides.
    assert _peers(hospital) == {
        m.node.peer_id for name, m in separate.orgs.items() if name != "hospital-a"
    }


def test_a_node_with_another_swarm_key_cannot_fetch_what_the_consortium_holds(
    separate: SeparateConsortium, outsider: IpfsNode
) -> None:
    with separate.orgs["hospital-a"].node.store() as writer:
        cid = writer.put(b"ciphertext only consortium nodes may hold " + secrets.token_bytes(8))
    with outsider.store() as stranger, pytest.raises(ContentNotFound):
        stranger.get(cid)
    with separate.orgs["hospital-b"].node.store() as member:
        assert member.get(cid).startswith(b"ciphertext only")


_PLAIN_DIALER = """
import socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
sock.sendall(b"\\x13/multistream/1.0.0\\n\\x10/noise\\n")  # what a libp2p node without pnet says
got = b""
try:
    while chunk := sock.recv(4096):
        got += chunk
except OSError:
    pass
sys.stdout.write(got.hex())
"""


def test_a_dialer_without_the_key_gets_no_libp2p_conversation(
    separate: SeparateConsortium, outsider: IpfsNode
) -> None:
    hospital = separate.orgs["hospital-a"].node
    host = separate.hosts.hosts["outsider"]
    got = bytes.fromhex(
        host.run(sys.executable, "-c", _PLAIN_DIALER, hospital.host, str(hospital.swarm_port))
    )
    # A private network's first bytes are its 24-byte nonce; the rest, if any, is under the key:
    # never the plaintext protocol negotiation a keyless peer could answer.
    assert len(got) >= 24
    assert b"multistream" not in got
    assert b"noise" not in got


# --- Hospital A writes, grants, and its machine dies -----------------------------------------


@dataclass
class Written:
    """What hospital A wrote and handed out before its machine died."""

    patient: PatientKeys
    pseudonym: str
    single: list[str]  # records anchored one by one (the first has two versions)
    batched: list[str]  # records anchored in a Merkle batch
    wrapped_key: str  # record single[0] v2's data key, wrapped for hospital B's doctor
    pending: list[dict[str, Any]] = field(default_factory=list)  # bulk receipts in A's outbox
    pins: set[str] = field(default_factory=set)  # what A's node had pinned
    groups: list[int] = field(default_factory=list)  # A's process groups when it died
    cids: set[str] = field(default_factory=set)  # the envelopes of every version A anchored
    trail: dict[str, set[tuple[Any, ...]]] = field(default_factory=dict)  # A's anchored entries
    access_entries: dict[int, tuple[Any, ...]] = field(default_factory=dict)  # A's, anchored
    last_seq: int = 0  # A's last access entry when it died, sealed or not

    @property
    def anchored(self) -> list[str]:
        return [*self.single, *self.batched]


def _enrol(separate: SeparateConsortium, keys: PatientKeys) -> str:
    hospital = separate.consortium.orgs["hospital-a"]
    pseudonym = keys.pseudonym(hospital.address)
    identity = keys.public_identity(hospital.address)
    with separate.as_staff("hospital-a", "clerk") as clerk:
        domain = fetch_domain(separate.orgs["hospital-a"].gateway.url)
        signature = sign_enrolment(
            pseudonym,
            domain.as_eip712(),
            hospital.address,
            bytes.fromhex(identity["encryption_key"][2:]),
        )
        clerk.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": signature,
            },
        )
    return str(pseudonym.address)


def _bulk(doctor: GatewayClient, pseudonym: str, notes: list[str]) -> list[dict[str, Any]]:
    body = {"items": [{"patient": pseudonym, "resource": _bundle(n)} for n in notes]}
    receipts: list[dict[str, Any]] = doctor.post_json("/v1/records:bulk", json=body)["receipts"]
    return receipts


def _anchored(doctor: GatewayClient, receipt_id: str, wait: int = 30) -> dict[str, Any]:
    receipt: dict[str, Any] = doctor.get_json(f"/v1/receipts/{receipt_id}", params={"wait": wait})
    return receipt


def _pins(node: IpfsNode) -> set[str]:
    reply = httpx.post(f"{node.url}/api/v0/pin/ls", timeout=10).json()
    return set(reply["Keys"])


def _anchored_through(client: GatewayClient, seq: int) -> bool:
    """Whether every entry of the gateway's log up to ``seq`` is anchored (reading the log adds
    entries of its own, so "all of it" never settles)."""
    return all(e["chain_batch_id"] is not None for e in _access_log(client) if e["seq"] <= seq)


def _entry_key(entry: dict[str, Any]) -> tuple[Any, ...]:
    """An access entry as both A's log and the consortium trail show it."""
    return tuple(entry[k] for k in ("at", "actor", "action", "record_id", "version", "outcome"))


def _access_log(client: GatewayClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get_json("/v1/access-log", params={"limit": 500})["items"]
    return items


@pytest.fixture(scope="module")
def written(separate: SeparateConsortium) -> Written:
    """Hospital A anchors records one by one and in a batch, its patient grants hospital B
    treatment access to one, and B's doctor takes its wrapped key from A."""
    keys = PatientKeys(secrets.token_bytes(32))
    pseudonym = _enrol(separate, keys)
    with separate.as_staff("hospital-a", "doctor") as doctor:
        single = []
        for note in ("admission", "discharge"):
            body = json.dumps(_bundle(note)).encode()
            receipt = doctor.post_json("/v1/records", content=body, params={"patient": pseudonym})
            single.append(receipt["record_id"])
        doctor.post_json(
            f"/v1/records/{single[0]}/versions",
            content=json.dumps(_bundle("admission, amended")).encode(),
            params={"expected_version": 1},
        )
        accepted = _bulk(doctor, pseudonym, ["lab 1", "lab 2", "lab 3"])
        batched = [_anchored(doctor, r["receipt_id"]) for r in accepted]
        assert [r["status"] for r in batched] == ["anchored"] * 3
    hospital_b = separate.consortium.orgs["hospital-b"]
    with PatientWallet(keys, separate.orgs["hospital-a"].gateway.url) as wallet:
        wallet.grant(
            hospital_b.address,
            Scope.record(single[0]),
            Purpose.TREATMENT,
            expires_at=days_from_now(30),
        )
    doctor_b = separate.staff("hospital-b", "doctor")
    with separate.client(doctor_b, "hospital-a") as at_writer:
        own_key = x25519_from_eth_key(bytes(doctor_b.key))
        wrapped = at_writer.get_json(
            f"/v1/records/{single[0]}/key",
            params={
                "purpose": "treatment",
                "encryption_key": x25519_public_hex(own_key.public_key()),
            },
        )
    return Written(
        keys, pseudonym, single, [r["record_id"] for r in batched], wrapped["wrapped_key"]
    )


def test_another_members_own_node_fetches_a_record_from_hospital_a_across_hosts(
    separate: SeparateConsortium, written: Written
) -> None:
    # The regulator's gateway checks content from the regulator's node, which has it only by
    # bitswap from hospital A's node, on another host.
    with separate.as_staff("regulator", "auditor") as regulator:
        check = regulator.get_json(f"/v1/records/{written.single[1]}/verification")
    assert check["intact"] is True
    assert [v["content"] for v in check["versions"]] == ["intact"]


def _batches(chain: Chain, org: str) -> list[tuple[int, str]]:
    """The batches ``org`` anchored (records and access logs): id and manifest CID."""
    logs = (
        chain.contract("BatchAnchor")
        .events.BatchAnchored()
        .get_logs(from_block=0, argument_filters={"org": org})
    )
    return [(int(e["args"]["batchId"]), cid_from_bytes(bytes(e["args"]["manifest"]))) for e in logs]


def _await_quiet(chain: Chain, org: str, quiet_s: float = 3.0) -> None:
    """Wait until ``org`` has anchored no batch for ``quiet_s`` (three of its seal intervals)."""
    seen = -1
    while (count := len(_batches(chain, org))) != seen:
        seen = count
        time.sleep(quiet_s)


def _machine_of(separate: SeparateConsortium, address: str) -> str:
    return next(
        name
        for name in separate.orgs
        if separate.consortium.orgs[name].address.lower() == address.lower()
    )


def _await_replicated(separate: SeparateConsortium, cids: set[str]) -> None:
    """Wait until every holder replication assigns each CID has it pinned on its own node."""
    with separate.as_staff("regulator", "auditor") as member:  # any member's gateway tells
        holders = {cid: member.get_json(f"/v1/content/{cid}")["holders"] for cid in cids}
    for cid, assigned in holders.items():
        assert len(assigned) == 2, f"{cid} is assigned {assigned}"
        for holder in assigned:
            name = _machine_of(separate, holder["org"])
            if name == "hospital-a":
                # Asked of A's node, not its gateway: a request there is an access A logs and
                # seals into a batch of its own, which A's machine might then die without having
                # replicated (a loaded run saw the trail of such a batch never complete).
                node = separate.orgs[name].node
                wait_until(lambda: cid in _pins(node), 30, f"{cid} pinned by {name}")  # noqa: B023
                continue
            with separate.as_staff(name, _ANY_STAFF[name]) as client:
                wait_until(
                    lambda: bool(client.get_json(f"/v1/content/{cid}")["pinned_here"]),  # noqa: B023
                    30,
                    f"{cid} pinned by {name}",
                )


#: A member of each organisation's staff, to ask its own gateway.
_ANY_STAFF = {
    "hospital-a": "doctor",
    "hospital-b": "doctor",
    "insurer": "auditor",
    "regulator": "auditor",
}


@pytest.fixture(scope="module")
def a_down(separate: SeparateConsortium, written: Written) -> Written:
    """Hospital A's gateway and IPFS node killed outright (SIGKILL on their process groups),
    once what it anchored is replicated, with what it held noted first."""
    machine = separate.orgs["hospital-a"]
    with separate.as_staff("hospital-a", "doctor") as doctor:
        written.cids = {
            v["cid"]
            for record in written.anchored
            for v in doctor.get_json(f"/v1/records/{record}/verification")["versions"]
        }
    _await_replicated(separate, written.cids)
    written.pins = _pins(machine.node)
    with separate.client(separate.staff("regulator", "auditor"), "hospital-a") as regulator:
        last = max(e["seq"] for e in _access_log(regulator))
        wait_until(lambda: _anchored_through(regulator, last), 30, "A's access log anchored")
        logged = [e for e in _access_log(regulator) if e["seq"] <= last]
    written.access_entries = {e["seq"]: _entry_key(e) for e in logged}
    written.trail = {
        record: {_entry_key(e) for e in logged if e["record_id"] == record}
        for record in written.anchored
    }
    written.groups = [p for p in (machine.node.pid, machine.gateway.pid) if p is not None]
    with separate.as_staff("hospital-a", "doctor") as doctor:
        # Fewer than A's batch size: these wait in its outbox for its (long) batch interval.
        written.pending = _bulk(doctor, written.pseudonym, ["late lab 1", "late lab 2"])
        statuses = [_anchored(doctor, r["receipt_id"], wait=0)["status"] for r in written.pending]
    assert statuses == ["pending", "pending"]
    with separate.client(separate.staff("regulator", "auditor"), "hospital-a") as regulator:
        written.last_seq = max(e["seq"] for e in _access_log(regulator))  # some not yet sealed
    # No request reaches A from here on: once its sealer has anchored what these logged, it
    # anchors nothing more, and it dies quiet.
    _await_quiet(separate.chain, separate.consortium.orgs["hospital-a"].address)
    # Every batch A anchored (record versions and access logs) replicated too.
    a = separate.consortium.orgs["hospital-a"].address
    _await_replicated(separate, {manifest for _, manifest in _batches(separate.chain, a)})
    machine.power_off()
    return written


def test_hospital_as_machine_is_down(separate: SeparateConsortium, a_down: Written) -> None:
    machine = separate.orgs["hospital-a"]
    for url in (machine.gateway.url, machine.node.url):
        with pytest.raises(httpx.TransportError):
            httpx.post(url, timeout=2)
    assert len(a_down.groups) == 2
    for group in a_down.groups:  # the gateway's and the node's, with any children they had
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
    if machine.host.netns is not None:
        assert machine.host.run("ss", "-tlnH").strip() == ""


def test_the_insurer_verifies_every_record_hospital_a_anchored_one_by_one_from_its_own_node(
    separate: SeparateConsortium, a_down: Written
) -> None:
    versions = 0
    with separate.as_staff("insurer", "auditor") as insurer:
        for record in a_down.single:
            check = insurer.get_json(f"/v1/records/{record}/verification")
            assert check["intact"] is True, check["versions"]
            assert {v["content"] for v in check["versions"]} == {"intact"}
            versions += len(check["versions"])
    assert versions == 3  # two records, one of them amended


def test_hospital_b_opens_its_granted_envelope_from_its_own_node(
    separate: SeparateConsortium, a_down: Written
) -> None:
    record = a_down.single[0]
    doctor_b = separate.staff("hospital-b", "doctor")
    with separate.as_staff("hospital-b", "doctor") as own_gateway:
        blob = own_gateway.request(
            "GET", f"/v1/records/{record}/envelope", params={"purpose": "treatment"}
        ).content
    plaintext = open_with_wrapped_key(
        blob,
        wrapped=base64.b64decode(a_down.wrapped_key),
        private_key=x25519_from_eth_key(bytes(doctor_b.key)),
        record_id=bytes.fromhex(record[2:]),
        version=2,
    )
    resource = json.loads(plaintext)["resource"]
    assert resource["entry"][0]["resource"]["code"]["text"] == "admission, amended"


def test_the_insurer_verifies_hospital_as_batch_anchored_records_from_its_own_node(
    separate: SeparateConsortium, a_down: Written
) -> None:
    with separate.as_staff("insurer", "auditor") as insurer:
        for record in a_down.batched:
            check = insurer.get_json(f"/v1/records/{record}/verification")
            assert check["intact"] is True, check["versions"]
            (version,) = check["versions"]
            assert version["content"] == "intact"
            assert version["batch"] is not None


def test_the_regulators_trail_of_hospital_as_records_is_complete_and_verified(
    separate: SeparateConsortium, a_down: Written
) -> None:
    """With A's machine off, the regulator's own gateway assembles the trail of every record A
    wrote from the batches replicated to the other members' nodes, and it checks on chain."""
    a = separate.consortium.orgs["hospital-a"].address
    with separate.as_staff("regulator", "auditor") as regulator:
        for record, anchored in a_down.trail.items():
            # A batch the regulator's node could not fetch in time is retried at a later read
            # (MEDLEDGER_ACCESS_TRAIL_RETRY_S): the trail is complete once every batch is had.
            last: dict[str, Any] = {}

            def ask(record: str = record, last: dict[str, Any] = last) -> dict[str, Any]:
                answer: dict[str, Any] = regulator.get_json(
                    "/v1/audit/trail", params={"record_id": record}
                )
                last.update(answer)
                return answer

            try:
                wait_until(lambda: ask()["complete"], 60, f"the trail of {record} complete")
            except AssertionError as exc:  # say which batches were missing, and why
                raise AssertionError(f"{exc}; problems: {last.get('problems')}") from exc
            reply = ask()
            assert reply["complete"], reply["problems"]
            checked, mismatches = verify_consortium_trail(
                reply["items"], access_batch_lookup(separate.chain)
            )
            assert (checked, mismatches) == (len(reply["items"]), [])
            at_a = {_entry_key(i["entry"]) for i in reply["items"] if i["org"] == a}
            assert anchored, record
            assert anchored <= at_a, record


def test_hospital_a_restarts_and_catches_up_with_nothing_lost(
    separate: SeparateConsortium, a_down: Written
) -> None:
    machine = separate.orgs["hospital-a"].start()
    with separate.as_staff("hospital-a", "doctor") as doctor:
        # The outbox kept the two versions A accepted before it died; the next write fills the
        # batch, and all three are anchored together.
        (topped_up,) = _bulk(doctor, a_down.pseudonym, ["after the restart"])
        receipts = [*a_down.pending, topped_up]
        caught_up = [_anchored(doctor, r["receipt_id"]) for r in receipts]
    assert [r["status"] for r in caught_up] == ["anchored"] * 3
    assert len({r["anchoring"]["batch"] for r in caught_up}) == 1
    assert _pins(machine.node) >= a_down.pins | {r["cid"] for r in receipts}
    last = max(a_down.access_entries)
    with separate.client(separate.staff("regulator", "auditor"), "hospital-a") as regulator:
        assert _anchored_through(regulator, last)
        kept = {e["seq"]: _entry_key(e) for e in _access_log(regulator) if e["seq"] <= last}
        assert kept == a_down.access_entries
        wait_until(
            lambda: _anchored_through(regulator, a_down.last_seq),
            30,
            "the access entries A logged but had not sealed when it died, anchored on restart",
        )
    wait_until(
        lambda: (
            {m.node.peer_id for n, m in separate.orgs.items() if n != "hospital-a"}
            <= _peers(machine.node)
        ),
        30,
        "hospital A's node back among its peers",
    )


# --- Nothing any host does dials outside the consortium --------------------------------------


def _outbound(sockets: list[Socket], listening: set[int]) -> set[tuple[str, int]]:
    """The peers of connections this host opened (not those it accepted on its own ports)."""
    return {
        s.peer_host_port
        for s in sockets
        if s.state != "LISTEN" and int(s.local.rpartition(":")[2]) not in listening
    }


def _configured_peers(node: IpfsNode) -> set[tuple[str, int]]:
    """The swarm endpoints in the node's allow-list (its peers file)."""
    found = set()
    for line in (node.repo_dir / PEERS_FILE).read_text().split():
        parts = line.split("/")  # /ip4/H/tcp/P/p2p/ID
        found.add((parts[2], int(parts[4])))
    return found


def test_nothing_any_host_does_dials_outside_the_consortium(separate: SeparateConsortium) -> None:
    chain = (separate.anvil.host, separate.anvil.port)
    for name, machine in separate.orgs.items():
        ports = {machine.node.rpc_port, machine.node.swarm_port, machine.gateway.rpc_port}
        own = (machine.host.address, machine.node.rpc_port)  # the gateway speaks to its node
        allowed = {chain, own, *_configured_peers(machine.node)}
        pids = [p for p in (machine.node.pid, machine.gateway.pid) if p is not None]
        seen: set[tuple[str, int]] = set()
        for _ in range(10):  # across several re-dial intervals
            seen |= _outbound(machine.host.sockets("tcp", pids), ports)
            time.sleep(0.1)
        assert seen <= allowed, f"{name} dialled {seen - allowed}"
        identity = httpx.post(f"{machine.node.url}/api/v0/id", timeout=5).json()
        protocols = " ".join(identity["Protocols"])
        for outside in ("/kad/", "/autonat/", "/circuit/relay", "/dcutr", "/mdns"):
            assert outside not in protocols, f"{name}'s node speaks {outside}"
        assert all(f"/ip4/{machine.host.address}/" in a for a in identity["Addresses"])
        if machine.host.netns is None:
            assert machine.host.sockets("udp", pids) == [], f"{name} holds a UDP socket"
            continue
        # In its own namespace the kernel has counted everything since the host was made: a
        # connection or datagram to anywhere off the bridge finds no route, and none is counted.
        counted = machine.host.counters()
        sent = {k: counted[k] for k in ("Ip.OutNoRoutes", "Ip6OutNoRoutes", "Udp.OutDatagrams")}
        assert sent == {"Ip.OutNoRoutes": 0, "Ip6OutNoRoutes": 0, "Udp.OutDatagrams": 0}


def test_a_host_reaches_the_bridge_and_nothing_beyond(separate: SeparateConsortium) -> None:
    host = separate.orgs["insurer"].host
    if host.netns is None:
        # Loopback stands in for separate machines only by ports: nothing to fence off.
        assert len({m.gateway.rpc_port for m in separate.orgs.values()}) == len(separate.orgs)
        return
    probe = (
        "import socket, sys\n"
        "targets = ((sys.argv[1], int(sys.argv[2])), ('192.0.2.1', 80), ('1.1.1.1', 443))\n"
        "for host, port in targets:\n"
        "    try:\n"
        "        socket.create_connection((host, port), timeout=3).close(); print('open')\n"
        "    except OSError as exc:\n"
        "        print(exc.errno)\n"
    )
    before = host.counters()["Ip.OutNoRoutes"]
    answers = host.run(sys.executable, "-c", probe, separate.anvil.host, str(separate.anvil.port))
    assert answers.split() == ["open", str(errno.ENETUNREACH), str(errno.ENETUNREACH)]
    # The counter the test above relies on counts exactly such attempts.
    assert host.counters()["Ip.OutNoRoutes"] == before + 2
