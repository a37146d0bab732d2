"""Listed expiry calendar against independent facts: the S&P 500's own trading days, NYSE's published holidays,
third Fridays read off a calendar, and exchange rules for AM/PM settlement."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.listed_expiries import (
    ExpiryCycle,
    es_future_expiry,
    es_future_for,
    es_futures_after,
    is_trading_day,
    listed_expiry_dates,
    monthly_expiry_date,
    resolve_expiry,
    third_friday,
    trading_day_on_or_before,
)
from models.conventions import NEW_YORK, SettlementTime, expiry_instant, t_years

D = date


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=NEW_YORK)


# NYSE's published holiday schedule (nyse.com "Holidays & trading hours"), typed from that list, not from our code.
NYSE_HOLIDAYS = {
    2026: (
        D(2026, 1, 1), D(2026, 1, 19), D(2026, 2, 16), D(2026, 4, 3), D(2026, 5, 25), D(2026, 6, 19),
        D(2026, 7, 3), D(2026, 9, 7), D(2026, 11, 26), D(2026, 12, 25),
    ),
    2027: (
        D(2027, 1, 1), D(2027, 1, 18), D(2027, 2, 15), D(2027, 3, 26), D(2027, 5, 31), D(2027, 6, 18),
        D(2027, 7, 5), D(2027, 9, 6), D(2027, 11, 25), D(2027, 12, 24),
    ),
}  # fmt: skip


def _spx_session_days() -> tuple[set[date], date, date]:
    """Days with an S&P 500 close in the shipped Yahoo history (real data: the index prints only when NYSE trades)."""
    text = (resources.files("adapters") / "data" / "market" / "yahoo_GSPC_SPX_History.csv").read_text(encoding="utf-8")
    days = set()
    for row in list(csv.reader(text.splitlines()))[1:]:
        month, day, year = (int(part) for part in row[0].split("/"))
        days.add(D(year, month, day))
    return days, min(days), max(days)


def test_trading_days_match_the_sp500_sessions_since_2000() -> None:
    sessions, _, last = _spx_session_days()
    day, mismatches = D(2000, 1, 1), []
    while day <= last:
        if is_trading_day(day) != (day in sessions):
            mismatches.append(day)
        day += timedelta(days=1)
    assert mismatches == []


@pytest.mark.parametrize("year", sorted(NYSE_HOLIDAYS), ids=str)
def test_weekday_closures_are_nyse_published_holidays(year: int) -> None:
    day, closed = D(year, 1, 1), []
    while day.year == year:
        if day.weekday() < 5 and not is_trading_day(day):
            closed.append(day)
        day += timedelta(days=1)
    assert tuple(closed) == NYSE_HOLIDAYS[year]


@pytest.mark.parametrize(
    ("day", "open_"),
    [
        (D(2025, 1, 9), False),  # day of mourning, President Carter
        (D(2018, 12, 5), False),  # day of mourning, President G. H. W. Bush
        (D(2012, 10, 29), False),  # Hurricane Sandy
        (D(2026, 11, 27), True),  # day after Thanksgiving: open (early close)
        (D(2026, 11, 21), False),  # Saturday
    ],
    ids=["carter", "bush", "sandy", "black-friday", "saturday"],
)
def test_special_closures_and_half_days(day: date, open_: bool) -> None:
    assert is_trading_day(day) is open_


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [(2025, 4, D(2025, 4, 18)), (2026, 2, D(2026, 2, 20)), (2026, 6, D(2026, 6, 19)), (2026, 12, D(2026, 12, 18)),
     (2027, 1, D(2027, 1, 15)), (2027, 6, D(2027, 6, 18)), (2024, 3, D(2024, 3, 15)), (2026, 5, D(2026, 5, 15))],
    ids=lambda v: str(v),
)  # fmt: skip
def test_third_friday(year: int, month: int, expected: date) -> None:
    assert third_friday(year, month) == expected


@pytest.mark.parametrize(
    ("year", "month", "expected"),
    [
        (2025, 4, D(2025, 4, 17)),  # Good Friday 2025-04-18 → Thursday
        (2026, 6, D(2026, 6, 18)),  # Juneteenth, Friday 2026-06-19 → Thursday
        (2027, 6, D(2027, 6, 17)),  # Juneteenth observed, Friday 2027-06-18 → Thursday
        (2026, 12, D(2026, 12, 18)),
    ],
    ids=["good-friday-2025", "juneteenth-2026", "juneteenth-2027", "dec-2026"],
)
def test_monthly_expiry_moves_to_the_trading_day_before_a_holiday_friday(year: int, month: int, expected: date) -> None:
    assert monthly_expiry_date(year, month) == expected


def test_trading_day_on_or_before_skips_a_holiday_and_a_weekend() -> None:
    assert trading_day_on_or_before(D(2026, 1, 19)) == D(2026, 1, 16)  # MLK Monday → Friday


def test_weekly_cycle_across_good_friday_2025() -> None:
    assert listed_expiry_dates(ExpiryCycle.WEEKLY, D(2025, 4, 7), D(2025, 4, 30)) == [
        D(2025, 4, 11), D(2025, 4, 17), D(2025, 4, 25)
    ]  # fmt: skip


def test_daily_cycle_lists_every_session_of_thanksgiving_week_2026() -> None:
    assert listed_expiry_dates("daily", D(2026, 11, 23), D(2026, 11, 29)) == [
        D(2026, 11, 23), D(2026, 11, 24), D(2026, 11, 25), D(2026, 11, 27)
    ]  # fmt: skip


def test_quarterly_and_leaps_cycles() -> None:
    assert listed_expiry_dates("quarterly", D(2026, 7, 1), D(2027, 7, 1)) == [
        D(2026, 9, 18), D(2026, 12, 18), D(2027, 3, 19), D(2027, 6, 17)
    ]  # fmt: skip
    assert listed_expiry_dates("leaps", D(2026, 7, 1), D(2029, 7, 1)) == [
        D(2027, 1, 15),
        D(2028, 1, 21),
        D(2029, 1, 19),
    ]


def test_am_monthly_is_gone_at_ten_but_the_pm_weekly_that_day_is_live() -> None:
    at = ny(2026, 12, 18, 10, 0)
    assert resolve_expiry("monthly", 0, at, SettlementTime.AM) == ny(2027, 1, 15, 9, 30)
    assert resolve_expiry("weekly", 0, at, SettlementTime.PM) == ny(2026, 12, 18, 16, 0)
    assert resolve_expiry("monthly", 0, at, SettlementTime.PM) == ny(2026, 12, 18, 16, 0)


def test_am_monthly_is_live_until_the_opening_print() -> None:
    assert resolve_expiry("monthly", 0, ny(2026, 12, 18, 9, 29, 59), SettlementTime.AM) == ny(2026, 12, 18, 9, 30)
    assert resolve_expiry("monthly", 0, ny(2026, 12, 18, 9, 30), SettlementTime.AM) == ny(2027, 1, 15, 9, 30)


def test_an_option_is_not_live_at_its_own_expiry_instant() -> None:
    assert resolve_expiry("daily", 0, ny(2026, 11, 25, 16, 0)) == ny(2026, 11, 27, 16, 0)  # skips Thanksgiving
    assert resolve_expiry("daily", 0, ny(2026, 11, 25, 15, 59, 59)) == ny(2026, 11, 25, 16, 0)


@pytest.mark.parametrize(
    ("now", "cycle", "offset", "expected"),
    [
        (ny(2026, 11, 21, 12), "daily", 0, ny(2026, 11, 23, 16)),  # Saturday → Monday
        (ny(2026, 11, 21, 12), "weekly", 0, ny(2026, 11, 27, 16)),
        (ny(2026, 11, 26, 12), "daily", 0, ny(2026, 11, 27, 16)),  # on Thanksgiving
        (ny(2027, 3, 26, 10), "daily", 0, ny(2027, 3, 29, 16)),  # on Good Friday 2027
        (ny(2027, 3, 22, 10), "weekly", 0, ny(2027, 3, 25, 16)),  # Good Friday week: Thursday
        (ny(2027, 3, 22, 10), "weekly", 1, ny(2027, 4, 2, 16)),
        (ny(2026, 7, 23, 12), "monthly", 2, ny(2026, 10, 16, 16)),
        (ny(2026, 7, 23, 12), "leaps", 0, ny(2027, 1, 15, 16)),
        (ny(2026, 7, 23, 12), "leaps", 1, ny(2028, 1, 21, 16)),
        (ny(2027, 1, 15, 16, 30), "leaps", 0, ny(2028, 1, 21, 16)),
        (ny(2026, 9, 18, 10), "quarterly", 0, ny(2026, 12, 18, 9, 30)),
    ],
    ids=["sat-daily", "sat-weekly", "thanksgiving", "good-friday-2027", "gf-week-weekly", "gf-week-next",
         "monthly-2", "leaps-0", "leaps-1", "leaps-after-jan", "quarterly-am"],
)  # fmt: skip
def test_resolve_expiry_from_weekends_holidays_and_offsets(
    now: datetime, cycle: str, offset: int, expected: datetime
) -> None:
    settlement = SettlementTime.AM if expected.hour == 9 else SettlementTime.PM
    assert resolve_expiry(cycle, offset, now, settlement) == expected


def test_instants_carry_new_york_daylight_saving() -> None:
    # US clocks fell back on 2026-11-01 and spring forward on 2027-03-14.
    assert expiry_instant(D(2026, 10, 30)).astimezone(UTC).hour == 20  # EDT, UTC−4
    assert expiry_instant(D(2026, 11, 2)).astimezone(UTC).hour == 21  # EST, UTC−5
    assert expiry_instant(D(2027, 3, 19), SettlementTime.AM).astimezone(UTC) == datetime(
        2027, 3, 19, 13, 30, tzinfo=UTC
    )


def test_resolve_across_the_fall_back_weekend_counts_the_extra_hour() -> None:
    now = ny(2026, 10, 30, 16, 0, 1)
    expiry = resolve_expiry("daily", 0, now)
    assert expiry == ny(2026, 11, 2, 16)
    # 72 wall-clock hours, 73 elapsed: aware datetimes sharing a tzinfo subtract as wall clocks, so go through UTC.
    assert expiry.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=73, seconds=-1)
    assert t_years(expiry, now) * 8760 == pytest.approx(73 - 1 / 3600, abs=1e-9)


@pytest.mark.parametrize(
    "now_utc",
    [datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
     datetime(2027, 3, 14, 7, 30, tzinfo=UTC)],
    ids=["first-01:30", "second-01:30", "spring-forward"],
)  # fmt: skip
def test_resolve_on_a_dst_change_day(now_utc: datetime) -> None:
    expiry = resolve_expiry("daily", 0, now_utc)
    assert expiry.astimezone(NEW_YORK).date() == now_utc.astimezone(NEW_YORK).date() + timedelta(days=1)
    assert (expiry.hour, expiry.minute) == (16, 0)


def test_resolve_expiry_rejects_a_naive_now_and_a_negative_offset() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        resolve_expiry("daily", 0, datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="offset"):
        resolve_expiry("weekly", -1, ny(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="biweekly"):
        resolve_expiry("biweekly", 0, ny(2026, 11, 23, 10))


@given(
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2031, 12, 31), timezones=st.just(NEW_YORK)),
    st.sampled_from(list(ExpiryCycle)),
    st.sampled_from(list(SettlementTime)),
)
@settings(max_examples=150, deadline=None)
def test_offset_zero_is_the_first_listed_instant_after_now(
    now: datetime, cycle: ExpiryCycle, settlement: SettlementTime
) -> None:
    first = resolve_expiry(cycle, 0, now, settlement)
    second = resolve_expiry(cycle, 1, now, settlement)
    assert now < first < second
    start = now.astimezone(NEW_YORK).date() - timedelta(days=1)
    listed = [expiry_instant(d, settlement) for d in listed_expiry_dates(cycle, start, second.date())]
    assert [i for i in listed if i > now][:2] == [first, second]
    assert is_trading_day(first.date())


def test_es_future_for_picks_the_contract_alive_at_option_expiry() -> None:
    assert es_future_for(ny(2026, 11, 20, 16)) == ("/ESZ6", ny(2026, 12, 18, 9, 30))
    assert es_future_for(ny(2026, 12, 18, 9, 30)) == ("/ESZ6", ny(2026, 12, 18, 9, 30))  # AM: same instant
    assert es_future_for(ny(2026, 12, 18, 16)) == ("/ESH7", ny(2027, 3, 19, 9, 30))  # PM: the Dec contract is gone
    assert es_future_for(ny(2029, 10, 19, 16)) == ("/ESZ9", ny(2029, 12, 21, 9, 30))


def test_es_futures_after_lists_live_contracts_front_first() -> None:
    assert es_futures_after(ny(2026, 12, 18, 9, 29), 2) == [
        ("/ESZ6", ny(2026, 12, 18, 9, 30)), ("/ESH7", ny(2027, 3, 19, 9, 30))
    ]  # fmt: skip
    assert [s for s, _ in es_futures_after(ny(2026, 12, 18, 9, 30), 3)] == ["/ESH7", "/ESM7", "/ESU7"]


def test_es_future_expiry_rejects_a_serial_month() -> None:
    with pytest.raises(ValueError, match="month 11"):
        es_future_expiry(2026, 11)
