"""Privacy as tests, on what a realistic run through real gateways leaves on chain and in logs:
no unsalted hash of any plausible payload, no identifier linking one patient's records at two
hospitals, and no personal data from a payload in any event, calldata or gateway log line.

The run: one patient enrolled at hospitals A and B (a pseudonym at each), two unrelated patients
(one per hospital) as a control, records at both hospitals drawn from the attacker's own
dictionary, and a Patient resource full of personal data; everything logged at DEBUG is captured.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from Crypto.Hash import keccak
from web3 import Web3

from ledger.crypto.keys import PatientKeys
from ledger.payload import canonicalize
from tests.api.fhir_dictionary import (
    DRUGS,
    OBSERVATIONS,
    Family,
    check_templates,
    dictionary,
    dosages,
    medication_request,
    observation,
)
from tests.conftest import BATTERY_TIMEOUT_S, PROFILE
from tests.world import World, enrol_patient

pytestmark = [pytest.mark.security, pytest.mark.timeout(BATTERY_TIMEOUT_S)]

#: Dictionary size: `make test` a million payloads, `make fuzz` four.
DICTIONARY = {"fuzz": 4_000_000}.get(PROFILE, 1_000_000)
# Payloads the run anchors, each also an entry of the dictionary (checked below).
HEART_RATE, TEMPERATURE, GLUCOSE = (observation(*OBSERVATIONS[i][:3]) for i in (0, 1, 9))
AMOXICILLIN = medication_request(*DRUGS[0][:2])
PLAUSIBLE = (
    HEART_RATE("final", 72),
    TEMPERATURE("final", 38.4),
    GLUCOSE("preliminary", 126),
    AMOXICILLIN(dosages(DRUGS[0][2])[2], "Patient/3"),
)
# Personal data: a Patient resource as a hospital would hold it.
PERSON = {
    "resourceType": "Patient",
    "identifier": [
        {"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "738472983"},
        {"system": "http://hospital.example/mrn", "value": "MRN-55-0173-QX"},
    ],
    "name": [{"family": "Wijngaarden-Oyelaran", "given": ["Petronella", "Adaeze"]}],
    "telecom": [{"system": "phone", "value": "+31-6-4419-2873"}],
    "gender": "female",
    "birthDate": "1964-07-19",
    "address": [{"line": ["Keizersgracht 719"], "city": "Zwolle", "postalCode": "8011 XK"}],
}
PERSONAL_DATA = (
    "738472983",
    "MRN-55-0173-QX",
    "Wijngaarden-Oyelaran",
    "Petronella",
    "Adaeze",
    "+31-6-4419-2873",
    "1964-07-19",
    "Keizersgracht",
    "8011 XK",
)
LOGGERS = ("", "uvicorn", "uvicorn.access", "uvicorn.error", "web3", "httpx", "urllib3")


@dataclass
class Trace:
    """What one write left on chain: its calldata and its logs (topics and data)."""

    calldata: bytes
    topics: list[bytes]
    data: list[bytes]

    def blobs(self) -> Iterator[bytes]:
        yield self.calldata
        yield from self.topics
        yield from self.data


@dataclass
class Run:
    first_block: int
    last_block: int = 0
    traces: dict[str, list[Trace]] = field(default_factory=dict)  # group -> writes
    logs: list[str] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)


class _Capture(logging.Handler):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.lines = lines

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _write(
    world: World, hospital: str, pseudonym: str, resources: Iterable[dict[str, Any]]
) -> list[str]:
    """Anchor each resource, and amend the first once; return the transactions."""
    sent = []
    with world.as_staff(hospital, "doctor", hospital) as doctor:
        for resource in resources:
            receipt = doctor.post_json(
                "/v1/records", content=json.dumps(resource).encode(), params={"patient": pseudonym}
            )
            sent.append(receipt)
        amended = doctor.post_json(
            f"/v1/records/{sent[0]['record_id']}/versions",
            content=json.dumps(PLAUSIBLE[1]).encode(),
            params={"expected_version": 1},
        )
    return [r["transaction"] for r in (*sent, amended)]


def _trace(w3: Web3, tx: str) -> Trace:
    receipt = w3.eth.get_transaction_receipt(tx)  # type: ignore[arg-type]
    return Trace(
        bytes(w3.eth.get_transaction(tx)["input"]),  # type: ignore[arg-type]
        [bytes(t) for log in receipt["logs"] for t in log["topics"]],
        [bytes(log["data"]) for log in receipt["logs"]],
    )


@pytest.fixture(scope="module")
def run(world: World) -> Run:
    record = Run(first_block=world.w3.eth.block_number + 1)
    handler = _Capture(record.logs)
    levels = {name: logging.getLogger(name).level for name in LOGGERS}
    for name in LOGGERS:
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        shared = PatientKeys(secrets.token_bytes(32))
        groups = {
            "P@A": (shared, "hospital-a"),
            "P@B": (shared, "hospital-b"),
            "Q@A": (PatientKeys(secrets.token_bytes(32)), "hospital-a"),
            "R@B": (PatientKeys(secrets.token_bytes(32)), "hospital-b"),
        }
        record.posted = [*PLAUSIBLE, PERSON]
        for group, (keys, hospital) in groups.items():
            pseudonym = enrol_patient(world, hospital, keys).pseudonym
            txs = _write(world, hospital, pseudonym.address, record.posted)
            record.traces[group] = [_trace(world.w3, tx) for tx in txs]
        record.last_block = world.w3.eth.block_number
    finally:
        for name, level in levels.items():
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(level)
    return record


def _windows(blobs: Iterable[bytes], width: int) -> set[bytes]:
    """Every ``width``-byte run at every offset: a value need not sit on a word boundary."""
    return {blob[i : i + width] for blob in blobs for i in range(len(blob) - width + 1)}


def _chain_blobs(w3: Web3, first: int, last: int) -> list[bytes]:
    """Calldata, topics and log data of every transaction in blocks first..last."""
    blobs: list[bytes] = []
    for number in range(first, last + 1):
        for tx in w3.eth.get_block(number)["transactions"]:
            assert isinstance(tx, bytes)
            blobs += _trace(w3, tx.hex()).blobs()
    return blobs


@dataclass
class Scan:
    hashed: int  # dictionary entries hashed, each both ways
    found: set[bytes]  # entries with a hash among the words: what the chain would give away
    seen: set[bytes]  # entries that are among the payloads watched for


def _scan(families: list[Family], words: set[bytes], watched: set[bytes]) -> Scan:
    """Hash every entry with sha256 and keccak256 and look each hash up among ``words``."""
    scan = Scan(0, set(), set())
    for family in families:
        for canonical in family.canonical():
            scan.hashed += 1
            if (
                hashlib.sha256(canonical).digest() in words
                or keccak.new(digest_bits=256, data=canonical).digest() in words
            ):
                scan.found.add(canonical)
            if canonical in watched:
                scan.seen.add(canonical)
    return scan


def test_no_unsalted_hash_of_a_plausible_payload_is_on_chain(
    world: World, run: Run, battery_report: Callable[[str], None]
) -> None:
    families = dictionary(DICTIONARY)
    check_templates(families, samples=len(families))
    words = _windows(_chain_blobs(world.w3, run.first_block, run.last_block), 32)
    anchored = {canonicalize(resource) for resource in PLAUSIBLE}
    scan = _scan(families, words, watched=anchored)
    battery_report(
        f"dictionary attack: {scan.hashed} payloads x (sha256, keccak256) against "
        f"{len(words)} on-chain 32-byte values; {len(scan.found)} found"
    )
    assert scan.hashed >= DICTIONARY
    # The dictionary holds the very payloads the run anchored, and still matches nothing.
    assert scan.seen == anchored
    assert scan.found == set()


def test_the_scan_would_find_an_unsalted_hash_on_chain(world: World) -> None:
    """The control: a hospital that anchors sha256(payload) as its commitment is caught."""
    first = world.w3.eth.block_number + 1
    payload = canonicalize(PLAUSIBLE[0])
    hospital = world.gateways["hospital-b"].gateway
    registry = hospital.chain.contract("RecordRegistry")
    author = world.staff("hospital-b", "doctor").address
    leak = registry.functions.anchorRecord(
        bytes.fromhex(hospital.org.address[2:]) + secrets.token_bytes(12),
        hashlib.sha256(payload).digest(),
        b"cid",
        author,
        author,
    )
    hospital.chain.transact(leak)
    words = _windows(_chain_blobs(world.w3, first, world.w3.eth.block_number), 32)
    heart_rates = dictionary(DICTIONARY)[:1]
    assert _scan(heart_rates, words, watched={payload}).found == {payload}


def test_one_patient_at_two_hospitals_shares_no_identifier_on_chain(run: Run) -> None:
    """Whatever the same patient's writes at A and B have in common (20- and 32-byte runs: an
    address, a hash) must be common to unrelated patients' writes at A and B too: the contract,
    the event signatures, the layout of the ABI. Anything else would link the two pseudonyms."""
    assert _linking(run) == {20: set(), 32: set()}


def test_the_linkage_check_would_find_a_shared_identifier(run: Run) -> None:
    """The control: the same run, had each write also carried one patient-wide identifier."""
    tag = hashlib.sha256(b"one identifier for the patient everywhere").digest()
    leaky = Run(run.first_block, run.last_block, logs=run.logs, posted=run.posted)
    for group, traces in run.traces.items():
        extra = [tag] if group.startswith("P@") else [secrets.token_bytes(32)]
        leaky.traces[group] = [Trace(t.calldata, t.topics, [*t.data, *extra]) for t in traces]
    assert tag in _linking(leaky)[32]
    assert tag[:20] in _linking(leaky)[20]


def _linking(run: Run) -> dict[int, set[bytes]]:
    """Per run width, what patient P's writes at A and B share that Q's at A and R's at B do not."""
    found = {}
    for width in (20, 32):
        same = _identifiers(run, "P@A", width) & _identifiers(run, "P@B", width)
        unrelated = _identifiers(run, "Q@A", width) & _identifiers(run, "R@B", width)
        found[width] = same - unrelated
    return found


def _identifiers(run: Run, group: str, width: int) -> set[bytes]:
    """Runs that could carry an identifier: at least half their bytes nonzero. (A run of padding
    and one random byte would match by chance between any two writes.)"""
    runs = _windows(_blobs(run, group), width)
    return {r for r in runs if sum(1 for b in r if b) * 2 >= width}


def _blobs(run: Run, group: str) -> list[bytes]:
    return [blob for trace in run.traces[group] for blob in trace.blobs()]


def test_no_personal_data_in_events_calldata_or_gateway_logs(world: World, run: Run) -> None:
    chain = b"\n".join(_chain_blobs(world.w3, run.first_block, run.last_block))
    logs = "\n".join(run.logs)
    # The capture saw the run: the gateways' access log names every write.
    assert logs.count("POST /v1/records") >= len(run.posted) * len(run.traces)
    for item in PERSONAL_DATA:
        encoded = item.encode()
        assert encoded not in chain, item
        assert item.lower() not in logs.lower(), item
        assert encoded.hex() not in logs.lower(), item
