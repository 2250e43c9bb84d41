"""Access decisions a gateway records and anchors per second, and the gas each logged access costs.

Two measurements on a real anvil: (1) the access log alone: entries recorded per second and the rate
at which they are sealed and anchored in batches of `batch` entries; (2) end to end: signed record
reads through a gateway (each read is one decision, logged by the middleware). Usage:
python bench/access_log.py [entries] [batch]
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from api.gateway import build_gateway
from ledger.audit.access_log import AccessEntry
from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.stack import running_stack
from ledger.settings import Settings


def main(entries: int, batch: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Settings(
                data_dir=Path(tmp),
                api_port=18900,
                anvil_port=18945,
                ipfs_api_port=18910,  # each organisation's IPFS node: one port more each
                ipfs_swarm_port=18930,
            )
        ) as stack,
    ):
        assert stack.consortium is not None
        hospital = stack.consortium.orgs["hospital-a"]
        # The pharmacy's own gateway runs too, with a sealer of its own: this one gets a data
        # directory of its own (the deployment record copied in), so it seals its log alone.
        alone = Path(tmp) / "bench-gateway"
        shutil.copytree(Path(tmp) / "deployments", alone / "deployments")
        gateway = build_gateway(
            Settings(
                data_dir=alone,
                rpc_url=stack.rpc_url,
                org_key_file=Path(stack.consortium.orgs["pharmacy"].key_file),
                access_log_batch_max=batch,
            )
        )
        actor = "0x" + "ab" * 20
        started = time.perf_counter()
        for i in range(entries):
            gateway.access_log.record(
                AccessEntry(
                    i,
                    actor,
                    None,
                    "GET /v1/records/{record_id}",
                    "0x" + "00" * 32,
                    1,
                    "full",
                    None,
                    None,
                    None,
                    "allowed",
                )
            )
        recorded_s = time.perf_counter() - started
        gas, started = 0, time.perf_counter()
        while (sealed := gateway.seal_access_log()) is not None:
            assert sealed.transaction is not None
            gas += gateway.chain.w3.eth.get_transaction_receipt(sealed.transaction)["gasUsed"]
        anchored_s = time.perf_counter() - started
        gateway.close()

        url = stack.gateways["hospital-a"]
        domain = fetch_domain(url)
        doctor = stack.consortium.account(hospital.staff["doctor"].key_file)
        keys = PatientKeys(secrets.token_bytes(32))
        pseudonym = keys.pseudonym(hospital.address)
        enc = keys.public_identity(hospital.address)["encryption_key"]
        with GatewayClient(url, doctor, domain, timeout=30) as client:
            client.post_json(
                "/v1/patients",
                {
                    "pseudonym": pseudonym.address,
                    "encryption_key": enc,
                    "signature": sign_enrolment(
                        pseudonym, domain.as_eip712(), hospital.address, bytes.fromhex(enc[2:])
                    ),
                },
            )
            body = b'{"resourceType":"Observation","status":"final","code":{"text":"bp"}}'
            rid = client.post_json(
                "/v1/records", content=body, params={"patient": pseudonym.address}
            )["record_id"]
            reads = 300
            started = time.perf_counter()
            for _ in range(reads):
                client.get_json(f"/v1/records/{rid}/verification")
            api_s = time.perf_counter() - started
    print(
        f"recorded_per_s={entries / recorded_s:.0f} anchored_per_s={entries / anchored_s:.0f} "
        f"gas_per_access={gas / entries:.1f} batch={batch} "
        f"api_decisions_per_s={reads / api_s:.1f}"
    )


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*(args + [20_000, 1000][len(args) :]))
