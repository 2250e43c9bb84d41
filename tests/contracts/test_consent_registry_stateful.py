"""ConsentRegistry under random sequences of grants, replays, revocations and membership changes: a
patient's nonce is used at most once, a grant is stored once, a revoked or expired grant never opens
a record or a category, and only a member relays what the patient (and no one else) signed.

Every call is checked against a reference model; after every change the machine asks
`isAuthorised` and `isAuthorisedForCategory` for every requester, scope and purpose in play at the
chain's time and at each grant's last second and first second past expiry (the view takes the time
as an argument, so no clock needs to move), and checks every grant it answers with on its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from contract_helpers import (
    AUDITOR,
    AUDITOR_ROLE,
    DOCTOR,
    DOCTOR_ROLE,
    HOSPITAL,
    INSURER,
    OTHER_DOCTOR,
    OTHER_HOSPITAL,
    OUTSIDER,
    OrgKind,
    account,
    chain_client,
    latest_timestamp,
    record_id,
)
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from stateful_helpers import (
    ZERO32,
    ZERO_ADDRESS,
    Around,
    Consortium,
    ContractMachine,
    Emits,
    Expected,
    MembershipModel,
    Probe,
    Refused,
    run_machine,
)
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from ledger.consent.grants import (
    ConsentDomain,
    Grant,
    Purpose,
    Scope,
    ScopeKind,
    SignedGrant,
    sign_revocation,
)
from tests.conftest import BATTERY_TIMEOUT_S

pytestmark = pytest.mark.security

HOUR, DAY = 3_600, 86_400
FAR = 2**40  # an expiry no run reaches
PATIENTS = (account("consent-patient-1"), account("consent-patient-2"))
CONSORTIUM = Consortium(
    orgs=(
        (HOSPITAL, OrgKind.HOSPITAL),
        (OTHER_HOSPITAL, OrgKind.HOSPITAL),
        (INSURER, OrgKind.INSURER),
    ),
    staff={
        DOCTOR.address: (HOSPITAL, bytes(DOCTOR_ROLE)),
        OTHER_DOCTOR.address: (OTHER_HOSPITAL, bytes(DOCTOR_ROLE)),
        AUDITOR.address: (INSURER, bytes(AUDITOR_ROLE)),
    },
)
#: record id -> (hospital, patient): each patient has a record at each hospital.
RECORDS = {
    record_id(hospital.address, f"consent machine record {n}"): (hospital, patient)
    for n, (hospital, patient) in enumerate(
        (h, p) for h in (HOSPITAL, OTHER_HOSPITAL) for p in PATIENTS
    )
}
UNANCHORED = record_id(HOSPITAL.address, "consent machine: never anchored")
ORGS = (HOSPITAL, OTHER_HOSPITAL, INSURER)
#: Who asks, relays and is granted: organisations, their staff, and an outsider.
PARTIES = (*ORGS, DOCTOR, OTHER_DOCTOR, AUDITOR, OUTSIDER)
PURPOSES = (Purpose.TREATMENT, Purpose.CLAIM_VERIFICATION)
CATEGORIES = (ScopeKind.HOSPITAL_RECORDS, ScopeKind.PRESCRIPTIONS)
SCOPES = (
    *(Scope.record(r) for r in (*RECORDS, UNANCHORED)),
    *(Scope.category(kind, h.address) for kind in CATEGORIES for h in ORGS),  # insurer: no hospital
)
#: Expiry relative to the chain's time: already past, soon, later, never. At least an hour from
#: the chain's time, so no step's few seconds decide whether a grant has expired.
EXPIRIES = (-DAY, HOUR, DAY, None)
NONCES = range(4)  # few, so that sequences reuse them


def _scope_of(hospital: str) -> bytes:
    return bytes(12) + bytes.fromhex(hospital[2:])


@dataclass
class StoredGrant:
    grant: Grant
    revoked: bool = False


class ConsentModel:
    """ConsentRegistry as it must behave, its checks in the contract's order."""

    def __init__(self, membership: MembershipModel) -> None:
        self.membership = membership
        self.grants: dict[bytes, StoredGrant] = {}
        self.slots: dict[tuple[str, int, bytes, str, int], list[bytes]] = {}
        self.used: set[tuple[str, int]] = set()

    def _relayer(self, relayer: str) -> Refused | None:
        if self.membership.is_active_org(relayer):
            return None
        return Refused("ConsentRelayerNotMember", {"relayer": relayer})

    def grant(self, relayer: str, signer: str, g: Grant, now: int) -> Expected:
        if refusal := self._relayer(relayer):
            return refusal
        if signer != g.patient:
            return Refused("ConsentSignerNotPatient", {"signer": signer, "patient": g.patient})
        stored = self.grants.get(g.grant_id)
        if stored is not None:
            name = "ConsentGrantRevoked" if stored.revoked else "ConsentAlreadyGranted"
            return Refused(name, {"grantId": g.grant_id})
        if (g.patient, g.nonce) in self.used:
            return Refused("ConsentNonceUsed", {"patient": g.patient, "nonce": g.nonce})
        if g.expires_at <= now:
            return Refused(
                "ConsentExpired", {"expiresAt": g.expires_at, "currentTime": Around(now)}
            )
        if refusal := self._terms(g):
            return refusal
        self.used.add((g.patient, g.nonce))
        self.grants[g.grant_id] = StoredGrant(g)
        slot = (g.patient, int(g.scope.kind), g.scope.ref, g.grantee, int(g.purpose))
        self.slots.setdefault(slot, []).append(g.grant_id)
        args = {"grantId": g.grant_id, "patient": g.patient, "grantee": g.grantee}
        terms = {"scopeKind": int(g.scope.kind), "scope": g.scope.ref, "purpose": int(g.purpose)}
        return Emits(
            [("ConsentGranted", {**args, **terms, "expiresAt": g.expires_at, "nonce": g.nonce})]
        )

    def _terms(self, g: Grant) -> Refused | None:
        if not self.membership.is_active_member(g.grantee):
            return Refused("ConsentGranteeNotMember", {"grantee": g.grantee})
        if g.scope.kind is ScopeKind.RECORD:
            record = RECORDS.get(g.scope.ref)
            if record is None:
                return Refused("ConsentUnknownRecord", {"recordId": g.scope.ref})
            if record[1].address != g.patient:
                return Refused(
                    "ConsentNotRecordPatient", {"recordId": g.scope.ref, "patient": g.patient}
                )
        elif self.membership.organisation(str(g.scope.hospital))[0] != OrgKind.HOSPITAL:
            return Refused("ConsentScopeNotHospital", {"scope": g.scope.ref})
        return None

    def revoke(self, relayer: str, signer: str, grant_id: bytes, nonce: int) -> Expected:
        if refusal := self._relayer(relayer):
            return refusal
        stored = self.grants.get(grant_id)
        if stored is None:
            return Refused("ConsentUnknownGrant", {"grantId": grant_id})
        patient = stored.grant.patient
        if signer != patient:
            return Refused("ConsentSignerNotPatient", {"signer": signer, "patient": patient})
        if stored.revoked:
            return Refused("ConsentAlreadyRevoked", {"grantId": grant_id})
        if (patient, nonce) in self.used:
            return Refused("ConsentNonceUsed", {"patient": patient, "nonce": nonce})
        self.used.add((patient, nonce))
        stored.revoked = True
        return Emits(
            [("ConsentRevoked", {"grantId": grant_id, "patient": patient, "nonce": nonce})]
        )

    # views

    def _organisation_of(self, requester: str) -> tuple[str, bool]:
        if self.membership.is_active_org(requester):
            return requester, True
        org, _, _, active = self.membership.staff_entry(requester)
        return org, active and self.membership.is_active_org(org)

    def _in_force(self, slot: tuple[str, int, bytes, str, int], time: int) -> bytes:
        for grant_id in self.slots.get(slot, []):
            stored = self.grants[grant_id]
            if not stored.revoked and time < stored.grant.expires_at:
                return grant_id
        return ZERO32

    def _find(
        self, org: str, requester: str, patient: str, kind: int, scope: bytes, purpose: int, t: int
    ) -> bytes:
        found = self._in_force((patient, kind, scope, org, purpose), t)
        if found == ZERO32 and requester != org:
            found = self._in_force((patient, kind, scope, requester, purpose), t)
        return found

    def is_authorised(
        self, requester: str, record: bytes, purpose: int, t: int
    ) -> tuple[bool, bytes]:
        org, member = self._organisation_of(requester)
        if not member or record not in RECORDS:
            return False, ZERO32
        hospital, patient = (a.address for a in RECORDS[record])
        found = self._find(org, requester, patient, ScopeKind.RECORD, record, purpose, t)
        if found == ZERO32:
            hospital_scope = _scope_of(hospital)
            kind = ScopeKind.HOSPITAL_RECORDS
            found = self._find(org, requester, patient, kind, hospital_scope, purpose, t)
        return found != ZERO32, found

    def is_authorised_for_category(
        self, requester: str, patient: str, hospital: str, kind: int, purpose: int, t: int
    ) -> tuple[bool, bytes]:
        org, member = self._organisation_of(requester)
        if not member:
            return False, ZERO32
        found = self._find(org, requester, patient, kind, _scope_of(hospital), purpose, t)
        return found != ZERO32, found


@pytest.fixture(scope="module", autouse=True)
def consortium(w3: Web3, deployment: Deployment, membership: Contract, registry: Contract) -> None:
    """Two hospitals with a doctor each, an insurer with an auditor, and a record of each patient
    at each hospital."""
    act = chain_client(w3, deployment)
    CONSORTIUM.seed(act, membership)
    doctors = {HOSPITAL.address: DOCTOR, OTHER_HOSPITAL.address: OTHER_DOCTOR}
    for record, (hospital, patient) in RECORDS.items():
        author = doctors[hospital.address].address
        act(hospital).transact(
            registry.functions.anchorRecord(
                record, Web3.keccak(record), b"bafkreicid", patient.address, author
            )
        )


class ConsentMachine(ContractMachine):
    def __init__(
        self, w3: Web3, deployment: Deployment, membership: Contract, consent: Contract
    ) -> None:
        super().__init__(w3, deployment, {"Membership": membership, "ConsentRegistry": consent})
        self.membership, self.consent = membership, consent
        self.domain = ConsentDomain.of(deployment)
        self.members = CONSORTIUM.model()
        self.model = ConsentModel(self.members)
        self.signed: dict[bytes, tuple[SignedGrant, str]] = {}  # accepted, with who signed
        # Expiries count from the chain's time when the example starts, not when each grant is
        # signed: grant ids hash the expiry, and two grants of one example must collide (or not)
        # the same way whenever hypothesis replays it. Grants are drawn in the order made, not by
        # id, for the same reason.
        self.t0 = self._now()

    def _now(self) -> int:
        return latest_timestamp(self.w3)

    def _relayer(self, data: st.DataObject) -> LocalAccount:
        """Half the time an active organisation, so that calls get past the relayer check."""
        active = [o for o in ORGS if self.members.is_active_org(o.address)]
        if active and data.draw(st.booleans(), label="member relays"):
            return data.draw(st.sampled_from(active), label="relayer")
        return data.draw(st.sampled_from(PARTIES), label="relayer")

    def _relay(self, relayer: LocalAccount, signed: SignedGrant, signer: str) -> None:
        expected = self.model.grant(relayer.address, signer, signed.grant, self._now())
        fn = self.consent.functions.grantConsent(*signed.as_args())
        if self.expect("ConsentRegistry", relayer, fn, expected) is not None:
            self.signed[signed.grant_id] = (signed, signer)

    # -- grants ---------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        patient=st.sampled_from(PATIENTS),
        grantee=st.sampled_from(PARTIES),
        scope=st.sampled_from(SCOPES),
        purpose=st.sampled_from(PURPOSES),
        expiry=st.sampled_from(EXPIRIES),
        nonce=st.sampled_from(NONCES),
    )
    def grant(
        self,
        data: st.DataObject,
        patient: LocalAccount,
        grantee: LocalAccount,
        scope: Scope,
        purpose: Purpose,
        expiry: int | None,
        nonce: int,
    ) -> None:
        # Mostly the patient signs; else the other patient forges the terms.
        signer = patient if data.draw(st.integers(0, 4), label="forged") else _other(patient)
        relayer = self._relayer(data)
        self._grant(relayer, patient, signer, grantee, scope, purpose, expiry, nonce)

    def _grant(
        self,
        relayer: LocalAccount,
        patient: LocalAccount,
        signer: LocalAccount,
        grantee: LocalAccount,
        scope: Scope,
        purpose: Purpose,
        expiry: int | None,
        nonce: int,
    ) -> None:
        expires_at = FAR if expiry is None else self.t0 + expiry
        terms = Grant(patient.address, grantee.address, scope, purpose, expires_at, nonce)
        message = encode_typed_data(full_message=terms.typed_data(self.domain))
        signature = bytes(signer.sign_message(message).signature)
        self._relay(relayer, SignedGrant(terms, self.domain, signature), signer.address)

    @precondition(lambda self: self.signed)
    @rule(data=st.data())
    def replay_a_relayed_grant(self, data: st.DataObject) -> None:
        """The same signed grant again, perhaps by another member: it is stored once only."""
        signed, signer = data.draw(st.sampled_from(list(self.signed.values())))
        self._relay(self._relayer(data), signed, signer)

    # -- revocations ----------------------------------------------------------------------------

    @rule(data=st.data(), nonce=st.sampled_from(NONCES))
    def revoke(self, data: st.DataObject, nonce: int) -> None:
        known = list(self.model.grants)
        use_known = bool(known) and data.draw(st.integers(0, 4), label="known grant") > 0
        grant_id = data.draw(st.sampled_from(known), "grant") if use_known else UNANCHORED
        stored = self.model.grants.get(grant_id)
        owner = _patient(stored.grant.patient) if stored else PATIENTS[0]
        signer = owner if data.draw(st.integers(0, 4), label="forged") else _other(owner)
        self._revoke(self._relayer(data), signer, grant_id, nonce)

    def _revoke(
        self, relayer: LocalAccount, signer: LocalAccount, grant_id: bytes, nonce: int
    ) -> None:
        signed = sign_revocation(signer, self.domain, grant_id, nonce=nonce)
        fn = self.consent.functions.revokeConsent(*signed.as_args())
        expected = self.model.revoke(relayer.address, signer.address, grant_id, nonce)
        self.expect("ConsentRegistry", relayer, fn, expected)

    # -- the membership changes that decide who may relay, be granted and ask ------------------

    @rule(org=st.sampled_from(ORGS))
    def suspend_or_reinstate(self, org: LocalAccount) -> None:
        self.toggle_suspension(self.members, (o.address for o in ORGS), org.address)

    # -- the paths that move state: what patients sign, relayed by members ---------------------
    # The rules above mix anything with anything and are mostly refused; these make sure that
    # sequences also pile up grants, revoke them and run into used nonces.

    def _active(self, parties: tuple[LocalAccount, ...]) -> list[LocalAccount]:
        return [p for p in parties if self.members.is_active_member(p.address)]

    @rule(
        data=st.data(),
        patient=st.sampled_from(PATIENTS),
        purpose=st.sampled_from(PURPOSES),
        expiry=st.sampled_from(EXPIRIES[1:]),
        nonce=st.sampled_from(NONCES),
    )
    def a_patient_grants_a_member(
        self,
        data: st.DataObject,
        patient: LocalAccount,
        purpose: Purpose,
        expiry: int | None,
        nonce: int,
    ) -> None:
        relayer = data.draw(st.sampled_from(self._active(ORGS)), label="relayer")
        grantee = data.draw(st.sampled_from(self._active(PARTIES)), label="grantee")
        own = [
            s
            for s in SCOPES
            if s.kind is not ScopeKind.RECORD or RECORDS.get(s.ref, (None, None))[1] == patient
        ]
        scope = data.draw(st.sampled_from(own), label="scope")
        self._grant(relayer, patient, patient, grantee, scope, purpose, expiry, nonce)

    @precondition(lambda self: any(not g.revoked for g in self.model.grants.values()))
    @rule(data=st.data(), nonce=st.sampled_from(NONCES))
    def a_patient_revokes_a_grant(self, data: st.DataObject, nonce: int) -> None:
        live = [i for i, g in self.model.grants.items() if not g.revoked]
        grant_id = data.draw(st.sampled_from(live), label="grant")
        patient = _patient(self.model.grants[grant_id].grant.patient)
        relayer = data.draw(st.sampled_from(self._active(ORGS)), label="relayer")
        self._revoke(relayer, patient, grant_id, nonce)

    # -- what must hold after every change ------------------------------------------------------

    @invariant()
    def nonces_grants_and_authorisations_match_the_model(self) -> None:
        if not self.changed():
            return
        probe = Probe(self.w3)
        expected: dict[Any, Any] = {}
        for patient in PATIENTS:
            for nonce in NONCES:
                key = ("nonce", patient.address, nonce)
                probe.add(key, self.consent, "isNonceUsed", patient.address, nonce)
                expected[key] = (patient.address, nonce) in self.model.used
        for grant_id, stored in self.model.grants.items():
            probe.add(("grant", grant_id), self.consent, "grant", grant_id)
            expected["grant", grant_id] = _state(stored)
        # Every question at the chain's time; at each grant's last second in force and first
        # second past it, the questions that grant can answer.
        now = self._now()
        for purpose in PURPOSES:
            self._ask(probe, expected, int(purpose), now)
        for stored in self.model.grants.values():
            g = stored.grant
            if g.expires_at != FAR:
                for t in (g.expires_at - 1, g.expires_at):
                    self._ask(probe, expected, int(g.purpose), t, g.patient, g.scope)
        seen = probe.read()
        differences = {k: (seen[k], v) for k, v in expected.items() if seen[k] != v}
        assert not differences, f"chain differs from the model (chain, model): {differences}"
        self._no_lapsed_grant_opens(seen)

    def _ask(
        self,
        probe: Probe,
        expected: dict[Any, Any],
        purpose: int,
        t: int,
        patient: str | None = None,
        scope: Scope | None = None,
    ) -> None:
        """Ask about every record and category, or (given ``patient`` and ``scope``) those of
        ``patient`` that a grant of ``scope`` covers, as every party."""
        hospital = None if scope is None else scope.hospital
        records = [
            r
            for r, (h, p) in RECORDS.items()
            if scope is None
            or r == scope.ref
            or (
                scope.kind is ScopeKind.HOSPITAL_RECORDS
                and (h.address, p.address) == (hospital, patient)
            )
        ]
        if scope is None:
            records.append(UNANCHORED)
        categories = [
            (p.address, h.address, int(kind))
            for p in PATIENTS
            for h in (HOSPITAL, OTHER_HOSPITAL)
            for kind in CATEGORIES
            if scope is None or (p.address, h.address, kind) == (patient, hospital, scope.kind)
        ]
        for who in (party.address for party in PARTIES):
            for record in records:
                key = ("isAuthorised", who, record, purpose, t)
                probe.add(key, self.consent, "isAuthorised", who, record, purpose, t)
                expected[key] = self.model.is_authorised(who, record, purpose, t)
            for category in categories:
                args = (who, *category, purpose, t)
                key = ("isAuthorisedForCategory", *args)
                probe.add(key, self.consent, "isAuthorisedForCategory", *args)
                expected[key] = self.model.is_authorised_for_category(*args)

    @staticmethod
    def _no_lapsed_grant_opens(seen: dict[Any, Any]) -> None:
        """The safety property on its own, from the chain's answers alone: whatever opened, opened
        under a grant the chain itself holds unrevoked and unexpired at the time asked."""
        for key, answer in seen.items():
            if key[0] not in ("isAuthorised", "isAuthorisedForCategory") or not answer[0]:
                continue
            patient, _, _, expires_at, revoked, _, _ = seen["grant", answer[1]]
            assert patient != ZERO_ADDRESS, (key, answer)
            assert not revoked, (key, answer)
            assert key[-1] < expires_at, (key, answer)


def _state(stored: StoredGrant) -> tuple[Any, ...]:
    """The grant as the contract's ``grant`` view returns it (IConsentRegistry.GrantState)."""
    g = stored.grant
    kind, scope, purpose = int(g.scope.kind), g.scope.ref, int(g.purpose)
    return (g.patient, kind, purpose, g.expires_at, stored.revoked, g.grantee, scope)


def _other(patient: LocalAccount) -> LocalAccount:
    return PATIENTS[1] if patient is PATIENTS[0] else PATIENTS[0]


def _patient(address: str) -> LocalAccount:
    return next(p for p in PATIENTS if p.address == address)


@pytest.mark.timeout(BATTERY_TIMEOUT_S)
def test_consent_holds_its_invariants_under_random_calls(
    w3: Web3,
    deployment: Deployment,
    membership: Contract,
    consent: Contract,
    battery_report: Callable[[str], None],
) -> None:
    tally = run_machine(lambda: ConsentMachine(w3, deployment, membership, consent))
    granted, revoked = (tally.outcomes[f"{f}: accepted"] for f in ("grantConsent", "revokeConsent"))
    reused = sum(n for o, n in tally.outcomes.items() if o.endswith("ConsentNonceUsed"))
    battery_report(
        f"ConsentRegistry state machine: {tally}; {granted} grants, {revoked} revocations, "
        f"{reused} reused nonces refused"
    )
    # The invariants were put to the test only if sequences reached these.
    assert granted > 0, tally.outcomes
    assert revoked > 0, tally.outcomes
    assert reused > 0, tally.outcomes
