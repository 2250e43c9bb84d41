"""A hostile member's own tools for the prescription attacks: transactions signed with its key by
eth_account and sent as raw JSON-RPC, calldata encoded from the ABI in ledger/artifacts, reverts
decoded from that ABI with eth_abi. Nothing of the ledger's chain client is in the way."""

from __future__ import annotations

from typing import Any

from contract_helpers import FORCED_GAS
from eth_abi.abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import abi_to_signature, function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt


def revert_of(w3: Web3, contract: Contract, receipt: TxReceipt) -> tuple[str, dict[str, Any]]:
    """The custom error a mined, failed transaction hit, as (name, arguments): the transaction
    replayed by eth_call in its own block, whose state it left as it found it (anvil mines one
    transaction a block) and whose time it saw."""
    tx = w3.eth.get_transaction(receipt["transactionHash"])
    call = {
        "from": tx["from"],
        "to": tx["to"],
        "data": Web3.to_hex(tx["input"]),
        "gas": hex(FORCED_GAS),
    }
    reply = w3.provider.make_request(
        "eth_call",  # type: ignore[arg-type]
        [call, hex(receipt["blockNumber"])],
    )
    assert "error" in reply, f"the replayed transaction did not revert: {reply}"
    data = bytes.fromhex(str(reply["error"]["data"])[2:])
    for abi in contract.abi:
        if abi["type"] != "error":
            continue
        if function_signature_to_4byte_selector(abi_to_signature(abi)) != data[:4]:  # type: ignore[arg-type]
            continue
        types = [i["type"] for i in abi["inputs"]]
        values = abi_decode(types, data[4:])
        plain = [
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, values, strict=True)
        ]
        return abi["name"], {i["name"]: v for i, v in zip(abi["inputs"], plain, strict=True)}
    raise AssertionError(f"revert data matches no error of the ABI: 0x{data.hex()}")


def refused_raw(
    w3: Web3, key: LocalAccount, contract: Contract, fn_name: str, *args: Any
) -> tuple[str, dict[str, Any]]:
    """Send the attack; check it was mined, failed and logged nothing; return the error it hit."""
    receipt = send_raw(w3, key, contract, fn_name, *args)
    assert receipt["status"] == 0
    assert receipt["logs"] == []
    return revert_of(w3, contract, receipt)


def issuance(contract: Contract, **wanted: Any) -> tuple[Any, ...]:
    """An ``Issuance`` for ``issuePrescription`` as the ABI defines it, from the fields the attacker
    wants: a field the ABI does not have is a wish the contract gives no way to express."""
    fn = next(e for e in contract.abi if e.get("name") == "issuePrescription")
    components = fn["inputs"][1]["components"]
    missing = [c["name"] for c in components if c["name"] not in wanted]
    assert not missing, f"the attack names no value for {missing}"
    return tuple(wanted[c["name"]] for c in components)


def field_names(contract: Contract) -> set[str]:
    """Every name in the ABI's inputs, outputs and event fields, tuple components included."""

    def walk(params: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        for param in params:
            found.add(param["name"])
            found |= walk(param.get("components", []))
        return found

    names: set[str] = set()
    for entry in contract.abi:
        names |= walk(entry.get("inputs", [])) | walk(entry.get("outputs", []))
    return names
