"""`medledger demo`, steps 21-27: payments and insurance claims.

Hospital A records what the patient paid for the dispensed prescription and for the follow-up
visit; the patient grants both insurers claim verification of their claims at hospital A; the
national insurer approves the prescription's claim and settles it, its whole history one query;
the same service claimed at the commercial insurer is caught on chain as a duplicate; a claim for
more than was paid is denied for that reason; after the patient revokes the commercial insurer's
grant, a claim there is refused; the regulator sees figures per institution, never content.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ledger.claiming import SERVICE_EXTENSION, ServiceRef, from_minor
from ledger.claiming.authorisation import authorise_for
from ledger.claiming.fhir import claim_header
from ledger.consent.grants import Purpose, Scope, ScopeKind
from ledger.consent.wallet import PatientWallet, days_from_now
from ledger.crypto.keys import PatientKeys
from ledger.demo.prescriptions import refusal
from ledger.errors import ConfigError
from ledger.gateway.client import GatewayClient, fetch_domain
from ledger.network.consortium import Consortium

#: The product codes the bundled example coverage rules name.
SERVICE_SYSTEM = "urn:medledger:service"
MEDICATION, FOLLOW_UP = "medication", "follow-up-consultation"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
CURRENCY = "CNY"


def payment_reconciliation(details: list[tuple[str, int]]) -> dict[str, Any]:
    """A FHIR PaymentReconciliation paying each (service reference, amount in fen)."""
    now = datetime.now(UTC)
    return {
        "resourceType": "PaymentReconciliation",
        "status": "active",
        "created": now.replace(microsecond=0).isoformat(),
        "paymentDate": now.date().isoformat(),
        "paymentAmount": from_minor(sum(amount for _, amount in details), CURRENCY),
        "detail": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/payment-type",
                            "code": "payment",
                        }
                    ]
                },
                "request": {"reference": reference},
                "amount": from_minor(amount, CURRENCY),
            }
            for reference, amount in details
        ],
    }


def claim(
    items: list[tuple[str, str, int]], *, provider: str, patient: str, diagnosis: str = "I10"
) -> dict[str, Any]:
    """A FHIR Claim with one item per (service reference, product code, amount in fen)."""
    return {
        "resourceType": "Claim",
        "status": "active",
        **claim_header(patient),
        "created": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "provider": {"identifier": {"system": "urn:medledger:organisation", "value": provider}},
        "priority": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/processpriority",
                    "code": "normal",
                }
            ]
        },
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "medical insurance"}}],
        "diagnosis": [
            {
                "sequence": 1,
                "diagnosisCodeableConcept": {"coding": [{"system": ICD10, "code": diagnosis}]},
            }
        ],
        "item": [
            {
                "sequence": n,
                "extension": [{"url": SERVICE_EXTENSION, "valueReference": {"reference": ref}}],
                "productOrService": {"coding": [{"system": SERVICE_SYSTEM, "code": product}]},
                "net": from_minor(amount, CURRENCY),
            }
            for n, (ref, product, amount) in enumerate(items, start=1)
        ],
        "total": from_minor(sum(amount for *_, amount in items), CURRENCY),
    }


def claim_body(
    items: list[tuple[str, str, int]], *, provider: str, patient: str, payment: dict[str, Any]
) -> dict[str, Any]:
    """The body of ``POST /v1/claims``: the Claim and the payment document it relies on."""
    return {
        "provider": provider,
        "patient": patient,
        "claim": claim(items, provider=provider, patient=patient),
        "payment": {
            "payment_id": payment["payment_id"],
            "salt": payment["salt"],
            "resource": payment["resource"],
        },
    }


def claim_steps(
    consortium: Consortium,
    patient: PatientKeys,
    record_id: str,
    prescription_id: str,
    step: Callable[..., None],
    check: Callable[[bool, str], None],
) -> None:
    """Steps 21-27 (see the module docstring); ``step`` prints, ``check`` raises DemoFailed."""
    orgs = consortium.orgs
    hospital, national, commercial = orgs["hospital-a"], orgs["insurer"], orgs["insurer-b"]
    urls = hospital.gateway_url, national.gateway_url, commercial.gateway_url
    if None in urls:
        raise ConfigError("the demo consortium runs no gateway for a hospital or an insurer")
    hospital_url, national_url, commercial_url = (str(url) for url in urls)
    pseudonym = patient.pseudonym(hospital.address).address

    def as_staff(org: str, label: str, url: str) -> GatewayClient:
        account = consortium.account(orgs[org].staff[label].key_file)
        return GatewayClient(url, account, fetch_domain(url), timeout=30)

    medication = ServiceRef.parse(f"MedicationRequest/{prescription_id}").reference
    visit = f"urn:medledger:record:{record_id}:1"
    details = [(medication, 12000), (visit, 3000)]
    with as_staff("hospital-a", "clerk", hospital_url) as clerk:
        paid = clerk.post_json(
            "/v1/payments",
            content=json.dumps(payment_reconciliation(details)).encode(),
            params={"patient": pseudonym, "method": "self_pay"},
        )
        payment = clerk.get_json(f"/v1/payments/{paid['payment_id']}")
    step(
        21,
        "hospital A records the patient's payment: the prescription 120.00, the visit 30.00",
        payment=paid["payment_id"],
        claim_keys=", ".join(k[:18] + "..." for k in paid["service_keys"]),
        on_chain="a capacity per service under an unlinkable key; the payment itself sealed",
        transaction=paid["transaction"],
    )

    scope = Scope.category(ScopeKind.CLAIMS, hospital.address)
    with PatientWallet(patient, hospital_url) as wallet:
        grants = {
            name: wallet.grant(
                orgs[name].address, scope, Purpose.CLAIM_VERIFICATION, expires_at=days_from_now(30)
            )
            for name in ("insurer", "insurer-b")
        }
        step(
            22,
            "patient grants both insurers claim verification of their claims at hospital A",
            national=grants["insurer"]["grant_id"],
            commercial=grants["insurer-b"]["grant_id"],
        )

        def submit(url: str, items: list[tuple[str, str, int]]) -> dict[str, Any]:
            body = claim_body(items, provider=hospital.address, patient=pseudonym, payment=payment)
            with as_staff("hospital-a", "clerk", url) as claimant:
                signed = authorise_for(claimant, body, currency=CURRENCY)
                receipt: dict[str, Any] = claimant.post_json("/v1/claims", signed)
            return receipt

        def decide(org: str, url: str, claim_id: str) -> dict[str, Any]:
            with as_staff(org, "adjuster", url) as adjuster:
                decided: dict[str, Any] = adjuster.post_json(f"/v1/claims/{claim_id}/decision", {})
            return decided

        first = submit(national_url, [(medication, MEDICATION, 12000)])
        with as_staff("insurer", "adjuster", national_url) as adjuster:
            queue = adjuster.get_json("/v1/claims", params={"state": "open"})
        check(first["claim_id"] in [c["claim_id"] for c in queue], "the claim is not queued")
        approved = decide("insurer", national_url, first["claim_id"])
        check(approved["status"] == "approved", f"first claim: {approved}")
        with as_staff("insurer", "adjuster", national_url) as adjuster:
            adjuster.post_json(
                f"/v1/claims/{first['claim_id']}/settlement",
                {"payment_reference": "NHSA-2026-0001"},
            )
            history = adjuster.get_json(f"/v1/claims/{first['claim_id']}")["history"]
        step(
            23,
            "the national insurer approves the dispensed prescription's claim and settles it",
            claim=first["claim_id"],
            decision=f"{approved['status']} {approved['approved_amount']} fen",
            history=" -> ".join(e["event"] for e in history) + " (one log query)",
        )

        second = submit(commercial_url, [(medication, MEDICATION, 12000)])
        duplicate = decide("insurer-b", commercial_url, second["claim_id"])
        check(duplicate["status"] == "duplicate", f"second claim: {duplicate}")
        step(
            24,
            "the same service claimed at the commercial insurer: caught on chain as a duplicate",
            claim=second["claim_id"],
            decision=duplicate["status"],
            told=duplicate["detail"],
        )

        over = submit(national_url, [(visit, FOLLOW_UP, 4500)])
        denied = decide("insurer", national_url, over["claim_id"])
        check(denied["reasons"] == ["amount.mismatch"], f"over-claim: {denied}")
        step(
            25,
            "a claim of 45.00 for a visit paid 30.00 is denied, with that reason",
            claim=over["claim_id"],
            decision=denied["status"],
            reasons=", ".join(denied["reasons"]),
        )

        wallet.revoke(grants["insurer-b"]["grant_id"])
        refused = refusal(lambda: submit(commercial_url, [(visit, FOLLOW_UP, 3000)]))
        check(refused.endswith("claim.not_authorised"), f"claim without a grant: {refused}")
        step(
            26,
            "the patient revokes the commercial insurer's grant: a claim there is refused",
            refusal=refused,
        )

    regulator = orgs["regulator"]
    assert regulator.gateway_url is not None
    # On the regulator's own gateway: the figures are chain facts, which every member's node has.
    with GatewayClient(
        regulator.gateway_url,
        consortium.account(regulator.staff["auditor"].key_file),
        fetch_domain(regulator.gateway_url),
    ) as as_regulator:
        figures = as_regulator.get_json("/v1/claims/figures")
    names = {org.address: name for name, org in orgs.items()}
    step(
        27,
        "the regulator's figures per institution (metadata only)",
        **{
            f"{names.get(f['institution'], f['institution'])}": (
                f"{f['claims']} claims, {f['approved']} approved, {f['partial']} partial, "
                f"{f['denied']} denied, {f['duplicates']} duplicates, {f['settled']} settled"
            )
            for f in figures
            if f["role"] == "insurer"
        },
    )
