"""Regime levels and per-underlying statistics from one batched yfinance download a refresh.

Owns the Yahoo ticker of each book underlying, the one `yf.download` call (thin, injectable) and the pure
translation of its multi-index frame into a MarketSnapshot. It never invents a value: a ticker Yahoo did not
answer is a note naming it, a rate limit or an empty answer raises SourceUnavailable.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from adapters.errors import SourceUnavailable
from config.settings import Settings
from models.base import RiskdashModel
from models.conventions import CALENDAR_DAYS_PER_YEAR, NEW_YORK, PM_SETTLEMENT_TIME
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from risk_engine.realized import beta_to_index, realized_vol

__all__ = [
    "HISTORY_PERIOD",
    "MARKET_DATA_SOURCE",
    "MARKET_DATA_TIMEOUT_S",
    "REGIME_TICKERS",
    "Downloader",
    "MarketData",
    "YahooDownload",
    "continuous_rate_from_bill_discount",
    "download_history",
    "fetch_market_data",
    "tickers_for",
    "to_market_data",
    "yahoo_ticker",
]

MARKET_DATA_SOURCE: Final = "yfinance"
HISTORY_PERIOD: Final = "1y"
MARKET_DATA_TIMEOUT_S: Final = 10.0
"""Per-request timeout handed to yfinance; the refresh bounds the whole download separately."""

VIX: Final = "^VIX"
VIX3M: Final = "^VIX3M"
VVIX: Final = "^VVIX"
SPX: Final = "^GSPC"
BILL_13_WEEK: Final = "^IRX"
REGIME_TICKERS: Final = (VIX, VIX3M, VVIX, SPX, BILL_13_WEEK)

_HV_WINDOWS: Final = (20, 30)
_MIN_BETA_RETURNS: Final = 60
"""A quarter of daily returns: fewer give a beta whose standard error swamps it."""
_MIN_DIVIDEND_HISTORY_DAYS: Final = 350
"""A trailing-year dividend sum needs (nearly) a year of history, else a missed payment reads as a low yield."""

_BILL_DAYS: Final = 91.0
"""A 13-week bill runs 91 days."""
_DISCOUNT_BASIS_DAYS: Final = 360.0
"""T-bill discount rates are quoted on an actual/360 basis."""
_PERCENT: Final = 100.0

_CLOSE_FIELD: Final = "Close"
_ADJ_CLOSE_FIELD: Final = "Adj Close"
_DIVIDENDS_FIELD: Final = "Dividends"

# Index underlyings as brokers name them -> Yahoo's index tickers. Other index roots (XSP, DJX, MRUT...) have
# no Yahoo history we trust, and asking for them by name could fetch an unrelated stock: they are skipped.
_INDEX_TICKERS: Final = {"SPX": SPX, "SPXW": SPX, "NDX": "^NDX", "RUT": "^RUT", "VIX": VIX, "OEX": "^OEX"}
_UNMAPPED_INDEXES: Final = frozenset({"XSP", "XND", "MRUT", "DJX", "NANOS", "VIXW", "NDXP", "RUTW"})
_SHARE_CLASS = re.compile(r"^([A-Z]{1,6})[ ./]([A-Z])$")  # "BRK B", "BRK/B", "BRK.B" -> Yahoo "BRK-B"
_EQUITY_TICKER = re.compile(r"^[A-Z][A-Z0-9]{0,5}(-[A-Z])?$")
_RATE_LIMIT = re.compile(r"YFRateLimitError|Too Many Requests|Rate limited", re.IGNORECASE)
_PER_TICKER_ERROR = re.compile(r"^\[.*\]: ")  # yfinance logs "['^IRX']: YFTzMissingError(...)" per failure


@dataclass(frozen=True)
class YahooDownload:
    """What one yf.download returned: its frame, and the per-ticker errors yfinance logged instead of raising."""

    frame: pd.DataFrame
    vendor_errors: tuple[str, ...] = ()


Downloader = Callable[[Sequence[str], float], YahooDownload]
"""(tickers, per-request timeout in s) -> the download; the network seam tests replace."""


class MarketData(RiskdashModel):
    """The market snapshot built from one download, and notes naming each ticker or value it lacks and why."""

    snapshot: MarketSnapshot
    notes: tuple[str, ...] = ()


def yahoo_ticker(underlying: str) -> str | None:
    """Yahoo Finance ticker of a book underlying ("SPX" -> "^GSPC", "BRK B" -> "BRK-B"), None when not looked up.

    Futures ("/ESZ6") are not looked up: Yahoo has only a rolled front-month series, not the held contract.
    """
    symbol = underlying.strip().upper()
    if symbol in _INDEX_TICKERS:
        return _INDEX_TICKERS[symbol]
    if not symbol or symbol.startswith("/") or symbol in _UNMAPPED_INDEXES:
        return None
    share_class = _SHARE_CLASS.match(symbol)
    if share_class is not None:
        symbol = f"{share_class.group(1)}-{share_class.group(2)}"
    return symbol if _EQUITY_TICKER.match(symbol) else None


def tickers_for(underlyings: Iterable[str]) -> tuple[tuple[str, ...], dict[str, str], tuple[str, ...]]:
    """(tickers to download, underlying -> ticker, notes on underlyings skipped) for the regime and a book."""
    by_underlying: dict[str, str] = {}
    notes: list[str] = []
    for underlying in sorted(set(underlyings)):
        ticker = yahoo_ticker(underlying)
        if ticker is None:
            notes.append(f"{MARKET_DATA_SOURCE} {underlying}: not looked up (no Yahoo ticker for it)")
        else:
            by_underlying[underlying] = ticker
    tickers = tuple(dict.fromkeys([*REGIME_TICKERS, *sorted(set(by_underlying.values()))]))
    return tickers, by_underlying, tuple(notes)


def continuous_rate_from_bill_discount(discount_pct: float) -> float:
    """Continuously compounded rate (decimal) of a 13-week T-bill quoted at `discount_pct` percent discount (^IRX).

    The bill costs 1 − d × 91/360 per 1 of face and pays 1 after 91 days: r = −ln(price) × 365/91.

    Args:
        discount_pct: Bank-discount rate in percent, as ^IRX quotes it (4.2 = 4.2 %).

    Example:
        4.20 % discount: price 0.9893833, bond-equivalent yield 4.3040 %, continuous rate 4.2811 %:
        >>> round(continuous_rate_from_bill_discount(4.2), 7)
        0.042811
    """
    price = 1.0 - discount_pct / _PERCENT * _BILL_DAYS / _DISCOUNT_BASIS_DAYS
    if not math.isfinite(price) or price <= 0.0:
        raise ValueError(f"a 13-week bill discount of {discount_pct}% gives a non-positive price")
    return -math.log(price) * CALENDAR_DAYS_PER_YEAR / _BILL_DAYS


def _bar_instant(day: date, now: datetime) -> datetime:
    """When a daily bar's close was fixed: 16:00 New York that day, or `now` for today's still-open bar."""
    return min(datetime.combine(day, PM_SETTLEMENT_TIME, tzinfo=NEW_YORK), now)


@dataclass(frozen=True)
class _Series:
    """One ticker's non-missing values of one field, oldest first."""

    days: tuple[date, ...]
    values: npt.NDArray[np.float64]


def _series(frame: pd.DataFrame, field: str, ticker: str) -> _Series | None:
    key = (field, ticker)
    if key not in frame.columns:
        return None
    column = pd.to_numeric(frame[key], errors="coerce")
    column = column[column.notna()]
    days = tuple(pd.Timestamp(stamp).date() for stamp in column.index)
    return _Series(days=days, values=column.to_numpy(dtype=np.float64))


class _Translation:
    """Notes collected while reading one download frame at `now`."""

    def __init__(self, frame: pd.DataFrame, now: datetime, vendor_errors: Sequence[str]) -> None:
        self.frame = frame
        self.now = now
        self.vendor_errors = vendor_errors
        self.notes: list[str] = []

    def _why(self, ticker: str) -> str:
        said = [message for message in self.vendor_errors if ticker in message]
        return f" (yfinance said: {'; '.join(said)})" if said else ""

    def closes(self, ticker: str, field: str = _CLOSE_FIELD) -> _Series | None:
        """Finite positive closes of `ticker`, or None with a note saying why there are none."""
        found = _series(self.frame, field, ticker)
        if found is None:
            self.notes.append(f"{MARKET_DATA_SOURCE} {ticker}: no {field} column in the download{self._why(ticker)}")
            return None
        if found.values.size == 0:
            self.notes.append(
                f"{MARKET_DATA_SOURCE} {ticker}: every {field} of the download is NaN "
                f"({len(self.frame.index)} rows){self._why(ticker)}"
            )
            return None
        bad = ~np.isfinite(found.values) | (found.values <= 0.0)
        if bad.any():
            day = found.days[int(np.flatnonzero(bad)[0])]
            self.notes.append(f"{MARKET_DATA_SOURCE} {ticker}: {field} on {day} is {found.values[bad][0]!r}")
            return None
        return found

    def level(self, ticker: str) -> Quote | None:
        """The last close of `ticker` as a Quote stamped with its bar."""
        closes = self.closes(ticker)
        if closes is None:
            return None
        return Quote(
            value=float(closes.values[-1]),
            source=MARKET_DATA_SOURCE,
            as_of=_bar_instant(closes.days[-1], self.now),
        )

    def rate(self) -> Quote | None:
        """The 13-week bill's continuously compounded rate (decimal) from ^IRX's last close."""
        found = _series(self.frame, _CLOSE_FIELD, BILL_13_WEEK)
        if found is None or found.values.size == 0:
            state = "no Close column" if found is None else "every Close is NaN"
            self.notes.append(f"{MARKET_DATA_SOURCE} {BILL_13_WEEK}: {state} in the download{self._why(BILL_13_WEEK)}")
            return None
        # A zero discount is a real quote (2011, 2020-21); only a non-finite or impossible one is refused.
        try:
            value = continuous_rate_from_bill_discount(float(found.values[-1]))
        except ValueError as exc:
            self.notes.append(f"{MARKET_DATA_SOURCE} {BILL_13_WEEK}: {exc}")
            return None
        return Quote(value=value, source=MARKET_DATA_SOURCE, as_of=_bar_instant(found.days[-1], self.now))

    def return_closes(self, ticker: str) -> _Series | None:
        """Closes adjusted for splits and dividends (Adj Close) when the frame has them, else Close."""
        if (_ADJ_CLOSE_FIELD, ticker) in self.frame.columns:
            return self.closes(ticker, _ADJ_CLOSE_FIELD)
        return self.closes(ticker)

    def hv(self, ticker: str, closes: _Series, window: int) -> Quote | None:
        """HV over `window` returns (decimal) of the adjusted closes, stamped with the last bar used."""
        if closes.values.size < window + 1:
            self.notes.append(
                f"{MARKET_DATA_SOURCE} {ticker}: HV{window} needs {window + 1} closes, the download has "
                f"{closes.values.size}"
            )
            return None
        value = float(realized_vol(closes.values, window))
        return Quote(value=value, source=MARKET_DATA_SOURCE, as_of=_bar_instant(closes.days[-1], self.now))

    def beta(self, ticker: str, closes: _Series, index: _Series | None) -> Beta | None:
        """Beta and correlation to SPX over the days both series have, stamped with the last such day."""
        if index is None:
            self.notes.append(f"{MARKET_DATA_SOURCE} {ticker}: no beta, the download has no {SPX} closes")
            return None
        index_by_day = dict(zip(index.days, index.values, strict=True))
        shared = [(day, value) for day, value in zip(closes.days, closes.values, strict=True) if day in index_by_day]
        if len(shared) < _MIN_BETA_RETURNS + 1:
            self.notes.append(
                f"{MARKET_DATA_SOURCE} {ticker}: no beta, only {max(len(shared) - 1, 0)} daily returns shared "
                f"with {SPX} (at least {_MIN_BETA_RETURNS} needed)"
            )
            return None
        asset = np.array([value for _, value in shared], dtype=np.float64)
        market = np.array([index_by_day[day] for day, _ in shared], dtype=np.float64)
        try:
            fit = beta_to_index(asset, market)
        except ValueError as exc:
            self.notes.append(f"{MARKET_DATA_SOURCE} {ticker}: no beta: {exc}")
            return None
        return Beta(
            value=fit.beta,
            source=BetaSource.ESTIMATED,
            as_of=_bar_instant(shared[-1][0], self.now),
            correlation=fit.correlation,
        )

    def dividend_yield(self, ticker: str, spot: Quote, closes: _Series) -> Quote | None:
        """Trailing-year dividends / last close as a continuous rate, ln(1 + y); None for indices."""
        if ticker.startswith("^"):
            return None  # Yahoo reports no dividends for an index; a 0 there would be a wrong number
        dividends = _series(self.frame, _DIVIDENDS_FIELD, ticker)
        if dividends is None:
            self.notes.append(f"{MARKET_DATA_SOURCE} {ticker}: no dividend yield, the download has no Dividends")
            return None
        last_day = closes.days[-1]
        if (last_day - closes.days[0]).days < _MIN_DIVIDEND_HISTORY_DAYS:
            self.notes.append(
                f"{MARKET_DATA_SOURCE} {ticker}: no dividend yield, history starts {closes.days[0]} "
                f"(less than a year before {last_day})"
            )
            return None
        year_ago = last_day - timedelta(days=CALENDAR_DAYS_PER_YEAR)
        paid = sum(
            float(value)
            for day, value in zip(dividends.days, dividends.values, strict=True)
            if year_ago < day <= last_day
        )
        if paid < 0.0:
            self.notes.append(f"{MARKET_DATA_SOURCE} {ticker}: negative trailing dividends {paid!r}")
            return None
        return Quote(value=math.log1p(paid / spot.value), source=MARKET_DATA_SOURCE, as_of=spot.as_of)

    def underlying(self, ticker: str, index: _Series | None) -> UnderlyingMarket | None:
        """Spot, HV20, HV30, beta to SPX and dividend yield of one ticker; None when it has no closes."""
        spot = self.level(ticker)
        if spot is None:
            return None
        adjusted = self.return_closes(ticker)
        if adjusted is None:
            return UnderlyingMarket(spot=spot)
        hv20, hv30 = (self.hv(ticker, adjusted, window) for window in _HV_WINDOWS)
        return UnderlyingMarket(
            spot=spot,
            hv20=hv20,
            hv30=hv30,
            beta=self.beta(ticker, adjusted, index),
            dividend_yield=self.dividend_yield(ticker, spot, adjusted),
        )


def _raise_on_rate_limit(vendor_errors: Sequence[str]) -> None:
    limited = [message for message in vendor_errors if _RATE_LIMIT.search(message)]
    if limited:
        raise SourceUnavailable(f"{MARKET_DATA_SOURCE} download: rate limited by Yahoo: {'; '.join(limited)}")


def to_market_data(
    frame: pd.DataFrame,
    underlyings: Mapping[str, str],
    now: datetime,
    *,
    vendor_errors: Sequence[str] = (),
) -> MarketData:
    """The MarketSnapshot of one yf.download frame at `now`, and notes naming every ticker or value missing.

    VIX/VIX3M/VVIX/SPX are index levels, the rate the continuous 13-week bill rate; each Quote is stamped
    with the bar it came from (16:00 New York of its day, or `now` for today's open bar). Betas are
    estimated against ^GSPC over the shared days of the year; indices get no dividend yield.

    Args:
        frame: yf.download(..., auto_adjust=False, actions=True) output: columns (field, ticker), daily rows.
        underlyings: Book underlying -> its Yahoo ticker (see `tickers_for`).
        now: tz-aware instant of the refresh: the snapshot's as_of.
        vendor_errors: Per-ticker errors yfinance logged during the download.

    Raises:
        SourceUnavailable: Yahoo rate-limited the download, or the frame holds no close of any ticker.
    """
    if now.tzinfo is None:
        raise ValueError("to_market_data: now must be tz-aware")
    _raise_on_rate_limit(vendor_errors)
    said = f" (yfinance said: {'; '.join(vendor_errors)})" if vendor_errors else ""
    if frame.empty or not isinstance(frame.columns, pd.MultiIndex) or frame.columns.nlevels != 2:
        raise SourceUnavailable(
            f"{MARKET_DATA_SOURCE} download: empty or not a (field, ticker) frame, shape {frame.shape}{said}"
        )
    if _CLOSE_FIELD not in frame.columns.get_level_values(0) or bool(frame[_CLOSE_FIELD].isna().to_numpy().all()):
        raise SourceUnavailable(f"{MARKET_DATA_SOURCE} download: no ticker has a single Close{said}")

    reader = _Translation(frame, now, vendor_errors)
    index = reader.return_closes(SPX)
    markets: dict[str, UnderlyingMarket] = {}
    for underlying, ticker in sorted(underlyings.items()):
        market = reader.underlying(ticker, index)
        if market is not None:
            markets[underlying] = market
    snapshot = MarketSnapshot(
        vix=reader.level(VIX),
        vix3m=reader.level(VIX3M),
        vvix=reader.level(VVIX),
        spx=reader.level(SPX),
        risk_free_rate=reader.rate(),
        underlyings=markets,
        as_of=now,
    )
    return MarketData(snapshot=snapshot, notes=tuple(dict.fromkeys(reader.notes)))


class _VendorErrors(logging.Handler):
    """Collects the per-ticker errors yfinance logs (instead of raising) from the downloading thread."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            message = record.getMessage().strip()
            if _PER_TICKER_ERROR.match(message):
                self.messages.append(message)


@contextmanager
def _vendor_errors() -> Iterator[_VendorErrors]:
    handler = _VendorErrors()
    vendor_logger = logging.getLogger("yfinance")
    vendor_logger.addHandler(handler)
    try:
        yield handler
    finally:
        vendor_logger.removeHandler(handler)


def download_history(tickers: Sequence[str], timeout_s: float) -> YahooDownload:
    """One batched yf.download of a year of daily bars (raw and adjusted closes, dividends) for `tickers`.

    yfinance catches each ticker's failure (a rate limit included), logs it and leaves that ticker's columns
    NaN; the logged errors are returned with the frame so the translation can name them.

    Raises:
        SourceUnavailable: yfinance raised (network, rate limit before any ticker) or returned no frame.
    """
    import yfinance as yf  # type: ignore[import-untyped]  # SDKs stay under adapters/, imported on use
    from yfinance.exceptions import YFRateLimitError  # type: ignore[import-untyped]

    names = list(tickers)
    try:
        with _vendor_errors() as errors, warnings.catch_warnings():
            # yfinance 1.7 calls pandas with `inplace=`, which pandas 3 deprecates; not ours to fix.
            warnings.simplefilter("ignore", DeprecationWarning)
            frame = yf.download(
                names,
                period=HISTORY_PERIOD,
                interval="1d",
                auto_adjust=False,
                actions=True,
                progress=False,
                threads=True,
                timeout=timeout_s,
            )
    except YFRateLimitError as exc:
        raise SourceUnavailable(f"{MARKET_DATA_SOURCE} download of {names}: rate limited by Yahoo: {exc}") from exc
    except Exception as exc:  # yfinance lets anything through, from curl errors to KeyError
        raise SourceUnavailable(
            f"{MARKET_DATA_SOURCE} download of {names} failed: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(frame, pd.DataFrame):
        raise SourceUnavailable(f"{MARKET_DATA_SOURCE} download of {names}: yfinance returned {type(frame).__name__}")
    return YahooDownload(frame=frame, vendor_errors=tuple(errors.messages))


def fetch_market_data(
    settings: Settings,
    now: datetime,
    underlyings: Iterable[str],
    *,
    downloader: Downloader = download_history,
    timeout_s: float = MARKET_DATA_TIMEOUT_S,
) -> MarketData:
    """Regime levels, the rate and each underlying's spot/HV20/HV30/beta/dividend yield from one download.

    Args:
        settings: riskdash settings (market data must be enabled; nothing else is read).
        now: tz-aware refresh instant.
        underlyings: Book underlyings (broker symbols); futures and unmapped indices are skipped with a note.
        downloader: The network call; tests pass one that replays a fixture frame.
        timeout_s: Per-request timeout for yfinance.

    Raises:
        SourceUnavailable: Rate limit, network failure or an answer without a single close.
    """
    if not settings.market_data_enabled:
        raise SourceUnavailable(f"{MARKET_DATA_SOURCE}: market data is disabled (MARKET_DATA_ENABLED is not set)")
    tickers, by_underlying, skipped = tickers_for(underlyings)
    download = downloader(tickers, timeout_s)
    data = to_market_data(download.frame, by_underlying, now, vendor_errors=download.vendor_errors)
    return data.model_copy(update={"notes": (*skipped, *data.notes)})
