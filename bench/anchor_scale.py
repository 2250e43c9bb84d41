"""Batch anchoring against the per-record baseline, in one run, on one chain, through the API.

A fresh anvil, the demo consortium, and hospital-a's gateway as its own uvicorn process (the
outbox anchorer running in it, as `make run` serves it). Then, with concurrent clients:
(1) the baseline: POST /v1/records, one transaction a record; (2) the batched path:
POST /v1/records:bulk, many records a request, anchored in Merkle batches, timed until the last one
is anchored. Accept-to-anchored latency is read from the outbox (server clocks); gas from the
receipts; proof verifications per second from receipts checked against roots read on chain.
`--full` adds the growth curve (time, memory, disk from 1,000 to 1,000,000 records) and writes
BENCHMARKS.md and bench/growth.png. The last line printed is always the summary line.

Usage: python bench/anchor_scale.py [--quick | --full] [--records N] [--growth-max N]
                                    [--marks N,N,...]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger.chain import _artifacts, deploy
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.org import running_pid
from ledger.network.stack import running_stack
from ledger.records.batch_proof import Anchoring, BatchedVersion, item_problem
from ledger.records.outbox import Outbox
from ledger.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
HOSPITAL = "hospital-a"
BATCH_INTERVAL_S = 3.0
BATCH_MAX = 10_000
PER_REQUEST = 500
ACCESS_BATCH_MAX = 50_000
BULK_CLIENTS = 4
BASELINE_CLIENTS = 8
#: The block period the latency target counts two of (the local Clique network's; Besu QBFT's
#: default is 2 s too). Anvil mines at once, so on it the bound is generous by up to 4 s.
BLOCK_S = 2.0


def observation(i: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        "valueQuantity": {"value": 100 + i % 80, "unit": "mmHg"},
    }


@dataclass
class Bench:
    """A running chain and gateway, and who writes through it."""

    w3: Web3
    url: str
    gateway_pid: int
    ipfs_pid: int
    data_dir: Path  # the organisation's directory (ledger.network.org)
    doctor: LocalAccount
    hospital: str
    patients: list[str]
    chain_id: int
    baseline_tx: list[str] = field(default_factory=list)

    @property
    def outbox_db(self) -> Path:
        return self.data_dir / "gateways" / f"{self.hospital}.outbox.sqlite"

    def client(self) -> GatewayClient:
        return GatewayClient(self.url, self.doctor, fetch_domain(self.url), timeout=120)


def start(tmp: Path, interval_s: float, stack: ExitStack) -> Bench:
    """The demo consortium on a fresh anvil, and hospital-a's node started as `medledger org
    start` starts it: its own IPFS node (scripts/ipfs_node.mjs), the gateway's content store, and
    its gateway process; everything stops when ``stack`` closes."""
    # The gateway is spawned with this environment under its org.env.
    os.environ.update(
        MEDLEDGER_RECORD_BATCH_MAX=str(BATCH_MAX),
        MEDLEDGER_RECORD_BATCH_INTERVAL_S=str(interval_s),
        # An access entry a record: at thousands a second the trail's default of 1,000 entries a
        # batch would be several batch transactions (and manifests) a second.
        MEDLEDGER_ACCESS_LOG_BATCH_MAX=str(ACCESS_BATCH_MAX),
    )
    settings = load_settings(
        data_dir=tmp,
        anvil_port=_free_port(),
        api_port=_free_port(),
        ipfs_api_port=_free_port(),
        ipfs_swarm_port=_free_port(),
    )
    running = stack.enter_context(running_stack(settings, only=[HOSPITAL]))
    assert running.consortium is not None
    org, node = running.consortium.orgs[HOSPITAL], running.orgs[HOSPITAL]
    gateway_pid, ipfs_pid = running_pid(node, "gateway"), running_pid(node, "ipfs")
    assert gateway_pid is not None
    assert ipfs_pid is not None
    w3 = Web3(Web3.HTTPProvider(running.rpc_url))
    doctor = running.consortium.account(org.staff["doctor"].key_file)
    url = running.gateways[HOSPITAL]
    bench = Bench(
        w3, url, gateway_pid, ipfs_pid, node.root, doctor, org.address, [], settings.chain_id
    )
    bench.patients = [enrol(bench) for _ in range(8)]
    return bench


def enrol(bench: Bench) -> str:
    keys = PatientKeys(secrets.token_bytes(32))
    pseudonym = keys.pseudonym(bench.hospital)
    identity = keys.public_identity(bench.hospital)
    with bench.client() as client:
        domain = fetch_domain(bench.url)
        client.post_json(
            "/v1/patients",
            {
                "pseudonym": pseudonym.address,
                "encryption_key": identity["encryption_key"],
                "signature": sign_enrolment(
                    pseudonym,
                    domain.as_eip712(),
                    bench.hospital,
                    bytes.fromhex(identity["encryption_key"][2:]),
                ),
            },
        )
    return pseudonym.address


def baseline(bench: Bench, n: int) -> float:
    """Records a second, one transaction a record, BASELINE_CLIENTS clients at once."""

    def run(worker: int) -> list[str]:
        txs = []
        with bench.client() as client:
            for i in range(worker, n, BASELINE_CLIENTS):
                body = json.dumps(observation(i)).encode()
                params = {"patient": bench.patients[i % len(bench.patients)]}
                txs.append(
                    client.post_json("/v1/records", content=body, params=params)["transaction"]
                )
        return txs

    started = time.perf_counter()
    with ThreadPoolExecutor(BASELINE_CLIENTS) as pool:
        for txs in pool.map(run, range(BASELINE_CLIENTS)):
            bench.baseline_tx.extend(txs)
    return n / (time.perf_counter() - started)


def batched(bench: Bench, n: int, offset: int = 0) -> tuple[float, float]:
    """(records a second, seconds) from the first request until the last record is anchored."""

    def run(worker: int) -> str:
        last = ""
        with bench.client() as client:
            for start_ in range(
                offset + worker * PER_REQUEST, offset + n, BULK_CLIENTS * PER_REQUEST
            ):
                count = min(PER_REQUEST, offset + n - start_)
                items = [
                    {"patient": bench.patients[i % len(bench.patients)], "resource": observation(i)}
                    for i in range(start_, start_ + count)
                ]
                receipts = client.post_json("/v1/records:bulk", {"items": items})["receipts"]
                last = receipts[-1]["receipt_id"]
        return last

    started = time.perf_counter()
    with ThreadPoolExecutor(BULK_CLIENTS) as pool:
        lasts = [r for r in pool.map(run, range(BULK_CLIENTS)) if r]
    with bench.client() as client:
        for receipt_id in lasts:
            while (
                client.get_json(f"/v1/receipts/{receipt_id}", params={"wait": "60"})["status"]
                != "anchored"
            ):
                pass
    while _unanchored(bench.outbox_db):
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return n / elapsed, elapsed


def _unanchored(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM record_outbox o LEFT JOIN record_batches b ON b.id = o.batch"
            " WHERE b.chain_batch_id IS NULL"
        ).fetchone()
    return int(count)


def latencies(bench: Bench, until_seq: int) -> tuple[float, float]:
    """Accept-to-anchored p50 and p99 in seconds, over the first ``until_seq`` items."""
    with sqlite3.connect(bench.outbox_db) as conn:
        rows = conn.execute(
            "SELECT b.anchored_at - o.accepted_at FROM record_outbox o"
            " JOIN record_batches b ON b.id = o.batch WHERE o.seq <= ?",
            (until_seq,),
        ).fetchall()
    values = sorted(r[0] for r in rows)
    return values[len(values) // 2], values[min(len(values) - 1, int(len(values) * 0.99))]


def gas(bench: Bench) -> tuple[float, float, int]:
    """(gas a record batched, gas a record one by one, batches) from the mined receipts."""
    with sqlite3.connect(bench.outbox_db) as conn:
        rows = conn.execute("SELECT tx_hash, count FROM record_batches").fetchall()
    used = sum(bench.w3.eth.get_transaction_receipt(bytes(h))["gasUsed"] for h, _ in rows)
    items = sum(c for _, c in rows)
    sample = bench.baseline_tx[:200]
    single = statistics.mean(bench.w3.eth.get_transaction_receipt(t)["gasUsed"] for t in sample)
    return used / items, single, len(rows)


def _verify_chunk(args: tuple[list[tuple[BatchedVersion, Anchoring]], dict[int, Any]]) -> int:
    items, roots = args
    ok = 0
    for item, anchoring in items:
        if item_problem(item, anchoring, roots[anchoring.chain_batch_id]) is None:
            ok += 1
    return ok


def verifications(bench: Bench, n: int) -> float:
    """Proof verifications a second, in one process: each recomputes the item's
    leaf from its fields, checks its proof, and checks the root, kind and organisation against
    the batch read from BatchAnchor (read once per batch: a batch never changes)."""
    outbox = Outbox(bench.outbox_db)
    with sqlite3.connect(bench.outbox_db) as conn:
        ids = [r for (r,) in conn.execute("SELECT receipt_id FROM record_outbox LIMIT ?", (n,))]
    items = []
    for receipt_id in ids:
        receipt = outbox.receipt(receipt_id)
        assert receipt is not None
        assert receipt.anchoring is not None
        items.append((receipt.item, receipt.anchoring))
    outbox.close()
    anchor = bench.w3.eth.contract(
        address=deploy.load_deployment(bench.w3, bench.data_dir, chain_id=bench.chain_id).address(
            "BatchAnchor"
        ),
        abi=_artifacts.load("BatchAnchor").abi,
    )
    roots = {}
    for _, a in items:
        if a.chain_batch_id not in roots:
            root, org, kind, _count, _at = anchor.functions.batch(a.chain_batch_id).call()
            roots[a.chain_batch_id] = (bytes(root), org, bytes(kind))
    started = time.perf_counter()
    assert _verify_chunk((items, roots)) == len(items)
    return len(items) / (time.perf_counter() - started)


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """Resident MiB of ``pid``: all of it, or one part (``RssAnon``: its own memory, without the
    pages of its binary and libraries, ``RssFile``)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone since it was listed
        return 0.0
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def disk_mib(bench: Bench) -> tuple[float, float]:
    """(outbox database, the organisation's IPFS node's repository) on disk, MiB."""
    outbox = sum(p.stat().st_size for p in bench.outbox_db.parent.glob("*.outbox.sqlite*"))
    store = 0
    for dirpath, _, files in os.walk(bench.data_dir / "ipfs"):
        store += sum(os.stat(os.path.join(dirpath, f)).st_blocks * 512 for f in files)
    return outbox / 2**20, store / 2**20


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live children (the gateway's
    sealing workers): on a machine shared with other work, CPU a record is the figure that does
    not depend on how much of the machine the run got."""
    own, kids = cpu_split(pid)
    return own + kids


def cpu_split(pid: int) -> tuple[float, float]:
    """(``pid``'s own CPU seconds, its live children's), as ``cpu_s`` adds them."""
    return _cpu_of(pid), sum(_cpu_of(c) for c in children(pid))


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    """The live children of ``pid``, whichever of its threads started them: the sealing pool is
    started from a request thread, so the main thread's own list (``task/<pid>/children``) does not
    have them."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def growth(
    bench: Bench, marks: list[int], total: int = 0, seconds: float = 0.0
) -> list[dict[str, float]]:
    """Write batched records up to each of ``marks`` in turn, every one anchored before the next
    stretch starts; at each mark: the stretch's rate, the total time so far, the gateway's memory,
    outbox and store size."""
    points = []
    for mark in marks:
        split = cpu_split(bench.gateway_pid)
        cpu = sum(split), cpu_s(bench.ipfs_pid), time.process_time()
        rate, elapsed = batched(bench, mark - total, offset=total)
        split_after = cpu_split(bench.gateway_pid)
        used = [sum(split_after), cpu_s(bench.ipfs_pid), time.process_time()]
        # the gateway process alone; its sealing workers are the rest of gateway_cpu_us
        own_us = (split_after[0] - split[0]) * 1e6 / (mark - total)
        gateway_us, ipfs_us, client_us = (
            (after - before) * 1e6 / (mark - total) for after, before in zip(used, cpu, strict=True)
        )
        total, seconds = mark, seconds + elapsed
        outbox, store = disk_mib(bench)
        point = {"records": total, "records_per_s": rate, "seconds": seconds}
        point |= {"rss_mib": rss_mib(bench.gateway_pid), "outbox_mib": outbox, "store_mib": store}
        point["ipfs_rss_mib"] = rss_mib(bench.ipfs_pid)
        point["gateway_anon_mib"] = rss_mib(bench.gateway_pid, "RssAnon")
        point["ipfs_anon_mib"] = rss_mib(bench.ipfs_pid, "RssAnon")
        # the sealing workers (and multiprocessing's resource tracker), each a process of its own
        point["workers_rss_mib"] = sum(rss_mib(c) for c in children(bench.gateway_pid))
        # CPU a record: the gateway with its workers, its IPFS node, the clients (this process)
        point |= {"gateway_cpu_us": gateway_us, "ipfs_cpu_us": ipfs_us, "client_cpu_us": client_us}
        point["gateway_own_cpu_us"] = own_us
        points.append(point)
        print(json.dumps(point), flush=True)
    return points


def plot(points: list[dict[str, float]], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [p["records"] for p in points]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, key, label in (
        (axes[0], "records_per_s", "records/s (batched, end to end)"),
        (axes[1], "rss_mib", "gateway RSS (MiB)"),
        (axes[2], "store_mib", "content store + outbox (MiB)"),
    ):
        ys = [p[key] + (p["outbox_mib"] if key == "store_mib" else 0) for p in points]
        ax.plot(xs, ys, marker="o")
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("records written")
        ax.set_title(label)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="growth curve and BENCHMARKS.md")
    parser.add_argument("--records", type=int, default=None, help="records on the batched path")
    parser.add_argument("--baseline", type=int, default=None, help="records on the baseline")
    parser.add_argument("--growth-max", type=int, default=1_000_000)
    parser.add_argument(
        "--marks",
        type=lambda text: [int(m) for m in text.split(",")],
        default=[1_000, 10_000, 100_000],
        help="records written at which growth is measured, comma-separated (and at --records)",
    )
    parser.add_argument(
        "--interval", type=float, default=BATCH_INTERVAL_S, help="MEDLEDGER_RECORD_BATCH_INTERVAL_S"
    )
    args = parser.parse_args()
    records = args.records or (100_000 if args.full else 30_000)
    base_n = args.baseline or (1_000 if args.full else 400)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        bench = start(Path(tmp), args.interval, stack)
        base_rate = baseline(bench, base_n)
        print(f"baseline: {base_n} records, {base_rate:.1f} records/s", flush=True)
        marks = sorted({m for m in args.marks if m < records} | {records})
        points = growth(bench, marks)
        elapsed = points[-1]["seconds"]
        rate = records / elapsed
        print(f"batched: {records} records in {elapsed:.1f}s, {rate:.0f} records/s", flush=True)
        p50, p99 = latencies(bench, until_seq=records)
        gas_batched, gas_single, batches = gas(bench)
        verified = verifications(bench, min(records, 20_000))
        summary = {
            "records": records,
            "baseline_records": base_n,
            "interval_s": args.interval,
            "records_per_s": rate,
            "baseline_records_per_s": base_rate,
            "ratio": rate / base_rate,
            "p50_s": p50,
            "p99_s": p99,
            "gas_per_record": gas_batched,
            "baseline_gas_per_record": gas_single,
            "batches": batches,
            "verifications_per_s": verified,
            "gateway_rss_mib": points[-1]["rss_mib"],
            "ipfs_rss_mib": points[-1]["ipfs_rss_mib"],
            # over the last stretch: the steady state, workers started
            "gateway_cpu_us_per_record": points[-1]["gateway_cpu_us"],
            "gateway_own_cpu_us_per_record": points[-1]["gateway_own_cpu_us"],
            "ipfs_cpu_us_per_record": points[-1]["ipfs_cpu_us"],
            "client_cpu_us_per_record": points[-1]["client_cpu_us"],
            "load_before": load_before,
            "load_after": os.getloadavg(),
        }
        print(json.dumps(summary), flush=True)
        further = [
            m for m in (300_000, 1_000_000, args.growth_max) if records < m <= args.growth_max
        ]
        if args.full:
            write_report(summary, points)
            # The report is rewritten after each further stretch: a run stopped early keeps
            # what it measured.
            for mark in sorted(set(further)):
                points += growth(bench, [mark], points[-1]["records"], points[-1]["seconds"])
                summary["load_after"] = os.getloadavg()
                write_report(summary, points)
    cpu_us = sum(points[-1][k] for k in ("gateway_cpu_us", "ipfs_cpu_us", "client_cpu_us"))
    print(
        f"records_per_s={rate:.0f} baseline_records_per_s={base_rate:.1f} "
        f"ratio={rate / base_rate:.1f} gas_per_record={gas_batched:.1f} "
        f"verifications_per_s={verified:.0f} p99_s={p99:.2f} "
        f"cpu_us_per_record={cpu_us:.0f}"
    )


def write_report(s: dict[str, Any], points: list[dict[str, float]]) -> None:
    plot(points, ROOT / "bench" / "growth.png")
    interval = s["interval_s"]
    bound = interval + 2 * BLOCK_S
    rows = [
        ("records/s end to end (batched)", f"{s['records_per_s']:.0f}", ">= 5,000"),
        ("records/s, per-record baseline", f"{s['baseline_records_per_s']:.1f}", ""),
        ("ratio", f"{s['ratio']:.1f}x", ">= 100x"),
        (
            "accept-to-anchored p50 / p99",
            f"{s['p50_s']:.2f} s / {s['p99_s']:.2f} s",
            f"p99 <= {bound:.0f} s (interval {interval:.0f} s + 2 blocks of {BLOCK_S:.0f} s)",
        ),
        ("gas per record, batched", f"{s['gas_per_record']:.1f}", "<= 100"),
        ("gas per record, baseline", f"{s['baseline_gas_per_record']:.0f}", ""),
        ("proof verifications/s (one process)", f"{s['verifications_per_s']:.0f}", ">= 20,000"),
        ("gateway RSS after the batched run", f"{s['gateway_rss_mib']:.0f} MiB", "flat"),
        ("IPFS node RSS after the batched run", f"{s['ipfs_rss_mib']:.0f} MiB", ""),
        (
            "CPU a record: gateway + workers / IPFS node / clients",
            f"{s['gateway_cpu_us_per_record']:.0f} / {s['ipfs_cpu_us_per_record']:.0f} / "
            f"{s['client_cpu_us_per_record']:.0f} µs",
            "<= 400 µs in all (2 cores at 5,000/s)",
        ),
    ]
    table = "\n".join(f"| {a} | {b} | {c} |" for a, b, c in rows)
    growth_rows = "\n".join(
        f"| {p['records']:,.0f} | {p['seconds']:.0f} | {p['records_per_s']:.0f} | "
        f"{p['rss_mib']:.0f} | {p['outbox_mib']:.0f} | {p['store_mib']:.0f} |"
        for p in points
    )
    load = f"before {_load(s['load_before'])}, after {_load(s['load_after'])}"
    text = HEADER.format(
        baseline_clients=BASELINE_CLIENTS,
        per_request=PER_REQUEST,
        bulk_clients=BULK_CLIENTS,
        batch_max=BATCH_MAX,
        interval=interval,
        records=s["records"],
        baseline_records=s["baseline_records"],
        load=load,
    )
    text += f"| measure | measured | target |\n| --- | --- | --- |\n{table}\n"
    text += (
        "\n## Growth\n\nEach row: the stretch written since the row before, all of it anchored.\n\n"
    )
    text += "| records | seconds so far | records/s | gateway RSS MiB | outbox MiB | store MiB |\n"
    text += f"| --- | --- | --- | --- | --- | --- |\n{growth_rows}\n\n![growth](bench/growth.png)\n"
    text += NOTES
    (ROOT / "BENCHMARKS.md").write_text(text)


HEADER = """# Benchmarks

`make bench` (`bench/anchor_scale.py --full`): one anvil, the demo consortium, hospital-a's
gateway as its own uvicorn process. In the same run: the baseline (`POST /v1/records`, one
transaction a record, {baseline_clients} clients) and the batched path (`POST /v1/records:bulk`,
{per_request} records a request, {bulk_clients} clients, batches of up to {batch_max:,} every
{interval:.0f} s), timed from the first request to the last record anchored.
{records:,} batched records, {baseline_records:,} baseline records. Load average (1/5/15 min,
2 cores shared with other work while measuring): {load}.

"""

NOTES = (ROOT / "bench" / "NOTES.md").read_text() if (ROOT / "bench" / "NOTES.md").exists() else ""


def _load(values: tuple[float, float, float]) -> str:
    return " / ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    # A terminated run still stops its gateway and chain (the finally in main).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
