"""What a proven batch leaf claims that the chain can check only when the item is verified.

BatchAnchor sees a root, never its leaves: it refuses record-version batches from anything but an
active hospital, and the record id names its hospital (``ledger.records.ids``), but that the author
was the hospital's doctor or clerk when the batch was anchored, and that RecordRegistry did not
anchor the same record first, are checked here, from the chain's logs and RecordRegistry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import requests
from web3 import Web3

from ledger.chain.connection import Chain
from ledger.errors import ChainUnavailable
from ledger.records.batch_index import BatchIndex, IndexedLeaf, leaf_verdict, standing_leaves
from ledger.records.batch_proof import BatchedVersion
from ledger.records.document import Verdict
from ledger.records.versions import VersionInfo

__all__ = ["anchored_at", "claim_verdict", "contradictions"]

#: The staff roles whose members may author a record version, as RecordRegistry checks them.
_WRITER_ROLES = (Web3.keccak(text="DOCTOR_ROLE"), Web3.keccak(text="CLERK_ROLE"))


def anchored_at(chain: Chain, batch_id: int) -> tuple[int, int] | None:
    """(block, log index) of batch ``batch_id``'s BatchAnchored event; None if there is none."""
    events = _logs(chain, chain.contract("BatchAnchor").events.BatchAnchored(), batchId=batch_id)
    return next(((int(e["blockNumber"]), int(e["logIndex"])) for e in events), None)


def claim_verdict(chain: Chain, batch_id: int, item: BatchedVersion) -> Verdict | None:
    """Why the chain contradicts what proven ``item`` of batch ``batch_id`` says, or None."""
    at = anchored_at(chain, batch_id)
    if at is None:
        return Verdict.NOT_ANCHORED
    if not _was_writer(chain, item.hospital, item.author, at):
        return Verdict.AUTHOR_NOT_PERMITTED
    if _registry_first(chain, item.record_id, at):
        return Verdict.VERSION_CONFLICT
    return None


def contradictions(
    chain: Chain,
    record_id: bytes,
    versions: Sequence[VersionInfo],
    index: BatchIndex | None = None,
) -> tuple[bool, dict[int, Verdict]]:
    """For a gateway's history of ``record_id``: whether it was anchored more than once (by
    RecordRegistry as well as a batch, or by two batch leaves for one version, or with a version
    skipped, as the batch ``index`` shows), and the verdict on each batch version the chain
    contradicts."""
    contradicted: dict[int, Verdict] = {}
    leaves: list[IndexedLeaf] = []
    refused: dict[tuple[int, int], Verdict] = {}
    if index is not None:
        # Read and judged once for the record: every version below is looked up in them.
        index.sync()
        leaves = index.leaves(record_id)
        refused = standing_leaves(leaves)[1]
    for v in versions:
        if v.batch is None:
            continue
        item = BatchedVersion(
            record_id,
            v.version,
            bytes.fromhex(v.commitment[2:]),
            v.cid,
            v.hospital,
            v.patient,
            v.author,
        )
        verdict = claim_verdict(chain, v.batch, item)
        if verdict is None:
            verdict = leaf_verdict(leaves, v.batch, item, refused)
        if verdict is not None:
            contradicted[v.version] = verdict
    batched = any(v.batch is not None for v in versions)
    registry = chain.contract("RecordRegistry")
    rival = batched and int(chain.call(registry.functions.latestVersion(record_id))) != 0
    return rival or bool(refused), contradicted


def _was_writer(chain: Chain, hospital: str, author: str, at: tuple[int, int]) -> bool:
    """Whether ``author`` was doctor or clerk staff of ``hospital`` just before the log at ``at``:
    the last of its registrations and removals before then says (logs, so no past state needed;
    the hospital was active then, or BatchAnchor would have refused the batch)."""
    events = chain.contract("Membership").events
    changes: list[Any] = []
    for event in (events.StaffRegistered(), events.StaffRemoved()):
        changes += _logs(chain, event, to_block=at[0], account=Web3.to_checksum_address(author))
    before = sorted(
        (c for c in changes if (int(c["blockNumber"]), int(c["logIndex"])) < at),
        key=lambda c: (int(c["blockNumber"]), int(c["logIndex"])),
    )
    if not before or before[-1]["event"] != "StaffRegistered":
        return False
    args = before[-1]["args"]
    return bool(
        Web3.to_checksum_address(args["org"]) == Web3.to_checksum_address(hospital)
        and bytes(args["role"]) in _WRITER_ROLES
    )


def _registry_first(chain: Chain, record_id: bytes, at: tuple[int, int]) -> bool:
    """Whether RecordRegistry anchored ``record_id`` before the log at ``at``: a record has one
    write path, and whichever anchoring came first stands."""
    anchored = chain.contract("RecordRegistry").events.RecordAnchored()
    events = _logs(chain, anchored, to_block=at[0], recordId=record_id)
    return any((int(e["blockNumber"]), int(e["logIndex"])) < at for e in events)


def _logs(chain: Chain, event: Any, *, to_block: int | None = None, **indexed: Any) -> list[Any]:
    """``event``'s logs since the deployment, filtered on indexed arguments; a node that does not
    answer is ChainUnavailable, as for any other read."""
    try:
        return list(
            event.get_logs(
                from_block=chain.deployment.block_number,
                to_block=to_block if to_block is not None else "latest",
                argument_filters=indexed,
            )
        )
    except (requests.RequestException, OSError) as exc:
        raise ChainUnavailable(str(exc)) from exc
