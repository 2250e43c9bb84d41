"""Replication lag: from the anchoring receipt to the CID pinned on both assigned holders.

Four organisations (hospital-a, hospital-b, insurer, pharmacy), each with its own Helia node and
its own gateway (kubo backend) with its replication worker, on a scratch anvil; the nodes peer only
through the on-chain directory. Hospital A anchors N records one after another (POST /v1/records);
each at a random moment of the pinners' poll cycle; the clock starts when the gateway answers with
the receipt and stops when both holders rendezvous hashing assigns report the CID pinned
(``pin/ls`` on their nodes, polled every 10 ms). The lag is the wait for the next poll (half the
interval on average), one ``eth_getLogs``, and the bitswap fetch and pin.
Usage: python bench/replication.py [N] [--interval SECONDS]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import socket
import statistics
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import requests
from web3 import Web3

from api.gateway import build_gateway
from api.main import create_app
from api.serving import serve
from ledger.chain.node import Anvil
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient
from ledger.network.consortium import seed_demo
from ledger.network.holders import choose_holders
from ledger.settings import Settings
from ledger.store import IpfsNode, KuboStore, cid_to_bytes, swarm_key_new

ORGS = ("hospital-a", "hospital-b", "insurer", "pharmacy")
OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    "valueQuantity": {"value": 0, "unit": "mmHg"},
}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(n: int, interval_s: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        anvil = stack.enter_context(Anvil(state_dir=root / "chain", port=_port()))
        session = stack.enter_context(requests.Session())
        session.trust_env = False
        w3 = Web3(Web3.HTTPProvider(anvil.url, session=session))
        consortium = seed_demo(w3, root / "data", anvil.url, api_port=1)
        key = swarm_key_new(root / "swarm.key")
        urls: dict[str, str] = {}
        stores: dict[str, KuboStore] = {}
        domain = None
        for name in ORGS:
            node = stack.enter_context(
                IpfsNode(
                    repo_dir=root / name / "ipfs",
                    swarm_key=key,
                    api_port=_port(),
                    swarm_port=_port(),
                    redial_interval_s=1.0,
                )
            )
            gateway = build_gateway(
                Settings(
                    data_dir=root / "data",
                    rpc_url=anvil.url,
                    org_key_file=Path(consortium.orgs[name].key_file),
                    store_backend="kubo",
                    kubo_url=node.url,
                    replication_interval_s=interval_s,
                )
            )
            stack.callback(gateway.close)
            urls[name] = stack.enter_context(serve(create_app(gateway)))
            assert gateway.replicator is not None
            stack.enter_context(gateway.replicator.running())
            stores[name] = stack.enter_context(node.store())
            if name == "hospital-a":
                domain = gateway.domain
        assert domain is not None
        hospital = consortium.orgs["hospital-a"]
        doctor = consortium.account(hospital.staff["doctor"].key_file)
        keys = PatientKeys(secrets.token_bytes(32))
        pseudonym = keys.pseudonym(hospital.address)
        identity = keys.public_identity(hospital.address)
        enc = bytes.fromhex(identity["encryption_key"][2:])
        address = {consortium.orgs[name].address: name for name in ORGS}
        time.sleep(3 * interval_s + 2.0)  # every worker has published, peered and caught up
        lags: list[float] = []
        with GatewayClient(urls["hospital-a"], doctor, domain, timeout=60) as client:
            client.post_json(
                "/v1/patients",
                {
                    "pseudonym": pseudonym.address,
                    "encryption_key": identity["encryption_key"],
                    "signature": sign_enrolment(
                        pseudonym, domain.as_eip712(), hospital.address, enc
                    ),
                },
            )
            for i in range(n):
                # Anchor at a random moment of the pinners' cycle: one anchored just after the
                # last CID was pinned would always wait a whole interval (the worst case).
                time.sleep(random.uniform(0, interval_s))
                body = {**OBSERVATION, "id": f"bench-{i}-{secrets.token_hex(4)}"}
                receipt = client.post_json(
                    "/v1/records",
                    content=json.dumps(body).encode(),
                    params={"patient": pseudonym.address},
                )
                started = time.perf_counter()
                cid = receipt["cid"]
                holders = [
                    address[a]
                    for a in choose_holders(cid_to_bytes(cid), hospital.address, list(address), 2)
                ]
                waiting = set(holders)
                while waiting:
                    waiting = {h for h in waiting if not stores[h].has(cid)}
                    if waiting:
                        assert time.perf_counter() - started < 120, f"{cid} not replicated"
                        time.sleep(0.01)
                lags.append(time.perf_counter() - started)
    print(
        f"replication lag over {n} records (factor 2, 4 organisations, poll interval "
        f"{interval_s} s): p50={statistics.median(lags) * 1000:.0f} ms "
        f"p99={_percentile(lags, 0.99) * 1000:.0f} ms max={max(lags) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("n", type=int, nargs="?", default=50)
    parser.add_argument("--interval", type=float, default=Settings().replication_interval_s)
    args = parser.parse_args()
    main(args.n, args.interval)
