"""Break-glass access on chain: a hospital declares an emergency read of another hospital's record
by one of its doctors (BreakGlassRegistry), the holder's gateway checks that declaration on chain
before it releases anything, and the holder's auditor or a regulator reviews it afterwards."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from ledger.errors import LedgerError

if TYPE_CHECKING:
    from ledger.chain.connection import Chain
    from ledger.consent.emergency import Reason

_NOTE = re.compile(r"[a-z0-9][a-z0-9_.-]{0,30}")


class BreakGlassStatus(IntEnum):
    """IBreakGlassRegistry.Status, in its order."""

    NONE = 0
    PENDING = 1
    OVERDUE = 2
    JUSTIFIED = 3
    UNJUSTIFIED = 4


class BreakGlassNoteInvalid(LedgerError):
    """A review note that is not a short code (the chain holds it as 32 bytes, never free text)."""

    code = "break_glass.bad_note"


@dataclass(frozen=True)
class BreakGlassAccess:
    """One declaration as the chain holds it, with its review (if any) and its status at ``at``."""

    access_id: str
    org: str
    doctor: str
    holder: str
    record_id: str
    reason: int
    declared_at: int
    expires_at: int
    status: str
    reviewer: str | None = None
    justified: bool | None = None
    late: bool | None = None
    note: str | None = None
    reviewed_at: int | None = None


def new_access_id() -> bytes:
    """A fresh declaration id: random, so it tells nothing about the doctor or the record."""
    return secrets.token_bytes(32)


def encode_note(note: str) -> bytes:
    """A review note code (lowercase letters, digits, ``_.-``; at most 31) as a bytes32."""
    if not _NOTE.fullmatch(note):
        raise BreakGlassNoteInvalid(
            f"note {note!r} is not a code of at most 31 lowercase letters, digits, '_', '.', '-'"
        )
    return note.encode().ljust(32, b"\0")


def decode_note(raw: bytes) -> str:
    """The note code a review recorded (the inverse of `encode_note`; hex if it is not one)."""
    text = raw.rstrip(b"\0")
    try:
        decoded = text.decode("ascii")
    except UnicodeDecodeError:
        return "0x" + raw.hex()
    return decoded if _NOTE.fullmatch(decoded) else "0x" + raw.hex()


class BreakGlassDesk:
    """Break-glass declarations and reviews through one organisation's chain client."""

    def __init__(self, chain: Chain) -> None:
        self._chain = chain
        self._registry = chain.contract("BreakGlassRegistry")

    def declare(
        self, doctor: str, record_id: bytes, reason: Reason
    ) -> tuple[BreakGlassAccess, str]:
        """Declare, as this hospital, that ``doctor`` reads ``record_id`` for ``reason``; returns
        the declaration and its transaction hash. A refusal raises the contract's revert."""
        access_id = new_access_id()
        fn = self._registry.functions.declareBreakGlass(access_id, doctor, record_id, reason.code)
        receipt = self._chain.transact(fn)
        access = self.get(access_id)
        assert access is not None  # just declared, in the receipt's block
        return access, receipt["transactionHash"].to_0x_hex()

    def review(self, access_id: bytes, justified: bool, note: str) -> BreakGlassAccess:
        """Record this organisation's review of ``access_id``; the contract decides who may."""
        self._chain.transact(
            self._registry.functions.reviewBreakGlass(access_id, justified, encode_note(note))
        )
        access = self.get(access_id)
        assert access is not None
        return access

    def get(self, access_id: bytes, at: int | None = None) -> BreakGlassAccess | None:
        """The declaration ``access_id`` with its status at ``at`` (default now), or None."""
        raw = self._chain.call(self._registry.functions.declaration(access_id))
        if int(raw[5]) == 0:
            return None
        return self._access(access_id, raw, self.now() if at is None else at)

    def listed(
        self, *, org: str | None = None, holder: str | None = None
    ) -> list[BreakGlassAccess]:
        """Every declaration (by ``org``, on records of ``holder``; both: either), oldest first."""
        event = self._registry.events.BreakGlassDeclared()
        logs = event.get_logs(from_block=self._chain.deployment.block_number)
        at = self.now()
        found = []
        for log in logs:
            args: Any = log["args"]
            wanted = {a.lower() for a in (org, holder) if a is not None}
            if wanted and not {args["org"].lower(), args["holder"].lower()} & wanted:
                continue
            access = self.get(bytes(args["accessId"]), at)
            if access is not None:
                found.append(access)
        return found

    def opens(
        self, access_id: bytes, *, org: str, doctor: str, record_id: bytes, holder: str
    ) -> BreakGlassAccess | None:
        """The declaration, if it opens ``record_id`` of ``holder`` to ``doctor`` of ``org`` now:
        exactly that doctor, hospital and record, and in force on chain. Else None."""
        access = self.get(access_id)
        if access is None or (
            access.org.lower(),
            access.doctor.lower(),
            access.holder.lower(),
            access.record_id,
        ) != (org.lower(), doctor.lower(), holder.lower(), "0x" + record_id.hex()):
            return None
        fn = self._registry.functions.isInForce(access_id, self.now())
        return access if self._chain.call(fn) else None

    def now(self) -> int:
        """The later of this machine's clock and the chain's latest block: neither a gateway whose
        clock lags nor an idle chain keeps a declaration open past its window."""
        return self._chain.now()

    def _access(self, access_id: bytes, raw: Any, at: int) -> BreakGlassAccess:
        org, doctor, holder, record_id, reason, declared_at, expires_at = raw
        status = BreakGlassStatus(
            self._chain.call(self._registry.functions.statusOf(access_id, at))
        )
        reviewer, justified, late, note, reviewed_at = self._chain.call(
            self._registry.functions.reviewOf(access_id)
        )
        reviewed = int(reviewed_at) != 0
        return BreakGlassAccess(
            access_id="0x" + access_id.hex(),
            org=org,
            doctor=doctor,
            holder=holder,
            record_id="0x" + bytes(record_id).hex(),
            reason=int(reason),
            declared_at=int(declared_at),
            expires_at=int(expires_at),
            status=status.name.lower(),
            reviewer=reviewer if reviewed else None,
            justified=bool(justified) if reviewed else None,
            late=bool(late) if reviewed else None,
            note=decode_note(bytes(note)) if reviewed else None,
            reviewed_at=int(reviewed_at) if reviewed else None,
        )
