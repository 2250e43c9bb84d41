"""Patient consent and what it opens: the EIP-712 grants a pseudonym signs, the gateway's patient
directory, role-shaped views of FHIR payloads (data segmentation), and the patient's wallet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ledger._exports import lazy_exports

_EXPORTS: dict[str, str] = {
    "ConsentDomain": "ledger.consent.grants",
    "Grant": "ledger.consent.grants",
    "PatientDirectory": "ledger.consent.patients",
    "PatientWallet": "ledger.consent.wallet",
    "Purpose": "ledger.consent.grants",
    "Revocation": "ledger.consent.grants",
    "Scope": "ledger.consent.grants",
    "ScopeKind": "ledger.consent.grants",
    "apply_view": "ledger.consent.segmentation",
    "sign_grant": "ledger.consent.grants",
    "sign_revocation": "ledger.consent.grants",
    "view_for": "ledger.consent.segmentation",
}

__all__ = [*_EXPORTS]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from ledger.consent.grants import (
        ConsentDomain,
        Grant,
        Purpose,
        Revocation,
        Scope,
        ScopeKind,
        sign_grant,
        sign_revocation,
    )
    from ledger.consent.patients import PatientDirectory
    from ledger.consent.segmentation import apply_view, view_for
    from ledger.consent.wallet import PatientWallet
