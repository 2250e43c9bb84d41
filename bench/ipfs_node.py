"""The organisation's IPFS node (scripts/ipfs_node.mjs): idle RSS, and add and cat times for a
2 KiB, 1 MiB and 50 MiB envelope on the writer's node and from a peer's, through KuboStore.

Two nodes on loopback in a scratch directory, peered under a fresh swarm key. Each size is added
on A (timed, CID checked), read back on A (timed), then read on B, which fetches it from A by
bitswap (timed, CID checked), each a fresh random payload so nothing is cached.
Usage: python bench/ipfs_node.py [REPEATS]
"""

from __future__ import annotations

import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from ledger.store import IpfsNode, swarm_key_new

SIZES = {"2 KiB": 2 << 10, "1 MiB": 1 << 20, "50 MiB": 50 << 20}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def node(root: Path, name: str, key: Path, peers: list[str]) -> IpfsNode:
    return IpfsNode(
        repo_dir=root / name,
        swarm_key=key,
        api_port=free_port(),
        swarm_port=free_port(),
        peers=peers,
        fetch_timeout_s=30.0,
        redial_interval_s=0.5,
    ).start()


def main(repeats: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ipfs-bench-") as scratch:
        root = Path(scratch)
        key = swarm_key_new(root / "swarm.key")
        a = node(root, "a", key, [])
        b = node(root, "b", key, [a.address])
        a.set_peers([b.address])
        try:
            time.sleep(3.0)  # connected, identified, settled
            assert a.pid is not None
            assert b.pid is not None
            print(f"idle RSS: A {rss_mib(a.pid):.0f} MiB, B {rss_mib(b.pid):.0f} MiB")
            with a.store(timeout=120.0) as store_a, b.store(timeout=120.0) as store_b:
                for label, size in SIZES.items():
                    times: dict[str, list[float]] = {"add": [], "cat": [], "peer cat": []}
                    for _ in range(repeats):
                        data = os.urandom(size)
                        started = time.perf_counter()
                        cid = store_a.put(data)
                        times["add"].append(time.perf_counter() - started)
                        started = time.perf_counter()
                        assert store_a.get(cid) == data
                        times["cat"].append(time.perf_counter() - started)
                        started = time.perf_counter()
                        assert store_b.get(cid) == data
                        times["peer cat"].append(time.perf_counter() - started)
                    shown = ", ".join(
                        f"{what} {statistics.median(t) * 1000:.0f} ms" for what, t in times.items()
                    )
                    print(f"{label}: {shown} (median of {repeats})")
            print(f"RSS after: A {rss_mib(a.pid):.0f} MiB, B {rss_mib(b.pid):.0f} MiB")
        finally:
            a.stop()
            b.stop()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
