"""How long a prescription is valid: until 24:00 local time of the issue day (offline) or of the
next day (online), to the second, in the configured time zone.

"Until 24:00" reads as valid through 23:59:59 local time of the last day, inclusive. ``expires_at``
is that second as Unix time, and a prescription is valid at an instant iff the instant's whole Unix
second is at most ``expires_at``: the comparison the contract makes with the block's time. Days are
local calendar days, so a day with a daylight-saving change is 23 or 25 hours long.

The contract counts the same days at a fixed UTC offset per hospital, the one a regulator recorded
(``expires_at_offset``, its arithmetic to the second); the issuing gateway refuses to issue while
its own zone's offset now differs from the chain's (``utc_offset_s``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

__all__ = [
    "DEFAULT_TIME_ZONE",
    "MAX_UTC_OFFSET_S",
    "MIN_UTC_OFFSET_S",
    "OFFLINE_DAYS",
    "ONLINE_DAYS",
    "UTC_OFFSET_QUANTUM_S",
    "expires_at",
    "expires_at_offset",
    "is_valid",
    "unix_seconds",
    "utc_offset_s",
]

DEFAULT_TIME_ZONE = "Asia/Shanghai"
"""China Standard Time (UTC+8, no daylight saving), where the rule comes from."""

ONLINE_DAYS = 2
"""Local days an online prescription is valid for, the issue day counted: "24:00 the next day"."""

OFFLINE_DAYS = 1
"""Local days an offline prescription is valid for: "24:00 the same day"."""

MIN_UTC_OFFSET_S = -12 * 3_600
MAX_UTC_OFFSET_S = 14 * 3_600
UTC_OFFSET_QUANTUM_S = 900
"""The UTC offsets the contract accepts: -12:00 to +14:00 in whole quarter hours."""

_DAY_S = 86_400
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def expires_at(
    issued_at: datetime,
    *,
    online: bool,
    zone: ZoneInfo,
    online_days: int = ONLINE_DAYS,
    offline_days: int = OFFLINE_DAYS,
) -> int:
    """The last valid second (Unix time) of a prescription issued at ``issued_at``.

    ``issued_at`` must be timezone-aware; the local day it falls on in ``zone`` is the first day.
    """
    if not _aware(issued_at):
        raise ValueError("issued_at must be timezone-aware")
    days = _days(online=online, online_days=online_days, offline_days=offline_days)
    first_day = issued_at.astimezone(zone).date()
    return _day_start(first_day + timedelta(days=days), zone) - 1


def is_valid(at: datetime, expires_at: int) -> bool:
    """Whether a prescription expiring at ``expires_at`` is valid at the aware instant ``at``."""
    if not _aware(at):
        raise ValueError("at must be timezone-aware")
    return unix_seconds(at) <= expires_at


def expires_at_offset(
    issued_at: int,
    *,
    online: bool,
    utc_offset: int,
    online_days: int = ONLINE_DAYS,
    offline_days: int = OFFLINE_DAYS,
) -> int:
    """The last valid second (Unix time) of a prescription issued at Unix second ``issued_at``,
    local time being UTC plus ``utc_offset`` seconds: ``PrescriptionRegistry.expiryOf``."""
    days = _days(online=online, online_days=online_days, offline_days=offline_days)
    local_day = (issued_at + utc_offset) // _DAY_S
    return (local_day + days) * _DAY_S - utc_offset - 1


def utc_offset_s(zone: ZoneInfo, at: datetime) -> int:
    """``zone``'s offset from UTC at the aware instant ``at``, in seconds east of UTC."""
    if not _aware(at):
        raise ValueError("at must be timezone-aware")
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return int(offset.total_seconds())


def unix_seconds(at: datetime) -> int:
    """The whole Unix second holding the aware instant ``at``, computed without float rounding."""
    return (at - _EPOCH) // _SECOND


def _days(*, online: bool, online_days: int, offline_days: int) -> int:
    days = online_days if online else offline_days
    if days < 1:
        raise ValueError(f"a prescription is valid for at least its issue day, not {days} days")
    return days


def _aware(at: datetime) -> bool:
    return at.tzinfo is not None and at.utcoffset() is not None


def _day_start(day: date, zone: ZoneInfo) -> int:
    """The first second (Unix time) whose local date in ``zone`` is ``day``: local midnight, or the
    end of the daylight-saving gap that swallowed it (Havana, Santiago and Cairo spring forward at
    midnight)."""
    midnight = datetime.combine(day, time(), tzinfo=zone)
    earliest = unix_seconds(midnight)  # fold=0: read with the offset before any transition
    if _local(earliest, zone) == midnight.replace(tzinfo=None):
        return earliest
    # Midnight is in a gap. Read with the offset after it, midnight falls before the gap; the day
    # starts where the gap does, between the two readings, with only that transition in between.
    before = unix_seconds(midnight.replace(fold=1))
    after = earliest
    while after - before > 1:
        middle = (before + after) // 2
        if _local(middle, zone).date() >= day:
            after = middle
        else:
            before = middle
    return after


def _local(unix: int, zone: ZoneInfo) -> datetime:
    return (_EPOCH + timedelta(seconds=unix)).astimezone(zone).replace(tzinfo=None)
