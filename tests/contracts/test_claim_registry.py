"""ClaimRegistry: a payee records a payment and its services' capacities; an insurer anchors a
claim under the patient's grant, decides it (drawing on the capacities, or catching a duplicate)
and settles it."""

from __future__ import annotations

from typing import Any

import pytest
from claim_helpers import (
    ADJUSTER,
    CID,
    COMMITMENT,
    OTHER_ADJUSTER,
    OTHER_INSURER,
    UNGRANTED_PATIENT,
    seed_claims_consortium,
    signed_submission,
)
from contract_helpers import (
    AUDITOR,
    CLERK,
    DOCTOR,
    HOSPITAL,
    INSURER,
    OUTSIDER,
    PATIENT,
    PHARMACY,
    Act,
    chain_client,
    emitted,
    refused,
)
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from ledger.claiming.authorisation import ClaimDomain
from ledger.claiming.onchain import ClaimStatus
from ledger.claiming.payments import PaymentMethod

PAYMENT = Web3.keccak(text="payment")
CLAIM = Web3.keccak(text="claim")
KEY_A, KEY_B = Web3.keccak(text="service a"), Web3.keccak(text="service b")
UNREGISTERED = Web3.keccak(text="no payment registered this")
REASON = b"coverage.capped".ljust(32, b"\0")


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, consent: Contract) -> None:
    seed_claims_consortium(chain_client(w3, deployment), membership, consent, deployment)


@pytest.fixture(scope="module")
def domain(deployment: Deployment) -> ClaimDomain:
    return ClaimDomain.of(deployment)


def pay(
    act: Act,
    claims: Contract,
    keys: list[bytes] | None = None,
    amounts: list[int] | None = None,
    payee: LocalAccount = HOSPITAL,
    payment: bytes = PAYMENT,
) -> Any:
    return act(payee).transact(
        claims.functions.recordPayment(
            payment,
            PATIENT.address,
            int(PaymentMethod.SELF_PAY),
            COMMITMENT,
            CID,
            [KEY_A, KEY_B] if keys is None else keys,
            [12000, 3000] if amounts is None else amounts,
        )
    )


def submission(
    domain: ClaimDomain,
    claim: bytes = CLAIM,
    insurer: LocalAccount = INSURER,
    keys: list[bytes] | None = None,
    amounts: list[int] | None = None,
    patient: LocalAccount = PATIENT,
    submitter: LocalAccount = CLERK,
) -> tuple[Any, ...]:
    return signed_submission(
        domain,
        claim,
        insurer=insurer,
        provider=HOSPITAL,
        patient=patient,
        submitter=submitter,
        keys=[KEY_A] if keys is None else keys,
        amounts=[12000] if amounts is None else amounts,
    )


def submit(
    act: Act,
    claims: Contract,
    domain: ClaimDomain,
    claim: bytes = CLAIM,
    insurer: LocalAccount = INSURER,
    **kw: Any,
) -> Any:
    fn = claims.functions.submitClaim(claim, submission(domain, claim, insurer, **kw))
    return act(insurer).transact(fn)


def decide_fn(
    claims: Contract,
    approved: list[int],
    reasons: list[bytes] | None = None,
    claim: bytes = CLAIM,
    adjuster: LocalAccount = ADJUSTER,
) -> Any:
    return claims.functions.decideClaim(
        claim, adjuster.address, approved, reasons or [], COMMITMENT, CID
    )


# -- payments --------------------------------------------------------------------------------------


def test_a_payment_registers_one_capacity_per_service(act: Act, claims: Contract) -> None:
    receipt = pay(act, claims)
    paid = (
        "PaymentRecorded",
        {
            "paymentId": PAYMENT,
            "payee": HOSPITAL.address,
            "patient": PATIENT.address,
            "method": 1,
            "commitment": COMMITMENT,
            "cid": CID,
        },
    )
    capacities = [
        (
            "ClaimCapacityRegistered",
            {
                "serviceKey": key,
                "payee": HOSPITAL.address,
                "paymentId": PAYMENT,
                "amount": amount,
            },
        )
        for key, amount in ((KEY_A, 12000), (KEY_B, 3000))
    ]
    assert emitted(claims, receipt) == [paid, *capacities]
    assert claims.functions.capacity(KEY_A).call() == (HOSPITAL.address, PATIENT.address, 12000, 0)


def test_a_service_is_paid_for_once(act: Act, claims: Contract) -> None:
    pay(act, claims)
    again = claims.functions.recordPayment(
        Web3.keccak(text="second payment"), PATIENT.address, 1, COMMITMENT, CID, [KEY_B], [100]
    )
    assert refused(act(HOSPITAL), again) == ("ClaimServiceKeyTaken", {"serviceKey": KEY_B})


@pytest.mark.parametrize(
    ("keys", "amounts", "error"),
    [
        ([], [], ("ClaimBadItems", {"keys": 0, "amounts": 0})),
        ([KEY_A], [1, 2], ("ClaimBadItems", {"keys": 1, "amounts": 2})),
        ([KEY_A, KEY_A], [1, 2], ("ClaimRepeatedServiceKey", {"serviceKey": KEY_A})),
        ([KEY_A], [0], ("ClaimEmptyItem", {"index": 0})),
        ([bytes(32)], [5], ("ClaimEmptyItem", {"index": 0})),
    ],
)
def test_malformed_payment_items_are_refused(
    act: Act, claims: Contract, keys: list[bytes], amounts: list[int], error: Any
) -> None:
    fn = claims.functions.recordPayment(PAYMENT, PATIENT.address, 1, COMMITMENT, CID, keys, amounts)
    assert refused(act(HOSPITAL), fn) == error


def test_only_a_hospital_or_pharmacy_is_paid(act: Act, claims: Contract) -> None:
    pay(act, claims, [KEY_B], [3000], payee=PHARMACY, payment=Web3.keccak(text="pharmacy"))
    fn = claims.functions.recordPayment(PAYMENT, PATIENT.address, 1, COMMITMENT, CID, [KEY_A], [1])
    assert refused(act(INSURER), fn) == ("ClaimCallerNotPayee", {"caller": INSURER.address})


# -- submission ------------------------------------------------------------------------------------


def test_an_insurer_anchors_a_claim_under_the_patients_grant(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    receipt = submit(act, claims, domain)
    assert emitted(claims, receipt) == [
        (
            "ClaimSubmitted",
            {
                "claimId": CLAIM,
                "insurer": INSURER.address,
                "provider": HOSPITAL.address,
                "patient": PATIENT.address,
                "submitter": CLERK.address,
                "claimedAmount": 12000,
                "commitment": COMMITMENT,
                "cid": CID,
            },
        )
    ]
    assert claims.functions.claim(CLAIM).call()[4] == ClaimStatus.SUBMITTED


def test_a_claim_without_the_patients_grant_is_refused(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    fn = claims.functions.submitClaim(CLAIM, submission(domain, patient=UNGRANTED_PATIENT))
    assert refused(act(INSURER), fn) == (
        "ClaimNotAuthorised",
        {
            "insurer": INSURER.address,
            "patient": UNGRANTED_PATIENT.address,
            "provider": HOSPITAL.address,
        },
    )


@pytest.mark.parametrize(
    ("sender", "kw", "error"),
    [
        (HOSPITAL, {}, ("ClaimCallerNotInsurer", {"caller": HOSPITAL.address})),
        (
            INSURER,
            {"submitter": OUTSIDER},
            (
                "ClaimSubmitterNotPermitted",
                {"submitter": OUTSIDER.address, "provider": HOSPITAL.address},
            ),
        ),
        (
            INSURER,
            {"keys": [UNREGISTERED]},
            ("ClaimUnknownServiceKey", {"serviceKey": UNREGISTERED}),
        ),
        (
            INSURER,
            {"keys": [KEY_A, KEY_A], "amounts": [1, 1]},
            ("ClaimRepeatedServiceKey", {"serviceKey": KEY_A}),
        ),
    ],
)
def test_a_claim_is_refused_for_each_fault(
    act: Act,
    claims: Contract,
    domain: ClaimDomain,
    sender: LocalAccount,
    kw: dict[str, Any],
    error: Any,
) -> None:
    pay(act, claims)
    assert (
        refused(act(sender), claims.functions.submitClaim(CLAIM, submission(domain, **kw))) == error
    )


def test_the_patient_may_submit_their_own_claim(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    submit(act, claims, domain, submitter=PATIENT)
    assert claims.functions.claim(CLAIM).call()[3] == PATIENT.address


# -- decision --------------------------------------------------------------------------------------


def test_an_approval_draws_the_capacity(act: Act, claims: Contract, domain: ClaimDomain) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    receipt = act(INSURER).transact(decide_fn(claims, [12000]))
    assert [name for name, _ in emitted(claims, receipt)] == ["ClaimDecided"]
    assert emitted(claims, receipt)[0][1]["status"] == ClaimStatus.APPROVED
    assert claims.functions.capacity(KEY_A).call() == (
        HOSPITAL.address,
        PATIENT.address,
        12000,
        12000,
    )
    assert claims.functions.claimItems(CLAIM).call() == [[KEY_A], [12000], [12000]]


def test_a_partial_approval_needs_a_reason_and_draws_only_what_it_approves(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    assert refused(act(INSURER), decide_fn(claims, [5000])) == ("ClaimReasonRequired", {})
    act(INSURER).transact(decide_fn(claims, [5000], [REASON]))
    assert claims.functions.claim(CLAIM).call()[4] == ClaimStatus.PARTIAL
    assert claims.functions.capacity(KEY_A).call()[3] == 5000
    assert claims.functions.decision(CLAIM).call()[4] == [REASON]


def test_a_denial_draws_nothing(act: Act, claims: Contract, domain: ClaimDomain) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    act(INSURER).transact(decide_fn(claims, [0], [REASON]))
    assert claims.functions.claim(CLAIM).call()[4] == ClaimStatus.DENIED
    assert claims.functions.capacity(KEY_A).call()[3] == 0


def test_the_same_service_at_a_second_insurer_is_caught_as_a_duplicate(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    act(INSURER).transact(decide_fn(claims, [12000]))
    second = Web3.keccak(text="second claim")
    submit(act, claims, domain, claim=second, insurer=OTHER_INSURER)
    fn = decide_fn(claims, [12000], claim=second, adjuster=OTHER_ADJUSTER)
    assert fn.call({"from": OTHER_INSURER.address}) == ClaimStatus.DUPLICATE
    receipt = act(OTHER_INSURER).transact(fn)
    caught = {"claimId": second, "insurer": OTHER_INSURER.address, "provider": HOSPITAL.address}
    decided = {
        **caught,
        "status": ClaimStatus.DUPLICATE,
        "approvedAmount": 0,
        "commitment": COMMITMENT,
        "cid": CID,
    }
    assert emitted(claims, receipt) == [("ClaimDuplicateCaught", caught), ("ClaimDecided", decided)]
    assert claims.functions.capacity(KEY_A).call()[3] == 12000
    assert claims.functions.claimItems(second).call()[2] == []
    settle = claims.functions.settleClaim(second, OTHER_ADJUSTER.address, COMMITMENT, CID)
    assert refused(act(OTHER_INSURER), settle) == (
        "ClaimUnexpectedStatus",
        {"claimId": second, "current": ClaimStatus.DUPLICATE},
    )


def test_what_a_partial_approval_left_is_claimable_elsewhere(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    act(INSURER).transact(decide_fn(claims, [5000], [REASON]))
    second = Web3.keccak(text="second claim")
    submit(act, claims, domain, claim=second, insurer=OTHER_INSURER, amounts=[7000])
    act(OTHER_INSURER).transact(decide_fn(claims, [7000], claim=second, adjuster=OTHER_ADJUSTER))
    assert claims.functions.claim(second).call()[4] == ClaimStatus.APPROVED
    assert claims.functions.capacity(KEY_A).call()[3] == 12000


@pytest.mark.parametrize(
    ("sender", "fn_args", "error"),
    [
        (
            OTHER_INSURER,
            {"adjuster": OTHER_ADJUSTER},
            ("ClaimNotInsurer", {"claimId": CLAIM, "caller": OTHER_INSURER.address}),
        ),
        (
            INSURER,
            {"adjuster": AUDITOR},
            (
                "ClaimAdjusterNotPermitted",
                {"adjuster": AUDITOR.address, "insurer": INSURER.address},
            ),
        ),
        (
            INSURER,
            {"approved": [12001]},
            ("ClaimApprovedExceedsClaimed", {"index": 0, "approved": 12001, "claimed": 12000}),
        ),
        (INSURER, {"approved": [1, 2]}, ("ClaimBadItems", {"keys": 1, "amounts": 2})),
        (INSURER, {"claim": UNREGISTERED}, ("ClaimUnknown", {"claimId": UNREGISTERED})),
    ],
)
def test_a_decision_is_refused_for_each_fault(
    act: Act,
    claims: Contract,
    domain: ClaimDomain,
    sender: LocalAccount,
    fn_args: dict[str, Any],
    error: Any,
) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    fn_args = {"approved": [12000], **fn_args}
    assert refused(act(sender), decide_fn(claims, **fn_args)) == error


def test_a_claim_is_decided_once(act: Act, claims: Contract, domain: ClaimDomain) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    act(INSURER).transact(decide_fn(claims, [12000]))
    assert refused(act(INSURER), decide_fn(claims, [0], [REASON])) == (
        "ClaimUnexpectedStatus",
        {"claimId": CLAIM, "current": ClaimStatus.APPROVED},
    )


# -- settlement ------------------------------------------------------------------------------------


def test_an_approved_claim_settles_once(act: Act, claims: Contract, domain: ClaimDomain) -> None:
    pay(act, claims)
    submit(act, claims, domain)
    act(INSURER).transact(decide_fn(claims, [12000]))
    settle = claims.functions.settleClaim(CLAIM, ADJUSTER.address, COMMITMENT, CID)
    receipt = act(INSURER).transact(settle)
    assert emitted(claims, receipt) == [
        (
            "ClaimSettled",
            {
                "claimId": CLAIM,
                "insurer": INSURER.address,
                "provider": HOSPITAL.address,
                "amount": 12000,
                "commitment": COMMITMENT,
                "cid": CID,
            },
        )
    ]
    assert refused(act(INSURER), settle) == (
        "ClaimUnexpectedStatus",
        {"claimId": CLAIM, "current": ClaimStatus.SETTLED},
    )
    assert claims.functions.settlement(CLAIM).call()[0] == ADJUSTER.address


def test_a_submitted_claim_cannot_settle_before_its_decision(
    act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    pay(act, claims)
    submit(act, claims, domain, submitter=DOCTOR)
    settle = claims.functions.settleClaim(CLAIM, ADJUSTER.address, COMMITMENT, CID)
    assert refused(act(INSURER), settle) == (
        "ClaimUnexpectedStatus",
        {"claimId": CLAIM, "current": ClaimStatus.SUBMITTED},
    )
