"""A hostile member's own transactions, as it would send them: calldata encoded from the committed
ABI (or built as the attacker pleases), signed with eth_account under the attacker's key and sent by
``eth_sendRawTransaction``, with no ledger client (``Chain``, the books, the gateway) in between.
Every attack test sends through here."""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.types import TxReceipt

from tests.contracts.contract_helpers import FORCED_GAS


def rpc(w3: Web3, method: str, *params: Any) -> Any:
    """One JSON-RPC request; its error object (a revert, say) comes back as the answer."""
    answer = w3.provider.make_request(method, list(params))  # type: ignore[arg-type]
    return answer["error"] if "error" in answer else answer["result"]


def broadcast(w3: Web3, key: LocalAccount, to: str, data: str) -> str:
    """Sign a transaction of ``data`` to ``to`` with ``key`` (forced gas, so that a refusal is mined
    rather than estimated away), send it raw, and return its hash."""
    tx = {
        "to": to,
        "data": data,
        "value": 0,
        "gas": FORCED_GAS,
        "gasPrice": 0,
        "nonce": int(rpc(w3, "eth_getTransactionCount", key.address, "pending"), 16),
        "chainId": int(rpc(w3, "eth_chainId"), 16),
    }
    raw = key.sign_transaction(tx).raw_transaction  # type: ignore[arg-type]
    tx_hash = rpc(w3, "eth_sendRawTransaction", "0x" + bytes(raw).hex())
    assert isinstance(tx_hash, str), tx_hash
    return tx_hash


def send_calldata(w3: Web3, key: LocalAccount, to: str, data: str) -> TxReceipt:
    """`broadcast`, then the mined receipt, whether it succeeded or reverted."""
    return w3.eth.wait_for_transaction_receipt(broadcast(w3, key, to, data))  # type: ignore[arg-type]


def send_raw(w3: Web3, key: LocalAccount, contract: Contract, fn: str, *args: Any) -> TxReceipt:
    """Sign ``fn(*args)`` on ``contract`` with ``key``, send it raw, return its mined receipt."""
    return send_calldata(w3, key, contract.address, contract.encode_abi(fn, args=list(args)))
