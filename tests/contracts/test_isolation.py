"""The contract tests' isolation (contract_helpers.isolated) leaves the session's chain as it found
it, its clock included: the API tests that share the chain count deadlines from the wall clock."""

from __future__ import annotations

import time

from contract_helpers import isolated, latest_timestamp
from web3 import Web3


def _mine(w3: Web3) -> int:
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return latest_timestamp(w3)


def test_a_reverted_test_leaves_the_chain_clock_with_the_wall_clock(w3: Web3) -> None:
    before = w3.eth.block_number
    with isolated(w3):
        _mine(w3)
        time.sleep(3)  # a test that takes a while (anvil's revert winds its clock back this far)
        _mine(w3)
    assert w3.eth.block_number == before  # the blocks are gone
    assert _mine(w3) >= int(time.time()) - 1  # and the chain's clock is not left behind


def test_a_clock_ahead_of_the_wall_clock_is_never_wound_back_past_a_mined_block(w3: Web3) -> None:
    with isolated(w3):  # this one puts the session's clock back once the test is done
        w3.provider.make_request("evm_increaseTime", [3600])  # type: ignore[arg-type]
        ahead = _mine(w3)
        assert ahead > int(time.time()) + 3000
        with isolated(w3):
            _mine(w3)
        assert _mine(w3) > ahead  # ahead it stays: its last block is ahead
    assert _mine(w3) < int(time.time()) + 60  # and back with the wall clock after
