"""A connection to the ledger's contracts: calls, signed transactions, and reverts as Python errors.

Built from settings and passed in through constructors; there is no global connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests
from eth_abi.abi import decode as abi_decode
from eth_account.datastructures import SignedTransaction
from eth_account.signers.local import LocalAccount
from eth_utils.abi import (
    abi_to_signature,
    function_signature_to_4byte_selector,
    get_abi_input_names,
    get_abi_input_types,
)
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import TxParams, TxReceipt

from ledger.chain import _artifacts
from ledger.chain._receipts import wait_for_receipt
from ledger.chain.deploy import Deployment
from ledger.errors import ChainError, ChainUnavailable, ContractRevert, NonceConflict

_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
_PANIC = function_signature_to_4byte_selector("Panic(uint256)")

#: How a node says the nonce a transaction was signed under is taken: mined already, or held by a
#: pending transaction at the same price (geth, Besu, anvil and EthereumJS use these words).
_NONCE_TAKEN = ("nonce too low", "nonce is too low", "replacement transaction underpriced")

#: Times a write is signed again under a nonce read afresh from the node before giving up: each
#: retry means another sender took the nonce in between, which a single stray send does once.
NONCE_ATTEMPTS = 3


def connect(rpc_url: str, *, timeout_s: float = 30.0) -> Web3:
    """A Web3 over HTTP that tolerates proof-of-authority extraData; ChainUnavailable if silent."""
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
    # Clique and QBFT put signer data in extraData; web3 rejects >32 bytes without this.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        w3.eth.chain_id  # noqa: B018 - the cheapest call that proves the node answers
    except (requests.RequestException, OSError, Web3RPCError) as exc:
        raise ChainUnavailable(f"no Ethereum JSON-RPC node answers at {rpc_url}") from exc
    return w3


class RevertDecoder:
    """Maps revert data onto the custom error it encodes, across every artifact's ABI."""

    def __init__(self, error_abis: Sequence[Mapping[str, Any]]) -> None:
        self._by_selector: dict[bytes, Mapping[str, Any]] = {}
        for abi in error_abis:
            selector = function_signature_to_4byte_selector(abi_to_signature(abi))  # type: ignore[arg-type]
            self._by_selector[selector] = abi

    def decode(self, data: bytes | str | None) -> ContractRevert:
        raw = HexBytes(data or b"")
        selector, body = bytes(raw[:4]), bytes(raw[4:])
        if selector == _ERROR_STRING:
            return ContractRevert("Error", {"message": abi_decode(["string"], body)[0]})
        if selector == _PANIC:
            return ContractRevert("Panic", {"code": abi_decode(["uint256"], body)[0]})
        abi = self._by_selector.get(selector)
        if abi is None:
            return ContractRevert("UnknownRevert", {"data": raw.to_0x_hex()})
        names = [n or f"arg{i}" for i, n in enumerate(get_abi_input_names(abi))]  # type: ignore[arg-type]
        types = get_abi_input_types(abi)  # type: ignore[arg-type]
        values = abi_decode(types, body)
        plain = [_plain(t, v) for t, v in zip(types, values, strict=True)]
        return ContractRevert(abi["name"], dict(zip(names, plain, strict=True)))


def _plain(abi_type: str, value: Any) -> Any:
    """ABI values as JSON-friendly Python: bytes as 0x-hex, addresses checksummed."""
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


class Chain:
    """The ledger's contracts on one chain, sending transactions as one account (if given)."""

    def __init__(
        self,
        w3: Web3,
        deployment: Deployment,
        sender: LocalAccount | None = None,
        *,
        tx_timeout_s: float = 30.0,
        gas_limit: int = 2_000_000,
        confirmations: int = 1,
    ) -> None:
        self.w3 = w3
        self.deployment = deployment
        self.sender = sender
        self._tx_timeout_s = tx_timeout_s
        self._gas_limit = gas_limit
        self._confirmations = confirmations
        self._decoder = RevertDecoder(_artifacts.all_error_abis())
        self._contracts: dict[str, Contract] = {}
        self._nonce_lock = threading.Lock()
        self._next_nonce: int | None = None

    @property
    def confirmations(self) -> int:
        """Blocks that must hold a transaction before it counts as done."""
        return self._confirmations

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    def contract(self, name: str) -> Contract:
        """The deployed contract called ``name``, bound to its recorded address."""
        if name not in self._contracts:
            self._contracts[name] = self.w3.eth.contract(
                address=self.deployment.address(name), abi=_artifacts.load(name).abi
            )
        return self._contracts[name]

    def call(self, fn: ContractFunction) -> Any:
        """Run a view function; a revert comes back as ContractRevert."""
        try:
            return fn.call({"from": self.sender.address} if self.sender else {})
        except ContractLogicError as exc:
            raise self._decoder.decode(_revert_data(exc)) from exc
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc
        except Web3RPCError as exc:  # the node answered, but cannot serve the read now
            raise ChainUnavailable(f"the node could not answer: {exc}") from exc

    def head(self) -> int:
        """The latest block number; ChainUnavailable if the node does not answer."""
        try:
            return int(self.w3.eth.block_number)
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc
        except Web3RPCError as exc:
            raise ChainUnavailable(f"the node could not answer: {exc}") from exc

    def now(self) -> int:
        """The later of this machine's clock and the latest block's time: what the next block's
        ``block.timestamp`` will be at least, so a deadline or a window asked of the chain in
        advance holds when a lagging clock or a chain whose time was moved meets it."""
        try:
            latest = int(self.w3.eth.get_block("latest")["timestamp"])
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc
        except Web3RPCError as exc:
            raise ChainUnavailable(f"the node could not answer: {exc}") from exc
        return max(int(time.time()), latest)

    def preflight(self, fn: ContractFunction) -> None:
        """Run ``fn`` as a call from the sender, so a doomed write fails before anything is stored.

        A call rather than eth_estimateGas: estimation re-executes the call many times over (a
        binary search on gas), which was the largest single cost of a write.
        """
        self._require_sender()
        self.call(fn)

    def transact(self, fn: ContractFunction, *, gas: int | None = None) -> TxReceipt:
        """Sign ``fn`` locally, send it, wait for its receipt; a revert becomes ContractRevert.

        Without ``gas`` the transaction carries the configured ceiling: the network is gas-free, so
        an unused allowance costs nothing, and no estimate is needed.
        """
        with self._nonce_lock:
            tx, signed, tx_hash = self._sign_and_send(fn, gas, None)
        try:
            receipt = wait_for_receipt(
                self.w3,
                tx_hash,
                signed.raw_transaction,
                timeout_s=self._tx_timeout_s,
                confirmations=self._confirmations,
                poll_s=0.005,
            )
        except TimeExhausted as exc:
            raise ChainError(f"transaction {tx_hash.to_0x_hex()} not mined in time") from exc
        if receipt["status"] != 1:
            raise self._replay_revert(tx, receipt)
        return receipt

    def send_recorded(
        self,
        fn: ContractFunction,
        record: Callable[[bytes, bytes], None],
        *,
        gas: int | None = None,
    ) -> tuple[bytes, HexBytes]:
        """Sign ``fn``, hand the signed bytes and their hash to ``record`` (which makes them
        durable), then send them; returns both. What ``record`` kept is all a restart needs: the
        same bytes are sent again (``rebroadcast``), never re-signed under a new nonce."""
        with self._nonce_lock:
            _tx, signed, tx_hash = self._sign_and_send(fn, gas, record)
            return bytes(signed.raw_transaction), tx_hash

    def rebroadcast(self, raw_transaction: bytes) -> bool:
        """Send signed bytes again; False when the node says their nonce is already used (the
        transaction was mined, or another took its nonce). Known already is fine: True."""
        try:
            self.w3.eth.send_raw_transaction(raw_transaction)
        except Web3RPCError as exc:
            message = (exc.message or str(exc)).lower()
            if "nonce too low" in message or "nonce is too low" in message:
                return False
            if "already known" in message or "already imported" in message:
                return True
            raise ChainError(f"transaction refused by the node: {exc.message}") from exc
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc
        return True

    def receipt_of(self, tx_hash: bytes) -> TxReceipt | None:
        """The receipt of ``tx_hash`` if it is mined, else None."""
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc

    def await_receipt(self, tx_hash: bytes, raw_transaction: bytes) -> TxReceipt:
        """Wait for the receipt of a sent transaction, re-sending its bytes while it is missing."""
        try:
            return wait_for_receipt(
                self.w3,
                HexBytes(tx_hash),
                raw_transaction,
                timeout_s=self._tx_timeout_s,
                confirmations=self._confirmations,
                poll_s=0.005,
            )
        except TimeExhausted as exc:
            raise ChainError(f"transaction 0x{tx_hash.hex()} not mined in time") from exc
        except (requests.RequestException, OSError) as exc:
            raise ChainUnavailable(str(exc)) from exc

    def _sign_and_send(
        self,
        fn: ContractFunction,
        gas: int | None,
        record: Callable[[bytes, bytes], None] | None,
    ) -> tuple[TxParams, SignedTransaction, HexBytes]:
        """Sign and send ``fn``, signing again under the node's count when the organisation's key
        spent the local nonce elsewhere (another process, an operator's wallet, an insider); call
        with the nonce lock held. ``record`` sees each signed attempt before it is sent: a refused
        one never reached the node, so the next replaces it. NonceConflict if the nonce keeps
        moving."""
        for _ in range(NONCE_ATTEMPTS):
            tx, signed = self._sign(fn, gas)
            if record is not None:
                record(bytes(signed.raw_transaction), bytes(signed.hash))
            try:
                return tx, signed, self._send(signed.raw_transaction)
            except _NonceTaken:
                continue  # _send forgot the local count: the next _sign reads the node's
        raise NonceConflict(
            f"the nonce of {self._require_sender().address} was taken by another sender "
            f"{NONCE_ATTEMPTS} times running; is its key in use elsewhere?"
        )

    def _sign(self, fn: ContractFunction, gas: int | None) -> tuple[TxParams, SignedTransaction]:
        """Build and sign ``fn`` under the next local nonce; call with the nonce lock held."""
        sender = self._require_sender()
        nonce = self._take_nonce(sender.address)
        tx: TxParams = fn.build_transaction(
            {  # type: ignore[arg-type]
                "from": sender.address,
                "nonce": nonce,
                "gas": gas if gas is not None else self._gas_limit,
                # The consortium network is gas-free, as Besu consortia run (min-gas-price 0).
                "gasPrice": 0,
                "chainId": self.chain_id,
            }
        )
        return tx, sender.sign_transaction(tx)  # type: ignore[arg-type]

    def _send(self, raw_transaction: bytes) -> HexBytes:
        """Send signed bytes; call with the nonce lock held (a refusal resets the local nonce)."""
        try:
            return self.w3.eth.send_raw_transaction(raw_transaction)
        except Web3RPCError as exc:
            self._next_nonce = None  # resynchronise from the node next time
            message = (exc.message or str(exc)).lower()
            if any(words in message for words in _NONCE_TAKEN):
                raise _NonceTaken(message) from exc
            raise ChainError(f"transaction refused by the node: {exc.message}") from exc
        except (requests.RequestException, OSError) as exc:
            self._next_nonce = None
            raise ChainUnavailable(str(exc)) from exc

    def _take_nonce(self, address: str) -> int:
        if self._next_nonce is None:
            self._next_nonce = self.w3.eth.get_transaction_count(address, "pending")  # type: ignore[arg-type]
        nonce = self._next_nonce
        self._next_nonce += 1
        return nonce

    def _replay_revert(self, tx: TxParams, receipt: TxReceipt) -> ChainError:
        """Re-run a mined, failed transaction as a call to learn its revert reason.

        Replayed on the state after its block first: when it lost a race to a transaction earlier in
        the same block (two amendments, two dispenses), that state names the conflict it hit.
        """
        call: TxParams = {k: v for k, v in tx.items() if k in ("from", "to", "data", "gas")}  # type: ignore[assignment]
        for block in (receipt["blockNumber"], receipt["blockNumber"] - 1):
            try:
                self.w3.eth.call(call, block)
            except ContractLogicError as exc:
                return self._decoder.decode(_revert_data(exc))
        return ChainError(f"transaction {receipt['transactionHash'].to_0x_hex()} reverted")

    def _require_sender(self) -> LocalAccount:
        if self.sender is None:
            raise ChainError("this chain connection has no sending account")
        return self.sender


class _NonceTaken(Exception):
    """The node refused a transaction because its nonce is spent; internal to the retry."""


def _revert_data(exc: ContractLogicError) -> str | None:
    data = exc.data
    if isinstance(data, dict):
        return data.get("data")
    return data
