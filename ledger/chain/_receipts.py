"""Waiting for a transaction's receipt, sending the same signed bytes again while it is missing.

On a chain with immediate finality (Besu QBFT) a receipt is final: one confirmation is enough. On a
chain that can reorganise (Clique) a receipt can vanish with its block: ``confirmations`` > 1 waits
until that many blocks hold it, checking it is still on the node's chain, before acknowledging.

A node may drop a transaction it accepted: EthereumJS drops those of a block that loses a fork
(geth and Besu put them back in the pool), and every client loses its pool on a restart. Sending the
identical signed transaction again is safe on any client: it has one hash and one nonce, so it is
mined at most once, and a node that still holds it just answers that it knows it.
"""

from __future__ import annotations

import contextlib
import time

from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import TimeExhausted, TransactionNotFound, Web3RPCError
from web3.types import TxReceipt

#: How often a missing transaction is sent again, at most.
RESEND_INTERVAL_S = 3.0


def wait_for_receipt(
    w3: Web3,
    tx_hash: HexBytes,
    raw_transaction: bytes,
    *,
    timeout_s: float,
    poll_s: float = 0.05,
    resend_s: float = RESEND_INTERVAL_S,
    confirmations: int = 1,
) -> TxReceipt:
    """The receipt of ``tx_hash`` once ``confirmations`` blocks hold it (its own included),
    re-sending ``raw_transaction`` every ``resend_s`` while the node knows no receipt.

    TimeExhausted after ``timeout_s``, as web3's own wait raises.
    """
    start = time.monotonic()
    next_resend = start + resend_s
    while True:
        receipt: TxReceipt | None = None
        with contextlib.suppress(TransactionNotFound):
            receipt = w3.eth.get_transaction_receipt(tx_hash)
        if receipt is not None:
            if confirmations <= 1 or _confirmed(w3, receipt, confirmations):
                return receipt
            next_resend = time.monotonic() + resend_s  # it is in a block: nothing to re-send
        now = time.monotonic()
        if now - start >= timeout_s:
            raise TimeExhausted(
                f"Transaction {tx_hash.to_0x_hex()} is not in the chain after {timeout_s} seconds"
            )
        if now >= next_resend:
            # "already known" or "nonce too low" (it was mined meanwhile) are both fine here.
            with contextlib.suppress(Web3RPCError):
                w3.eth.send_raw_transaction(raw_transaction)
            next_resend = now + resend_s
        time.sleep(poll_s)


def _confirmed(w3: Web3, receipt: TxReceipt, confirmations: int) -> bool:
    number = receipt["blockNumber"]
    if w3.eth.block_number < number + confirmations - 1:
        return False
    block = w3.eth.get_block(number)
    return block.get("hash") == receipt["blockHash"]  # still on the chain the node follows
