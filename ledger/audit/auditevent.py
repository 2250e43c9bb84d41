"""Access-log entries as FHIR R4 AuditEvent resources (validated with fhir.resources)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fhir.resources.R4B.auditevent import AuditEvent

from ledger.audit.access_log import AccessEntry
from ledger.consent.emergency import is_break_glass

_ADDRESS_SYSTEM = "urn:ietf:rfc:3986"  # addresses as `urn:ethereum:0x...` URIs
_BREAK_THE_GLASS = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
    "code": "BTG",
    "display": "break the glass",
}
_OUTCOME = {"allowed": "0", "denied": "4", "error": "8"}  # success, minor failure, serious failure


def _who(address: str) -> dict[str, Any]:
    return {"identifier": {"system": _ADDRESS_SYSTEM, "value": f"urn:ethereum:{address}"}}


def audit_event(entry: AccessEntry, *, gateway: str) -> dict[str, Any]:
    """The FHIR AuditEvent for one access decision, as JSON."""
    method = entry.action.split(" ", 1)[0]
    agent: dict[str, Any] = {"who": _who(entry.actor), "requestor": True}
    if entry.grant:
        agent["policy"] = [f"urn:medledger:grant:{entry.grant}"]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        # Named by its digest: its position in the log would count other people's entries.
        "id": entry.digest().hex()[:32],
        "type": {
            "system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
            "code": "rest",
            "display": "RESTful Operation",
        },
        "subtype": [{"system": "urn:medledger:action", "code": entry.action}],
        "action": "C" if method == "POST" else "R",
        "recorded": datetime.fromtimestamp(entry.at, tz=UTC).isoformat(),
        "outcome": _OUTCOME[entry.outcome.split(":", 1)[0]],
        "outcomeDesc": entry.outcome,
        "agent": [agent],
        "source": {"observer": _who(gateway)},
    }
    if entry.purpose:
        event["purposeOfEvent"] = [{"text": entry.purpose}]
        if is_break_glass(entry.purpose):  # HL7's own code for it, so any FHIR viewer flags it
            event["purposeOfEvent"][0]["coding"] = [_BREAK_THE_GLASS]
    if entry.record_id:
        what = {"identifier": {"system": "urn:medledger:record", "value": entry.record_id}}
        detail = [{"type": "version", "valueString": str(entry.version)}] if entry.version else []
        event["entity"] = [{"what": what, "detail": detail}] if detail else [{"what": what}]
    AuditEvent.model_validate(event)  # what we export must be valid FHIR
    return event
