"""The access trail: every access decision logged, sealed into Merkle batches anchored on chain,
verified back, and shown as FHIR AuditEvent resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "AccessEntry": "ledger.audit.access_log",
    "AccessLog": "ledger.audit.access_log",
    "audit_event": "ledger.audit.auditevent",
    "verify_trail": "ledger.audit.access_log",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.audit.access_log import AccessEntry, AccessLog, verify_trail
    from ledger.audit.auditevent import audit_event
