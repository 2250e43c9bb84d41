"""Where the gateway's and its IPFS node's memory goes over a bulk run (issue 17).

bench/anchor_scale.py's stack (anvil, hospital-a's IPFS node and gateway as `make run` starts
them) and its batched path, written up to each mark; at each mark, beside each process's RSS: the
gateway's glibc heap (in use, and free but kept) and its Python heap (tracemalloc, with
``--tracemalloc``: its snapshots are left in ``--out`` for ``tracemalloc.Snapshot.compare_to``),
and the node's V8 heap after a full GC. The probes (bench/memprobe/) run inside the two processes
and only under this script. One JSON line a mark.

Usage: python bench/memory_probe.py [--marks 1000,10000,30000] [--out DIR] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anchor_scale

PROBES = Path(__file__).resolve().parent / "memprobe"


def ask(folder: Path, label: str, timeout_s: float = 300.0) -> tuple[dict[str, Any], ...]:
    """Both probes' answers for ``label``."""
    names = [f"gateway-{label}", f"node-{label}"]
    for name in names:
        (folder / f"{name}.want").write_text("")
    deadline = time.monotonic() + timeout_s
    while not all((folder / f"{name}.json").exists() for name in names):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no memory probe answered {label} in {timeout_s:.0f} s")
        time.sleep(0.2)
    time.sleep(0.2)  # written, not necessarily closed
    return tuple(json.loads((folder / f"{name}.json").read_text()) for name in names)


def main(marks: list[int], out: Path, trace: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # Inherited by the gateway and the node (ledger.network.org spawns them with this environment).
    os.environ["MEDLEDGER_MEMPROBE_DIR"] = str(out)
    os.environ["MEDLEDGER_MEMPROBE_TRACE"] = "1" if trace else "0"
    os.environ["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(PROBES), os.environ.get("PYTHONPATH")])
    )
    node_options = f"--expose-gc --import {(PROBES / 'node_memory.mjs').as_uri()}"
    os.environ["NODE_OPTIONS"] = " ".join(
        filter(None, [os.environ.get("NODE_OPTIONS"), node_options])
    )
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        bench = anchor_scale.start(Path(tmp), anchor_scale.BATCH_INTERVAL_S, stack)
        total, seconds = 0, 0.0
        for mark in [0, *marks]:
            if mark:
                (point,) = anchor_scale.growth(bench, [mark], total, seconds)
                total, seconds = mark, point["seconds"]
            gateway, node = ask(out, f"{mark}")
            mib = 2**20
            print(
                json.dumps(
                    {
                        "records": mark,
                        "gateway_rss_mib": anchor_scale.rss_mib(bench.gateway_pid),
                        "gateway_anon_mib": anchor_scale.rss_mib(bench.gateway_pid, "RssAnon"),
                        "malloc_in_use_mib": gateway["malloc_mib"]["uordblks"],
                        "malloc_free_kept_mib": gateway["malloc_mib"]["fordblks"],
                        "python_traced_mib": gateway["traced_mib"][0],
                        "ipfs_rss_mib": anchor_scale.rss_mib(bench.ipfs_pid),
                        "ipfs_anon_mib": anchor_scale.rss_mib(bench.ipfs_pid, "RssAnon"),
                        "ipfs_rss_before_gc_mib": node["before"]["rss"] / mib,
                        "ipfs_heap_used_mib": node["after"]["heapUsed"] / mib,
                        "ipfs_heap_total_mib": node["after"]["heapTotal"] / mib,
                        "ipfs_external_mib": node["after"]["external"] / mib,
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--marks",
        type=lambda text: [int(m) for m in text.split(",")],
        default=[1_000, 10_000, 30_000],
    )
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "memprobe")
    parser.add_argument("--tracemalloc", action="store_true", help="the gateway's Python heap too")
    args = parser.parse_args()
    main(args.marks, args.out, args.tracemalloc)
