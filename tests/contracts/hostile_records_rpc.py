"""An outside attacker's toolkit for the record-identity attacks: calldata encoded from the ABI in
ledger/artifacts/, transactions signed with the attacking organisation's own key and sent by raw
JSON-RPC (eth_call, eth_sendRawTransaction), refusals decoded from the ABI's custom errors. No
ledger client class (Chain, the books, the gateway client) stands in between."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_account.signers.local import LocalAccount
from eth_utils.abi import function_signature_to_4byte_selector
from eth_utils.address import to_checksum_address
from web3 import Web3
from web3.contract import Contract

from tests.contracts.raw_tx import broadcast, rpc

ARTIFACTS = Path(__file__).resolve().parents[2] / "ledger" / "artifacts"


def artifact_contract(w3: Web3, name: str, address: str) -> Contract:
    """``name``'s ABI as the committed artifact has it, at ``address``."""
    abi = json.loads((ARTIFACTS / f"{name}.json").read_text())["abi"]
    return w3.eth.contract(address=to_checksum_address(address), abi=abi)


def send_raw(w3: Web3, sender: LocalAccount, contract: Contract, fn: str, *args: Any) -> Any:
    """`raw_tx.broadcast` ``fn(*args)``; its receipt as JSON-RPC answers it (hex fields)."""
    tx_hash = broadcast(w3, sender, contract.address, contract.encode_abi(fn, args=list(args)))
    # Anvil answers eth_sendRawTransaction before it has mined the block, now and then.
    for _ in range(100):
        receipt = rpc(w3, "eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            return receipt
        time.sleep(0.05)
    raise AssertionError(f"transaction {tx_hash} was not mined")


def call_raw(w3: Web3, sender: LocalAccount, contract: Contract, fn: str, *args: Any) -> Any:
    """eth_call of ``fn(*args)`` from ``sender``: its decoded outputs."""
    data = contract.encode_abi(fn, args=list(args))
    out = rpc(
        w3, "eth_call", {"from": sender.address, "to": contract.address, "data": data}, "latest"
    )
    assert isinstance(out, str), out
    types = [o["type"] if o["type"] != "tuple" else _tuple_type(o) for o in _outputs(contract, fn)]
    return decode(types, bytes.fromhex(out[2:]))


def attempt(
    w3: Web3, sender: LocalAccount, contract: Contract, fn: str, *args: Any
) -> tuple[str, dict[str, Any]]:
    """Send ``fn(*args)`` raw as ``sender``; check it was mined, failed and logged nothing; return
    the custom error it was refused with, decoded from the ABI, as (name, args)."""
    data = contract.encode_abi(fn, args=list(args))
    error = rpc(
        w3, "eth_call", {"from": sender.address, "to": contract.address, "data": data}, "latest"
    )
    assert isinstance(error, dict), f"{fn} was not refused"
    receipt = send_raw(w3, sender, contract, fn, *args)
    assert int(receipt["status"], 16) == 0
    assert receipt["logs"] == []
    return decode_error(contract, bytes.fromhex(error["data"][2:]))


def decode_error(contract: Contract, data: bytes) -> tuple[str, dict[str, Any]]:
    """Revert data as (custom error name, args), by the contract's ABI; addresses checksummed."""
    for entry in contract.abi:
        if entry["type"] != "error":
            continue
        types = [i["type"] for i in entry["inputs"]]
        selector = function_signature_to_4byte_selector(f"{entry['name']}({','.join(types)})")
        if data[:4] == selector:
            values = decode(types, data[4:])
            names = [i["name"] for i in entry["inputs"]]
            return entry["name"], {
                n: to_checksum_address(v) if t == "address" else v
                for n, t, v in zip(names, types, values, strict=True)
            }
    raise AssertionError(f"unknown revert data 0x{data.hex()}")


def _outputs(contract: Contract, fn: str) -> list[dict[str, Any]]:
    (entry,) = (e for e in contract.abi if e.get("type") == "function" and e["name"] == fn)
    return list(entry["outputs"])


def _tuple_type(output: dict[str, Any]) -> str:
    inner = [c["type"] if c["type"] != "tuple" else _tuple_type(c) for c in output["components"]]
    return f"({','.join(inner)})"
