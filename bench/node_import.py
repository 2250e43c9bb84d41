"""The organisation's IPFS node under the bulk path's load alone: batches of envelope-sized blobs
sent as the gateway sends them (KuboStore.put_many: one CAR ``dag/import`` a batch, every root
pinned), and the node's CPU a record and wall time a record measured from /proc.

With ``--cpu-prof DIR`` the node runs under ``node --cpu-prof`` and writes its V8 profile into DIR
when it stops (open it in Chrome's DevTools, or summarise it with ``--top``).
Usage: python bench/node_import.py [--records 30000] [--batch 3000] [--size 1200] [--cpu-prof DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import tempfile
import time
from collections import Counter
from pathlib import Path

from ledger.store import IpfsNode, swarm_key_new

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def top_of_profile(folder: Path, n: int = 25) -> list[tuple[str, float]]:
    """(function and place, self-time share) of the largest ``n`` in the newest .cpuprofile."""
    newest = max(folder.glob("*.cpuprofile"), key=lambda p: p.stat().st_mtime)
    profile = json.loads(newest.read_text())
    nodes = {node["id"]: node for node in profile["nodes"]}
    ticks: Counter[str] = Counter()
    for sample in profile["samples"]:
        frame = nodes[sample]["callFrame"]
        place = frame["url"].rsplit("node_modules/", 1)[-1].rsplit("/", 1)[-1]
        ticks[f"{frame['functionName'] or '(anonymous)'} {place}:{frame['lineNumber'] + 1}"] += 1
    total = sum(ticks.values())
    return [(name, count / total) for name, count in ticks.most_common(n)]


def main(records: int, batch: int, size: int, profile_dir: Path | None) -> None:
    prefix: list[str] = []
    if profile_dir is not None:  # node refuses --cpu-prof in NODE_OPTIONS: a shell puts it first
        profile_dir.mkdir(parents=True, exist_ok=True)
        flags = f"--cpu-prof --cpu-prof-dir={profile_dir.resolve()}"
        prefix = ["sh", "-c", f'exec "$0" {flags} "$@"']
    with tempfile.TemporaryDirectory(prefix="node-import-") as scratch:
        root = Path(scratch)
        node = IpfsNode(
            repo_dir=root / "repo",
            swarm_key=swarm_key_new(root / "swarm.key"),
            api_port=free_port(),
            swarm_port=free_port(),
            peers=[],
            prefix=prefix,
        ).start()
        try:
            assert node.pid is not None
            with node.store(timeout=600.0) as store:
                sent, cpu0, wall0 = 0, cpu_s(node.pid), time.perf_counter()
                while sent < records:
                    n = min(batch, records - sent)
                    blobs = [os.urandom(size) for _ in range(n)]
                    assert len(store.put_many(blobs)) == n
                    sent += n
                cpu, wall = cpu_s(node.pid) - cpu0, time.perf_counter() - wall0
            print(
                f"records={records} batch={batch} size={size} node_cpu_us_per_record="
                f"{cpu / records * 1e6:.0f} wall_us_per_record={wall / records * 1e6:.0f} "
                f"records_per_s={records / wall:.0f}"
            )
        finally:
            node.stop()
    if profile_dir is not None:
        for name, share in top_of_profile(profile_dir):
            print(f"{share * 100:5.1f}%  {name}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=30_000)
    parser.add_argument("--batch", type=int, default=3_000)
    parser.add_argument("--size", type=int, default=1_200, help="bytes an envelope")
    parser.add_argument("--cpu-prof", type=Path, default=None, dest="profile_dir")
    args = parser.parse_args()
    main(args.records, args.batch, args.size, args.profile_dir)
