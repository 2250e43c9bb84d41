"""Agents for a patient at the gateway: whether a signer is an agent (guardian, proxy) whose
appointment for that patient is in force, the mark it leaves in the access log, and the guardian
a young child's online consultation needs."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from web3 import Web3

from api.audit import Trace
from api.gateway import Gateway
from ledger.consent.agents import agent_in_force
from ledger.consent.minors import (
    consultation_start,
    is_online_consultation,
    require_guardian_if_young,
)
from ledger.errors import LedgerError, PayloadError
from ledger.payload import load_json

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def acting_for(gateway: Gateway, signer: str, patient: str, trace: Trace) -> str | None:
    """``patient`` (checksummed) if ``signer`` is their agent in force now, else None. An agent's
    access is logged as its own (``actor``), for ``patient``, resting on ``appointment:<id>``
    where a consent's grant id goes."""
    patient = Web3.to_checksum_address(patient)
    found = agent_in_force(gateway.chain, patient, signer, int(time.time()))
    if found is None:
        return None
    trace.patient, trace.grant = patient, f"appointment:{found[1]}"
    return patient


def require_guardian_online(
    gateway: Gateway, body: bytes, *, patient: str | None = None, record_id: bytes | None = None
) -> None:
    """An online consultation written for a young child needs a guardian in force
    (GuardianRequired): ``body`` is the FHIR content of a new record for ``patient`` or of the next
    version of ``record_id``, whose first version may state the birth date instead. A bulk
    amendment names ``patient`` too: its record's first version may still wait in the outbox,
    unreadable here until anchored, and then the amendment's own content is all there is."""
    try:
        # Bounded parsing: json.loads on deep nesting would overflow the C stack (ledger.payload).
        content = load_json(body)
    except PayloadError:
        return  # the record book refuses it, with its own code
    if not isinstance(content, dict) or not is_online_consultation(content):
        return
    contents = [content]
    if record_id is not None:
        try:
            patient = gateway.records.onchain(record_id, 1).patient
            contents.append(gateway.records.read(record_id, 1).resource)
        except LedgerError:
            if patient is None:
                return  # the amendment itself fails on what failed here, with its own code
    assert patient is not None
    now = datetime.now(UTC)
    # A later start cannot age the child; one before the epoch is no consultation of today's.
    start = consultation_start(content)
    at = start if start is not None and _EPOCH <= start <= now else now
    require_guardian_if_young(
        gateway.chain,
        patient,
        contents,
        at=at,
        zone=gateway.settings.zone,
        min_age=gateway.settings.online_min_age_without_guardian,
    )
