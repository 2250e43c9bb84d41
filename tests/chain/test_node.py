"""ledger.chain.node: a local anvil that starts, answers, keeps its chain over restarts, stops
cleanly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from eth_account import Account
from web3 import Web3

from ledger.chain.node import Anvil, is_listening
from ledger.errors import ChainUnavailable, ConfigError

Connect = Callable[[str], Web3]


@pytest.fixture
def connect() -> Iterator[Connect]:
    """``connect(url)``: a Web3 whose HTTP sessions are all closed after the test."""
    sessions: list[requests.Session] = []

    def make(url: str) -> Web3:
        sessions.append(requests.Session())
        return Web3(Web3.HTTPProvider(url, session=sessions[-1]))

    yield make
    for session in sessions:
        session.close()


def _send_value_free_tx(w3: Web3) -> None:
    sender = Account.from_key(Web3.keccak(text="medledger/tests/node-sender"))
    tx = {
        "to": sender.address,
        "value": 0,
        "gas": 21_000,
        "gasPrice": 0,
        "nonce": w3.eth.get_transaction_count(sender.address),
        "chainId": w3.eth.chain_id,
    }
    tx_hash = w3.eth.send_raw_transaction(sender.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1


def test_started_node_answers_on_its_chain_id(
    tmp_path: Path, free_port: int, connect: Connect
) -> None:
    with Anvil(state_dir=tmp_path, port=free_port, chain_id=4242) as node:
        assert is_listening(node.url)
        assert connect(node.url).eth.chain_id == 4242


def test_node_is_gas_free_for_an_account_without_balance(
    tmp_path: Path, free_port: int, connect: Connect
) -> None:
    with Anvil(state_dir=tmp_path, port=free_port) as node:
        w3 = connect(node.url)
        assert w3.eth.gas_price == 0
        _send_value_free_tx(w3)


def test_restarted_node_keeps_its_chain(tmp_path: Path, free_port: int, connect: Connect) -> None:
    with Anvil(state_dir=tmp_path, port=free_port) as node:
        _send_value_free_tx(connect(node.url))
        before = connect(node.url).eth.get_block("latest")
    with Anvil(state_dir=tmp_path, port=free_port) as node:
        after = connect(node.url).eth.get_block("latest")
    assert (after["number"], after["hash"]) == (before["number"], before["hash"])


def test_node_logs_to_a_file_in_its_state_dir(tmp_path: Path, free_port: int) -> None:
    with Anvil(state_dir=tmp_path, port=free_port) as node:
        pass
    assert f"Listening on 127.0.0.1:{free_port}" in node.log_file.read_text()


def test_stopping_twice_or_before_starting_does_nothing(tmp_path: Path, free_port: int) -> None:
    node = Anvil(state_dir=tmp_path, port=free_port)
    node.stop()
    with node:
        assert node.running
    node.stop()
    assert not node.running
    assert not is_listening(node.url)


def test_starting_where_a_node_already_answers_is_refused(tmp_path: Path, anvil: Anvil) -> None:
    with pytest.raises(ConfigError, match="already answers"):
        Anvil(state_dir=tmp_path, port=anvil.port).start()


def test_a_node_that_exits_at_once_is_reported(tmp_path: Path, free_port: int) -> None:
    with pytest.raises(ChainUnavailable, match="anvil exited with 1"):
        Anvil(state_dir=tmp_path, port=free_port, binary=Path("/bin/false")).start()


def test_a_missing_binary_is_a_configuration_error(tmp_path: Path, free_port: int) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        Anvil(state_dir=tmp_path, port=free_port, binary=tmp_path / "anvil").start()


def test_nothing_listening_is_reported_as_such(free_port: int) -> None:
    assert not is_listening(f"http://127.0.0.1:{free_port}")
