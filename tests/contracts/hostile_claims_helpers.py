"""A hostile member's own transactions, as it would send them: calldata encoded from the committed
ABI, signed with eth_account under the attacker's key and sent by ``eth_sendRawTransaction``, with
no ledger client (``Chain``, the books, the gateway) in between."""

from __future__ import annotations

from typing import Any

from contract_helpers import refusal
from eth_account.signers.local import LocalAccount
from raw_tx import send_raw
from web3 import Web3
from web3.contract import Contract

from ledger.chain.connection import RevertDecoder


def raw_refused(
    w3: Web3, sender: LocalAccount, contract: Contract, fn: str, *args: Any
) -> tuple[str, dict[str, Any]]:
    """Send ``fn(*args)`` raw as ``sender``; check it was mined, failed and logged nothing (so no
    event was emitted); return the custom error it reverts with, as ``eth_call`` reports it."""
    call = {"from": sender.address, "to": contract.address}
    call["data"] = contract.encode_abi(fn, args=list(args))
    answer = w3.provider.make_request("eth_call", [call, "latest"])  # type: ignore[arg-type]
    assert "error" in answer, f"{fn} was not refused: {answer}"
    receipt = send_raw(w3, sender, contract, fn, *args)
    assert (receipt["status"], receipt["logs"]) == (0, [])
    errors = [abi for abi in contract.abi if abi["type"] == "error"]
    return refusal(RevertDecoder(errors).decode(answer["error"]["data"]))
