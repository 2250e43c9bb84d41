"""Records per second one client anchors through a hospital gateway, end to end.

The stack is what `make run` starts (anvil, gateways as processes) on a scratch data directory;
each record is validated, encrypted, stored and anchored in its own transaction before the next is
sent. Usage: python bench/anchor_one_client.py [N]
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from ledger.consent.patients import sign_enrolment
from ledger.crypto.keys import PatientKeys
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.stack import running_stack
from ledger.settings import Settings

OBSERVATION = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
    "valueQuantity": {"value": 0, "unit": "mmHg"},
}


def main(n: int) -> None:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            Settings(
                data_dir=Path(tmp),
                api_port=18700,
                anvil_port=18745,
                ipfs_api_port=18710,  # each organisation's IPFS node: one port more each
                ipfs_swarm_port=18730,
            )
        ) as stack,
    ):
        assert stack.consortium is not None
        hospital = stack.consortium.orgs["hospital-a"]
        url = stack.gateways["hospital-a"]
        domain = fetch_domain(url)
        doctor = stack.consortium.account(hospital.staff["doctor"].key_file)
        keys = PatientKeys(secrets.token_bytes(32))
        pseudonym = keys.pseudonym(hospital.address)
        identity = keys.public_identity(hospital.address)
        enc = bytes.fromhex(identity["encryption_key"][2:])
        with GatewayClient(url, doctor, domain, timeout=30) as client:
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
            params = {"patient": pseudonym.address}
            started = time.perf_counter()
            for i in range(n):
                body = dict(OBSERVATION, valueQuantity={"value": 100 + i % 80, "unit": "mmHg"})
                client.post_json("/v1/records", content=json.dumps(body).encode(), params=params)
            elapsed = time.perf_counter() - started
    print(f"records={n} seconds={elapsed:.2f} records_per_s={n / elapsed:.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
