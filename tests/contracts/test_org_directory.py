"""OrgDirectory: each active organisation publishes its own envelope key and content-node peer, for
itself only; a suspended one's entry stays but reads as not usable; every size is bounded.

The attacks are raw transactions signed by the attacking member's own key
(hostile_prescription_helpers), as an admitted organisation would send them past any gateway.
"""

from __future__ import annotations

import pytest
from contract_helpers import (
    HOSPITAL,
    HOSPITAL_ADMIN,
    OUTSIDER,
    PHARMACY,
    PHARMACY_ADMIN,
    REGULATOR,
    Act,
    admit,
    emitted,
    refused,
    suspend,
)
from eth_account.signers.local import LocalAccount
from hostile_prescription_helpers import refused_raw
from raw_tx import send_calldata, send_raw
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from ledger.chain.connection import Chain
from ledger.errors import ContractRevert
from ledger.types import OrgKind

KEY = b"\x42" * 32
OTHER_KEY = b"\x24" * 32
PEER = b"12D3KooWExamplePeerIdOfHospitalA"
ADDRS = [b"/ip4/10.0.0.1/tcp/4001", b"/ip4/127.0.0.1/tcp/4001"]
MAX_PEER_ID_BYTES, MAX_ADDRS, MAX_ADDR_BYTES = 128, 8, 256


@pytest.fixture
def members(act: Act, membership: Contract) -> None:
    admit(act, membership, HOSPITAL, OrgKind.HOSPITAL, HOSPITAL_ADMIN)
    admit(act, membership, PHARMACY, OrgKind.PHARMACY, PHARMACY_ADMIN)


def publish(
    chain: Chain,
    directory: Contract,
    key: bytes = KEY,
    peer: bytes = PEER,
    addrs: list[bytes] = ADDRS,
) -> TxReceipt:
    return chain.transact(directory.functions.setEntry(key, peer, addrs))


def entry(directory: Contract, org: LocalAccount) -> tuple[tuple[bytes, bytes, list[bytes]], bool]:
    (key, peer, addrs, _updated_at), usable = directory.functions.entry(org.address).call()
    return (key, peer, list(addrs)), usable


def test_bounds_are_the_contracts_constants(directory: Contract) -> None:
    functions = directory.functions
    assert functions.MAX_PEER_ID_BYTES().call() == MAX_PEER_ID_BYTES
    assert functions.MAX_ADDRS().call() == MAX_ADDRS
    assert functions.MAX_ADDR_BYTES().call() == MAX_ADDR_BYTES


def test_an_active_organisation_publishes_its_entry(
    act: Act, directory: Contract, members: None
) -> None:
    receipt = publish(act(HOSPITAL), directory)
    assert emitted(directory, receipt) == [
        (
            "OrgDirectoryUpdated",
            {"org": HOSPITAL.address, "encryptionKey": KEY, "peerId": PEER, "addrs": ADDRS},
        )
    ]
    assert entry(directory, HOSPITAL) == ((KEY, PEER, ADDRS), True)


def test_an_entry_records_when_it_was_published(
    act: Act, w3: Web3, directory: Contract, members: None
) -> None:
    receipt = publish(act(HOSPITAL), directory)
    (_key, _peer, _addrs, updated_at), _usable = directory.functions.entry(HOSPITAL.address).call()
    assert updated_at == w3.eth.get_block(receipt["blockNumber"])["timestamp"]


def test_an_entry_without_a_content_node_is_accepted(
    act: Act, directory: Contract, members: None
) -> None:
    publish(act(HOSPITAL), directory, peer=b"", addrs=[])
    assert entry(directory, HOSPITAL) == ((KEY, b"", []), True)


def test_publishing_again_replaces_the_entry_and_lists_the_organisation_once(
    act: Act, directory: Contract, members: None
) -> None:
    publish(act(HOSPITAL), directory)
    publish(act(HOSPITAL), directory, key=OTHER_KEY, addrs=[b"/ip4/10.0.0.9/tcp/4001"])
    assert entry(directory, HOSPITAL) == ((OTHER_KEY, PEER, [b"/ip4/10.0.0.9/tcp/4001"]), True)
    assert directory.functions.organisations().call() == [HOSPITAL.address]


def test_organisations_and_active_peers_list_every_publisher_in_order(
    act: Act, directory: Contract, members: None
) -> None:
    publish(act(PHARMACY), directory)
    publish(act(HOSPITAL), directory)
    assert directory.functions.organisations().call() == [PHARMACY.address, HOSPITAL.address]
    assert directory.functions.activePeers().call() == [PHARMACY.address, HOSPITAL.address]


def test_a_suspended_organisations_entry_reads_as_not_usable(
    act: Act, membership: Contract, directory: Contract, members: None
) -> None:
    publish(act(HOSPITAL), directory)
    suspend(act, membership, HOSPITAL)
    assert entry(directory, HOSPITAL) == ((KEY, PEER, ADDRS), False)


def test_a_suspended_organisation_is_not_an_active_peer(
    act: Act, membership: Contract, directory: Contract, members: None
) -> None:
    publish(act(HOSPITAL), directory)
    publish(act(PHARMACY), directory)
    suspend(act, membership, HOSPITAL)
    assert directory.functions.activePeers().call() == [PHARMACY.address]
    assert directory.functions.organisations().call() == [HOSPITAL.address, PHARMACY.address]


def test_a_reinstated_organisation_is_an_active_peer_again(
    act: Act, membership: Contract, directory: Contract, members: None
) -> None:
    publish(act(HOSPITAL), directory)
    suspend(act, membership, HOSPITAL)
    act(REGULATOR).transact(membership.functions.reinstateOrganisation(HOSPITAL.address))
    assert directory.functions.activePeers().call() == [HOSPITAL.address]


def test_an_organisation_without_an_entry_is_unknown(act: Act, directory: Contract) -> None:
    with pytest.raises(ContractRevert) as info:
        act(REGULATOR).call(directory.functions.entry(HOSPITAL.address))
    assert (info.value.name, info.value.args_by_name) == (
        "OrgDirectoryUnknownOrganisation",
        {"org": HOSPITAL.address},
    )


def test_a_non_member_cannot_publish(act: Act, directory: Contract) -> None:
    assert refused(act(OUTSIDER), directory.functions.setEntry(KEY, PEER, ADDRS)) == (
        "OrgDirectoryCallerNotMember",
        {"caller": OUTSIDER.address},
    )


def test_a_suspended_organisation_cannot_publish(
    act: Act, membership: Contract, directory: Contract, members: None
) -> None:
    suspend(act, membership, HOSPITAL)
    assert refused(act(HOSPITAL), directory.functions.setEntry(KEY, PEER, ADDRS)) == (
        "OrgDirectoryCallerNotMember",
        {"caller": HOSPITAL.address},
    )


def test_a_zero_encryption_key_is_refused(act: Act, directory: Contract, members: None) -> None:
    assert refused(act(HOSPITAL), directory.functions.setEntry(bytes(32), PEER, ADDRS)) == (
        "OrgDirectoryZeroEncryptionKey",
        {"org": HOSPITAL.address},
    )


def test_a_peer_id_over_the_bound_is_refused(act: Act, directory: Contract, members: None) -> None:
    peer = b"p" * (MAX_PEER_ID_BYTES + 1)
    assert refused(act(HOSPITAL), directory.functions.setEntry(KEY, peer, ADDRS)) == (
        "OrgDirectoryPeerIdTooLong",
        {"length": MAX_PEER_ID_BYTES + 1, "max": MAX_PEER_ID_BYTES},
    )


def test_more_addresses_than_the_bound_are_refused(
    act: Act, directory: Contract, members: None
) -> None:
    addrs = [b"/ip4/10.0.0.1/tcp/4001"] * (MAX_ADDRS + 1)
    assert refused(act(HOSPITAL), directory.functions.setEntry(KEY, PEER, addrs)) == (
        "OrgDirectoryTooManyAddresses",
        {"count": MAX_ADDRS + 1, "max": MAX_ADDRS},
    )


def test_an_address_over_the_bound_is_refused(act: Act, directory: Contract, members: None) -> None:
    addrs = [ADDRS[0], b"a" * (MAX_ADDR_BYTES + 1)]
    assert refused(act(HOSPITAL), directory.functions.setEntry(KEY, PEER, addrs)) == (
        "OrgDirectoryAddressLength",
        {"index": 1, "length": MAX_ADDR_BYTES + 1, "max": MAX_ADDR_BYTES},
    )


def test_an_empty_address_is_refused(act: Act, directory: Contract, members: None) -> None:
    assert refused(act(HOSPITAL), directory.functions.setEntry(KEY, PEER, [b""])) == (
        "OrgDirectoryAddressLength",
        {"index": 0, "length": 0, "max": MAX_ADDR_BYTES},
    )


def test_an_entry_at_every_bound_is_accepted(act: Act, directory: Contract, members: None) -> None:
    peer, addrs = b"p" * MAX_PEER_ID_BYTES, [b"a" * MAX_ADDR_BYTES] * MAX_ADDRS
    publish(act(HOSPITAL), directory, peer=peer, addrs=addrs)
    assert entry(directory, HOSPITAL) == ((KEY, peer, addrs), True)


# -- a hostile member, calling the contract directly with its own key ---------------------------


def test_a_member_publishing_cannot_overwrite_another_members_entry(
    w3: Web3, act: Act, directory: Contract, members: None
) -> None:
    """The pharmacy sends the hospital's peer and its own key, hoping to take the hospital's
    place: the only writer is msg.sender, so it wrote its own entry and the hospital's is as it
    was."""
    publish(act(HOSPITAL), directory)
    receipt = send_raw(w3, PHARMACY, directory, "setEntry", OTHER_KEY, PEER, ADDRS)
    assert receipt["status"] == 1
    assert emitted(directory, receipt) == [
        (
            "OrgDirectoryUpdated",
            {"org": PHARMACY.address, "encryptionKey": OTHER_KEY, "peerId": PEER, "addrs": ADDRS},
        )
    ]
    assert entry(directory, HOSPITAL) == ((KEY, PEER, ADDRS), True)


def test_no_function_takes_the_organisation_whose_entry_it_writes(directory: Contract) -> None:
    """Nothing in the ABI names the organisation a write is for: an attacker has no argument to
    put another's address in."""
    writes = [
        abi
        for abi in directory.abi
        if abi["type"] == "function" and abi["stateMutability"] not in ("view", "pure")
    ]
    assert [(abi["name"], [i["type"] for i in abi["inputs"]]) for abi in writes] == [
        ("setEntry", ["bytes32", "bytes", "bytes[]"])
    ]


def test_a_member_calling_a_setter_for_another_organisation_is_refused(
    w3: Web3, act: Act, directory: Contract, members: None
) -> None:
    """Calldata for a ``setEntry(address,...)`` the attacker hopes exists: no such selector, no
    fallback, so the transaction fails and logs nothing."""
    publish(act(HOSPITAL), directory)
    selector = Web3.keccak(text="setEntry(address,bytes32,bytes,bytes[])")[:4]
    args = w3.codec.encode(
        ["address", "bytes32", "bytes", "bytes[]"], [HOSPITAL.address, OTHER_KEY, PEER, ADDRS]
    )
    receipt = send_calldata(w3, PHARMACY, directory.address, "0x" + (selector + args).hex())
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    assert entry(directory, HOSPITAL) == ((KEY, PEER, ADDRS), True)


def test_a_suspended_member_cannot_refresh_its_entry_by_a_direct_call(
    w3: Web3, act: Act, membership: Contract, directory: Contract, members: None
) -> None:
    """A suspended hospital tries to publish new addresses so that nodes keep dialling it."""
    publish(act(HOSPITAL), directory)
    suspend(act, membership, HOSPITAL)
    error = refused_raw(w3, HOSPITAL, directory, "setEntry", KEY, PEER, [b"/ip4/10.9.9.9/tcp/1"])
    assert error == ("OrgDirectoryCallerNotMember", {"caller": HOSPITAL.address})
    assert entry(directory, HOSPITAL) == ((KEY, PEER, ADDRS), False)


def test_an_outsider_cannot_publish_by_a_direct_call(w3: Web3, directory: Contract) -> None:
    error = refused_raw(w3, OUTSIDER, directory, "setEntry", KEY, PEER, ADDRS)
    assert error == ("OrgDirectoryCallerNotMember", {"caller": OUTSIDER.address})
    assert directory.functions.organisations().call() == []
