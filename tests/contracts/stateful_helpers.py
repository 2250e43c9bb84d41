"""What the contract state machines share: a base machine on a real anvil and reference models.

A machine subclasses `ContractMachine`, keeps a pure-Python model of what the contracts must hold,
and for every call tells `expect` what the model says must happen: a refusal with this exact custom
error, or success with exactly these events. Its invariants read the contracts' views in one batched
JSON-RPC request (`Probe`) and compare them with the model. Each example runs in its own anvil
snapshot, so a machine starts from the module's deployment every time.

A new contract gets a model class here (or beside its machine) and a machine module
`test_<contract>_stateful.py` that subclasses `ContractMachine`; budgets come from the hypothesis
profile (`make test` runs the default one, `make fuzz` sets HYPOTHESIS_PROFILE=fuzz).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from contract_helpers import (
    AUDITOR_ROLE,
    CLERK_ROLE,
    DOCTOR_ROLE,
    LICENCE,
    PHARMACIST_ROLE,
    REGULATOR,
    REGULATOR_ROLE,
    Act,
    chain_client,
    emitted,
    joined,
    refusal,
    revert,
    snapshot,
)
from eth_abi.abi import decode as abi_decode, encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import (
    function_abi_to_4byte_selector,
    get_abi_input_types,
    get_abi_output_types,
)
from eth_utils.address import is_hex_address, to_checksum_address
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.chain.deploy import Deployment
from ledger.errors import ContractRevert

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = bytes(32)
DEFAULT_ADMIN_ROLE = ZERO32
STAFF_ROLES = (bytes(DOCTOR_ROLE), bytes(PHARMACIST_ROLE), bytes(CLERK_ROLE), bytes(AUDITOR_ROLE))
LICENSED_ROLES = (bytes(DOCTOR_ROLE), bytes(PHARMACIST_ROLE))


def machine_settings() -> settings:
    """The loaded profile's budget, without a deadline: every step is a transaction on anvil."""
    return settings(  # the rest from the loaded profile
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )


# -- what a call must do ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """The call reverts with custom error ``error`` and exactly these arguments, logging nothing."""

    error: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Emits:
    """The call succeeds and emits exactly these events, in order, and no other."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


Expected = Refused | Emits


@dataclass(frozen=True)
class Around:
    """An argument the node fills in with its clock (a refusal's ``currentTime``): equal to any
    value within ``slack`` seconds of ``at``. Machines keep every deadline further than that from
    the chain's time, so which side of a deadline a call falls on never depends on the slack."""

    at: int
    slack: int = 120

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and abs(other - self.at) <= self.slack

    def __hash__(self) -> int:
        return hash(self.at)


# -- reading many views at once --------------------------------------------------------------------


class Probe:
    """Many view calls in one batched JSON-RPC request, decoded with each function's output types.

    web3 spends longer matching a call's arguments than anvil takes to answer it, so calls are
    encoded with eth-abi directly and a probe of hundreds of views costs a few milliseconds.
    """

    def __init__(self, w3: Web3) -> None:
        self._w3 = w3
        self._calls: list[tuple[Any, str, str, tuple[str, ...]]] = []

    def add(self, key: Any, contract: Contract, name: str, *args: Any) -> None:
        data, types = _encoded(contract, name, args)
        self._calls.append((key, contract.address, data, types))

    def read(self) -> dict[Any, Any]:
        """Key -> decoded value (a tuple unpacked when the view returns one value); a reverted
        call gives its raw revert data as ``Reverted``."""
        batch = [
            ("eth_call", [{"to": to, "data": data}, "latest"]) for _, to, data, _ in self._calls
        ]
        provider = self._w3.provider
        assert isinstance(provider, HTTPProvider), provider
        answers = provider.make_batch_request(batch)  # type: ignore[arg-type]
        assert isinstance(answers, list), answers
        values: dict[Any, Any] = {}
        for (key, _, _, types), answer in zip(self._calls, answers, strict=True):
            if "error" in answer:
                values[key] = Reverted(str(answer["error"].get("data", "")))
                continue
            decoded = _checksummed(abi_decode(types, bytes.fromhex(answer["result"][2:])))
            values[key] = decoded[0] if len(decoded) == 1 else decoded
        return values


_FUNCTIONS: dict[tuple[str, str], tuple[bytes, tuple[str, ...], tuple[str, ...]]] = {}


def _encoded(contract: Contract, name: str, args: tuple[Any, ...]) -> tuple[str, tuple[str, ...]]:
    """Calldata and output types of ``contract.name(*args)``. The function's selector and types are
    looked up once per process; the arguments, which differ from call to call (times, ids), are
    encoded by eth-abi alone, without web3's slower argument matching."""
    key = (contract.address, name)
    if key not in _FUNCTIONS:
        abi = contract.get_function_by_name(name).abi
        _FUNCTIONS[key] = (
            function_abi_to_4byte_selector(abi),
            tuple(get_abi_input_types(abi)),
            tuple(get_abi_output_types(abi)),
        )
    selector, inputs, outputs = _FUNCTIONS[key]
    if all(t in _WORDS for t in inputs):
        encoded = b"".join(_WORDS[t](a) for t, a in zip(inputs, args, strict=True))
    else:
        encoded = abi_encode(inputs, args)
    return "0x" + (selector + encoded).hex(), outputs


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


#: One-word argument types, encoded by hand: eth-abi's general encoder takes longer than anvil
#: takes to answer, and a probe encodes hundreds of calls after every change.
_WORDS: dict[str, Callable[[Any], bytes]] = {
    "address": lambda a: bytes(12) + bytes.fromhex(a[2:]),
    "bytes32": lambda b: bytes(b) if len(b) == 32 else abi_encode(["bytes32"], [b]),
    "bool": lambda b: _word(int(bool(b))),
    **{f"uint{bits}": _word for bits in (8, 64, 256)},
}


def _checksummed(value: Any) -> Any:
    """Addresses as web3 gives them (EIP-55), however deep in a returned struct."""
    if isinstance(value, tuple | list):
        return tuple(_checksummed(v) for v in value)
    if isinstance(value, str) and is_hex_address(value):
        return to_checksum_address(value)
    return value


@dataclass(frozen=True)
class Reverted:
    data: str


# -- the base machine ------------------------------------------------------------------------------


class ContractMachine(RuleBasedStateMachine):
    """A state machine on the module's deployment, isolated in an anvil snapshot per example."""

    def __init__(self, w3: Web3, deployment: Deployment, contracts: dict[str, Contract]) -> None:
        super().__init__()
        self.w3 = w3
        self.contracts = contracts
        self._snapshot = snapshot(w3)
        # Fresh chain clients per example: their nonce counts must not outlive a revert.
        self.act = chain_client(w3, deployment)
        self.accepted = self.refused = 0
        # What each call came to ("dispensePrescription: PrescriptionExpired"): whether sequences
        # reached the refusals and the successes that matter.
        self.outcomes: Counter[str] = Counter()
        # Set by an accepted call, cleared by `changed()`. A refused call cannot have changed
        # anything (a reverted transaction leaves no state), and that it was refused is checked
        # when it happens, so invariants re-read the chain only after a change.
        self._dirty = True

    def teardown(self) -> None:
        revert(self.w3, self._snapshot)

    def expect(
        self, contract: str, sender: LocalAccount, fn: ContractFunction, expected: Expected
    ) -> TxReceipt | None:
        """Run ``fn`` from ``sender`` and check that it did what the model says, error for error
        and event for event. A refusal is checked by gas estimation (the same EVM run, without the
        cost of mining and replaying it); an accepted call is mined."""
        chain = self.act(sender)
        outcome = expected.error if isinstance(expected, Refused) else "accepted"
        self.outcomes[f"{fn.fn_name}: {outcome}"] += 1
        if isinstance(expected, Refused):
            self.refused += 1
            with pytest.raises(ContractRevert) as info:
                chain.preflight(fn)
            assert refusal(info.value) == (expected.error, expected.args), (
                f"{fn.fn_name} from {sender.address}: the model expected {expected}"
            )
            return None
        self.accepted += 1
        self._dirty = True
        try:
            receipt = chain.transact(fn, gas=1_000_000)
        except ContractRevert as exc:
            raise AssertionError(
                f"{fn.fn_name} from {sender.address} refused with {refusal(exc)}; "
                f"the model expected {expected}"
            ) from exc
        events = emitted(self.contracts[contract], receipt)
        assert events == expected.events, f"{fn.fn_name}: emitted {events}, model {expected.events}"
        return receipt

    def toggle_suspension(self, members: MembershipModel, orgs: Iterable[str], org: str) -> None:
        """The regulator suspends ``org``, or reinstates whichever of ``orgs`` is suspended: at
        most one at a time, so that suspensions do not starve every other rule of members. With
        ``org`` the zero address, only reinstates."""
        suspended = [o for o in orgs if not members.is_active_org(o)]
        if not suspended and org == ZERO_ADDRESS:
            return  # asked only to reinstate, and none is suspended
        org = suspended[0] if suspended else org
        functions = self.contracts["Membership"].functions
        if members.is_active_org(org):
            fn, expected = (
                functions.suspendOrganisation(org),
                members.suspend(REGULATOR.address, org),
            )
        else:
            fn, expected = (
                functions.reinstateOrganisation(org),
                members.reinstate(REGULATOR.address, org),
            )
        self.expect("Membership", REGULATOR, fn, expected)

    def changed(self) -> bool:
        """Whether state may have changed since last asked; for invariants that read the chain."""
        dirty, self._dirty = self._dirty, False
        return dirty


@dataclass(frozen=True)
class Tally:
    """What a machine's run did: sequences (examples), and the calls accepted and refused."""

    sequences: int
    accepted: int
    refused: int
    outcomes: Counter[str] = field(default_factory=Counter)

    def __str__(self) -> str:
        steps = self.accepted + self.refused
        calls = f"{self.accepted} accepted, {self.refused} refused"
        return f"{self.sequences} sequences, {steps} steps ({calls})"


def run_machine(factory: Callable[[], ContractMachine]) -> Tally:
    """Run ``factory``'s machine under the loaded profile's budget and tally what it did."""
    machines: list[ContractMachine] = []

    def build() -> ContractMachine:
        machines.append(machine := factory())
        return machine

    # Hypothesis takes any factory here, though its annotation names only machine classes.
    run_state_machine_as_test(build, settings=machine_settings())  # type: ignore[arg-type]
    return Tally(
        len(machines),
        sum(m.accepted for m in machines),
        sum(m.refused for m in machines),
        sum((m.outcomes for m in machines), Counter()),
    )


# -- the membership register, as a model -----------------------------------------------------------


@dataclass
class Org:
    kind: int
    status: int  # 1 active, 2 suspended
    admin: str


@dataclass
class StaffEntry:
    org: str
    role: bytes
    licence: bytes
    active: bool


ACTIVE, SUSPENDED = 1, 2
KINDS = range(5)  # OrgKind: None, Hospital, Insurer, Pharmacy, Regulator


class MembershipModel:
    """Membership as it must behave: AccessControl roles, organisations and staff.

    Each method returns what the call must do and, when it succeeds, applies it to the model. The
    checks are in the contract's order, so the model names the same error the contract raises first.
    """

    def __init__(self, regulator: str) -> None:
        self.roles: dict[bytes, set[str]] = {
            DEFAULT_ADMIN_ROLE: {regulator},
            bytes(REGULATOR_ROLE): {regulator},
        }
        self.orgs: dict[str, Org] = {}
        self.staff: dict[str, StaffEntry] = {}

    # views
    def has_role(self, role: bytes, account: str) -> bool:
        return account in self.roles.get(role, set())

    def is_active_org(self, org: str) -> bool:
        return org in self.orgs and self.orgs[org].status == ACTIVE

    def has_staff_role(self, org: str, account: str, role: bytes) -> bool:
        s = self.staff.get(account)
        return (
            s is not None
            and s.active
            and s.org == org
            and s.role == role
            and self.is_active_org(org)
        )

    def is_active_member(self, account: str) -> bool:
        s = self.staff.get(account)
        return self.is_active_org(account) or (
            s is not None and s.active and self.is_active_org(s.org)
        )

    def organisation(self, org: str) -> tuple[int, int, str]:
        o = self.orgs.get(org)
        return (o.kind, o.status, o.admin) if o else (0, 0, ZERO_ADDRESS)

    def staff_entry(self, account: str) -> tuple[str, bytes, bytes, bool]:
        s = self.staff.get(account)
        return (s.org, s.role, s.licence, s.active) if s else (ZERO_ADDRESS, ZERO32, ZERO32, False)

    # AccessControl: every role's admin role is DEFAULT_ADMIN_ROLE (Membership sets no other)
    def _unauthorised(self, sender: str, role: bytes) -> Refused | None:
        if self.has_role(role, sender):
            return None
        return Refused("AccessControlUnauthorizedAccount", {"account": sender, "neededRole": role})

    def grant_role(self, sender: str, role: bytes, account: str) -> Expected:
        if refusal := self._unauthorised(sender, DEFAULT_ADMIN_ROLE):
            return refusal
        if self.has_role(role, account):
            return Emits()
        self.roles.setdefault(role, set()).add(account)
        return Emits([("RoleGranted", {"role": role, "account": account, "sender": sender})])

    def revoke_role(self, sender: str, role: bytes, account: str) -> Expected:
        if refusal := self._unauthorised(sender, DEFAULT_ADMIN_ROLE):
            return refusal
        return self._revoke(sender, role, account)

    def renounce_role(self, sender: str, role: bytes, confirmation: str) -> Expected:
        if confirmation != sender:
            return Refused("AccessControlBadConfirmation")
        return self._revoke(sender, role, sender)

    def _revoke(self, sender: str, role: bytes, account: str) -> Expected:
        if not self.has_role(role, account):
            return Emits()
        self.roles[role].discard(account)
        return Emits([("RoleRevoked", {"role": role, "account": account, "sender": sender})])

    # organisations
    def admit(self, sender: str, org: str, kind: int, admin: str) -> Expected:
        if refusal := self._unauthorised(sender, bytes(REGULATOR_ROLE)):
            return refusal
        if ZERO_ADDRESS in (org, admin):
            return Refused("MembershipZeroAddress")
        if kind == 0:
            return Refused("MembershipInvalidKind")
        if org in self.orgs:
            return Refused("MembershipOrganisationAlreadyAdmitted", {"org": org})
        self.orgs[org] = Org(kind, ACTIVE, admin)
        return Emits([("OrganisationAdmitted", {"org": org, "kind": kind, "admin": admin})])

    def suspend(self, sender: str, org: str) -> Expected:
        return self._set_status(sender, org, ACTIVE, SUSPENDED)

    def reinstate(self, sender: str, org: str) -> Expected:
        return self._set_status(sender, org, SUSPENDED, ACTIVE)

    def _set_status(self, sender: str, org: str, before: int, after: int) -> Expected:
        if refusal := self._unauthorised(sender, bytes(REGULATOR_ROLE)):
            return refusal
        if org not in self.orgs:
            return Refused("MembershipUnknownOrganisation", {"org": org})
        if self.orgs[org].status != before:
            name = "NotActive" if before == ACTIVE else "NotSuspended"
            return Refused(f"MembershipOrganisation{name}", {"org": org})
        self.orgs[org].status = after
        event = "OrganisationSuspended" if after == SUSPENDED else "OrganisationReinstated"
        return Emits([(event, {"org": org, "by": sender})])

    # staff
    def _not_admin(self, sender: str, org: str) -> Refused | None:
        if org not in self.orgs:
            return Refused("MembershipUnknownOrganisation", {"org": org})
        if self.orgs[org].admin != sender:
            return Refused("MembershipNotOrganisationAdmin", {"caller": sender, "org": org})
        return None

    def register(
        self, sender: str, org: str, account: str, role: bytes, licence: bytes
    ) -> Expected:
        if refusal := self._not_admin(sender, org):
            return refusal
        if not self.is_active_org(org):
            return Refused("MembershipOrganisationNotActive", {"org": org})
        if account == ZERO_ADDRESS:
            return Refused("MembershipZeroAddress")
        if role not in STAFF_ROLES:
            return Refused("MembershipUnknownRole", {"role": role})
        if role in LICENSED_ROLES and licence == ZERO32:
            return Refused("MembershipLicenceRequired", {"role": role})
        current = self.staff.get(account)
        if current is not None and current.active:
            return Refused(
                "MembershipStaffAlreadyRegistered", {"account": account, "org": current.org}
            )
        self.staff[account] = StaffEntry(org, role, licence, True)
        return Emits(
            [
                (
                    "StaffRegistered",
                    {"org": org, "account": account, "role": role, "licenceCommitment": licence},
                )
            ]
        )

    def remove(self, sender: str, org: str, account: str) -> Expected:
        if refusal := self._not_admin(sender, org):
            return refusal
        current = self.staff.get(account)
        if current is None or not current.active or current.org != org:
            return Refused("MembershipUnknownStaff", {"account": account, "org": org})
        current.active = False
        return Emits([("StaffRemoved", {"org": org, "account": account})])


@dataclass(frozen=True)
class Consortium:
    """Organisations, each its own admin, and their staff: seeded on the chain once per module, and
    as a fresh `MembershipModel` for every example, so the two start alike."""

    orgs: tuple[tuple[LocalAccount, int], ...]
    #: member address -> (organisation, role)
    staff: dict[str, tuple[LocalAccount, bytes]]

    def seed(self, act: Act, membership: Contract) -> None:
        for org, kind in self.orgs:
            act(REGULATOR).transact(
                membership.functions.admitOrganisation(org.address, kind, org.address)
            )
        for member, (org, role) in self.staff.items():
            act(org).transact(joined(membership, org.address, member, role, _licence(role)))

    def model(self) -> MembershipModel:
        model = MembershipModel(REGULATOR.address)
        for org, kind in self.orgs:
            model.admit(REGULATOR.address, org.address, kind, org.address)
        for member, (org, role) in self.staff.items():
            model.register(org.address, org.address, member, bytes(role), _licence(role))
        return model


def _licence(role: bytes) -> bytes:
    return bytes(LICENCE) if bytes(role) in LICENSED_ROLES else ZERO32


def addresses(accounts: Iterable[LocalAccount]) -> list[str]:
    return [a.address for a in accounts]
