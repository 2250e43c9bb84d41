"""What the ClaimRegistry tests share: a consortium with two insurers, and a patient who granted
both claim verification of their claims at the hospital."""

from __future__ import annotations

from typing import Any

from contract_helpers import (
    AUDITOR,
    AUDITOR_ROLE,
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    HOSPITAL_ADMIN,
    INSURER,
    INSURER_ADMIN,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    PATIENT,
    PHARMACY,
    PHARMACY_ADMIN,
    Act,
    OrgKind,
    account,
    admit,
    register,
)
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment
from ledger.claiming.authorisation import ClaimAuthorisation, ClaimDomain
from ledger.consent.grants import ConsentDomain, Purpose, Scope, ScopeKind, sign_grant

OTHER_INSURER, OTHER_INSURER_ADMIN = account("other-insurer"), account("other-insurer-admin")
ADJUSTER, OTHER_ADJUSTER = account("adjuster"), account("other-adjuster")
UNGRANTED_PATIENT = account("ungranted-patient-pseudonym")
FAR = 2**40
INSURERS = (INSURER, OTHER_INSURER)
COMMITMENT = Web3.keccak(text="commitment")
CID = b"bafkreicid"


def seed_claims_consortium(
    act: Act, membership: Contract, consent: Contract, deployment: Deployment
) -> None:
    """Hospitals with a clerk and a doctor, a pharmacy, two insurers each with a clerk (its
    adjuster) and the first with an auditor; PATIENT grants both insurers claim verification of
    their claims at HOSPITAL."""
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, OTHER_HOSPITAL, OrgKind.HOSPITAL, OTHER_ADMIN)
    admit(act, membership, PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN)
    admit(act, membership, INSURER, OrgKind.INSURER, INSURER_ADMIN)
    admit(act, membership, OTHER_INSURER, OrgKind.INSURER, OTHER_INSURER_ADMIN)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, CLERK, CLERK_ROLE)
    register(act, membership, HOSPITAL_ADMIN, HOSPITAL, DOCTOR, DOCTOR_ROLE)
    register(act, membership, INSURER_ADMIN, INSURER, ADJUSTER, CLERK_ROLE)
    register(act, membership, INSURER_ADMIN, INSURER, AUDITOR, AUDITOR_ROLE)
    register(act, membership, OTHER_INSURER_ADMIN, OTHER_INSURER, OTHER_ADJUSTER, CLERK_ROLE)
    for nonce, insurer in enumerate(INSURERS, start=1):
        grant_claims(act(HOSPITAL), consent, deployment, PATIENT, insurer, HOSPITAL, nonce)


def grant_claims(
    relayer: Chain,
    consent: Contract,
    deployment: Deployment,
    pseudonym: LocalAccount,
    insurer: LocalAccount,
    provider: LocalAccount,
    nonce: int,
) -> None:
    """``pseudonym`` grants ``insurer`` claim verification of its claims at ``provider``,
    relayed by ``relayer``."""
    signed = sign_grant(
        pseudonym,
        ConsentDomain.of(deployment),
        grantee=insurer.address,
        scope=Scope.category(ScopeKind.CLAIMS, provider.address),
        purpose=Purpose.CLAIM_VERIFICATION,
        expires_at=FAR,
        nonce=nonce,
    )
    relayer.transact(consent.functions.grantConsent(*signed.as_args()))


def adjuster_of(insurer: LocalAccount) -> LocalAccount:
    return ADJUSTER if insurer == INSURER else OTHER_ADJUSTER


def signed_submission(
    domain: ClaimDomain,
    claim_id: bytes,
    *,
    insurer: LocalAccount,
    provider: LocalAccount,
    patient: LocalAccount,
    submitter: LocalAccount,
    keys: list[bytes],
    amounts: list[int],
    deadline: int = FAR,
    signer: LocalAccount | None = None,
) -> tuple[Any, ...]:
    """A ``Submission`` whose authorisation ``signer`` (the submitter unless given) signed."""
    terms = ClaimAuthorisation(
        claim_id,
        insurer.address,
        provider.address,
        patient.address,
        tuple(keys),
        tuple(amounts),
        deadline,
    )
    signature = terms.sign(signer or submitter, domain)
    return (
        COMMITMENT,
        CID,
        provider.address,
        patient.address,
        submitter.address,
        keys,
        amounts,
        deadline,
        signature,
    )
