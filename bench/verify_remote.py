"""Verifications per second on a gateway that did not write, against the writer's own gateway in
the same run (the baseline).

The stack is what `make run` starts with MEDLEDGER_IPFS_NODES (anvil, one IPFS node per
organisation, each gateway a process whose store is its own node) on a scratch data directory.
Hospital A anchors N records one by one (not timed). The insurer's auditor then asks for
`GET /v1/records/{id}/verification` of each, from C clients at once: on hospital A's gateway
(every envelope on its own node: the baseline), on the insurer's gateway a first time (each
envelope fetched from A's node by bitswap: cold), and a second time (now in the insurer's node's
blockstore: warm), then on A's again: the baseline is the mean of A's two, which bracket the
non-writer's. Every answer must be intact.
Usage: python bench/verify_remote.py [N] [CLIENTS]
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from claims import _enrol  # bench/ is the script's directory: one enrolment helper for both
from eth_account.signers.local import LocalAccount

from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.stack import running_stack
from ledger.settings import Settings

RECORD = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "valueQuantity": {"value": 72, "unit": "beats/minute"},
}
# Ports from this worktree's base, clear of `make run`'s defaults.
PORTS = {"api_port": 20000, "anvil_port": 20545, "ipfs_api_port": 20501, "ipfs_swarm_port": 20401}


def main(n: int, clients: int) -> None:
    with (
        tempfile.TemporaryDirectory(prefix="verify-bench-") as tmp,
        running_stack(Settings(data_dir=Path(tmp), ipfs_nodes=True, **PORTS)) as stack,
    ):
        consortium = stack.consortium
        assert consortium is not None
        hospital = consortium.orgs["hospital-a"].address
        writer, reader = stack.gateways["hospital-a"], stack.gateways["insurer"]

        def account(org: str, label: str) -> LocalAccount:
            return consortium.account(consortium.orgs[org].staff[label].key_file)

        with GatewayClient(writer, account("hospital-a", "clerk"), fetch_domain(writer)) as clerk:
            patient = _enrol(clerk, PatientKeys(secrets.token_bytes(32)), hospital)
            body = json.dumps(RECORD).encode()
            rids = [
                clerk.post_json("/v1/records", content=body, params={"patient": patient})[
                    "record_id"
                ]
                for _ in range(n)
            ]
        auditor = account("insurer", "auditor")
        rates = {
            "writer's gateway (baseline)": _rate(writer, auditor, rids, clients),
            "non-writer, cold (fetched from A's node)": _rate(reader, auditor, rids, clients),
            "non-writer, warm (in its own node)": _rate(reader, auditor, rids, clients),
            "writer's gateway again": _rate(writer, auditor, rids, clients),
        }
    for what, rate in rates.items():
        print(f"{what}: {rate:.1f} verifications/s")
    first, cold, warm, again = rates.values()
    # The load on a shared machine drifts: the writer's two runs bracket the non-writer's.
    base = (first + again) / 2
    print(
        f"verifications_per_s_writer={base:.1f} non_writer_cold={cold:.1f} "
        f"non_writer_warm={warm:.1f} cold_vs_writer={cold / base:.2f}x "
        f"warm_vs_writer={warm / base:.2f}x (N={n}, clients={clients})"
    )


def _rate(url: str, signer: LocalAccount, rids: list[str], clients: int) -> float:
    """Verifications per second of every record in ``rids`` on ``url``, ``clients`` at once."""
    domain = fetch_domain(url)

    def verify(chunk: list[str]) -> None:
        with GatewayClient(url, signer, domain, timeout=60) as client:
            for rid in chunk:
                checked = client.get_json(f"/v1/records/{rid}/verification")
                assert checked["intact"], checked

    chunks = [rids[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(verify, chunks))
    return len(rids) / (time.perf_counter() - started)


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 200,
        int(sys.argv[2]) if len(sys.argv) > 2 else 4,
    )
