"""Membership under random sequences of calls by anyone: roles change only through grant, revoke or
renounce by an entitled account; organisations' status only by the regulator; staff only by their
organisation's admin. Every call is checked against a reference model, and every view after it."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from contract_helpers import DOCTOR_ROLE, LICENCE, REGULATOR, REGULATOR_ROLE, account, joined
from eth_account.signers.local import LocalAccount
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from stateful_helpers import (
    DEFAULT_ADMIN_ROLE,
    KINDS,
    STAFF_ROLES,
    ZERO32,
    ZERO_ADDRESS,
    ContractMachine,
    MembershipModel,
    Probe,
    run_machine,
)
from web3 import Web3
from web3.contract import Contract

from ledger.chain.deploy import Deployment
from tests.conftest import BATTERY_TIMEOUT_S

pytestmark = pytest.mark.security

#: Everyone who sends; any of them may become an organisation, an admin or staff along the way.
POOL = (REGULATOR, *(account(f"member-{n}") for n in range(6)))
ADDRESSES = [a.address for a in POOL]
TARGETS = [*ADDRESSES, ZERO_ADDRESS]
ACCESS_ROLES = (DEFAULT_ADMIN_ROLE, bytes(REGULATOR_ROLE), bytes(DOCTOR_ROLE))
# Staff roles, plus two an admin may not grant: the regulator's and one that does not exist.
REGISTRABLE = (*STAFF_ROLES, bytes(REGULATOR_ROLE), bytes(Web3.keccak(text="NURSE_ROLE")))
WRITE_CHECKED_ROLES = STAFF_ROLES[:1] + STAFF_ROLES[2:3]  # doctor and clerk: who may write records

targets = st.sampled_from(TARGETS)


@cache
def _probe(w3: Web3, membership: Contract) -> Probe:
    """Every view for every address in play; built once, since encoding costs more than reading."""
    probe = Probe(w3)
    for who in TARGETS:
        for role in ACCESS_ROLES:
            probe.add(("hasRole", role, who), membership, "hasRole", role, who)
        for view in ("organisation", "staff", "isActiveMember", "isActiveOrganisation"):
            probe.add((view, who), membership, view, who)
        for kind in KINDS[1:]:
            probe.add(("ofKind", who, kind), membership, "isActiveOrganisationOfKind", who, kind)
    for org in ADDRESSES:
        for who in ADDRESSES:
            for role in WRITE_CHECKED_ROLES:
                probe.add(
                    ("hasStaffRole", org, who, role), membership, "hasStaffRole", org, who, role
                )
    return probe


class MembershipMachine(ContractMachine):
    def __init__(self, w3: Web3, deployment: Deployment, membership: Contract) -> None:
        super().__init__(w3, deployment, {"Membership": membership})
        self.membership = membership
        self.model = MembershipModel(REGULATOR.address)

    def _sender(self, data: st.DataObject, entitled: list[str]) -> LocalAccount:
        """Half the time someone the model says may act, so that state moves; else anyone."""
        candidates = [a for a in POOL if a.address in entitled]
        use_entitled = data.draw(st.booleans(), label="entitled")
        if candidates and use_entitled:
            return data.draw(st.sampled_from(candidates), label="sender")
        return data.draw(st.sampled_from(POOL), label="sender")

    def _role_holders(self, role: bytes) -> list[str]:
        return sorted(self.model.roles.get(role, set()))

    @staticmethod
    def _address(data: st.DataObject, known: list[str], label: str) -> str:
        """Half the time one the model knows (an admitted org, a member of its staff), so that
        sequences reach deep states; else any address in play, the zero address included."""
        use_known = data.draw(st.booleans(), label=f"known {label}")
        if known and use_known:
            return data.draw(st.sampled_from(sorted(known)), label=label)
        return data.draw(targets, label=label)

    # -- AccessControl ------------------------------------------------------------------------

    @rule(data=st.data(), role=st.sampled_from(ACCESS_ROLES), who=targets)
    def grant_role(self, data: st.DataObject, role: bytes, who: str) -> None:
        sender = self._sender(data, self._role_holders(DEFAULT_ADMIN_ROLE))
        fn = self.membership.functions.grantRole(role, who)
        self.expect("Membership", sender, fn, self.model.grant_role(sender.address, role, who))

    @rule(data=st.data(), role=st.sampled_from(ACCESS_ROLES))
    def revoke_role(self, data: st.DataObject, role: bytes) -> None:
        who = self._address(data, self._role_holders(role), "who")
        sender = self._sender(data, self._role_holders(DEFAULT_ADMIN_ROLE))
        fn = self.membership.functions.revokeRole(role, who)
        self.expect("Membership", sender, fn, self.model.revoke_role(sender.address, role, who))

    @rule(data=st.data(), role=st.sampled_from(ACCESS_ROLES))
    def renounce_role(self, data: st.DataObject, role: bytes) -> None:
        confirmation = self._address(data, self._role_holders(role), "confirmation")
        sender = self._sender(data, [confirmation])
        fn = self.membership.functions.renounceRole(role, confirmation)
        expected = self.model.renounce_role(sender.address, role, confirmation)
        self.expect("Membership", sender, fn, expected)

    # -- organisations ------------------------------------------------------------------------

    @rule(data=st.data(), org=targets, kind=st.sampled_from(KINDS), admin=targets)
    def admit(self, data: st.DataObject, org: str, kind: int, admin: str) -> None:
        sender = self._sender(data, self._role_holders(bytes(REGULATOR_ROLE)))
        fn = self.membership.functions.admitOrganisation(org, kind, admin)
        self.expect("Membership", sender, fn, self.model.admit(sender.address, org, kind, admin))

    @rule(data=st.data())
    def suspend(self, data: st.DataObject) -> None:
        org = self._address(data, list(self.model.orgs), "org")
        sender = self._sender(data, self._role_holders(bytes(REGULATOR_ROLE)))
        fn = self.membership.functions.suspendOrganisation(org)
        self.expect("Membership", sender, fn, self.model.suspend(sender.address, org))

    @rule(data=st.data())
    def reinstate(self, data: st.DataObject) -> None:
        org = self._address(data, list(self.model.orgs), "org")
        sender = self._sender(data, self._role_holders(bytes(REGULATOR_ROLE)))
        fn = self.membership.functions.reinstateOrganisation(org)
        self.expect("Membership", sender, fn, self.model.reinstate(sender.address, org))

    # -- staff --------------------------------------------------------------------------------

    @rule(
        data=st.data(),
        member=targets,
        role=st.sampled_from(REGISTRABLE),
        licence=st.sampled_from((ZERO32, bytes(LICENCE))),
    )
    def register_staff(self, data: st.DataObject, member: str, role: bytes, licence: bytes) -> None:
        org = self._address(data, list(self.model.orgs), "org")
        sender = self._sender(data, [self.model.organisation(org)[2]])
        fn = joined(self.membership, org, member, role, licence)
        expected = self.model.register(sender.address, org, member, role, licence)
        self.expect("Membership", sender, fn, expected)

    @rule(data=st.data())
    def remove_staff(self, data: st.DataObject) -> None:
        org = self._address(data, list(self.model.orgs), "org")
        staff = [a for a, s in self.model.staff.items() if s.org == org and s.active]
        member = self._address(data, staff, "member")
        sender = self._sender(data, [self.model.organisation(org)[2]])
        fn = self.membership.functions.removeStaff(org, member)
        self.expect("Membership", sender, fn, self.model.remove(sender.address, org, member))

    # -- the paths that move state: by those entitled, with well-formed arguments --------------
    # The rules above call with anything from anyone and are mostly refused; these make sure that
    # sequences also build organisations and staff deep enough for the refusals to matter.

    def _regulators(self) -> list[LocalAccount]:
        return [a for a in POOL if self.model.has_role(bytes(REGULATOR_ROLE), a.address)]

    @precondition(lambda self: self._regulators() and len(self.model.orgs) < len(ADDRESSES))
    @rule(data=st.data(), kind=st.sampled_from(KINDS[1:]), admin=st.sampled_from(ADDRESSES))
    def admit_a_new_organisation(self, data: st.DataObject, kind: int, admin: str) -> None:
        sender = data.draw(st.sampled_from(self._regulators()), label="regulator")
        org = data.draw(st.sampled_from([a for a in ADDRESSES if a not in self.model.orgs]))
        fn = self.membership.functions.admitOrganisation(org, kind, admin)
        self.expect("Membership", sender, fn, self.model.admit(sender.address, org, kind, admin))

    @precondition(lambda self: self._regulators() and self.model.orgs)
    @rule(data=st.data())
    def suspend_or_reinstate_an_organisation(self, data: st.DataObject) -> None:
        sender = data.draw(st.sampled_from(self._regulators()), label="regulator")
        org = data.draw(st.sampled_from(sorted(self.model.orgs)), label="org")
        if self.model.is_active_org(org):
            fn = self.membership.functions.suspendOrganisation(org)
            expected = self.model.suspend(sender.address, org)
        else:
            fn = self.membership.functions.reinstateOrganisation(org)
            expected = self.model.reinstate(sender.address, org)
        self.expect("Membership", sender, fn, expected)

    @precondition(lambda self: self.model.orgs)
    @rule(data=st.data(), member=st.sampled_from(ADDRESSES), role=st.sampled_from(STAFF_ROLES))
    def admin_registers_staff(self, data: st.DataObject, member: str, role: bytes) -> None:
        org = data.draw(st.sampled_from(sorted(self.model.orgs)), label="org")
        admin = next(a for a in POOL if a.address == self.model.orgs[org].admin)
        fn = joined(self.membership, org, member, role, LICENCE)
        expected = self.model.register(admin.address, org, member, role, bytes(LICENCE))
        self.expect("Membership", admin, fn, expected)

    # -- what must hold after every step ------------------------------------------------------

    @invariant()
    def views_match_the_model(self) -> None:
        if not self.changed():
            return
        seen = _probe(self.w3, self.membership).read()
        expected: dict[Any, Any] = {}
        for who in TARGETS:
            for role in ACCESS_ROLES:
                expected["hasRole", role, who] = self.model.has_role(role, who)
            expected["organisation", who] = self.model.organisation(who)
            expected["staff", who] = self.model.staff_entry(who)
            expected["isActiveMember", who] = self.model.is_active_member(who)
            expected["isActiveOrganisation", who] = self.model.is_active_org(who)
            for kind in KINDS[1:]:
                expected["ofKind", who, kind] = (
                    self.model.is_active_org(who) and self.model.orgs[who].kind == kind
                )
        for org in ADDRESSES:
            for who in ADDRESSES:
                for role in WRITE_CHECKED_ROLES:
                    expected["hasStaffRole", org, who, role] = self.model.has_staff_role(
                        org, who, role
                    )
        differences = {k: (seen[k], v) for k, v in expected.items() if seen[k] != v}
        assert not differences, f"chain differs from the model (chain, model): {differences}"


@pytest.mark.timeout(BATTERY_TIMEOUT_S)
def test_membership_holds_its_invariants_under_random_calls(
    w3: Web3, deployment: Deployment, membership: Contract, battery_report: Callable[[str], None]
) -> None:
    tally = run_machine(lambda: MembershipMachine(w3, deployment, membership))
    battery_report(f"Membership state machine: {tally}")
    # Both kinds of step must have happened, or agreeing with the model proved little.
    assert tally.accepted > 0, tally
    assert tally.refused > 0, tally
