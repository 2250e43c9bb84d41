"""The access trail: every access decision logged, sealed into Merkle batches anchored on chain,
published encrypted to IPFS, gathered back across the consortium, verified, and shown as FHIR
AuditEvent resources."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.audit.access_log import (
        AccessEntry as AccessEntry,
        AccessLog as AccessLog,
        verify_trail as verify_trail,
    )
    from ledger.audit.alerts import Alert as Alert, AlertStore as AlertStore
    from ledger.audit.auditevent import audit_event as audit_event
    from ledger.audit.manifest import (
        Manifest as Manifest,
        ManifestInvalid as ManifestInvalid,
        build_manifest as build_manifest,
        parse_manifest as parse_manifest,
    )
    from ledger.audit.patient_trail import consortium_accesses as consortium_accesses
    from ledger.audit.publishing import publish_batch as publish_batch
    from ledger.audit.supervision import Supervisor as Supervisor
    from ledger.audit.supervision_rules import (
        SupervisionRules as SupervisionRules,
        load_supervision_rules as load_supervision_rules,
    )
    from ledger.audit.trail_index import TrailIndex as TrailIndex
