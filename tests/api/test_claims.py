"""Payments and claims through the real gateways over HTTP, on a real anvil: a payment registers
each service's claim key; an insurer approves, approves in part, or denies for each check failing
alone; the same service claimed again, at the same insurer or another, is caught on chain as a
duplicate; a claim without the patient's grant is refused; settlement, history, queue, figures."""

from __future__ import annotations

import copy
import json
import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.claiming.authorisation import authorise_for
from ledger.claiming.fhir import ClaimMalformed
from ledger.consent.grants import Purpose, Scope, ScopeKind
from ledger.consent.wallet import PatientWallet, days_from_now
from ledger.demo.claims import CURRENCY, FOLLOW_UP, MEDICATION, claim_body, payment_reconciliation
from ledger.gateway.client import GatewayClient
from tests.api.test_prescriptions import diagnosis_record, dispense, issue, refused, review
from tests.world import Patient, World, enrol_patient

INSURERS = ("insurer", "insurer-b")


@dataclass
class Care:
    """A patient's visit record and a prescription for them at hospital A, dispensed or not."""

    patient: Patient
    record: str
    prescription: str

    @property
    def visit(self) -> str:
        return f"urn:medledger:record:{self.record}:1"

    @property
    def medication(self) -> str:
        return f"MedicationRequest/{self.prescription}"


def care(world: World, *, dispensed: bool = True, granted: tuple[str, ...] = INSURERS) -> Care:
    patient = enrol_patient(world)
    record = diagnosis_record(world, patient)
    pid = str(issue(world, patient, record=record)["prescription_id"])
    review(world, pid)
    if dispensed:
        dispense(world, pid)
    for insurer in granted:
        grant(world, patient, insurer)
    return Care(patient, record, pid)


def grant(world: World, patient: Patient, insurer: str) -> str:
    with PatientWallet(patient.keys, world.gateways["hospital-a"].url) as wallet:
        receipt = wallet.grant(
            world.org_address(insurer),
            Scope.category(ScopeKind.CLAIMS, world.org_address("hospital-a")),
            Purpose.CLAIM_VERIFICATION,
            expires_at=days_from_now(30),
        )
    return str(receipt["grant_id"])


def pay(world: World, who: Care, details: list[tuple[str, int]]) -> dict[str, Any]:
    """Hospital A's clerk records the payment, and reads back the document a claim shows."""
    with world.as_staff("hospital-a", "clerk") as clerk:
        paid = clerk.post_json(
            "/v1/payments",
            content=json.dumps(payment_reconciliation(details)).encode(),
            params={"patient": who.patient.pseudonym.address, "method": "national_insurance"},
        )
        document: dict[str, Any] = clerk.get_json(f"/v1/payments/{paid['payment_id']}")
    assert document["resource"]["detail"][0]["identifier"]["value"] == paid["service_keys"][0]
    return document


def body(
    world: World, who: Care, payment: dict[str, Any], items: list[tuple[str, str, int]]
) -> dict[str, Any]:
    return claim_body(
        items,
        provider=world.org_address("hospital-a"),
        patient=who.patient.pseudonym.address,
        payment=payment,
    )


def submit(world: World, claim: dict[str, Any], insurer: str = "insurer") -> dict[str, Any]:
    with world.as_staff("hospital-a", "clerk", gateway=insurer) as clerk:
        return signed_post(clerk, claim)


def signed_post(claimant: GatewayClient, claim: dict[str, Any]) -> dict[str, Any]:
    """Post ``claim`` with ``claimant``'s own authorisation of it for the gateway's insurer."""
    receipt: dict[str, Any] = claimant.post_json(
        "/v1/claims", authorise_for(claimant, claim, currency=CURRENCY)
    )
    return receipt


def decide(world: World, claim_id: str, insurer: str = "insurer") -> dict[str, Any]:
    with world.as_staff(insurer, "adjuster", gateway=insurer) as adjuster:
        decided: dict[str, Any] = adjuster.post_json(f"/v1/claims/{claim_id}/decision", {})
    return decided


def claim_and_decide(
    world: World, claim: dict[str, Any], insurer: str = "insurer"
) -> dict[str, Any]:
    return decide(world, submit(world, claim, insurer)["claim_id"], insurer)


@pytest.fixture
def dispensed(world: World) -> Care:
    return care(world)


@pytest.fixture
def paid(world: World, dispensed: Care) -> dict[str, Any]:
    return pay(world, dispensed, [(dispensed.medication, 12000), (dispensed.visit, 8000)])


# -- approval, settlement, history --------------------------------------------------------------


def test_dispensed_prescription_claim_is_approved_settled_and_its_history_one_query(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    receipt = submit(
        world, body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 12000)])
    )
    assert receipt["status"] == "submitted"
    assert receipt["claimed_amount"] == 12000
    decided = decide(world, receipt["claim_id"])
    assert (decided["status"], decided["approved_amount"], decided["reasons"]) == (
        "approved",
        12000,
        [],
    )
    with world.as_staff("insurer", "adjuster", gateway="insurer") as adjuster:
        settled = adjuster.post_json(
            f"/v1/claims/{receipt['claim_id']}/settlement", {"payment_reference": "TX-0001"}
        )
        claim = adjuster.get_json(f"/v1/claims/{receipt['claim_id']}")
    assert (settled["status"], settled["amount"]) == ("settled", 12000)
    assert [e["event"] for e in claim["history"]] == [
        "ClaimSubmitted",
        "ClaimDecided",
        "ClaimSettled",
    ]
    assert claim["claim"]["resourceType"] == "Claim"
    assert claim["response"]["outcome"] == "complete"
    assert claim["response"]["total"][1]["amount"] == {"value": 120, "currency": "CNY"}


def test_the_provider_sees_the_decision_but_not_the_claim_and_others_nothing(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    claim_id = submit(
        world, body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 12000)])
    )["claim_id"]
    decide(world, claim_id)
    with world.as_staff("hospital-a", "clerk", gateway="insurer") as clerk:
        seen = clerk.get_json(f"/v1/claims/{claim_id}")
    assert seen["claim"] is None
    assert seen["response"]["outcome"] == "complete"
    with world.client(dispensed.patient.pseudonym, gateway="insurer") as patient:
        theirs = patient.get_json(f"/v1/claims/{claim_id}")
    assert (theirs["claim"], theirs["response"]["outcome"]) == (None, "complete")
    # The regulator sees figures, not a claim's content; a pharmacy nothing.
    for stranger_org, label in (("pharmacy", "pharmacist"), ("regulator", "auditor")):
        with world.as_staff(stranger_org, label, gateway="insurer") as stranger:
            assert refused(lambda: stranger.get_json(f"/v1/claims/{claim_id}")) == (
                403,
                "claim.forbidden",
            )
    with world.as_staff("insurer-b", "adjuster", gateway="insurer-b") as other:
        for ask in (
            lambda: other.get_json(f"/v1/claims/{claim_id}"),
            lambda: other.post_json(f"/v1/claims/{claim_id}/decision", {}),
            lambda: other.post_json(
                f"/v1/claims/{claim_id}/settlement", {"payment_reference": "TX-2"}
            ),
        ):
            assert refused(ask) == (403, "claim.foreign")


# -- partial approval ----------------------------------------------------------------------------


def test_a_capped_follow_up_fee_is_approved_in_part(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    decided = claim_and_decide(
        world, body(world, dispensed, paid, [(dispensed.visit, FOLLOW_UP, 8000)])
    )
    assert (decided["status"], decided["approved_amount"]) == ("partial", 5000)
    assert decided["reasons"] == ["coverage.capped"]


def test_an_uncovered_item_beside_a_covered_one_is_approved_in_part(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    items = [(dispensed.medication, MEDICATION, 12000), (dispensed.visit, "cosmetic", 8000)]
    decided = claim_and_decide(world, body(world, dispensed, paid, items))
    assert (decided["status"], decided["approved_amount"]) == ("partial", 12000)
    assert [i["reasons"] for i in decided["items"]] == [[], ["coverage.not-covered"]]


def test_what_a_partial_approval_left_can_be_claimed_elsewhere(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    first = claim_and_decide(
        world, body(world, dispensed, paid, [(dispensed.visit, FOLLOW_UP, 8000)])
    )
    assert first["approved_amount"] == 5000
    rest = claim_and_decide(
        world, body(world, dispensed, paid, [(dispensed.visit, FOLLOW_UP, 3000)]), "insurer-b"
    )
    assert (rest["status"], rest["approved_amount"]) == ("approved", 3000)


# -- each check failing alone ---------------------------------------------------------------------


def test_more_claimed_than_paid_is_denied_for_the_amount(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    decided = claim_and_decide(
        world, body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 15000)])
    )
    assert (decided["status"], decided["reasons"]) == ("denied", ["amount.mismatch"])


def test_an_undispensed_prescription_is_denied(world: World) -> None:
    undispensed = care(world, dispensed=False)
    payment = pay(world, undispensed, [(undispensed.medication, 12000)])
    decided = claim_and_decide(
        world, body(world, undispensed, payment, [(undispensed.medication, MEDICATION, 12000)])
    )
    assert (decided["status"], decided["reasons"]) == ("denied", ["service.not-dispensed"])


def test_an_uncovered_diagnosis_is_denied(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    claim = body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 12000)])
    claim["claim"]["diagnosis"][0]["diagnosisCodeableConcept"]["coding"][0]["code"] = "J45"
    decided = claim_and_decide(world, claim)
    assert (decided["status"], decided["reasons"]) == ("denied", ["coverage.not-covered"])


def test_an_altered_payment_document_is_denied(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    altered = copy.deepcopy(paid)
    altered["resource"]["detail"][0]["amount"]["value"] = 150
    claim = body(world, dispensed, altered, [(dispensed.medication, MEDICATION, 15000)])
    decided = claim_and_decide(world, claim)
    assert decided["status"] == "denied"
    assert decided["reasons"] == ["payment.mismatch"]


def test_a_payment_never_anchored_is_denied(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    unknown = {**paid, "payment_id": "0x" + secrets.token_hex(32)}
    decided = claim_and_decide(
        world, body(world, dispensed, unknown, [(dispensed.medication, MEDICATION, 12000)])
    )
    assert (decided["status"], decided["reasons"]) == ("denied", ["payment.unknown"])


def test_another_patients_paid_service_is_refused_on_chain(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    other = care(world, granted=("insurer",))
    claim = body(world, other, paid, [(dispensed.medication, MEDICATION, 12000)])
    assert refused(lambda: submit(world, claim)) == (403, "claim.service_not_paid_to")


# -- duplicates -----------------------------------------------------------------------------------


def test_the_same_service_at_a_second_insurer_is_a_duplicate(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    items = [(dispensed.medication, MEDICATION, 12000)]
    assert claim_and_decide(world, body(world, dispensed, paid, items))["status"] == "approved"
    second = submit(world, body(world, dispensed, paid, items), "insurer-b")
    decided = decide(world, second["claim_id"], "insurer-b")
    assert (decided["status"], decided["approved_amount"]) == ("duplicate", 0)
    assert decided["detail"] == "already claimed elsewhere"
    assert decided["reasons"] == ["duplicate"]
    with world.as_staff("insurer-b", "adjuster", gateway="insurer-b") as adjuster:
        claim = adjuster.get_json(f"/v1/claims/{second['claim_id']}")
        assert refused(
            lambda: adjuster.post_json(
                f"/v1/claims/{second['claim_id']}/settlement", {"payment_reference": "TX-9"}
            )
        ) == (409, "claim.unexpected_status")
    assert [e["event"] for e in claim["history"]] == [
        "ClaimSubmitted",
        "ClaimDuplicateCaught",
        "ClaimDecided",
    ]
    # What insurer B is told names no insurer, claim or amount drawn elsewhere.
    assert claim["response"]["disposition"] == "already claimed elsewhere"
    assert world.org_address("insurer") not in json.dumps(claim)


def test_the_same_service_twice_at_one_insurer_is_a_duplicate(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    items = [(dispensed.medication, MEDICATION, 12000)]
    assert claim_and_decide(world, body(world, dispensed, paid, items))["status"] == "approved"
    assert claim_and_decide(world, body(world, dispensed, paid, items))["status"] == "duplicate"


def test_a_denied_claim_draws_nothing_so_a_correct_one_still_passes(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    over = [(dispensed.medication, MEDICATION, 15000)]
    assert claim_and_decide(world, body(world, dispensed, paid, over))["status"] == "denied"
    right = [(dispensed.medication, MEDICATION, 12000)]
    assert (
        claim_and_decide(world, body(world, dispensed, paid, right), "insurer-b")["status"]
        == "approved"
    )


def test_a_service_cannot_be_paid_for_twice(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    assert refused(lambda: pay(world, dispensed, [(dispensed.medication, 100)])) == (
        409,
        "claim.service_key_taken",
    )


# -- refusals -------------------------------------------------------------------------------------


def test_a_claim_without_the_patients_grant_is_refused_and_nothing_anchored(
    world: World,
) -> None:
    ungranted = care(world, granted=("insurer",))
    payment = pay(world, ungranted, [(ungranted.medication, 12000)])
    claim = body(world, ungranted, payment, [(ungranted.medication, MEDICATION, 12000)])
    before = world.stored_envelopes()
    assert refused(lambda: submit(world, claim, "insurer-b")) == (403, "claim.not_authorised")
    assert world.stored_envelopes() == before


def test_a_revoked_grant_refuses_the_next_claim(world: World) -> None:
    who = care(world, granted=())
    grant_id = grant(world, who.patient, "insurer")
    with PatientWallet(who.patient.keys, world.gateways["hospital-a"].url) as wallet:
        wallet.revoke(grant_id)
    payment = pay(world, who, [(who.medication, 12000)])
    claim = body(world, who, payment, [(who.medication, MEDICATION, 12000)])
    assert refused(lambda: submit(world, claim)) == (403, "claim.not_authorised")


def test_only_the_providers_staff_or_the_patient_may_submit(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    claim = body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 12000)])
    with world.as_staff("hospital-b", "doctor", gateway="insurer") as stranger:
        assert refused(lambda: signed_post(stranger, claim)) == (403, "claim.not_claimant")
    with world.client(dispensed.patient.pseudonym, gateway="insurer") as patient:
        assert signed_post(patient, claim)["status"] == "submitted"


def test_an_item_for_a_service_the_payment_does_not_pay_is_malformed(
    world: World, dispensed: Care
) -> None:
    payment = pay(world, dispensed, [(dispensed.medication, 12000)])
    claim = body(world, dispensed, payment, [(dispensed.visit, FOLLOW_UP, 3000)])
    # The claimant's own client cannot authorise it; the gateway refuses it whatever it carries.
    with world.as_staff("hospital-a", "clerk", gateway="insurer") as clerk:
        with pytest.raises(ClaimMalformed):
            authorise_for(clerk, claim, currency=CURRENCY)
        carried = {
            **claim,
            "claim_id": "0x" + secrets.token_hex(32),
            "deadline": 2**32,
            "authorisation": "0x" + "00" * 65,
        }
        assert refused(lambda: clerk.post_json("/v1/claims", carried)) == (422, "claim.malformed")


def test_a_payment_for_another_hospitals_service_is_refused(world: World) -> None:
    who = care(world, granted=())
    with world.as_staff("hospital-b", "doctor", gateway="hospital-b") as doctor:
        details = payment_reconciliation([(f"MedicationRequest/{who.prescription}", 100)])
        assert refused(
            lambda: doctor.post_json(
                "/v1/payments",
                content=json.dumps(details).encode(),
                params={"patient": who.patient.pseudonym.address, "method": "self_pay"},
            )
        ) == (422, "payment.not_recordable")


def test_only_the_payees_own_staff_record_or_read_a_payment(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    path = f"/v1/payments/{paid['payment_id']}"
    for org, label in (("hospital-b", "doctor"), ("insurer", "adjuster")):
        with world.as_staff(org, label) as outsider:
            assert refused(lambda: outsider.get_json(path)) == (403, "auth.wrong_organisation")
    with world.client(dispensed.patient.pseudonym) as patient:
        assert refused(lambda: patient.get_json(path))[0] == 403
    with world.as_staff("hospital-a", "clerk", gateway="hospital-b") as elsewhere:
        missing = f"/v1/payments/{paid['payment_id']}"
        assert refused(lambda: elsewhere.get_json(missing)) == (403, "auth.wrong_organisation")
    with world.as_staff("hospital-b", "doctor", gateway="hospital-b") as payee_b:
        assert refused(lambda: payee_b.get_json(path)) == (404, "payment.unknown")


def test_only_an_insurers_clerk_decides(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    claim_id = submit(
        world, body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 12000)])
    )["claim_id"]
    with world.as_staff("insurer", "auditor", gateway="insurer") as auditor:
        assert refused(lambda: auditor.post_json(f"/v1/claims/{claim_id}/decision", {})) == (
            403,
            "auth.role_forbidden",
        )


# -- queue and figures ----------------------------------------------------------------------------


def test_the_queue_holds_open_claims_until_decided(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    claim_id = submit(
        world, body(world, dispensed, paid, [(dispensed.medication, MEDICATION, 12000)])
    )["claim_id"]
    with world.as_staff("insurer", "adjuster", gateway="insurer") as adjuster:
        assert claim_id in [c["claim_id"] for c in adjuster.get_json("/v1/claims")]
        decide(world, claim_id)
        assert claim_id not in [c["claim_id"] for c in adjuster.get_json("/v1/claims")]
        every = adjuster.get_json("/v1/claims", params={"state": "all"})
    assert {c["claim_id"]: c["status"] for c in every}[claim_id] == "approved"


def test_the_regulator_counts_claims_decisions_and_duplicates_per_institution(
    world: World, dispensed: Care, paid: dict[str, Any]
) -> None:
    def figures() -> dict[tuple[str, str], dict[str, Any]]:
        with world.as_staff("regulator", "auditor") as regulator:
            rows = regulator.get_json("/v1/claims/figures")
        return {(r["institution"], r["role"]): r for r in rows}

    before = figures()
    items = [(dispensed.medication, MEDICATION, 12000)]
    claim_and_decide(world, body(world, dispensed, paid, items))
    claim_and_decide(world, body(world, dispensed, paid, items), "insurer-b")
    after = figures()
    b = (world.org_address("insurer-b"), "insurer")
    hospital = (world.org_address("hospital-a"), "provider")
    empty = dict.fromkeys(("claims", "approved", "duplicates"), 0)
    assert after[b]["duplicates"] == before.get(b, empty)["duplicates"] + 1
    assert after[hospital]["claims"] == before.get(hospital, empty)["claims"] + 2
    assert after[hospital]["approved"] == before.get(hospital, empty)["approved"] + 1
    assert "patient" not in json.dumps(list(after.values()))
    with world.as_staff("hospital-a", "clerk") as clerk:
        assert refused(lambda: clerk.get_json("/v1/claims/figures")) == (
            403,
            "auth.not_regulator",
        )
