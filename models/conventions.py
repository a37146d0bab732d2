"""Units and conventions of riskdash: the one place that says what a number means.

Every other module imports its day counts, Greek scalings, multipliers and expiry instants from here; none
re-derives them. Pure functions and constants only: no I/O, no pricing.

| thing            | convention                                                                  |
|------------------|-----------------------------------------------------------------------------|
| quantity         | signed: + long, − short (contracts or shares)                               |
| multiplier       | float on every position (100 US equity/index options, 1 shares, 50 /ES)     |
| IV, rates        | decimals (0.25 = 25 vol, 0.043 = 4.3 %), continuously compounded            |
| t_years          | seconds to the tz-aware expiry instant / (365 × 86 400), Actual/365 Fixed  |
| delta            | per $1 of underlying                                                        |
| gamma            | change of delta per $1 of underlying                                        |
| vega             | premium change per vol point (σ + 0.01)                                     |
| theta            | premium change per calendar day, instantaneous rate (−∂V/∂T / 365)          |
| rho              | premium change per 1 % rate (r + 0.01), dividend yield held fixed           |
| vanna            | change of delta per vol point (∂²V/∂S∂σ × 0.01)                             |
| charm            | change of delta per calendar day (−∂²V/∂S∂T / 365)                          |
| vomma            | change of vega (per vol point) per vol point (∂²V/∂σ² × 0.01²)              |
| Black-76 rows    | delta, gamma, vanna, charm per $1 of the futures price; rho holds the       |
|                  | futures price fixed (−T × price × 0.01)                                     |
| position Greeks  | per-unit Greek × signed quantity × multiplier                               |
| dollar delta     | delta × quantity × multiplier × spot                                        |
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "AM_SETTLEMENT_TIME",
    "CALENDAR_DAYS_PER_YEAR",
    "EQUITY_OPTION_MULTIPLIER",
    "NEW_YORK",
    "PM_SETTLEMENT_TIME",
    "RATE_POINT",
    "SECONDS_PER_DAY",
    "SECONDS_PER_YEAR",
    "SHARE_MULTIPLIER",
    "TRADING_DAYS_PER_YEAR",
    "TROPICAL_YEAR_DAYS",
    "VOL_POINT",
    "SettlementTime",
    "continuous_yield_from_cash_yield",
    "dte_days",
    "expiry_instant",
    "rho_per_point_from_per_unit",
    "t_years",
    "theta_per_day_from_annual",
    "theta_per_day_from_trading_year",
    "theta_per_day_from_tropical_day",
    "vega_per_point_from_per_unit",
    "vol_points_from_decimal",
]

CALENDAR_DAYS_PER_YEAR: Final = 365.0
"""Actual/365 Fixed: the year of t_years and of theta per calendar day."""

TRADING_DAYS_PER_YEAR: Final = 252.0
"""Annualisation of close-to-close historical volatility."""

TROPICAL_YEAR_DAYS: Final = 365.2422
"""Mean tropical year in days: tastytrade's market-data theta is quoted per 1/365.2422 of a year (see
risk_engine/crosscheck.py for the fit on tests/fixtures/vendor/market_data_by_type_equity_option_SPY_250701.json)."""

SECONDS_PER_DAY: Final = 86_400.0
SECONDS_PER_YEAR: Final = CALENDAR_DAYS_PER_YEAR * SECONDS_PER_DAY

VOL_POINT: Final = 0.01
"""One vol point in decimal volatility: vega is quoted per this much σ."""

RATE_POINT: Final = 0.01
"""One percent of rate in decimal: rho is quoted per this much r."""

EQUITY_OPTION_MULTIPLIER: Final = 100.0
"""Standard US equity and index option: 100 units of the underlying per contract."""

SHARE_MULTIPLIER: Final = 1.0

NEW_YORK: Final = ZoneInfo("America/New_York")
"""Exchange time zone of US equity and index options."""

PM_SETTLEMENT_TIME: Final = time(16, 0)
"""PM-settled options (equity, ETF, SPXW) expire at the 16:00 New York close."""

AM_SETTLEMENT_TIME: Final = time(9, 30)
"""AM-settled options (SPX monthlies) settle on the opening print, 09:30 New York."""


class SettlementTime(StrEnum):
    """When on its expiry day an option's settlement value is fixed."""

    AM = "AM"
    PM = "PM"


def expiry_instant(expiry_date: date, settlement: SettlementTime = SettlementTime.PM) -> datetime:
    """The tz-aware instant an option expires: 16:00 New York for PM, 09:30 for AM settlement.

    Args:
        expiry_date: Last trading (or settlement) date as listed by the exchange.
        settlement: AM (SPX monthlies) or PM (everything else listed in the US).

    Example:
        >>> expiry_instant(date(2026, 12, 18), SettlementTime.AM).isoformat()
        '2026-12-18T09:30:00-05:00'
    """
    wall = AM_SETTLEMENT_TIME if settlement is SettlementTime.AM else PM_SETTLEMENT_TIME
    return datetime.combine(expiry_date, wall, tzinfo=NEW_YORK)


def t_years(expiry: datetime, now: datetime) -> float:
    """Years to expiry (Actual/365 Fixed, exact to the second); negative once expired.

    Args:
        expiry: tz-aware expiry instant (see `expiry_instant`).
        now: tz-aware valuation instant.

    Example:
        One hour before a 16:00 expiry is 1/8760 of a year:
        >>> e = expiry_instant(date(2026, 11, 20))
        >>> round(t_years(e, e.replace(hour=15)) * 8760, 12)
        1.0
    """
    if expiry.tzinfo is None or now.tzinfo is None:
        raise ValueError("t_years needs tz-aware expiry and now instants")
    # Aware datetimes sharing one tzinfo subtract as wall clocks (24 h across a DST change that lasts 25 h):
    # converting to UTC first counts the real seconds.
    return (expiry.astimezone(UTC) - now.astimezone(UTC)).total_seconds() / SECONDS_PER_YEAR


def dte_days(expiry: datetime, now: datetime) -> int:
    """Calendar days to expiry counted on New York dates (0 on expiry day, negative once past).

    Args:
        expiry: tz-aware expiry instant.
        now: tz-aware valuation instant.
    """
    if expiry.tzinfo is None or now.tzinfo is None:
        raise ValueError("dte_days needs tz-aware expiry and now instants")
    return (expiry.astimezone(NEW_YORK).date() - now.astimezone(NEW_YORK).date()).days


def vega_per_point_from_per_unit(vega_per_unit_vol: float) -> float:
    """Vega per vol point from a vendor's vega per 1.00 of volatility (QuantLib, textbook ∂V/∂σ)."""
    return vega_per_unit_vol * VOL_POINT


def theta_per_day_from_annual(theta_per_year: float) -> float:
    """Theta per calendar day from a vendor's theta per year (QuantLib `theta()`, textbook ∂V/∂t)."""
    return theta_per_year / CALENDAR_DAYS_PER_YEAR


def theta_per_day_from_trading_year(theta_per_year: float) -> float:
    """Theta per trading day from a theta per 252-day year (vendors that count trading days)."""
    return theta_per_year / TRADING_DAYS_PER_YEAR


def theta_per_day_from_tropical_day(theta_per_tropical_day: float) -> float:
    """Theta per calendar day (1/365 year) from a vendor's theta per 1/365.2422 year (tastytrade market data).

    Example:
        tastytrade's SPY 605 call of 2025-06-27 quotes theta −0.255110606; Black-Scholes gives −0.25527989 a day:
        >>> round(theta_per_day_from_tropical_day(-0.255110606), 9)
        -0.255279888
    """
    return theta_per_tropical_day * TROPICAL_YEAR_DAYS / CALENDAR_DAYS_PER_YEAR


def continuous_yield_from_cash_yield(cash_yield: float) -> float:
    """The continuous dividend yield q of the pricers from a vendor's cash yield (annual dividends / price).

    A stock paying a fraction y of its price over a year loses the same value as one paying continuously at
    q = ln(1 + y); the two differ by about y²/2 (0.1 bp at 1.4 %, 18 bp at 6 %).

    Example:
        >>> round(continuous_yield_from_cash_yield(0.06), 6)
        0.058269
    """
    return math.log1p(cash_yield)


def rho_per_point_from_per_unit(rho_per_unit_rate: float) -> float:
    """Rho per 1 % rate from a vendor's rho per 1.00 of rate."""
    return rho_per_unit_rate * RATE_POINT


def vol_points_from_decimal(vol: float) -> float:
    """Volatility in points for display (0.253 → 25.3); display only, never fed back into maths."""
    return vol / VOL_POINT
