"""Waiting for a transaction's receipt, sending the same signed bytes again while it is missing.

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
) -> TxReceipt:
    """The receipt of ``tx_hash``, re-sending ``raw_transaction`` every ``resend_s`` until it comes.

    TimeExhausted after ``timeout_s``, as web3's own wait raises.
    """
    start = time.monotonic()
    next_resend = start + resend_s
    while True:
        with contextlib.suppress(TransactionNotFound):
            return w3.eth.get_transaction_receipt(tx_hash)
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
