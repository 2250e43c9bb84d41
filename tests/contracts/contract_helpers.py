"""What contract tests share: named test accounts, the contracts' enums and roles, and helpers that
read what a transaction did (its events) or why it was refused (its decoded custom error)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic
from eth_utils.address import is_hex_address, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from ledger.chain.connection import Chain
from ledger.chain.deploy import Deployment
from ledger.errors import ContractRevert
from ledger.network.joining import join_args
from ledger.types import OrgKind

#: ``act(account)`` gives the ledger's chain client sending as ``account`` (a fixture).
Act = Callable[[LocalAccount], Chain]

#: Gas for a transaction sent past preflight, so that a refusal is mined rather than estimated away.
FORCED_GAS = 1_000_000


REGULATOR_ROLE = Web3.keccak(text="REGULATOR_ROLE")
DOCTOR_ROLE = Web3.keccak(text="DOCTOR_ROLE")
PHARMACIST_ROLE = Web3.keccak(text="PHARMACIST_ROLE")
CLERK_ROLE = Web3.keccak(text="CLERK_ROLE")
AUDITOR_ROLE = Web3.keccak(text="AUDITOR_ROLE")
LICENCE = Web3.keccak(text="salted licence commitment")
#: When the test doctors' independent practice began (2001-09-09): years before any test clock.
PRACTISING_SINCE = 1_000_000_000


#: Every account `account` made, by address: staff sign their own consent to join (see `joined`).
_ACCOUNTS: dict[str, LocalAccount] = {}


def account(label: str) -> LocalAccount:
    """A fixed key per label, so failures name the same addresses each run; it needs no balance."""
    key: LocalAccount = Account.from_key(Web3.keccak(text=f"medledger/tests/{label}"))
    return _ACCOUNTS.setdefault(key.address, key)


def joined(
    membership: Contract, org: str, member: str, role: bytes, licence: bytes
) -> ContractFunction:
    """``registerStaff`` of ``member`` at ``org``, with the member's signed consent under its
    current nonce; for an address no `account` has (the zero address), a stranger signs."""
    signer = _ACCOUNTS.get(to_checksum_address(member)) or account("a stranger to the member")
    org_, _, role_, licence_, deadline, signature = join_args(
        membership, signer, org, role, licence
    )
    return membership.functions.registerStaff(org_, member, role_, licence_, deadline, signature)


def record_id(hospital: str, label: str) -> bytes:
    """A fixed record id in ``hospital``'s namespace: its address, then 12 bytes from ``label``."""
    return bytes.fromhex(hospital[2:]) + Web3.keccak(text=label)[:12]


DEPLOYER = account("deployer")
REGULATOR = account("regulator")
HOSPITAL, HOSPITAL_ADMIN = account("hospital"), account("hospital-admin")
OTHER_HOSPITAL, OTHER_ADMIN = account("other-hospital"), account("other-hospital-admin")
INSURER, INSURER_ADMIN = account("insurer"), account("insurer-admin")
PHARMACY, PHARMACY_ADMIN = account("pharmacy"), account("pharmacy-admin")
OTHER_PHARMACY, OTHER_PHARMACY_ADMIN = account("other-pharmacy"), account("other-pharmacy-admin")
DOCTOR, CLERK = account("doctor"), account("clerk")
PHARMACIST, AUDITOR = account("pharmacist"), account("auditor")
OTHER_DOCTOR = account("other-doctor")
PHARMACY_PHARMACIST = account("pharmacy-pharmacist")
OTHER_PHARMACY_PHARMACIST = account("other-pharmacy-pharmacist")
OUTSIDER = account("outsider")
PATIENT = account("patient-pseudonym")
OTHER_PATIENT = account("other-patient-pseudonym")


def chain_client(w3: Web3, deployment: Deployment) -> Act:
    """An ``act``: one chain client per account, each keeping its own nonce count."""
    chains: dict[str, Chain] = {}

    def act(sender: LocalAccount) -> Chain:
        return chains.setdefault(sender.address, Chain(w3, deployment, sender))

    return act


def emitted(contract: Contract, receipt: TxReceipt) -> list[tuple[str, dict[str, Any]]]:
    """Every log of ``receipt`` as (event name, args); a log not from ``contract`` shows as foreign,
    so comparing with an exact list also asserts which events were not emitted."""
    names = {
        event_abi_to_log_topic(abi): abi["name"] for abi in contract.abi if abi["type"] == "event"
    }
    events: list[tuple[str, dict[str, Any]]] = []
    for log in receipt["logs"]:
        name = names.get(bytes(log["topics"][0])) if log["address"] == contract.address else None
        if name is None:
            events.append(("<foreign log>", {"address": log["address"]}))
        else:
            events.append((name, dict(contract.events[name]().process_log(log)["args"])))
    return events


def refusal(error: ContractRevert) -> tuple[str, dict[str, Any]]:
    """A decoded revert as (error name, args), in the forms web3 gives event args: checksummed
    addresses and bytes, whatever the decoder's rendering."""
    return error.name, {key: _as_event_arg(value) for key, value in error.args_by_name.items()}


def _as_event_arg(value: Any) -> Any:
    if isinstance(value, str) and is_hex_address(value):
        return to_checksum_address(value)
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    return value


def refused(chain: Chain, fn: ContractFunction) -> tuple[str, dict[str, Any]]:
    """Send ``fn`` past preflight; check it was mined, failed and logged nothing; return why."""
    with pytest.raises(ContractRevert) as info:
        chain.transact(fn, gas=FORCED_GAS)
    # Anvil mines each transaction as it comes: the refused one is the latest block's only one
    # of this sender (a gateway of the session's world may send one into the same block).
    assert chain.sender is not None
    (receipt,) = [
        r for r in chain.w3.eth.get_block_receipts("latest") if r["from"] == chain.sender.address
    ]
    assert receipt["from"] == chain.sender.address
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    return refusal(info.value)


def admit(
    act: Act, membership: Contract, org: LocalAccount, kind: OrgKind, admin: LocalAccount
) -> None:
    act(REGULATOR).transact(
        membership.functions.admitOrganisation(org.address, kind, admin.address)
    )


def suspend(act: Act, membership: Contract, org: LocalAccount) -> None:
    act(REGULATOR).transact(membership.functions.suspendOrganisation(org.address))


def register(
    act: Act,
    membership: Contract,
    admin: LocalAccount,
    org: LocalAccount,
    member: LocalAccount,
    role: bytes,
    licence: bytes = LICENCE,
) -> None:
    act(admin).transact(joined(membership, org.address, member.address, role, licence))


def remove(
    act: Act, membership: Contract, admin: LocalAccount, org: LocalAccount, member: LocalAccount
) -> None:
    act(admin).transact(membership.functions.removeStaff(org.address, member.address))


def latest_timestamp(w3: Web3) -> int:
    """The latest block's time: the clock contract tests count from (never the wall clock)."""
    return int(w3.eth.get_block("latest")["timestamp"])


def snapshot(w3: Web3) -> str:
    """An anvil snapshot of the chain now, for ``revert``."""
    taken: str = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    return taken


def revert(w3: Web3, taken: str) -> None:
    """Back to ``taken``, the clock included: anvil's revert also winds its clock back to the
    snapshot's block, so each reverted test would leave the session's chain further behind the wall
    clock (minutes over a worker's contract tests). Later tests on the same chain that count from
    the wall clock (a claim authorisation that expired a minute ago) would then find the chain
    a minute or more in the past. The chain's clock never goes back past a block it has mined."""
    reverted = w3.provider.make_request("evm_revert", [taken])  # type: ignore[arg-type]
    assert reverted["result"], "anvil refused to revert to the snapshot"
    now = max(int(time.time()), latest_timestamp(w3) + 1)
    w3.provider.make_request("evm_setTime", [now])  # type: ignore[arg-type]


@contextmanager
def isolated(w3: Web3) -> Iterator[None]:
    """Whatever the block does to the chain is undone when it ends (``revert``)."""
    taken = snapshot(w3)
    try:
        yield
    finally:
        revert(w3, taken)


def next_block_at(w3: Web3, timestamp: int) -> None:
    """Mine the next block at exactly ``timestamp``; send its transaction with ``FORCED_GAS``, since
    a preflight estimate runs at another time."""
    w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])  # type: ignore[arg-type]


def record_registration(
    act: Act,
    practice: Contract,
    doctor: LocalAccount,
    institution: LocalAccount,
    valid_from: int,
    valid_to: int,
    licence: bytes = LICENCE,
    practising_since: int = PRACTISING_SINCE,
) -> TxReceipt:
    return act(REGULATOR).transact(
        practice.functions.recordRegistration(
            doctor.address, institution.address, licence, valid_from, valid_to, practising_since
        )
    )
