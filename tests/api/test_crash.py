"""Kill -9 the gateway at random points of the bulk write path, many times over, and check that
every acknowledged write is anchored exactly once.

The gateway runs as its own uvicorn process on a chain of its own that mines a block every second
(so a kill often lands while a batch transaction is sent but not yet mined); clients keep writing
while it is killed; after the last restart it drains. Then, on chain: each BatchAnchored event of
the hospital matches one batch of the outbox and no root is anchored twice, no anchoring
transaction was ever re-signed (one per batch), and every acknowledged receipt proves its item
against its batch's root with the contract's own verifyItem.
"""

from __future__ import annotations

import os
import random
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from ledger.chain import deploy
from ledger.chain.node import Anvil
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, GatewayError, fetch_domain
from ledger.network.consortium import Consortium, seed_demo
from ledger.records.batch_proof import RECORD_BATCH_KIND
from tests.conftest import _free_port

CYCLES = int(os.environ.get("MEDLEDGER_CRASH_CYCLES", "8"))
ITEMS_PER_REQUEST = 4


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Anvil, Consortium, Path]]:
    data_dir = tmp_path_factory.mktemp("crash")
    with Anvil(state_dir=data_dir / "chain", port=_free_port()) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        consortium = seed_demo(w3, data_dir, node.url, api_port=1)
        # From now on a block a second: a kill often finds a batch sent and not yet mined.
        w3.provider.make_request("evm_setIntervalMining", [1])  # type: ignore[arg-type]
        yield node, consortium, data_dir


class Launcher:
    """Starts and kills hospital-a's gateway through tests/api/crash_zygote.py."""

    def __init__(self, node: Anvil, consortium: Consortium, data_dir: Path, port: int) -> None:
        env = dict(os.environ)
        env.update(
            MEDLEDGER_RPC_URL=node.url,
            MEDLEDGER_DATA_DIR=str(data_dir),
            MEDLEDGER_ORG_KEY_FILE=str(Path(consortium.orgs["hospital-a"].key_file).resolve()),
            MEDLEDGER_RECORD_BATCH_MAX="8",
            MEDLEDGER_RECORD_BATCH_INTERVAL_S="0.05",
            MEDLEDGER_ACCESS_LOG_SEAL_INTERVAL_S="3600",
            # Sealed in the request thread: a worker pool spawns in seconds, longer than most
            # lives here; tests/records/test_bulk_sealing.py covers the pool.
            MEDLEDGER_BULK_WORKERS="0",
        )
        self._log = (data_dir / "gateway.log").open("ab")
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("crash_zygote.py"))],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self.url = f"http://127.0.0.1:{port}"
        self._port = port

    def _say(self, command: str) -> str:
        assert self._proc.stdin is not None
        assert self._proc.stdout is not None
        self._proc.stdin.write(f"{command}\n".encode())
        self._proc.stdin.flush()
        return self._proc.stdout.readline().decode().strip()

    def start(self) -> None:
        pid = int(self._say(f"start {self._port}"))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"gateway {pid} did not start")

    def kill(self) -> None:
        self._say("kill")

    def stop(self) -> None:
        self._say("stop")

    def close(self) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=30)
        for stream in (self._proc.stdout, self._log):
            if stream is not None:
                stream.close()


def writer(url: str, doctor: Any, patient: str, acked: list[str], stop: threading.Event) -> None:
    """Write bulk requests until told to stop; keep the receipt ids of every 202."""
    try:
        with GatewayClient(url, doctor, fetch_domain(url), timeout=10) as client:
            n = 0
            while not stop.is_set():
                items = [
                    {"patient": patient, "resource": _observation(n + i)}
                    for i in range(ITEMS_PER_REQUEST)
                ]
                n += ITEMS_PER_REQUEST
                answer = client.post_json("/v1/records:bulk", {"items": items})
                acked.extend(r["receipt_id"] for r in answer["receipts"])
    except (GatewayError, httpx.HTTPError):
        return  # the gateway died under the request: that write was never acknowledged


def _observation(value: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "valueQuantity": {"value": value, "unit": "mmHg"},
    }


def test_every_acknowledged_write_is_anchored_exactly_once_across_kills(
    chain: tuple[Anvil, Consortium, Path],
) -> None:
    node, consortium, data_dir = chain
    hospital = consortium.orgs["hospital-a"]
    doctor = consortium.account(hospital.staff["doctor"].key_file)
    rng = random.Random(os.environ.get("MEDLEDGER_CRASH_SEED", secrets.token_hex(4)))
    launcher = Launcher(node, consortium, data_dir, _free_port())
    acked: list[str] = []
    patient = PatientKeys(secrets.token_bytes(32))
    pseudonym = patient.pseudonym(hospital.address)
    outbox_db = data_dir / "gateways" / f"{hospital.address}.outbox.sqlite"
    try:
        receipts, resumed_signed = _write_through_kills(
            launcher, doctor, patient, pseudonym, hospital.address, acked, rng, outbox_db
        )
    finally:
        launcher.close()
    print(f"{CYCLES} kills, {len(acked)} acknowledged, {resumed_signed} signed batches resumed")
    assert len(acked) > CYCLES  # the writers got through between kills
    assert {r["status"] for r in receipts} == {"anchored"}

    w3 = Web3(Web3.HTTPProvider(node.url))
    anchor = w3.eth.contract(
        address=deploy.load_deployment(w3, data_dir, chain_id=node.chain_id).address("BatchAnchor"),
        abi=_abi("BatchAnchor"),
    )
    events = [
        e
        for e in anchor.events.BatchAnchored.get_logs(from_block=0)
        if e["args"]["org"] == hospital.address and e["args"]["kind"] == RECORD_BATCH_KIND
    ]
    roots = Counter(bytes(e["args"]["root"]) for e in events)
    assert max(roots.values()) == 1, "a batch root was anchored twice"
    with sqlite3.connect(outbox_db) as db:
        local = {bytes(r): c for r, c in db.execute("SELECT root, count FROM record_batches")}
        unbatched = db.execute("SELECT count(*) FROM record_outbox WHERE batch IS NULL").fetchone()
    assert set(roots) == set(local)  # every batch anchored, nothing on chain the outbox lacks
    assert unbatched == (0,)
    sent = _anchor_transactions(w3, hospital.address, anchor.address)
    assert sent == len(events), "an anchoring transaction was re-signed or sent twice"
    for r in receipts:
        a = r["anchoring"]
        proof = [bytes.fromhex(p[2:]) for p in a["proof"]]
        leaf = bytes.fromhex(r["leaf"][2:])
        assert anchor.functions.verifyItem(a["batch"], leaf, proof).call()
    versions = Counter((r["record_id"], r["version"]) for r in receipts)
    assert max(versions.values()) == 1


def _write_through_kills(
    launcher: Launcher,
    doctor: Any,
    patient: PatientKeys,
    pseudonym: Any,
    hospital: str,
    acked: list[str],
    rng: random.Random,
    outbox_db: Path,
) -> tuple[list[Any], int]:
    """Write while killing the gateway CYCLES times; then restart, drain, and fetch receipts."""
    url = launcher.url
    resumed_signed = 0
    for cycle in range(CYCLES):
        launcher.start()
        if cycle == 0:
            _enrol(url, doctor, patient, pseudonym, hospital)
        stop = threading.Event()
        writers = [
            threading.Thread(target=writer, args=(url, doctor, pseudonym.address, acked, stop))
            for _ in range(2)
        ]
        for w in writers:
            w.start()
        time.sleep(rng.uniform(0.2, 1.5))
        launcher.kill()
        stop.set()
        for w in writers:
            w.join()
        resumed_signed += _signed_unfinished(outbox_db)
    launcher.start()
    try:
        with GatewayClient(url, doctor, fetch_domain(url), timeout=60) as client:
            receipts = [client.get_json(f"/v1/receipts/{r}", params={"wait": "30"}) for r in acked]
    finally:
        launcher.stop()
    return receipts, resumed_signed


def _enrol(url: str, doctor: Any, keys: PatientKeys, pseudonym: Any, hospital: str) -> None:
    domain = fetch_domain(url)
    identity = keys.public_identity(hospital)
    enc = bytes.fromhex(identity["encryption_key"][2:])
    with GatewayClient(url, doctor, domain, timeout=30) as client:
        client.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": sign_enrolment(pseudonym, domain.as_eip712(), hospital, enc),
            },
        )


def _signed_unfinished(db_path: Path) -> int:
    """Batches a kill left with a signed transaction stored and no anchoring recorded."""
    if not db_path.exists():
        return 0
    with sqlite3.connect(db_path) as db:
        (n,) = db.execute(
            "SELECT count(*) FROM record_batches WHERE raw_tx IS NOT NULL"
            " AND chain_batch_id IS NULL"
        ).fetchone()
    return int(n)


def _anchor_transactions(w3: Web3, sender: str, to: str) -> int:
    """Mined transactions from ``sender`` anchoring record batches, successful or not."""
    count = 0
    for number in range(w3.eth.block_number + 1):
        block = w3.eth.get_block(number, full_transactions=True)
        for tx in block["transactions"]:
            data = bytes(tx["input"])  # type: ignore[index]
            if tx["from"] == sender and tx["to"] == to and data[4:36] == RECORD_BATCH_KIND:  # type: ignore[index]
                count += 1
    return count


def _abi(name: str) -> Any:
    from ledger.chain import _artifacts

    return _artifacts.load(name).abi
