"""No clinical fact of a prescription is readable on chain (issue #13, item 5).

Played as a hostile member reads the chain, with raw JSON-RPC and nothing of ours: every
transaction mined while the gateway issued or reviewed, its calldata, its logs, and every storage
slot it wrote (anvil's ``prestateTracer`` in diff mode), scanned for the pre-review's and the
pharmacist's reason codes, as text and as their keccak256.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from web3 import Web3

from ledger.gateway.client import GatewayError
from ledger.prescribing import PreReviewReason
from tests.api.test_access_log import entries_for
from tests.api.test_prescriptions import (
    MEDICATION_REQUEST,
    MORPHINE,
    diagnosis_record,
    issue,
    review,
)
from tests.world import Patient, World

CONTROLLED = copy.deepcopy(MEDICATION_REQUEST)
CONTROLLED["medicationCodeableConcept"] = {"coding": [MORPHINE]}
REJECTED_FOR = "dose-too-high"


def _needles(codes: list[str]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for code in codes:
        found[f"{code} as text"] = code.encode("ascii")
        found[f"keccak256({code})"] = bytes(Web3.keccak(text=code))
    return found


def _chain_bytes(w3: Web3, first_block: int) -> Iterator[tuple[str, bytes]]:
    """(where, bytes) for everything a member can read of the blocks from ``first_block`` on."""
    for number in range(first_block, w3.eth.block_number + 1):
        for tx in w3.eth.get_block(number, full_transactions=True)["transactions"]:
            assert not isinstance(tx, bytes)
            tx_hash = tx["hash"].to_0x_hex()
            yield f"calldata of {tx_hash}", bytes(tx["input"])
            for log in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                yield f"log data of {tx_hash}", bytes(log["data"])
                for topic in log["topics"]:
                    yield f"log topic of {tx_hash}", bytes(topic)
            trace = w3.provider.make_request(
                "debug_traceTransaction",  # type: ignore[arg-type]
                [tx_hash, {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}],
            )["result"]
            for address, state in trace["post"].items():
                for slot, value in state.get("storage", {}).items():
                    yield f"storage {address}[{slot}] of {tx_hash}", bytes.fromhex(value[2:])


def _leaks(w3: Web3, first_block: int, codes: list[str]) -> list[str]:
    needles = _needles(codes)
    return [
        f"{name} in {where}"
        for where, data in _chain_bytes(w3, first_block)
        for name, needle in needles.items()
        if needle in data
    ]


def _after(world: World, action: Callable[[], Any]) -> int:
    """Run ``action``; the first block it may have written."""
    start = world.w3.eth.block_number + 1
    action()
    return start


ALL_PRE_REVIEW_CODES = [reason.value for reason in PreReviewReason]


def test_a_controlled_drug_prescribed_online_leaves_no_outcome_on_chain(
    world: World, patient: Patient
) -> None:
    record = diagnosis_record(world, patient)
    start = world.w3.eth.block_number + 1
    try:
        answer: tuple[int | None, str | None] = (
            201,
            issue(world, patient, record=record, resource=CONTROLLED)["prescription_id"],
        )
    except GatewayError as err:
        answer = (err.status, err.problem_code)
    assert _leaks(world.w3, start, ALL_PRE_REVIEW_CODES) == []
    assert answer == (422, "prescription.pre_review_blocked")


def test_a_controlled_drug_prescribed_offline_leaves_no_outcome_on_chain(
    world: World, patient: Patient
) -> None:
    record = diagnosis_record(world, patient)
    start = _after(
        world, lambda: issue(world, patient, record=record, resource=CONTROLLED, online=False)
    )
    assert _leaks(world.w3, start, ALL_PRE_REVIEW_CODES) == []


def test_a_pharmacists_rejection_reason_is_not_on_chain(world: World, patient: Patient) -> None:
    record = diagnosis_record(world, patient)
    pid = issue(world, patient, record=record)["prescription_id"]
    start = _after(world, lambda: review(world, pid, "reject", REJECTED_FOR))
    assert _leaks(world.w3, start, [REJECTED_FOR]) == []


def test_the_rejection_reason_stays_in_the_reviewing_gateways_access_log(
    world: World, patient: Patient
) -> None:
    record = diagnosis_record(world, patient)
    pid = issue(world, patient, record=record)["prescription_id"]
    review(world, pid, "reject", REJECTED_FOR)
    views = [e["view"] for e in entries_for(world, pid) if e["outcome"] == "allowed"]
    assert f"review:reject:{REJECTED_FOR}" in views
