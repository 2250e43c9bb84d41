"""Kill and restart the signers of a local Clique network, one after another, and report stalls.

    .venv/bin/python scripts/clique_stress.py /tmp/clique-stress --cycles 40

Three signers seal 1-second blocks on loopback (ledger.network.local). Each cycle kills one signer,
waits for the two left to seal four blocks (a stall if they have not within --stall-s), restarts it
and waits for all three to agree again. Exits 1 at the first stall, printing each node's head; the
nodes' logs are under ROOT/node-N/node.log. Run it beside a CPU load (e.g. two `yes > /dev/null`)
to see what a loaded CI machine sees: the sealing races that scripts/clique_node.mjs fixes 10 and 11
are about show up under load.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import time
from pathlib import Path

from ledger.errors import ChainUnavailable
from ledger.network.local import LocalNetwork, NetworkPorts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="a directory for the network (emptied first)")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--stall-s", type=float, default=40.0)
    parser.add_argument("--p2p-base", type=int, default=41_403)
    parser.add_argument("--rpc-base", type=int, default=41_645)
    args = parser.parse_args()
    shutil.rmtree(args.root, ignore_errors=True)
    ports = NetworkPorts(p2p_base=args.p2p_base, rpc_base=args.rpc_base)
    with LocalNetwork(args.root, period_s=1, ports=ports) as net:
        net.wait_blocks(3, timeout_s=120)
        for cycle in range(args.cycles):
            victim = net.nodes[cycle % len(net.nodes)]
            survivors = [n for n in net.nodes if n is not victim]
            victim.kill()
            head = max(n.block_number() for n in survivors)
            started = time.monotonic()
            sealed = False
            while not sealed and time.monotonic() - started < args.stall_s:
                with contextlib.suppress(ChainUnavailable):
                    sealed = min(n.block_number() for n in survivors) >= head + 4
                time.sleep(0.25)
            took = time.monotonic() - started
            print(f"cycle {cycle}: {victim.name} down, 4 blocks in {took:.1f}s", flush=True)
            if not sealed:
                print(f"STALL: {net.heads(survivors)}", flush=True)
                return 1
            net.start_node(victim)
            net.wait_peered(timeout_s=60)
            net.wait_blocks(2, timeout_s=120)
    print(f"no stall in {args.cycles} cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
