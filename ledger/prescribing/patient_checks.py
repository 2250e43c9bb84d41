"""What an issuing hospital checks of the patient in its own records before a prescription.

The chain cannot see either: that the follow-up record is a diagnosis, and that a young child seen
online has a guardian in force (``ledger.consent.minors``). Both read only this hospital's own
record of this patient, version 1, which is read once for both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ledger.chain.connection import Chain
from ledger.consent.minors import require_guardian_if_young
from ledger.errors import ContractRevert, DecryptionFailed
from ledger.prescribing.follow_up import check_follow_up
from ledger.records.book import RecordBook


def own_first_version(
    records: RecordBook, hospital: str, record_id: bytes, patient: str
) -> dict[str, Any] | None:
    """Version 1 of ``record_id`` if it is ``hospital``'s record of ``patient``, else None."""
    try:
        first = records.onchain(record_id, 1)
    except ContractRevert:
        return None
    if str(first.hospital) != hospital or first.patient != patient:
        return None
    try:
        return records.read(record_id, 1).resource
    except DecryptionFailed:
        return None


def check_patient(
    chain: Chain,
    records: RecordBook,
    hospital: str,
    *,
    resource: dict[str, Any],
    patient: str,
    follow_up_record: bytes | None,
    online: bool,
    zone: ZoneInfo,
    min_age: int,
) -> None:
    """Raise if the follow-up record (when it is this hospital's) is no diagnosis, or if an online
    prescription is for a child under ``min_age`` with no guardian in force."""
    first = None
    if follow_up_record is not None:
        first = own_first_version(records, hospital, follow_up_record, patient)
        if first is not None:
            check_follow_up(follow_up_record, first)
    if online:
        contents = [resource, *([first] if first else [])]
        require_guardian_if_young(
            chain, patient, contents, at=datetime.now(UTC), zone=zone, min_age=min_age
        )
