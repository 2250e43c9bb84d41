"""ledger.prescribing.validity: 24:00 local time of the issue day or the next, to the second, in a
zone without daylight saving (China Standard Time) and in zones with it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from ledger.prescribing import (
    expires_at,
    expires_at_offset,
    is_valid,
    unix_seconds,
    utc_offset_s,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HAVANA = ZoneInfo("America/Havana")  # springs forward at midnight: 00:00 becomes 01:00
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # daylight saving of half an hour
SECOND = timedelta(seconds=1)


def _at(
    zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0, *rest: int
) -> datetime:
    """A local time in ``zone``; ``rest`` is the second and the microsecond, if given."""
    second, microsecond = (*rest, 0, 0)[:2]
    return datetime(year, month, day, hour, minute, second, microsecond, tzinfo=zone)


def _unix(zone: ZoneInfo, *fields: int) -> int:
    return unix_seconds(_at(zone, *fields))


# China Standard Time


def test_online_is_valid_through_23_59_59_of_the_next_day() -> None:
    issued = _at(SHANGHAI, 2026, 3, 10, 10, 30, 0)
    assert expires_at(issued, online=True, zone=SHANGHAI) == _unix(
        SHANGHAI, 2026, 3, 11, 23, 59, 59
    )


def test_offline_is_valid_through_23_59_59_of_the_same_day() -> None:
    issued = _at(SHANGHAI, 2026, 3, 10, 10, 30, 0)
    assert expires_at(issued, online=False, zone=SHANGHAI) == _unix(
        SHANGHAI, 2026, 3, 10, 23, 59, 59
    )


@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
def test_a_second_before_midnight_and_midnight_are_on_different_days(online: bool) -> None:
    before = expires_at(_at(SHANGHAI, 2026, 3, 10, 23, 59, 59), online=online, zone=SHANGHAI)
    at = expires_at(_at(SHANGHAI, 2026, 3, 11, 0, 0, 0), online=online, zone=SHANGHAI)
    assert at - before == 86_400


def test_an_offline_prescription_issued_in_the_last_second_is_valid_for_that_second() -> None:
    issued = _at(SHANGHAI, 2026, 3, 10, 23, 59, 59)
    expiry = expires_at(issued, online=False, zone=SHANGHAI)
    assert expiry == unix_seconds(issued)
    assert is_valid(issued, expiry)
    assert not is_valid(issued + SECOND, expiry)


def test_validity_ends_exactly_at_24_00() -> None:
    expiry = expires_at(_at(SHANGHAI, 2026, 3, 10, 8, 0, 0), online=True, zone=SHANGHAI)
    assert is_valid(_at(SHANGHAI, 2026, 3, 11, 23, 59, 58), expiry)
    assert is_valid(_at(SHANGHAI, 2026, 3, 11, 23, 59, 59), expiry)
    assert is_valid(_at(SHANGHAI, 2026, 3, 11, 23, 59, 59, 999_999), expiry)
    assert not is_valid(_at(SHANGHAI, 2026, 3, 12, 0, 0, 0), expiry)
    assert not is_valid(_at(SHANGHAI, 2026, 3, 12, 0, 0, 1), expiry)


def test_the_issue_day_is_the_local_day_whatever_zone_the_instant_is_given_in() -> None:
    # 16:00 UTC is midnight in Shanghai: a second earlier is still the previous local day.
    late = expires_at(datetime(2026, 3, 10, 16, 0, 0, tzinfo=UTC), online=False, zone=SHANGHAI)
    early = expires_at(datetime(2026, 3, 10, 15, 59, 59, tzinfo=UTC), online=False, zone=SHANGHAI)
    assert late == _unix(SHANGHAI, 2026, 3, 11, 23, 59, 59)
    assert early == _unix(SHANGHAI, 2026, 3, 10, 23, 59, 59)


def test_the_rule_counts_the_days_it_is_given() -> None:
    issued = _at(SHANGHAI, 2026, 3, 10, 10, 0, 0)
    assert expires_at(issued, online=True, zone=SHANGHAI, online_days=3) == _unix(
        SHANGHAI, 2026, 3, 12, 23, 59, 59
    )
    assert expires_at(issued, online=False, zone=SHANGHAI, offline_days=2) == _unix(
        SHANGHAI, 2026, 3, 11, 23, 59, 59
    )


def test_a_naive_issue_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        expires_at(datetime(2026, 3, 10, 10, 0), online=True, zone=SHANGHAI)


def test_a_naive_instant_is_refused_when_checking_validity() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        is_valid(datetime(2026, 3, 10, 10, 0), 0)


@pytest.mark.parametrize("days", [0, -1])
def test_a_rule_of_less_than_one_day_is_refused(days: int) -> None:
    with pytest.raises(ValueError, match="at least its issue day"):
        expires_at(_at(SHANGHAI, 2026, 3, 10), online=True, zone=SHANGHAI, online_days=days)


def test_unix_seconds_floor_without_float_rounding() -> None:
    almost = datetime(2026, 3, 10, 15, 59, 59, 999_999, tzinfo=UTC)
    assert unix_seconds(almost) == unix_seconds(almost.replace(microsecond=0))
    assert unix_seconds(datetime(1969, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == -1


# Zones with daylight saving


def test_online_across_berlins_spring_forward_ends_at_local_midnight() -> None:
    # 2026-03-29 is 23 hours long in Berlin (02:00 CET becomes 03:00 CEST).
    issued = _at(BERLIN, 2026, 3, 28, 0, 0, 0)
    expiry = expires_at(issued, online=True, zone=BERLIN)
    assert expiry == _unix(BERLIN, 2026, 3, 29, 23, 59, 59)
    assert expiry - unix_seconds(issued) == 24 * 3_600 + 23 * 3_600 - 1


def test_offline_on_berlins_fall_back_day_lasts_25_hours() -> None:
    # 2026-10-25 is 25 hours long in Berlin (03:00 CEST becomes 02:00 CET).
    issued = _at(BERLIN, 2026, 10, 25, 0, 0, 0)
    expiry = expires_at(issued, online=False, zone=BERLIN)
    assert expiry == _unix(BERLIN, 2026, 10, 25, 23, 59, 59)
    assert expiry - unix_seconds(issued) == 25 * 3_600 - 1


def test_in_the_repeated_hour_both_readings_are_the_same_day() -> None:
    first = _at(BERLIN, 2026, 10, 25, 2, 30, 0)  # fold=0: CEST
    second = first.replace(fold=1)  # the same wall time an hour later: CET
    assert unix_seconds(second) - unix_seconds(first) == 3_600
    assert expires_at(first, online=False, zone=BERLIN) == expires_at(
        second, online=False, zone=BERLIN
    )


def test_validity_ends_exactly_at_berlins_midnight_in_summer_time() -> None:
    expiry = expires_at(_at(BERLIN, 2026, 7, 1, 9, 0, 0), online=False, zone=BERLIN)
    assert is_valid(_at(BERLIN, 2026, 7, 1, 23, 59, 59), expiry)
    assert not is_valid(_at(BERLIN, 2026, 7, 2, 0, 0, 0), expiry)
    assert expiry == unix_seconds(datetime(2026, 7, 1, 21, 59, 59, tzinfo=UTC))


def test_a_day_that_starts_at_0100_ends_the_day_before_at_23_59_59() -> None:
    # Havana skips 2026-03-08 00:00-00:59: the previous day ends where the gap begins.
    expiry = expires_at(_at(HAVANA, 2026, 3, 7, 12, 0, 0), online=False, zone=HAVANA)
    assert expiry == _unix(HAVANA, 2026, 3, 7, 23, 59, 59)
    next_second = datetime.fromtimestamp(expiry + 1, HAVANA)
    assert (next_second.date(), next_second.hour) == (date(2026, 3, 8), 1)


def test_online_over_a_day_that_starts_at_0100_is_47_hours_long() -> None:
    issued = _at(HAVANA, 2026, 3, 7, 0, 0, 0)
    expiry = expires_at(issued, online=True, zone=HAVANA)
    assert expiry == _unix(HAVANA, 2026, 3, 8, 23, 59, 59)
    assert expiry - unix_seconds(issued) == 47 * 3_600 - 1


# The contract's rule: a fixed UTC offset per hospital


#: Zones without daylight saving, where a fixed offset is the whole rule: +8, 0, -5, +5:45.
_FIXED = st.sampled_from(
    [SHANGHAI, ZoneInfo("UTC"), ZoneInfo("Etc/GMT+5"), ZoneInfo("Asia/Kathmandu")]
)


@given(
    instant=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
    ),
    online=st.booleans(),
    zone=_FIXED,
)
def test_the_contracts_fixed_offset_rule_agrees_with_the_zone_without_daylight_saving(
    instant: datetime, online: bool, zone: ZoneInfo
) -> None:
    offset = utc_offset_s(zone, instant)
    assert expires_at_offset(unix_seconds(instant), online=online, utc_offset=offset) == (
        expires_at(instant, online=online, zone=zone)
    )


@pytest.mark.parametrize(
    ("zone", "offset"),
    [
        (SHANGHAI, 8 * 3_600),
        (ZoneInfo("UTC"), 0),
        (ZoneInfo("Etc/GMT+5"), -5 * 3_600),
        (ZoneInfo("Asia/Kathmandu"), 5 * 3_600 + 45 * 60),
    ],
)
def test_a_zones_utc_offset_is_in_seconds_east_of_utc(zone: ZoneInfo, offset: int) -> None:
    assert utc_offset_s(zone, datetime(2026, 3, 10, tzinfo=UTC)) == offset


def test_berlins_offset_changes_with_daylight_saving() -> None:
    winter, summer = datetime(2026, 1, 10, tzinfo=UTC), datetime(2026, 7, 10, tzinfo=UTC)
    assert (utc_offset_s(BERLIN, winter), utc_offset_s(BERLIN, summer)) == (3_600, 7_200)


@pytest.mark.parametrize(
    ("second_of_day", "online", "valid_for"),
    [(86_399, True, 86_400), (0, True, 2 * 86_400 - 1), (86_399, False, 0), (0, False, 86_399)],
)
def test_the_fixed_offset_rule_before_the_epoch_floors_the_local_day(
    second_of_day: int, online: bool, valid_for: int
) -> None:
    """As the contract's ``expiryOf`` must for any instant it is asked about: local day -1."""
    offset = -5 * 3_600
    issued = -86_400 + second_of_day - offset
    assert expires_at_offset(issued, online=online, utc_offset=offset) == issued + valid_for


_ZONES = st.sampled_from(
    [SHANGHAI, BERLIN, HAVANA, LORD_HOWE, ZoneInfo("America/Santiago"), ZoneInfo("UTC")]
)


@given(
    instant=st.datetimes(
        min_value=datetime(2001, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC)
    ),
    online=st.booleans(),
    zone=_ZONES,
)
def test_expiry_is_the_last_second_of_the_last_local_day(
    instant: datetime, online: bool, zone: ZoneInfo
) -> None:
    expiry = expires_at(instant, online=online, zone=zone)
    days = 2 if online else 1
    issue_day = instant.astimezone(zone).date()
    last = datetime.fromtimestamp(expiry, zone)
    after = datetime.fromtimestamp(expiry + 1, zone)
    assert last.date() == issue_day + timedelta(days=days - 1)
    assert after.date() == issue_day + timedelta(days=days)
    assert is_valid(instant, expiry)
