"""Claims an insurer verifies per second through its gateway, against records anchored per second
through hospital A's gateway in the same run (the baseline: one seal, store and anchor).

The stack is what `make run` starts (anvil, gateways as processes) on a scratch data directory. One
patient, enrolled at hospital A, grants the insurer claim verification. Hospital A anchors N visit
records (timed: the baseline) and records their payment, 32 services a payment (not timed). Its
clerk submits one claim per visit to the insurer (timed), and the insurer's clerk has each one
verified and decided (timed): the chain reads, the payment's commitment, the coverage rules, the
ClaimResponse sealed, stored and anchored with its draw on the capacity.
Usage: python bench/claims.py [N]
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.claiming.authorisation import authorise_for
from ledger.consent.grants import Purpose, Scope, ScopeKind
from ledger.consent.patients import sign_enrolment
from ledger.consent.wallet import PatientWallet, days_from_now
from ledger.crypto.keys import PatientKeys
from ledger.demo.claims import CURRENCY, FOLLOW_UP, claim_body, payment_reconciliation
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.stack import running_stack
from ledger.settings import Settings

PER_PAYMENT = 32  # the contract's most services per payment
FEE = 3000  # 30.00 CNY, within the example rules' follow-up cap
VISIT = {
    "resourceType": "Condition",
    "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I10"}]},
    "subject": {"reference": "Patient/p1"},
}


def main(n: int) -> None:
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
        consortium = stack.consortium
        assert consortium is not None
        hospital = consortium.orgs["hospital-a"].address
        url, insurer_url = stack.gateways["hospital-a"], stack.gateways["insurer"]

        def account(org: str, label: str) -> LocalAccount:
            return consortium.account(consortium.orgs[org].staff[label].key_file)

        with (
            GatewayClient(url, account("hospital-a", "clerk"), fetch_domain(url)) as clerk,
            GatewayClient(
                insurer_url, account("hospital-a", "clerk"), fetch_domain(insurer_url), timeout=60
            ) as claimant,
            GatewayClient(
                insurer_url, account("insurer", "adjuster"), fetch_domain(insurer_url), timeout=60
            ) as adjuster,
        ):
            keys = PatientKeys(secrets.token_bytes(32))
            patient = _enrol(clerk, keys, hospital)
            with PatientWallet(keys, url) as wallet:
                wallet.grant(
                    consortium.orgs["insurer"].address,
                    Scope.category(ScopeKind.CLAIMS, hospital),
                    Purpose.CLAIM_VERIFICATION,
                    expires_at=days_from_now(1),
                )
            record = json.dumps(VISIT).encode()
            started = time.perf_counter()
            visits = [
                "urn:medledger:record:"
                + clerk.post_json("/v1/records", content=record, params={"patient": patient})[
                    "record_id"
                ]
                + ":1"
                for _ in range(n)
            ]
            anchoring = time.perf_counter() - started
            bodies = []
            for start in range(0, n, PER_PAYMENT):
                chunk = visits[start : start + PER_PAYMENT]
                paid = clerk.post_json(
                    "/v1/payments",
                    content=json.dumps(payment_reconciliation([(v, FEE) for v in chunk])).encode(),
                    params={"patient": patient, "method": "national_insurance"},
                )
                shown = clerk.get_json(f"/v1/payments/{paid['payment_id']}")
                bodies += [
                    claim_body(
                        [(v, FOLLOW_UP, FEE)], provider=hospital, patient=patient, payment=shown
                    )
                    for v in chunk
                ]
            # The claimant's signing is its own client's work, outside the gateway's figure.
            signed = [authorise_for(claimant, b, currency=CURRENCY) for b in bodies]
            started = time.perf_counter()
            claim_ids = [claimant.post_json("/v1/claims", b)["claim_id"] for b in signed]
            submitting = time.perf_counter() - started
            started = time.perf_counter()
            outcomes = [adjuster.post_json(f"/v1/claims/{c}/decision", {}) for c in claim_ids]
            verifying = time.perf_counter() - started
    assert all(o["status"] == "approved" for o in outcomes), {o["status"] for o in outcomes}
    anchored, verified = n / anchoring, n / verifying
    print(
        f"records_anchored_per_s={anchored:.1f} claims_submitted_per_s={n / submitting:.1f} "
        f"claims_verified_per_s={verified:.1f} verified_vs_anchored={verified / anchored:.2f}x"
    )


def _enrol(clerk: GatewayClient, keys: PatientKeys, hospital: str) -> str:
    pseudonym = keys.pseudonym(hospital)
    identity = keys.public_identity(hospital)
    enc = bytes.fromhex(identity["encryption_key"][2:])
    clerk.post_json(
        "/v1/patients",
        {
            "pseudonym": pseudonym.address,
            "encryption_key": identity["encryption_key"],
            "signature": sign_enrolment(pseudonym, clerk.domain.as_eip712(), hospital, enc),
        },
    )
    return str(pseudonym.address)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
