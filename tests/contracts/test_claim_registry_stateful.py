"""ClaimRegistry under random sequences of payments to two providers, claims at two insurers,
decisions and settlements, where any provider's staff, the patient, a pseudonym an insurer made up,
or an insurer forging the submitter may claim on any key: a service is never approved beyond what
was paid for it, whichever insurers it is claimed at, and never to anyone but the provider it was
paid to, for the patient it was paid for; a duplicate is never paid; a claim is decided once and
settled once. Checked call by call against a reference model, and every capacity and claim after
every change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from claim_helpers import (
    INSURER,
    INSURERS,
    OTHER_INSURER,
    adjuster_of,
    grant_claims,
    seed_claims_consortium,
    signed_submission,
)
from contract_helpers import (
    CLERK,
    CLERK_ROLE,
    DOCTOR,
    HOSPITAL,
    OTHER_ADMIN,
    OTHER_HOSPITAL,
    PATIENT,
    account,
    chain_client,
    register,
)
from eth_account.signers.local import LocalAccount
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from stateful_helpers import ContractMachine, Emits, Expected, Probe, Refused, run_machine
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from ledger.claiming.authorisation import ClaimDomain
from ledger.claiming.onchain import ClaimStatus
from tests.conftest import BATTERY_TIMEOUT_S

pytestmark = pytest.mark.security

KEYS = tuple(bytes(Web3.keccak(text=f"service {n}")) for n in range(4))
CLAIMS = tuple(bytes(Web3.keccak(text=f"claim {n}")) for n in range(10))
COMMITMENT = bytes(Web3.keccak(text="commitment"))
CID = b"bafkreicid"
REASON = b"coverage.capped".ljust(32, b"\0")
DECIDED = (ClaimStatus.APPROVED, ClaimStatus.PARTIAL, ClaimStatus.SETTLED)

OTHER_CLERK = account("claims-machine other-hospital clerk")
#: A pseudonym an insurer made up, and signed itself a grant from (relayed by that insurer).
MADE_UP = account("claims-machine made-up patient")
PROVIDERS = (HOSPITAL, OTHER_HOSPITAL)
PATIENTS = (PATIENT, MADE_UP)
CLAIMANTS = (CLERK, DOCTOR, OTHER_CLERK, PATIENT, MADE_UP)
STAFF_OF = {
    HOSPITAL.address: {CLERK.address, DOCTOR.address},
    OTHER_HOSPITAL.address: {OTHER_CLERK.address},
}
#: (insurer, patient, provider) with a claim-verification grant in force: see `consortium`.
GRANTS = {
    *((i.address, PATIENT.address, p.address) for i in INSURERS for p in PROVIDERS),
    (INSURER.address, MADE_UP.address, HOSPITAL.address),
}

#: Accepted decisions by outcome, over the whole run: the battery reports them.
DECISIONS: Counter[str] = Counter()

items = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3)
amounts = st.integers(1, 15_000)


@dataclass(frozen=True)
class Paid:
    payee: str
    patient: str
    amount: int


@dataclass
class ClaimModel:
    insurer: str
    provider: str
    patient: str
    keys: list[bytes]
    amounts: list[int]
    status: ClaimStatus = ClaimStatus.SUBMITTED
    approved: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Attempt:
    """One submission: who claims what, and whether the insurer forged the authorisation."""

    insurer: LocalAccount
    claim: bytes
    provider: LocalAccount
    patient: LocalAccount
    submitter: LocalAccount
    keys: list[bytes]
    amounts: list[int]
    forged: bool


class ClaimsModel:
    """ClaimRegistry as it must behave, its checks in the contract's order."""

    def __init__(self) -> None:
        self.capacity: dict[bytes, Paid] = {}
        self.claims: dict[bytes, ClaimModel] = {}
        self.payments = 0

    def drawn(self, key: bytes) -> int:
        """What decisions approved on ``key``: the sum the chain must hold as claimed."""
        return sum(
            amount
            for c in self.claims.values()
            if c.status in DECIDED
            for k, amount in zip(c.keys, c.approved, strict=True)
            if k == key
        )

    @staticmethod
    def _items(keys: list[bytes]) -> Refused | None:
        for i, key in enumerate(keys):
            if key in keys[:i]:
                return Refused("ClaimRepeatedServiceKey", {"serviceKey": key})
        return None

    def pay(
        self, payment: bytes, payee: str, patient: str, keys: list[bytes], values: list[int]
    ) -> Expected:
        if refusal := self._items(keys):
            return refusal
        for key in keys:
            if key in self.capacity:
                return Refused("ClaimServiceKeyTaken", {"serviceKey": key})
        recorded = {
            "paymentId": payment,
            "payee": payee,
            "patient": patient,
            "method": 1,
            "commitment": COMMITMENT,
            "cid": CID,
        }
        registered = [
            (
                "ClaimCapacityRegistered",
                {"serviceKey": k, "payee": payee, "paymentId": payment, "amount": v},
            )
            for k, v in zip(keys, values, strict=True)
        ]
        return Emits([("PaymentRecorded", recorded), *registered])

    def submit(self, a: Attempt) -> Expected:
        insurer, provider, patient = a.insurer.address, a.provider.address, a.patient.address
        submitter = a.submitter.address
        if a.claim in self.claims:
            return Refused("ClaimAlreadySubmitted", {"claimId": a.claim})
        if submitter != patient and submitter not in STAFF_OF[provider]:
            return Refused(
                "ClaimSubmitterNotPermitted", {"submitter": submitter, "provider": provider}
            )
        if a.forged:
            return Refused("ClaimAuthorisationInvalid", {"submitter": submitter})
        if (insurer, patient, provider) not in GRANTS:
            return Refused(
                "ClaimNotAuthorised", {"insurer": insurer, "patient": patient, "provider": provider}
            )
        if refusal := self._items(a.keys):
            return refusal
        for key in a.keys:
            paid = self.capacity.get(key)
            if paid is None:
                return Refused("ClaimUnknownServiceKey", {"serviceKey": key})
            if (paid.payee, paid.patient) != (provider, patient):
                return Refused(
                    "ClaimServiceNotPaidTo",
                    {"serviceKey": key, "provider": provider, "patient": patient},
                )
        args = {
            "claimId": a.claim,
            "insurer": insurer,
            "provider": provider,
            "patient": patient,
            "submitter": submitter,
            "claimedAmount": sum(a.amounts),
            "commitment": COMMITMENT,
            "cid": CID,
        }
        return Emits([("ClaimSubmitted", args)])

    def _own(self, insurer: str, claim: bytes) -> Refused | ClaimModel:
        c = self.claims.get(claim)
        if c is None:
            return Refused("ClaimUnknown", {"claimId": claim})
        if c.insurer != insurer:
            return Refused("ClaimNotInsurer", {"claimId": claim, "caller": insurer})
        return c

    def decide(
        self, insurer: str, claim: bytes, approved: list[int], reasons: bool
    ) -> tuple[Expected, ClaimStatus | None]:
        c = self._own(insurer, claim)
        if isinstance(c, Refused):
            return c, None
        if c.status is not ClaimStatus.SUBMITTED:
            return Refused("ClaimUnexpectedStatus", {"claimId": claim, "current": c.status}), None
        head = {"claimId": claim, "insurer": insurer, "provider": c.provider}
        tail = {"commitment": COMMITMENT, "cid": CID}
        left = {k: self.capacity[k].amount - self.drawn(k) for k in c.keys}
        if any(a > left[k] for k, a in zip(c.keys, approved, strict=True)):
            decided = {**head, "status": ClaimStatus.DUPLICATE, "approvedAmount": 0, **tail}
            caught = ("ClaimDuplicateCaught", head)
            return Emits([caught, ("ClaimDecided", decided)]), ClaimStatus.DUPLICATE
        total = sum(approved)
        if total == 0:
            status = ClaimStatus.DENIED
        elif total == sum(c.amounts):
            status = ClaimStatus.APPROVED
        else:
            status = ClaimStatus.PARTIAL
        if status is not ClaimStatus.APPROVED and not reasons:
            return Refused("ClaimReasonRequired"), None
        decided = {**head, "status": status, "approvedAmount": total, **tail}
        return Emits([("ClaimDecided", decided)]), status

    def settle(self, insurer: str, claim: bytes) -> Expected:
        c = self._own(insurer, claim)
        if isinstance(c, Refused):
            return c
        if c.status not in (ClaimStatus.APPROVED, ClaimStatus.PARTIAL):
            return Refused("ClaimUnexpectedStatus", {"claimId": claim, "current": c.status})
        args = {
            "claimId": claim,
            "insurer": insurer,
            "provider": c.provider,
            "amount": sum(c.approved),
            "commitment": COMMITMENT,
            "cid": CID,
        }
        return Emits([("ClaimSettled", args)])


class ClaimMachine(ContractMachine):
    def __init__(self, w3: Web3, deployment: Deployment, claims: Contract) -> None:
        super().__init__(w3, deployment, {"ClaimRegistry": claims})
        self.claims = claims
        self.domain = ClaimDomain.of(deployment)
        self.model = ClaimsModel()

    @rule(
        keys=items,
        payee=st.sampled_from(PROVIDERS),
        patient=st.sampled_from(PATIENTS),
        data=st.data(),
    )
    def record_payment(
        self, keys: list[bytes], payee: LocalAccount, patient: LocalAccount, data: st.DataObject
    ) -> None:
        values = [data.draw(amounts, label="paid") for _ in keys]
        payment = bytes(Web3.keccak(text=f"payment {self.model.payments}"))
        self.model.payments += 1
        fn = self.claims.functions.recordPayment(
            payment, patient.address, 1, COMMITMENT, CID, keys, values
        )
        expected = self.model.pay(payment, payee.address, patient.address, keys, values)
        if self.expect("ClaimRegistry", payee, fn, expected) is not None:
            for key, value in zip(keys, values, strict=True):
                self.model.capacity[key] = Paid(payee.address, patient.address, value)

    @precondition(lambda self: self.model.capacity)
    @rule(
        insurer=st.sampled_from(INSURERS),
        claim=st.sampled_from(CLAIMS),
        keys=items,
        provider=st.sampled_from(PROVIDERS),
        patient=st.sampled_from(PATIENTS),
        submitter=st.sampled_from(CLAIMANTS),
        forged=st.booleans(),
        data=st.data(),
    )
    def submit_claim(
        self,
        insurer: LocalAccount,
        claim: bytes,
        keys: list[bytes],
        provider: LocalAccount,
        patient: LocalAccount,
        submitter: LocalAccount,
        forged: bool,
        data: st.DataObject,
    ) -> None:
        values = [data.draw(amounts, label="claimed") for _ in keys]
        self._submit(Attempt(insurer, claim, provider, patient, submitter, keys, values, forged))

    def _submit(self, a: Attempt) -> None:
        submission = signed_submission(
            self.domain,
            a.claim,
            insurer=a.insurer,
            provider=a.provider,
            patient=a.patient,
            submitter=a.submitter,
            keys=a.keys,
            amounts=a.amounts,
            signer=a.insurer if a.forged else None,
        )
        fn = self.claims.functions.submitClaim(a.claim, submission)
        if self.expect("ClaimRegistry", a.insurer, fn, self.model.submit(a)) is not None:
            self.model.claims[a.claim] = ClaimModel(
                a.insurer.address, a.provider.address, a.patient.address, a.keys, a.amounts
            )

    @precondition(lambda self: self.model.claims)
    @rule(insurer=st.sampled_from(INSURERS), reasons=st.booleans(), data=st.data())
    def decide_claim(self, insurer: LocalAccount, reasons: bool, data: st.DataObject) -> None:
        claim = data.draw(st.sampled_from(sorted(self.model.claims)), label="claim")
        self._decide(insurer, claim, reasons, data)

    def _decide(
        self, insurer: LocalAccount, claim: bytes, reasons: bool, data: st.DataObject
    ) -> None:
        claimed = self.model.claims[claim].amounts
        # In full, nothing, or anything up to each item's claim: all three happen often.
        approved = data.draw(
            st.one_of(
                st.just(claimed),
                st.just([0] * len(claimed)),
                st.tuples(*(st.integers(0, a) for a in claimed)).map(list),
            ),
            label="approved",
        )
        fn = self.claims.functions.decideClaim(
            claim,
            adjuster_of(insurer).address,
            approved,
            [REASON] if reasons else [],
            COMMITMENT,
            CID,
        )
        expected, status = self.model.decide(insurer.address, claim, approved, reasons)
        if self.expect("ClaimRegistry", insurer, fn, expected) is not None:
            assert status is not None
            DECISIONS[status.name.lower()] += 1
            entry = self.model.claims[claim]
            entry.status = status
            entry.approved = [] if status is ClaimStatus.DUPLICATE else approved

    @precondition(lambda self: self.model.claims)
    @rule(insurer=st.sampled_from(INSURERS), data=st.data())
    def settle_claim(self, insurer: LocalAccount, data: st.DataObject) -> None:
        claim = data.draw(st.sampled_from(sorted(self.model.claims)), label="claim")
        fn = self.claims.functions.settleClaim(claim, adjuster_of(insurer).address, COMMITMENT, CID)
        expected = self.model.settle(insurer.address, claim)
        if self.expect("ClaimRegistry", insurer, fn, expected) is not None:
            self.model.claims[claim].status = ClaimStatus.SETTLED

    # -- the paths that move state --------------------------------------------------------------
    # The rules above mix anything with anything and are mostly refused; these pay new services,
    # claim paid ones with fresh claim ids, and decide as the claim's own insurer, so that
    # sequences reach decisions, duplicates and settlements.

    def _unpaid(self) -> list[bytes]:
        return [k for k in KEYS if k not in self.model.capacity]

    def _unsubmitted(self) -> list[bytes]:
        return [c for c in CLAIMS if c not in self.model.claims]

    def _open(self) -> list[bytes]:
        return sorted(c for c, m in self.model.claims.items() if m.status is ClaimStatus.SUBMITTED)

    @precondition(lambda self: self._unpaid())
    @rule(
        payee=st.sampled_from(PROVIDERS),
        patient=st.sampled_from(PATIENTS),
        data=st.data(),
    )
    def pay_new_services(
        self, payee: LocalAccount, patient: LocalAccount, data: st.DataObject
    ) -> None:
        keys = data.draw(st.lists(st.sampled_from(self._unpaid()), min_size=1, unique=True), "keys")
        self.record_payment(keys, payee, patient, data)

    @precondition(lambda self: self.model.capacity and self._unsubmitted())
    @rule(insurer=st.sampled_from(INSURERS), data=st.data())
    def claim_paid_services(self, insurer: LocalAccount, data: st.DataObject) -> None:
        """An honest claim: services paid together to one provider for one patient, submitted
        by that provider's staff or that patient."""
        first = data.draw(st.sampled_from(sorted(self.model.capacity)), label="key")
        paid = self.model.capacity[first]
        group = sorted(
            k
            for k, p in self.model.capacity.items()
            if (p.payee, p.patient) == (paid.payee, paid.patient)
        )
        keys = data.draw(
            st.lists(st.sampled_from(group), min_size=1, max_size=3, unique=True), "keys"
        )
        provider = next(p for p in PROVIDERS if p.address == paid.payee)
        patient = next(p for p in PATIENTS if p.address == paid.patient)
        staff = [c for c in CLAIMANTS if c.address in STAFF_OF[paid.payee]]
        submitter = data.draw(st.sampled_from([patient, *staff]), label="submitter")
        claim = data.draw(st.sampled_from(self._unsubmitted()), label="claim")
        values = [data.draw(amounts, label="claimed") for _ in keys]
        self._submit(Attempt(insurer, claim, provider, patient, submitter, keys, values, False))

    @precondition(lambda self: self._open())
    @rule(reasons=st.booleans(), data=st.data())
    def decide_an_open_claim_as_its_insurer(self, reasons: bool, data: st.DataObject) -> None:
        claim = data.draw(st.sampled_from(self._open()), label="claim")
        insurer = next(i for i in INSURERS if i.address == self.model.claims[claim].insurer)
        self._decide(insurer, claim, reasons, data)

    @invariant()
    def no_service_is_claimed_beyond_its_amount_and_no_duplicate_is_paid(self) -> None:
        if not self.changed():
            return
        probe = Probe(self.w3)
        for key in KEYS:
            probe.add(("capacity", key), self.claims, "capacity", key)
        for claim in CLAIMS:
            probe.add(("claim", claim), self.claims, "claim", claim)
            probe.add(("items", claim), self.claims, "claimItems", claim)
        seen = probe.read()
        for key in KEYS:
            payee, patient, amount, claimed = seen["capacity", key]
            paid = self.model.capacity.get(key)
            assert amount == (paid.amount if paid else 0), key.hex()
            assert claimed == self.model.drawn(key) <= amount, (key.hex(), claimed, amount)
        for claim in CLAIMS:
            model = self.model.claims.get(claim)
            status = ClaimStatus(seen["claim", claim][4])
            assert status is (model.status if model else ClaimStatus.NONE), claim.hex()
            if status is ClaimStatus.DUPLICATE:
                assert seen["items", claim][2] == (), "a duplicate drew on a capacity"
                assert seen["claim", claim][7] == 0, "a duplicate was approved an amount"
            _insurer, provider, patient = seen["claim", claim][:3]
            keys, _claimed, approved = seen["items", claim]
            # Approved amounts are empty until a decision draws any.
            for key, drawn in zip(keys, approved or [0] * len(keys), strict=True):
                payee, paid_for = seen["capacity", bytes(key)][:2]
                assert drawn == 0 or (provider, patient) == (payee, paid_for), (
                    f"claim {claim.hex()} drew {drawn} on a service paid to {payee} for {paid_for}"
                )


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, consent: Contract) -> None:
    """The claims consortium; a clerk at the other hospital; PATIENT's grants to both insurers
    at the other hospital too; and a grant to INSURER at HOSPITAL from a pseudonym it made up."""
    act = chain_client(w3, deployment)
    seed_claims_consortium(act, membership, consent, deployment)
    register(act, membership, OTHER_ADMIN, OTHER_HOSPITAL, OTHER_CLERK, CLERK_ROLE)
    for pseudonym, insurer, provider, nonce in (
        (PATIENT, INSURER, OTHER_HOSPITAL, 3),
        (PATIENT, OTHER_INSURER, OTHER_HOSPITAL, 4),
        (MADE_UP, INSURER, HOSPITAL, 1),
    ):
        grant_claims(act(INSURER), consent, deployment, pseudonym, insurer, provider, nonce)


@pytest.mark.timeout(BATTERY_TIMEOUT_S)
def test_claims_hold_their_invariants_under_random_calls(
    w3: Web3, deployment: Deployment, claims: Contract, battery_report: Callable[[str], Any]
) -> None:
    tally = run_machine(lambda: ClaimMachine(w3, deployment, claims))
    battery_report(
        f"ClaimRegistry state machine: {tally}; decisions {dict(sorted(DECISIONS.items()))}"
    )
    assert tally.accepted > 0, tally
    assert tally.refused > 0, tally
