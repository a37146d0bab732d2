"""Listed US option expiry dates by cycle on the NYSE trading calendar, and the E-mini S&P future behind an option.

Pure date logic: every function takes the dates or the `now` it works from and never reads the clock. Expiry
instants come from models.conventions.expiry_instant (16:00 New York for PM, 09:30 for AM settlement).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Final

import holidays

from models.conventions import NEW_YORK, SettlementTime, expiry_instant

__all__ = [
    "ExpiryCycle",
    "es_future_expiry",
    "es_future_for",
    "es_futures_after",
    "is_trading_day",
    "listed_expiry_dates",
    "monthly_expiry_date",
    "resolve_expiry",
    "third_friday",
    "trading_day_on_or_before",
]


class ExpiryCycle(StrEnum):
    """Which listed expiries a series belongs to.

    DAILY: every trading day (SPX/SPXW, SPY, QQQ, IWM list Monday–Friday expiries). WEEKLY: every Friday.
    MONTHLY: the third Friday. QUARTERLY: the monthly of March, June, September, December. LEAPS: the January
    monthly. A Friday that is an exchange holiday moves to the preceding trading day (Good Friday 2025-04-18
    → Thursday 2025-04-17).
    """

    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    LEAPS = "leaps"


_FRIDAY: Final = 4
_SATURDAY: Final = 5
_QUARTER_MONTHS: Final = (3, 6, 9, 12)
_ES_MONTH_CODES: Final = {3: "H", 6: "M", 9: "U", 12: "Z"}
_ONE_DAY: Final = timedelta(days=1)

_ES_SETTLEMENT: Final = SettlementTime.AM
"""E-mini S&P futures stop trading at 09:30 New York on their expiry day (special opening quotation)."""

_MAX_SCAN_DAYS: Final = 40 * 366
"""A guard on the date scans: no listed cycle needs more than a few years, so a longer scan is a bug."""


@lru_cache(maxsize=256)
def _nyse_closures(year: int) -> frozenset[date]:
    # The holidays package's NYSE financial calendar carries the rule-based holidays and the one-off closures
    # (2001-09-11..14, Hurricane Sandy, days of mourning); weekends are handled by the caller.
    return frozenset(holidays.financial_holidays("NYSE", years=year).keys())


def is_trading_day(day: date) -> bool:
    """True when the NYSE is open on `day` (a weekday that is neither a holiday nor a special closure).

    Example:
        >>> is_trading_day(date(2025, 4, 18)), is_trading_day(date(2025, 4, 17))
        (False, True)
    """
    return day.weekday() < _SATURDAY and day not in _nyse_closures(day.year)


def trading_day_on_or_before(day: date) -> date:
    """`day` itself when the NYSE is open on it, otherwise the closest earlier trading day.

    Example:
        >>> trading_day_on_or_before(date(2025, 4, 18))  # Good Friday
        datetime.date(2025, 4, 17)
    """
    for _ in range(_MAX_SCAN_DAYS):
        if is_trading_day(day):
            return day
        day -= _ONE_DAY
    raise ValueError(f"no NYSE trading day found within {_MAX_SCAN_DAYS} days before {day}")


def third_friday(year: int, month: int) -> date:
    """The third Friday of a month (before any holiday adjustment).

    Example:
        >>> third_friday(2026, 12)
        datetime.date(2026, 12, 18)
    """
    first = date(year, month, 1)
    return first + timedelta(days=(_FRIDAY - first.weekday()) % 7 + 14)


def monthly_expiry_date(year: int, month: int) -> date:
    """The standard monthly expiry of a month: its third Friday, or the trading day before when that is a holiday.

    Example:
        >>> monthly_expiry_date(2025, 4)  # 2025-04-18 was Good Friday
        datetime.date(2025, 4, 17)
    """
    return trading_day_on_or_before(third_friday(year, month))


def _months_from(start: date) -> Iterator[tuple[int, int]]:
    year, month = start.year, start.month
    while True:
        yield year, month
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def _dates_from(cycle: ExpiryCycle, start: date) -> Iterator[date]:
    """Listed dates of `cycle` on or after `start`, ascending and without end."""
    if cycle is ExpiryCycle.DAILY:
        day = start
        while True:
            if is_trading_day(day):
                yield day
            day += _ONE_DAY
    elif cycle is ExpiryCycle.WEEKLY:
        friday = start + timedelta(days=(_FRIDAY - start.weekday()) % 7)
        while True:
            # A holiday Friday rolls back to Thursday, which lies before `start` when `start` is that Friday.
            listed = trading_day_on_or_before(friday)
            if listed >= start:
                yield listed
            friday += timedelta(days=7)
    else:
        for year, month in _months_from(start):
            if cycle is ExpiryCycle.QUARTERLY and month not in _QUARTER_MONTHS:
                continue
            if cycle is ExpiryCycle.LEAPS and month != 1:
                continue
            listed = monthly_expiry_date(year, month)
            if listed >= start:
                yield listed


def listed_expiry_dates(cycle: ExpiryCycle | str, start: date, end: date) -> list[date]:
    """Listed expiry dates of `cycle` from `start` to `end`, both inclusive, ascending.

    Args:
        cycle: An ExpiryCycle or its value ("daily", "weekly", "monthly", "quarterly", "leaps").
        start: First calendar date considered.
        end: Last calendar date considered.

    Example:
        >>> listed_expiry_dates("weekly", date(2025, 4, 14), date(2025, 4, 25))
        [datetime.date(2025, 4, 17), datetime.date(2025, 4, 25)]
    """
    found: list[date] = []
    for listed in _dates_from(ExpiryCycle(cycle), start):
        if listed > end:
            break
        found.append(listed)
    return found


def resolve_expiry(
    cycle: ExpiryCycle | str,
    offset: int,
    now: datetime,
    settlement: SettlementTime = SettlementTime.PM,
) -> datetime:
    """The expiry instant (tz-aware, New York) of the `offset`-th live listed expiry of `cycle` at `now`.

    Offset 0 is the first listed date whose expiry instant is strictly after `now`; offset n is n listed dates
    of the same cycle later (for LEAPS, offset 1 is the January after the nearest live one).

    Args:
        cycle: An ExpiryCycle or its value.
        offset: How many listed expiries of the cycle to skip past the nearest live one (>= 0).
        now: tz-aware valuation instant.
        settlement: AM (expires 09:30 New York, SPX monthlies) or PM (16:00 New York).

    Example:
        At 10:00 New York on 2026-12-18, the AM-settled December SPX monthly has expired, so offset 0 is January;
        the PM-settled weekly of that same day is still live:
        >>> at = datetime(2026, 12, 18, 10, 0, tzinfo=NEW_YORK)
        >>> resolve_expiry("monthly", 0, at, SettlementTime.AM).isoformat()
        '2027-01-15T09:30:00-05:00'
        >>> resolve_expiry("weekly", 0, at).isoformat()
        '2026-12-18T16:00:00-05:00'
    """
    if now.tzinfo is None:
        raise ValueError(f"resolve_expiry needs a tz-aware now, got {now!r}")
    if offset < 0:
        raise ValueError(f"expiry offset must be >= 0, got {offset} for cycle {cycle!r}")
    kind = ExpiryCycle(cycle)
    live_seen = -1
    start = now.astimezone(NEW_YORK).date()
    for listed in _dates_from(kind, start):
        instant = expiry_instant(listed, settlement)
        if instant > now:
            live_seen += 1
            if live_seen == offset:
                return instant
        if (listed - start).days > _MAX_SCAN_DAYS:
            break
    raise ValueError(f"no {kind.value} expiry at offset {offset} within {_MAX_SCAN_DAYS} days of {now.isoformat()}")


def _es_symbol(year: int, month: int) -> str:
    # CME month code and the last digit of the year, as brokers display the contract: "/ESZ6".
    return f"/ES{_ES_MONTH_CODES[month]}{year % 10}"


def es_future_expiry(year: int, month: int) -> datetime:
    """Expiry instant of the E-mini S&P 500 future of a quarterly month: 09:30 New York on its monthly expiry date.

    Args:
        year: Contract year.
        month: Contract month, one of 3, 6, 9, 12.

    Example:
        >>> es_future_expiry(2026, 12).isoformat()
        '2026-12-18T09:30:00-05:00'
    """
    if month not in _ES_MONTH_CODES:
        raise ValueError(f"E-mini S&P futures list March, June, September, December; got month {month}")
    return expiry_instant(monthly_expiry_date(year, month), _ES_SETTLEMENT)


def es_future_for(option_expiry: datetime) -> tuple[str, datetime]:
    """The quarterly E-mini S&P future an option on /ES exercises into: (symbol like "/ESZ6", expiry instant).

    It is the first quarterly contract (H, M, U, Z) whose expiry, 09:30 New York on the third Friday (or the
    trading day before when that is a holiday), is at or after the option's expiry instant. A PM option on a
    quarterly expiry day is therefore on the next quarter's future, because the expiring one stopped at 09:30.

    Args:
        option_expiry: tz-aware expiry instant of the option.

    Example:
        >>> es_future_for(expiry_instant(date(2026, 11, 20)))[0]
        '/ESZ6'
        >>> es_future_for(expiry_instant(date(2026, 12, 18)))[0]  # PM, after the 09:30 December expiry
        '/ESH7'
    """
    if option_expiry.tzinfo is None:
        raise ValueError(f"es_future_for needs a tz-aware option expiry, got {option_expiry!r}")
    for year, month in _months_from(option_expiry.astimezone(NEW_YORK).date()):
        if month not in _ES_MONTH_CODES:
            continue
        expiry = es_future_expiry(year, month)
        if expiry >= option_expiry:
            return _es_symbol(year, month), expiry
    raise AssertionError("unreachable: a quarterly month follows within three months")


def es_futures_after(now: datetime, count: int) -> list[tuple[str, datetime]]:
    """The next `count` quarterly E-mini S&P futures still trading at `now`: (symbol, expiry instant), front first.

    Args:
        now: tz-aware instant.
        count: How many contracts (>= 1).

    Example:
        >>> at = datetime(2026, 12, 18, 9, 30, tzinfo=NEW_YORK)  # the December contract's last instant
        >>> [symbol for symbol, _ in es_futures_after(at, 2)]
        ['/ESH7', '/ESM7']
    """
    if now.tzinfo is None:
        raise ValueError(f"es_futures_after needs a tz-aware now, got {now!r}")
    found: list[tuple[str, datetime]] = []
    for year, month in _months_from(now.astimezone(NEW_YORK).date()):
        if len(found) >= count:
            break
        if month in _ES_MONTH_CODES and (expiry := es_future_expiry(year, month)) > now:
            found.append((_es_symbol(year, month), expiry))
    return found
