"""Claim capacity theft by a hostile member (issue 13, item 3), each attack sent as the attacker
would: raw transactions signed with its own organisation key. A claim draws only on services paid
to its provider for its patient, and its submitter is whoever the chain recovers from the signed
authorisation, never a field the insurer fills."""

from __future__ import annotations

from typing import Any

import pytest
from claim_helpers import (
    ADJUSTER,
    CID,
    COMMITMENT,
    FAR,
    OTHER_INSURER,
    grant_claims,
    seed_claims_consortium,
    signed_submission,
)
from contract_helpers import (
    CLERK,
    CLERK_ROLE,
    HOSPITAL,
    INSURER,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    PATIENT,
    Act,
    account,
    chain_client,
    latest_timestamp,
    register,
)
from eth_account.signers.local import LocalAccount
from hostile_claims_helpers import raw_refused
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from ledger.claiming.authorisation import ClaimDomain
from ledger.claiming.onchain import ClaimStatus
from ledger.claiming.payments import PaymentMethod

PAYMENT = Web3.keccak(text="victim's payment")
CLAIM = Web3.keccak(text="victim's claim")
THEFT = Web3.keccak(text="stolen claim")
VICTIM_KEY = Web3.keccak(text="the victim's paid service")
OTHER_CLERK = account("other-hospital-clerk")
MADE_UP_PATIENT = account("a pseudonym the insurer made up")
OTHER_PATIENT_PSEUDONYM = account("the hostile hospital's own patient pseudonym")


@pytest.fixture(scope="module", autouse=True)
def consortium(
    w3: Web3, deployment: Deployment, membership: Contract, consent: Contract, claims: Contract
) -> None:
    """The claims consortium, a clerk at the other hospital, grants to the insurer from the
    other hospital's patient and from a made-up pseudonym the insurer relayed itself, and the
    victim's paid service: 12000 paid to HOSPITAL for PATIENT."""
    act = chain_client(w3, deployment)
    seed_claims_consortium(act, membership, consent, deployment)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_CLERK, CLERK_ROLE)
    for pseudonym, hospital in (
        (OTHER_PATIENT_PSEUDONYM, OTHER_HOSPITAL),
        (MADE_UP_PATIENT, HOSPITAL),
    ):
        grant_claims(act(INSURER), consent, deployment, pseudonym, INSURER, hospital, 1)
    act(HOSPITAL).transact(
        claims.functions.recordPayment(
            PAYMENT,
            PATIENT.address,
            int(PaymentMethod.NATIONAL_INSURANCE),
            COMMITMENT,
            CID,
            [VICTIM_KEY],
            [12000],
        )
    )


@pytest.fixture(scope="module")
def domain(deployment: Deployment) -> ClaimDomain:
    return ClaimDomain.of(deployment)


def theft(
    domain: ClaimDomain,
    *,
    provider: LocalAccount = HOSPITAL,
    patient: LocalAccount = PATIENT,
    submitter: LocalAccount = CLERK,
    signer: LocalAccount | None = None,
    insurer: LocalAccount = INSURER,
    claim_id: bytes = THEFT,
    deadline: int = FAR,
) -> tuple[Any, ...]:
    return signed_submission(
        domain,
        claim_id,
        insurer=insurer,
        provider=provider,
        patient=patient,
        submitter=submitter,
        keys=[VICTIM_KEY],
        amounts=[12000],
        deadline=deadline,
        signer=signer,
    )


def victim_claim_is_approved_in_full(
    w3: Web3, act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    """The patient's real claim, after the attack, still draws the whole of what was paid."""
    submission = theft(domain, claim_id=CLAIM)
    assert send_raw(w3, INSURER, claims, "submitClaim", CLAIM, submission)["status"] == 1
    decide = claims.functions.decideClaim(CLAIM, ADJUSTER.address, [12000], [], COMMITMENT, CID)
    act(INSURER).transact(decide)
    assert claims.functions.claim(CLAIM).call()[4] == ClaimStatus.APPROVED
    assert claims.functions.capacity(VICTIM_KEY).call()[3] == 12000


def test_an_insurer_cannot_draw_a_providers_service_for_a_patient_it_made_up(
    w3: Web3, act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    stolen = theft(domain, patient=MADE_UP_PATIENT, submitter=MADE_UP_PATIENT)
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, stolen) == (
        "ClaimServiceNotPaidTo",
        {
            "serviceKey": VICTIM_KEY,
            "provider": HOSPITAL.address,
            "patient": MADE_UP_PATIENT.address,
        },
    )
    victim_claim_is_approved_in_full(w3, act, claims, domain)


def test_an_insurer_cannot_name_a_providers_clerk_as_submitter_of_a_claim_it_wrote(
    w3: Web3, act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    forged = theft(domain, submitter=CLERK, signer=INSURER)
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, forged) == (
        "ClaimAuthorisationInvalid",
        {"submitter": CLERK.address},
    )
    victim_claim_is_approved_in_full(w3, act, claims, domain)


def test_a_second_hospital_cannot_claim_another_providers_paid_service_for_its_own_patient(
    w3: Web3, act: Act, claims: Contract, domain: ClaimDomain
) -> None:
    stolen = theft(
        domain, provider=OTHER_HOSPITAL, patient=OTHER_PATIENT_PSEUDONYM, submitter=OTHER_CLERK
    )
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, stolen) == (
        "ClaimServiceNotPaidTo",
        {
            "serviceKey": VICTIM_KEY,
            "provider": OTHER_HOSPITAL.address,
            "patient": OTHER_PATIENT_PSEUDONYM.address,
        },
    )
    victim_claim_is_approved_in_full(w3, act, claims, domain)


def test_a_second_hospitals_clerk_cannot_sign_for_the_provider(
    w3: Web3, claims: Contract, domain: ClaimDomain
) -> None:
    stolen = theft(domain, submitter=OTHER_CLERK)
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, stolen) == (
        "ClaimSubmitterNotPermitted",
        {"submitter": OTHER_CLERK.address, "provider": HOSPITAL.address},
    )


def test_an_authorisation_to_one_insurer_cannot_be_relayed_by_another(
    w3: Web3, claims: Contract, domain: ClaimDomain
) -> None:
    meant_for_insurer = theft(domain, insurer=INSURER)
    assert raw_refused(w3, OTHER_INSURER, claims, "submitClaim", THEFT, meant_for_insurer) == (
        "ClaimAuthorisationInvalid",
        {"submitter": CLERK.address},
    )


def test_an_authorisation_cannot_be_reused_under_another_claim_id(
    w3: Web3, claims: Contract, domain: ClaimDomain
) -> None:
    signed_for_claim = theft(domain, claim_id=CLAIM)
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, signed_for_claim) == (
        "ClaimAuthorisationInvalid",
        {"submitter": CLERK.address},
    )


def test_an_authorisation_cannot_be_redirected_to_other_amounts(
    w3: Web3, claims: Contract, domain: ClaimDomain
) -> None:
    signed = list(theft(domain))
    signed[6] = [11000]  # the amounts, after the clerk signed for 12000
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, tuple(signed)) == (
        "ClaimAuthorisationInvalid",
        {"submitter": CLERK.address},
    )


def test_an_expired_authorisation_is_refused(
    w3: Web3, claims: Contract, domain: ClaimDomain
) -> None:
    deadline = latest_timestamp(w3) - 1
    expired = theft(domain, deadline=deadline)
    assert raw_refused(w3, INSURER, claims, "submitClaim", THEFT, expired) == (
        "ClaimAuthorisationExpired",
        {"deadline": deadline},
    )


def test_a_payee_cannot_register_a_capacity_for_no_patient(w3: Web3, claims: Contract) -> None:
    assert raw_refused(
        w3,
        OTHER_HOSPITAL,
        claims,
        "recordPayment",
        Web3.keccak(text="payment for nobody"),
        "0x" + "00" * 20,
        int(PaymentMethod.SELF_PAY),
        COMMITMENT,
        CID,
        [Web3.keccak(text="a service")],
        [100],
    ) == ("ClaimZeroPatient", {})
