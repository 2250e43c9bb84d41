"""Patient consent and what it opens: the EIP-712 grants a pseudonym signs, the gateway's patient
directory, role-shaped views of FHIR payloads (data segmentation), and the patient's wallet; and
break-glass, the emergency read without consent, declared on chain and reviewed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

__getattr__, __all__ = lazy_exports(__name__, __file__)

if TYPE_CHECKING:
    from ledger.consent.agents import (
        AgentKind as AgentKind,
        sign_appointment as sign_appointment,
        sign_appointment_revocation as sign_appointment_revocation,
    )
    from ledger.consent.break_glass import (
        BreakGlassAccess as BreakGlassAccess,
        BreakGlassDesk as BreakGlassDesk,
        BreakGlassStatus as BreakGlassStatus,
    )
    from ledger.consent.emergency import (
        Reason as Reason,
        is_break_glass as is_break_glass,
        load_reasons as load_reasons,
    )
    from ledger.consent.grants import (
        ConsentDomain as ConsentDomain,
        Grant as Grant,
        Purpose as Purpose,
        Revocation as Revocation,
        Scope as Scope,
        ScopeKind as ScopeKind,
        sign_grant as sign_grant,
        sign_revocation as sign_revocation,
    )
    from ledger.consent.minors import GuardianRequired as GuardianRequired
    from ledger.consent.patients import PatientDirectory as PatientDirectory
    from ledger.consent.segmentation import apply_view as apply_view, view_for as view_for
    from ledger.consent.wallet import AgentWallet as AgentWallet, PatientWallet as PatientWallet
