"""Practice scopes and statuses as the PracticeRegistry contract keeps them."""

from __future__ import annotations

from enum import IntEnum, IntFlag

__all__ = ["FilingStatus", "PracticeScope", "RegistrationStatus"]


class PracticeScope(IntFlag):
    """What a multi-point practice filing covers (``PracticeRegistry.INTERNET_DIAGNOSIS`` ...)."""

    INTERNET_DIAGNOSIS = 1
    PRESCRIBING = 2


class RegistrationStatus(IntEnum):
    """``IPracticeRegistry.RegistrationStatus``, in the contract's order."""

    NONE = 0
    ACTIVE = 1
    REVOKED = 2


class FilingStatus(IntEnum):
    """``IPracticeRegistry.FilingStatus``, in the contract's order."""

    NONE = 0
    PENDING = 1
    APPROVED = 2
    REJECTED = 3
    REVOKED = 4
