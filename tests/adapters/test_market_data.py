"""yfinance market data: the download frame (real closes, yfinance 1.7's shape) into a MarketSnapshot; no network."""

from __future__ import annotations

import csv
import itertools
import logging
import math
import statistics
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from adapters.errors import SourceUnavailable
from adapters.market_data import (
    MARKET_DATA_SOURCE,
    REGIME_TICKERS,
    YahooDownload,
    continuous_rate_from_bill_discount,
    download_history,
    fetch_market_data,
    tickers_for,
    to_market_data,
    yahoo_ticker,
)
from config.settings import Settings
from models.conventions import NEW_YORK
from models.market import BetaSource
from tests.conftest import fixture_path

MARKET_CSV = Path(__file__).resolve().parents[2] / "adapters" / "data" / "market"
FIRST_DAY, LAST_DAY = date(2025, 7, 9), date(2026, 7, 9)
NOW = datetime(2026, 7, 10, 9, 0, tzinfo=NEW_YORK)
LAST_CLOSE = datetime(2026, 7, 9, 16, 0, tzinfo=NEW_YORK)
RATE_LIMIT_LINE = "['^VIX', 'SPY']: YFRateLimitError('Too Many Requests. Rate limited. Try after a while.')"


def _download() -> pd.DataFrame:
    path = fixture_path("market_data", "download_indices_2026-07-09.csv")
    return pd.read_csv(path, header=[0, 1], index_col=0, parse_dates=True)


def _realdata(name: str, column: str = "CLOSE") -> dict[date, float]:
    """{day: close} within the fixture's year, read straight from the realdata CSV with the csv module."""
    closes: dict[date, float] = {}
    with (MARKET_CSV / name).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            day = datetime.strptime(row["DATE"], "%m/%d/%Y").date()
            if FIRST_DAY <= day <= LAST_DAY:
                closes[day] = float(row[column])
    return closes


def _with_ticker(frame: pd.DataFrame, ticker: str, close: pd.Series, dividends: dict[date, float]) -> pd.DataFrame:
    """`frame` plus one ticker's columns, as yfinance would add a stock to the batch."""
    frame = frame.copy()
    days = {pd.Timestamp(stamp).date() for stamp in frame.index}
    assert set(dividends) <= days, f"{sorted(set(dividends) - days)} are not rows of the download"
    paid = pd.Series([dividends.get(pd.Timestamp(stamp).date(), 0.0) for stamp in frame.index], index=frame.index)
    paid[close.isna()] = np.nan
    columns = {"Open": close, "High": close, "Low": close, "Close": close, "Adj Close": close, "Volume": close * 0}
    for field, values in {**columns, "Dividends": paid, "Stock Splits": close * 0}.items():
        frame[(field, ticker)] = values
    return frame.sort_index(axis=1)


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, market_data_enabled=True, **values)


# --- the regime levels ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "csv_name", "column"),
    [
        ("vix", "cboe_VIX_History.csv", "CLOSE"),
        ("vix3m", "cboe_VIX3M_History.csv", "CLOSE"),
        ("vvix", "cboe_VVIX_History.csv", "VVIX"),
        ("spx", "yahoo_GSPC_SPX_History.csv", "CLOSE"),
    ],
    ids=["vix", "vix3m", "vvix", "spx"],
)
def test_regime_level_is_the_last_real_close_stamped_with_its_bar(field: str, csv_name: str, column: str) -> None:
    expected = _realdata(csv_name, column)[LAST_DAY]
    quote = getattr(to_market_data(_download(), {}, NOW).snapshot, field)
    assert quote.value == pytest.approx(expected, abs=1e-9)
    assert (quote.source, quote.as_of) == (MARKET_DATA_SOURCE, LAST_CLOSE)


def test_todays_open_bar_is_stamped_now_not_its_future_close() -> None:
    during_session = datetime(2026, 7, 9, 11, 30, tzinfo=NEW_YORK)
    snapshot = to_market_data(_download(), {}, during_session).snapshot
    assert snapshot.vix is not None
    assert snapshot.vix.as_of == during_session
    assert snapshot.as_of == during_session


def test_failed_ticker_is_a_note_naming_it_never_a_zero() -> None:
    vendor = ("['^IRX']: YFTzMissingError('possibly delisted; no timezone found')",)
    data = to_market_data(_download(), {}, NOW, vendor_errors=vendor)
    assert data.snapshot.risk_free_rate is None
    assert any("^IRX" in note and "NaN" in note and "YFTzMissingError" in note for note in data.notes)


def test_rate_is_the_continuous_rate_of_the_last_irx_discount() -> None:
    frame = _download()
    frame[("Close", "^IRX")] = np.nan
    frame.loc[pd.Timestamp("2026-07-08"), ("Close", "^IRX")] = 4.18
    frame.loc[pd.Timestamp("2026-07-09"), ("Close", "^IRX")] = 4.2
    rate = to_market_data(frame, {}, NOW).snapshot.risk_free_rate
    # Independent route: Treasury's investment rate (bond-equivalent yield), then continuous compounding.
    discount = 0.042
    bey = 365 * discount / (360 - 91 * discount)
    assert rate is not None
    assert rate.value == pytest.approx(math.log(1 + bey * 91 / 365) * 365 / 91, rel=1e-12)
    assert rate.as_of == LAST_CLOSE


@pytest.mark.parametrize("discount_pct", [0.0, 0.05, 1.3, 5.25], ids=["zero", "2021", "2008", "2007"])
def test_bill_discount_conversion_prices_the_bill(discount_pct: float) -> None:
    price = 1 - discount_pct / 100 * 91 / 360
    rate = continuous_rate_from_bill_discount(discount_pct)
    assert math.exp(rate * 91 / 365) * price == pytest.approx(1.0, abs=1e-15)


# --- per underlying -------------------------------------------------------------------------------------


@pytest.mark.parametrize("window", [20, 30], ids=["hv20", "hv30"])
def test_spx_hv_matches_an_independent_computation_on_the_realdata_closes(window: int) -> None:
    spx = _realdata("yahoo_GSPC_SPX_History.csv")
    closes = [spx[day] for day in sorted(spx)][-(window + 1) :]
    expected = statistics.stdev([math.log(b / a) for a, b in itertools.pairwise(closes)]) * math.sqrt(252)

    market = to_market_data(_download(), {"SPX": "^GSPC"}, NOW).snapshot.underlying("SPX")
    quote = market.hv20 if window == 20 else market.hv30
    assert quote is not None
    assert quote.value == pytest.approx(expected, rel=1e-9)
    assert (quote.source, quote.as_of) == (MARKET_DATA_SOURCE, LAST_CLOSE)


def test_vix_beta_uses_only_days_both_series_have() -> None:
    spx = _realdata("yahoo_GSPC_SPX_History.csv")
    vix = _realdata("cboe_VIX_History.csv")
    days = sorted(set(spx) & set(vix))
    assert len(days) < len(vix)  # the VIX's holiday rows are really there, and must be skipped
    spx_r = [math.log(spx[b] / spx[a]) for a, b in itertools.pairwise(days)]
    vix_r = [math.log(vix[b] / vix[a]) for a, b in itertools.pairwise(days)]

    beta = to_market_data(_download(), {"VIX": "^VIX"}, NOW).snapshot.underlying("VIX").beta

    assert beta is not None
    assert beta.value == pytest.approx(statistics.linear_regression(spx_r, vix_r).slope, rel=1e-9)
    assert beta.correlation == pytest.approx(statistics.correlation(spx_r, vix_r), rel=1e-9)
    assert (beta.source, beta.as_of) == (BetaSource.ESTIMATED, LAST_CLOSE)


def test_spx_against_itself_has_beta_one_and_no_dividend_yield() -> None:
    market = to_market_data(_download(), {"SPX": "^GSPC"}, NOW).snapshot.underlying("SPX")
    assert market.beta is not None
    assert market.beta.value == pytest.approx(1.0, rel=1e-12)
    assert market.beta.correlation == 1.0
    assert market.dividend_yield is None  # Yahoo has no index dividends: unknown, not 0


def test_stock_gets_spot_trailing_dividend_yield_and_beta() -> None:
    frame = _download()
    spy_close = frame[("Close", "^GSPC")] / 10.0
    dividends = {date(2025, 7, 9): 9.99, date(2025, 9, 19): 1.8, date(2025, 12, 19): 1.9, date(2026, 3, 20): 1.75}
    dividends[date(2026, 6, 18)] = 1.85
    frame = _with_ticker(frame, "SPY", spy_close, dividends)

    market = to_market_data(frame, {"SPY": "SPY"}, NOW).snapshot.underlying("SPY")

    spot = _realdata("yahoo_GSPC_SPX_History.csv")[LAST_DAY] / 10.0
    assert market.spot is not None
    assert market.spot.value == pytest.approx(spot, rel=1e-12)
    # 2025-07-09 is exactly a year before the last bar, so outside the trailing year; the four inside sum to 7.30.
    assert market.dividend_yield is not None
    assert market.dividend_yield.value == pytest.approx(math.log(1 + 7.30 / spot), rel=1e-12)
    assert market.beta is not None
    assert market.beta.value == pytest.approx(1.0, rel=1e-12)


def test_stock_with_less_than_a_year_of_history_has_no_dividend_yield() -> None:
    frame = _download()
    close = frame[("Close", "^GSPC")] / 10.0
    close[close.index < pd.Timestamp("2026-01-02")] = np.nan  # listed this year
    frame = _with_ticker(frame, "NEWCO", close, {date(2026, 3, 20): 1.0})
    data = to_market_data(frame, {"NEWCO": "NEWCO"}, NOW)
    assert data.snapshot.underlying("NEWCO").dividend_yield is None
    assert any("NEWCO" in note and "dividend" in note for note in data.notes)


def test_underlying_whose_column_is_all_nan_is_left_out_with_a_note() -> None:
    frame = _download()
    frame = _with_ticker(frame, "AAPL", frame[("Close", "^GSPC")] * np.nan, {})
    data = to_market_data(frame, {"AAPL": "AAPL", "SPX": "^GSPC"}, NOW)
    assert "AAPL" not in data.snapshot.underlyings
    assert "SPX" in data.snapshot.underlyings
    assert any(note.startswith("yfinance AAPL: every Close") for note in data.notes)


def test_short_history_gives_no_hv30_and_says_so() -> None:
    frame = _download()
    close = frame[("Close", "^GSPC")].copy()
    close[close.index < pd.Timestamp("2026-06-01")] = np.nan
    frame = _with_ticker(frame, "IPO", close, {})
    data = to_market_data(frame, {"IPO": "IPO"}, NOW)
    market = data.snapshot.underlying("IPO")
    assert market.hv20 is not None
    assert market.hv30 is None
    assert market.beta is None
    assert any("IPO: HV30 needs 31 closes" in note for note in data.notes)
    assert any("IPO: no beta" in note for note in data.notes)


# --- whole-download failures ----------------------------------------------------------------------------


def test_rate_limit_is_an_error_naming_source_and_symbols() -> None:
    with pytest.raises(SourceUnavailable, match=r"yfinance download: rate limited .*\^VIX.*SPY"):
        to_market_data(_download(), {}, NOW, vendor_errors=(RATE_LIMIT_LINE,))


def test_empty_frame_is_an_error_naming_the_source() -> None:
    with pytest.raises(SourceUnavailable, match="yfinance download: empty"):
        to_market_data(pd.DataFrame(), {}, NOW)


def test_frame_without_a_single_close_is_an_error() -> None:
    frame = _download().astype(float)
    frame.loc[:, :] = np.nan
    with pytest.raises(SourceUnavailable, match="no ticker has a single Close"):
        to_market_data(frame, {}, NOW)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        to_market_data(_download(), {}, datetime(2026, 7, 10, 9, 0))


# --- tickers and the one download -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("underlying", "ticker"),
    [
        ("SPX", "^GSPC"),
        ("NDX", "^NDX"),
        ("VIX", "^VIX"),
        ("spy", "SPY"),
        ("BRK B", "BRK-B"),
        ("BRK/B", "BRK-B"),
        ("BRK.B", "BRK-B"),
        ("/ESZ6", None),
        ("XSP", None),
        ("", None),
        ("NOT A TICKER", None),
    ],
    ids=lambda value: repr(value),
)
def test_yahoo_ticker_of_book_underlyings(underlying: str, ticker: str | None) -> None:
    assert yahoo_ticker(underlying) == ticker


def test_tickers_for_puts_regime_first_dedupes_and_notes_skipped() -> None:
    tickers, mapping, notes = tickers_for(["SPY", "SPX", "/ESZ6", "AAPL", "SPY"])
    assert tickers == (*REGIME_TICKERS, "AAPL", "SPY")
    assert mapping == {"AAPL": "AAPL", "SPX": "^GSPC", "SPY": "SPY"}
    assert notes == ("yfinance /ESZ6: not looked up (no Yahoo ticker for it)",)


def test_fetch_makes_one_batched_download_for_regime_and_book() -> None:
    calls: list[tuple[tuple[str, ...], float]] = []

    def downloader(tickers: Sequence[str], timeout_s: float) -> YahooDownload:
        calls.append((tuple(tickers), timeout_s))
        return YahooDownload(frame=_download())

    data = fetch_market_data(_settings(), NOW, ["SPX", "VIX", "SPX", "/ESZ6"], downloader=downloader, timeout_s=7.0)

    assert calls == [((*REGIME_TICKERS,), 7.0)]
    assert set(data.snapshot.underlyings) == {"SPX", "VIX"}
    assert data.notes[0] == "yfinance /ESZ6: not looked up (no Yahoo ticker for it)"


def test_fetch_refuses_when_market_data_is_disabled() -> None:
    settings = Settings(_env_file=None)
    with pytest.raises(SourceUnavailable, match="disabled"):
        fetch_market_data(settings, NOW, [], downloader=lambda tickers, timeout_s: YahooDownload(_download()))


# --- the real yf.download, its HTTP layer replaced ------------------------------------------------------


class _OfflineTicker:
    """Stands in for yfinance.Ticker inside yfinance.multi: the history of a few days, or a rate limit."""

    def __init__(self, ticker: str) -> None:
        self.ticker = ticker
        self._price_history = None

    def history(self, **_: Any) -> pd.DataFrame:
        from yfinance.exceptions import YFRateLimitError  # type: ignore[import-untyped]

        if self.ticker == "SPY":
            raise YFRateLimitError()
        days = pd.DatetimeIndex(["2026-07-08", "2026-07-09"], name="Date").tz_localize("America/New_York")
        closes = [15.0, 16.0]
        return pd.DataFrame(
            {
                "Open": closes,
                "High": closes,
                "Low": closes,
                "Close": closes,
                "Adj Close": closes,
                "Volume": [0, 0],
                "Dividends": [0.0, 0.0],
                "Stock Splits": [0.0, 0.0],
            },
            index=days,
        )


def test_yfinance_swallows_a_rate_limit_and_the_downloader_surfaces_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import yfinance.multi  # type: ignore[import-untyped]

    monkeypatch.setattr(yfinance.multi, "Ticker", _OfflineTicker)
    logging.getLogger("yfinance").setLevel(logging.WARNING)  # keep yfinance's threads on, as in production

    download = download_history(["^VIX", "SPY"], 1.0)

    assert download.frame[("Close", "^VIX")].tolist() == [15.0, 16.0]
    assert download.frame[("Close", "SPY")].isna().all()  # what yf.download leaves for a rate-limited ticker
    assert any("SPY" in line and "YFRateLimitError" in line for line in download.vendor_errors)
    with pytest.raises(SourceUnavailable, match=r"rate limited by Yahoo.*SPY"):
        to_market_data(
            download.frame, {"SPY": "SPY"}, datetime(2026, 7, 10, tzinfo=UTC), vendor_errors=download.vendor_errors
        )


@pytest.mark.integration
def test_live_download_of_the_regime_tickers() -> None:
    download = download_history(REGIME_TICKERS, 10.0)
    data = to_market_data(download.frame, {"SPX": "^GSPC"}, datetime.now(UTC), vendor_errors=download.vendor_errors)
    assert data.snapshot.vix is not None
    assert data.snapshot.risk_free_rate is not None
    assert 5.0 < data.snapshot.vix.value < 150.0
