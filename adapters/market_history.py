"""Daily CBOE regime history (VIX, VIX3M or its VXV stand-in, VVIX) and S&P 500 closes, read from package data.

Owns reading and joining the shipped CSVs in ``adapters/data/market/``; it never fetches, fills or repairs a
value: a day a series lacks is NaN, and a row that does not parse stops the load with the file and line.
"""

from __future__ import annotations

import csv
import datetime
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Final, Literal, TypeVar

import holidays
import numpy as np
import numpy.typing as npt

from adapters.errors import AdapterError

__all__ = [
    "HistoryError",
    "RegimeDay",
    "RegimeHistory",
    "SpxHistory",
    "SpxVixCloses",
    "Vix3mSource",
    "history_range",
    "load_regime_history",
    "load_spx_closes",
    "load_spx_vix_closes",
    "regime_day",
]

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]

Vix3mSource = Literal["VIX3M", "VXV"]

VIX_FILE: Final = "cboe_VIX_History.csv"
VIX3M_FILE: Final = "cboe_VIX3M_History.csv"
VVIX_FILE: Final = "cboe_VVIX_History.csv"
VXV_FILE: Final = "yahoo_VXV_2006_2017.csv"
SPX_FILE: Final = "yahoo_GSPC_SPX_History.csv"

VVIX_FIRST_RELIABLE_DAY: Final = np.datetime64("2007-01-01", "D")
"""CBOE's 2006 VVIX is sparse (gaps up to 21 days) with bad prints (15.71 on 2006-03-15): NOTES.md §1."""

_SPX_DECIMALS: Final = 2
"""Yahoo stores index levels as float32 ("17.65999984741211"); the published level has 2 decimals."""

_T = TypeVar("_T", bound=np.generic)

_SATURDAY: Final = 5

_MDY = re.compile(r"(\d{2})/(\d{2})/(\d{4})")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


class HistoryError(AdapterError):
    """The packaged market history is unreadable, or a requested day is not in it; names file/line or day."""


@dataclass(frozen=True, slots=True)
class _CsvLayout:
    header: tuple[str, ...]
    date_format: Literal["MM/DD/YYYY", "YYYY-MM-DD"]
    close_column: str


_CBOE_OHLC: Final = _CsvLayout(("DATE", "OPEN", "HIGH", "LOW", "CLOSE"), "MM/DD/YYYY", "CLOSE")
_CBOE_VVIX: Final = _CsvLayout(("DATE", "VVIX"), "MM/DD/YYYY", "VVIX")
_YAHOO_VXV: Final = _CsvLayout(("Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"), "YYYY-MM-DD", "Close")
# The SPX export was re-headed to the CBOE layout (MM/DD/YYYY, no volume) by whoever committed it.
_YAHOO_SPX: Final = _CBOE_OHLC


@dataclass(frozen=True)
class RegimeHistory:
    """Daily closes, one row per NYSE trading day that has a CBOE VIX close, oldest first.

    Arrays are equal-length and read-only (the result is cached and shared). Index levels are in vol points
    (VIX 17.24 = 17.24 % annualised 30-day implied vol); NaN where that series has no value that day.
    """

    dates: DateArray
    """datetime64[D], strictly ascending."""
    vix: FloatArray
    """CBOE VIX close, never NaN."""
    vix3m: FloatArray
    """CBOE VIX3M close, or the Yahoo ^VXV close on days before CBOE's VIX3M history starts (2009-09-18)."""
    vvix: FloatArray
    """CBOE VVIX close from 2007-01-01 on; NaN before (unreliable) and on days CBOE did not publish one."""
    vix3m_source: npt.NDArray[np.str_]
    """Per row "VIX3M" (CBOE), "VXV" (Yahoo stand-in) or "" where vix3m is NaN."""


@dataclass(frozen=True)
class SpxHistory:
    """S&P 500 daily closes in index points, rounded to 2 decimals, every row Yahoo published, oldest first."""

    dates: DateArray
    """datetime64[D], strictly ascending."""
    closes: FloatArray


@dataclass(frozen=True)
class SpxVixCloses:
    """Each S&P 500 day with its own and the previous row's SPX close and the CBOE VIX closes of both days.

    One row per SPX row after the first, oldest first; arrays equal-length and read-only. SPX in index points,
    VIX in vol points; a VIX value is NaN where the regime history has no VIX close that day (before 1990, and
    the few days CBOE skipped), never filled from a neighbour.
    """

    dates: DateArray
    """datetime64[D] of the day, strictly ascending."""
    previous_dates: DateArray
    """datetime64[D] of the SPX row before it (the previous trading day)."""
    spx_close: FloatArray
    spx_previous_close: FloatArray
    vix_close: FloatArray
    vix_previous_close: FloatArray


@dataclass(frozen=True, slots=True)
class RegimeDay:
    """The regime inputs of one trading day, in vol points; None where the series has no close that day."""

    date: datetime.date
    vix: float
    vix3m: float | None
    vvix: float | None
    vix3m_source: Vix3mSource | None
    sources: str
    """Which file each value came from, or why it is missing, for display next to the numbers."""


def _read_text(file_name: str) -> str:
    try:
        return (resources.files("adapters") / "data" / "market" / file_name).read_text(encoding="utf-8")
    except OSError as exc:
        raise HistoryError(f"cannot read package file adapters/data/market/{file_name}: {exc}") from exc


def _iso_day(text: str, layout: _CsvLayout) -> str | None:
    """The ISO form of one date field, or None if it does not have the layout's exact shape."""
    if layout.date_format == "MM/DD/YYYY":
        match = _MDY.fullmatch(text)
        return None if match is None else f"{match[3]}-{match[1]}-{match[2]}"
    return text if _ISO.fullmatch(text) else None


def _parse_closes(text: str, file_name: str, layout: _CsvLayout) -> tuple[DateArray, FloatArray]:
    """Dates (datetime64[D]) and closes of one daily CSV; HistoryError names the file and line of a bad row.

    Every row must have the layout's field count, a valid date in its exact format, a finite positive close,
    and a date later than the row before it.
    """
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None or tuple(header) != layout.header:
        raise HistoryError(f"{file_name} line 1: header {header!r}, expected {','.join(layout.header)!r}")
    close_at = layout.header.index(layout.close_column)
    width = len(layout.header)
    iso_days: list[str] = []
    closes: list[float] = []
    line_numbers: list[int] = []
    for row in reader:
        where = f"{file_name} line {reader.line_num}"
        if len(row) != width:
            raise HistoryError(f"{where}: {len(row)} fields, expected {width}: {row!r}")
        iso = _iso_day(row[0], layout)
        if iso is None:
            raise HistoryError(f"{where}: date {row[0]!r} is not {layout.date_format}")
        try:
            close = float(row[close_at])
        except ValueError as exc:
            raise HistoryError(f"{where}: {layout.close_column} {row[close_at]!r} is not a number") from exc
        if not (math.isfinite(close) and close > 0.0):
            raise HistoryError(f"{where}: {layout.close_column} {row[close_at]!r} is not a positive level")
        iso_days.append(iso)
        closes.append(close)
        line_numbers.append(reader.line_num)
    if not iso_days:
        raise HistoryError(f"{file_name}: no data rows")
    try:
        dates = np.array(iso_days, dtype="datetime64[D]")
    except ValueError:
        # Shape-valid but impossible dates (02/30/2020) are rare: find the row only when one exists.
        for iso, line in zip(iso_days, line_numbers, strict=True):
            try:
                np.datetime64(iso, "D")
            except ValueError as exc:
                raise HistoryError(f"{file_name} line {line}: {iso} is not a calendar date") from exc
        raise
    steps = np.diff(dates)
    if (bad := np.flatnonzero(steps <= np.timedelta64(0, "D"))).size:
        i = int(bad[0]) + 1
        raise HistoryError(
            f"{file_name} line {line_numbers[i]}: date {dates[i]} does not follow {dates[i - 1]} "
            f"(line {line_numbers[i - 1]}); rows must be unique and ascending"
        )
    return dates, np.array(closes, dtype=np.float64)


def _read_series(file_name: str, layout: _CsvLayout) -> tuple[DateArray, FloatArray]:
    return _parse_closes(_read_text(file_name), file_name, layout)


@lru_cache(maxsize=8)
def _nyse_calendar(first_year: int, last_year: int) -> holidays.HolidayBase:
    """NYSE holidays and special closures (2004-06-11 and 2025-01-09 days of mourning, 2012 Sandy, …)."""
    return holidays.financial_holidays("NYSE", years=range(first_year, last_year + 1))


def _trading_day_mask(dates: DateArray) -> npt.NDArray[np.bool_]:
    """True where a date is an NYSE trading day: a weekday the exchange was open."""
    first_year, last_year = _as_date(dates[0]).year, _as_date(dates[-1]).year
    closures = np.array(sorted(_nyse_calendar(first_year, last_year)), dtype="datetime64[D]")
    return np.is_busday(dates, holidays=closures)


def _align(dates: DateArray, series_dates: DateArray, values: FloatArray) -> FloatArray:
    """Values placed on `dates` by exact date match; NaN where the series has no row (never filled)."""
    out = np.full(dates.shape, np.nan)
    at = np.searchsorted(dates, series_dates)
    hit = at < dates.size
    hit[hit] = dates[at[hit]] == series_dates[hit]
    out[at[hit]] = values[hit]
    return out


def _frozen(array: npt.NDArray[_T]) -> npt.NDArray[_T]:
    array.flags.writeable = False
    return array


@lru_cache(maxsize=1)
def load_regime_history() -> RegimeHistory:
    """Daily VIX, VIX3M (or VXV) and VVIX closes in vol points, one row per NYSE trading day with a VIX close.

    Since 2022 CBOE publishes VIX on US market holidays (global trading hours), and it also printed VIX on the
    2004-06-11 and 2025-01-09 days of mourning; those rows are not trading days and are dropped (NOTES.md §1).
    VIX3M comes from CBOE from its first day (2009-09-18) on and from Yahoo ^VXV before it; VVIX is used from
    2007-01-01 on. Parsed once per process; the arrays are read-only.

    Raises:
        HistoryError: a packaged file is missing or a row does not parse (names the file and line).
    """
    vix_dates, vix_all = _read_series(VIX_FILE, _CBOE_OHLC)
    keep = _trading_day_mask(vix_dates)
    dates, vix = vix_dates[keep], vix_all[keep]

    cboe_dates, cboe_3m = _read_series(VIX3M_FILE, _CBOE_OHLC)
    vxv_dates, vxv = _read_series(VXV_FILE, _YAHOO_VXV)
    before_cboe = vxv_dates < cboe_dates[0]
    cboe_on_day = _align(dates, cboe_dates, cboe_3m)
    vxv_on_day = _align(dates, vxv_dates[before_cboe], vxv[before_cboe])
    from_cboe = ~np.isnan(cboe_on_day)
    from_vxv = ~from_cboe & ~np.isnan(vxv_on_day)
    vix3m = np.where(from_cboe, cboe_on_day, vxv_on_day)
    source = np.full(dates.shape, "", dtype="<U5")
    source[from_cboe] = "VIX3M"
    source[from_vxv] = "VXV"

    vvix_dates, vvix_all = _read_series(VVIX_FILE, _CBOE_VVIX)
    reliable = vvix_dates >= VVIX_FIRST_RELIABLE_DAY
    vvix = _align(dates, vvix_dates[reliable], vvix_all[reliable])

    return RegimeHistory(
        dates=_frozen(dates),
        vix=_frozen(vix),
        vix3m=_frozen(vix3m),
        vvix=_frozen(vvix),
        vix3m_source=_frozen(source),
    )


@lru_cache(maxsize=1)
def load_spx_closes() -> SpxHistory:
    """S&P 500 closes in index points (2 decimals) for every day in Yahoo's ^GSPC export, 1927-12-30 on.

    Rows are kept as published: no trading-day filter, so a replay joins them to RegimeHistory by date.

    Raises:
        HistoryError: the packaged file is missing or a row does not parse (names the file and line).
    """
    dates, closes = _read_series(SPX_FILE, _YAHOO_SPX)
    return SpxHistory(dates=_frozen(dates), closes=_frozen(np.round(closes, _SPX_DECIMALS)))


@lru_cache(maxsize=1)
def load_spx_vix_closes() -> SpxVixCloses:
    """S&P 500 and VIX closes of every SPX day and of the SPX row before it, joined by exact date.

    The day-over-day moves of a replay or a historical VaR come from these pairs: both closes of a pair are
    published values of adjacent SPX rows; a VIX close is NaN where CBOE has none that day, so a move that would
    span a missing VIX day is visibly missing rather than silently two days long. Parsed once per process.

    Raises:
        HistoryError: a packaged file is missing or a row does not parse (names the file and line).
    """
    spx = load_spx_closes()
    regime = load_regime_history()
    vix = _align(spx.dates, regime.dates, regime.vix)
    return SpxVixCloses(
        dates=_frozen(spx.dates[1:].copy()),
        previous_dates=_frozen(spx.dates[:-1].copy()),
        spx_close=_frozen(spx.closes[1:].copy()),
        spx_previous_close=_frozen(spx.closes[:-1].copy()),
        vix_close=_frozen(vix[1:].copy()),
        vix_previous_close=_frozen(vix[:-1].copy()),
    )


def history_range() -> tuple[datetime.date, datetime.date]:
    """First and last trading day of the regime history (both inclusive)."""
    dates = load_regime_history().dates
    return _as_date(dates[0]), _as_date(dates[-1])


def _as_date(day: np.datetime64) -> datetime.date:
    value = day.astype(object)
    assert isinstance(value, datetime.date)
    return value


def _value_or_none(value: np.float64) -> float | None:
    return None if np.isnan(value) else float(value)


def _sources_text(vix3m_source: str, has_vvix: bool, day: np.datetime64) -> str:
    vix3m_text = {
        "VIX3M": f"VIX3M: CBOE {VIX3M_FILE}",
        "VXV": f"VIX3M: Yahoo ^VXV ({VXV_FILE}), stand-in before CBOE VIX3M starts",
        "": "VIX3M: none (no CBOE VIX3M or Yahoo VXV close this day)",
    }[vix3m_source]
    if has_vvix:
        vvix_text = f"VVIX: CBOE {VVIX_FILE}"
    elif day < VVIX_FIRST_RELIABLE_DAY:
        vvix_text = f"VVIX: none (not used before {VVIX_FIRST_RELIABLE_DAY}: sparse, bad 2006 prints)"
    else:
        vvix_text = "VVIX: none (CBOE published no close this day)"
    return f"VIX: CBOE {VIX_FILE}; {vix3m_text}; {vvix_text}"


def _not_in_history(day: datetime.date, dates: DateArray) -> HistoryError:
    target = np.datetime64(day, "D")
    at = int(np.searchsorted(dates, target))
    first, last = _as_date(dates[0]), _as_date(dates[-1])
    closure = _nyse_calendar(day.year, day.year).get(day)
    if day < first or day > last:
        why = "is outside the regime history"
    elif day.weekday() >= _SATURDAY:
        why = f"is a {day:%A}, not a trading day"
    elif closure is not None:
        why = f"is an NYSE closure ({closure}), not a trading day"
    else:
        why = f"is an NYSE trading day without a CBOE VIX close in {VIX_FILE}"
    before = str(_as_date(dates[at - 1])) if at > 0 else "none"
    after = str(_as_date(dates[at])) if at < dates.size else "none"
    return HistoryError(
        f"{day.isoformat()} {why}; the regime history covers {first} to {last}; "
        f"nearest trading days in it: before {before}, after {after}"
    )


def regime_day(day: datetime.date) -> RegimeDay:
    """VIX, VIX3M and VVIX closes (vol points) of one trading day, with where each came from.

    Args:
        day: a calendar date (not a datetime: the history is daily and has no time zone).

    Raises:
        HistoryError: `day` is not a trading day in the history; names the range and the nearest trading
            days before and after it.
        TypeError: `day` is a datetime.
    """
    if isinstance(day, datetime.datetime):
        raise TypeError(f"regime_day takes a date, got the datetime {day.isoformat()}")
    history = load_regime_history()
    target = np.datetime64(day, "D")
    at = int(np.searchsorted(history.dates, target))
    if at == history.dates.size or history.dates[at] != target:
        raise _not_in_history(day, history.dates)
    source = str(history.vix3m_source[at])
    vvix = _value_or_none(history.vvix[at])
    vix3m_source: Vix3mSource | None = "VIX3M" if source == "VIX3M" else "VXV" if source == "VXV" else None
    return RegimeDay(
        date=day,
        vix=float(history.vix[at]),
        vix3m=_value_or_none(history.vix3m[at]),
        vvix=vvix,
        vix3m_source=vix3m_source,
        sources=_sources_text(source, vvix is not None, target),
    )
