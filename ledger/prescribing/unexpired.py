"""A hospital's unexpired prescriptions by patient, read once from its PrescriptionIssued events."""

from __future__ import annotations

import threading
import time
from typing import Any

from ledger.chain.connection import Chain

#: How long after its expiry the duplicate-therapy index still holds a prescription.
_FORGET_AFTER_S = 86_400


class UnexpiredIndex:
    """This hospital's unexpired prescriptions by patient, from its PrescriptionIssued events.

    The patient is in each event's data, not its topics, so the chain cannot filter on it. Reading
    every event since deployment on each issue grew with the hospital's whole history; this reads
    each block's events once, and forgets a prescription once it expires (an expired one can never
    be in force again), so it holds at most the prescriptions issued within the longest validity.
    """

    def __init__(self, chain: Chain, registry: Any, institution: str) -> None:
        self._chain = chain
        self._registry = registry
        self._institution = institution
        self._next_block = chain.deployment.block_number
        self._by_patient: dict[str, dict[bytes, int]] = {}
        self._lock = threading.Lock()

    def of(self, patient: str) -> list[bytes]:
        """Ids of ``patient``'s prescriptions here that have not expired, oldest first."""
        with self._lock:
            self._catch_up()
            # Forget only what expired a day ago by this clock: what is in force is decided by
            # the caller against the chain, and the two clocks may differ by a little.
            horizon = int(time.time()) - _FORGET_AFTER_S
            for holder in list(self._by_patient):
                theirs = self._by_patient[holder]
                for pid in [pid for pid, expiry in theirs.items() if expiry < horizon]:
                    del theirs[pid]
                if not theirs:
                    del self._by_patient[holder]
            return list(self._by_patient.get(patient, {}))

    def _catch_up(self) -> None:
        head = self._chain.head()
        if head < self._next_block:
            return
        events = self._registry.events.PrescriptionIssued().get_logs(
            from_block=self._next_block,
            to_block=head,
            argument_filters={"institution": self._institution},
        )
        for event in events:
            args = event["args"]
            theirs = self._by_patient.setdefault(str(args["patient"]), {})
            theirs[bytes(args["prescriptionId"])] = int(args["expiresAt"])
        self._next_block = head + 1
