"""ClaimRegistry under random sequences of payments, claims at two insurers, decisions and
settlements: a service is never approved beyond what was paid for it, whichever insurers it is
claimed at; a duplicate is never paid; a claim is decided once and settled once. Checked call by
call against a reference model, and every capacity and claim after every change."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from claim_helpers import INSURERS, adjuster_of, seed_claims_consortium, signed_submission
from contract_helpers import CLERK, HOSPITAL, PATIENT, chain_client
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

#: Accepted decisions by outcome, over the whole run: the battery reports them.
DECISIONS: Counter[str] = Counter()

items = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3)
amounts = st.integers(1, 15_000)


@dataclass
class ClaimModel:
    insurer: str
    keys: list[bytes]
    amounts: list[int]
    status: ClaimStatus = ClaimStatus.SUBMITTED
    approved: list[int] = field(default_factory=list)


class ClaimsModel:
    """ClaimRegistry as it must behave, its checks in the contract's order."""

    def __init__(self) -> None:
        self.capacity: dict[bytes, int] = {}
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

    def pay(self, payment: bytes, keys: list[bytes], values: list[int]) -> Expected:
        if refusal := self._items(keys):
            return refusal
        for key in keys:
            if key in self.capacity:
                return Refused("ClaimServiceKeyTaken", {"serviceKey": key})
        recorded = {
            "paymentId": payment,
            "payee": HOSPITAL.address,
            "patient": PATIENT.address,
            "method": 1,
            "commitment": COMMITMENT,
            "cid": CID,
        }
        registered = [
            (
                "ClaimCapacityRegistered",
                {"serviceKey": k, "payee": HOSPITAL.address, "paymentId": payment, "amount": v},
            )
            for k, v in zip(keys, values, strict=True)
        ]
        return Emits([("PaymentRecorded", recorded), *registered])

    def submit(self, insurer: str, claim: bytes, keys: list[bytes], values: list[int]) -> Expected:
        if claim in self.claims:
            return Refused("ClaimAlreadySubmitted", {"claimId": claim})
        if refusal := self._items(keys):
            return refusal
        for key in keys:
            if key not in self.capacity:
                return Refused("ClaimUnknownServiceKey", {"serviceKey": key})
        args = {
            "claimId": claim,
            "insurer": insurer,
            "provider": HOSPITAL.address,
            "patient": PATIENT.address,
            "submitter": CLERK.address,
            "claimedAmount": sum(values),
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
        head = {"claimId": claim, "insurer": insurer, "provider": HOSPITAL.address}
        tail = {"commitment": COMMITMENT, "cid": CID}
        if any(a > self.capacity[k] - self.drawn(k) for k, a in zip(c.keys, approved, strict=True)):
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
            "provider": HOSPITAL.address,
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

    @rule(keys=items, data=st.data())
    def record_payment(self, keys: list[bytes], data: st.DataObject) -> None:
        values = [data.draw(amounts, label="paid") for _ in keys]
        payment = bytes(Web3.keccak(text=f"payment {self.model.payments}"))
        self.model.payments += 1
        fn = self.claims.functions.recordPayment(
            payment, PATIENT.address, 1, COMMITMENT, CID, keys, values
        )
        expected = self.model.pay(payment, keys, values)
        if self.expect("ClaimRegistry", HOSPITAL, fn, expected) is not None:
            self.model.capacity.update(zip(keys, values, strict=True))

    @precondition(lambda self: self.model.capacity)
    @rule(
        insurer=st.sampled_from(INSURERS),
        claim=st.sampled_from(CLAIMS),
        keys=items,
        data=st.data(),
    )
    def submit_claim(
        self, insurer: LocalAccount, claim: bytes, keys: list[bytes], data: st.DataObject
    ) -> None:
        values = [data.draw(amounts, label="claimed") for _ in keys]
        submission = signed_submission(
            self.domain,
            claim,
            insurer=insurer,
            provider=HOSPITAL,
            patient=PATIENT,
            submitter=CLERK,
            keys=keys,
            amounts=values,
        )
        fn = self.claims.functions.submitClaim(claim, submission)
        expected = self.model.submit(insurer.address, claim, keys, values)
        if self.expect("ClaimRegistry", insurer, fn, expected) is not None:
            self.model.claims[claim] = ClaimModel(insurer.address, keys, values)

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
    @rule(data=st.data())
    def pay_new_services(self, data: st.DataObject) -> None:
        keys = data.draw(st.lists(st.sampled_from(self._unpaid()), min_size=1, unique=True), "keys")
        self.record_payment(keys, data)

    @precondition(lambda self: self.model.capacity and self._unsubmitted())
    @rule(insurer=st.sampled_from(INSURERS), data=st.data())
    def claim_paid_services(self, insurer: LocalAccount, data: st.DataObject) -> None:
        paid = sorted(self.model.capacity)
        keys = data.draw(
            st.lists(st.sampled_from(paid), min_size=1, max_size=3, unique=True), "keys"
        )
        claim = data.draw(st.sampled_from(self._unsubmitted()), label="claim")
        self.submit_claim(insurer, claim, keys, data)

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
            _payee, _patient, amount, claimed = seen["capacity", key]
            assert amount == self.model.capacity.get(key, 0), key.hex()
            assert claimed == self.model.drawn(key) <= amount, (key.hex(), claimed, amount)
        for claim in CLAIMS:
            model = self.model.claims.get(claim)
            status = ClaimStatus(seen["claim", claim][4])
            assert status is (model.status if model else ClaimStatus.NONE), claim.hex()
            if status is ClaimStatus.DUPLICATE:
                assert seen["items", claim][2] == (), "a duplicate drew on a capacity"
                assert seen["claim", claim][7] == 0, "a duplicate was approved an amount"


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, consent: Contract) -> None:
    seed_claims_consortium(chain_client(w3, deployment), membership, consent, deployment)


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
