"""The packaged CBOE/Yahoo history against the facts in /work/shared/realdata/NOTES.md §1 (market/)."""

from __future__ import annotations

import csv
import datetime
import hashlib
import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pytest

from adapters import market_history as mh
from adapters.errors import AdapterError
from adapters.market_history import (
    HistoryError,
    history_range,
    load_regime_history,
    load_spx_closes,
    regime_day,
)

D = datetime.date

# The 19 US market holidays of 2022–2024 on which CBOE printed VIX under global trading hours (NOTES.md §1
# names "2022-05-30, 07-04, 11-24, …; 19 days"); listed from the NYSE holiday rules, not from our calendar.
HOLIDAY_VIX_ROWS_2022_2024 = (
    D(2022, 5, 30), D(2022, 6, 20), D(2022, 7, 4), D(2022, 9, 5), D(2022, 11, 24),
    D(2023, 1, 16), D(2023, 2, 20), D(2023, 5, 29), D(2023, 6, 19), D(2023, 7, 4), D(2023, 9, 4),
    D(2023, 11, 23),
    D(2024, 1, 15), D(2024, 2, 19), D(2024, 5, 27), D(2024, 6, 19), D(2024, 7, 4), D(2024, 9, 2),
    D(2024, 11, 28),
)  # fmt: skip
MOURNING_VIX_ROWS = (D(2004, 6, 11), D(2025, 1, 9))  # Reagan, Carter

# SHA-256 of the files in /work/shared/realdata/market/: the package must ship them byte for byte.
SHIPPED_SHA256 = {
    "cboe_VIX_History.csv": "26ab75dc0cf0d2f375e0f615e466de890f1e60d3b63a25aa2989f18c26670851",
    "cboe_VIX3M_History.csv": "7a5a6f075475ae19e6384b703bf53cd607aef47577da6b8653ed6da6a742759e",
    "cboe_VVIX_History.csv": "abafc34b5b50b9cbe1657758e5c0c2065c229f9eb60a2bf66712d7e77fb3eb49",
    "yahoo_VXV_2006_2017.csv": "07154fd5754bdbf817e538a46b7b241477626b4b6840d230c859c19ecb89ea2a",
    "yahoo_GSPC_SPX_History.csv": "e30ca199f9f22ef8a039a9bc44feed87d3380280b21a980ce67987afa242c191",
}


@lru_cache(maxsize=8)
def _package_csv(name: str) -> tuple[list[str], ...]:
    text = (resources.files("adapters") / "data" / "market" / name).read_text(encoding="utf-8")
    return tuple(csv.reader(text.splitlines()))[1:]


def _index(day: datetime.date) -> int:
    dates = load_regime_history().dates
    at = int(np.searchsorted(dates, np.datetime64(day, "D")))
    assert dates[at] == np.datetime64(day, "D"), f"{day} missing from the history"
    return at


def _in_history(day: datetime.date) -> bool:
    return day in _history_days()


@lru_cache(maxsize=1)
def _history_days() -> frozenset[datetime.date]:
    return frozenset(load_regime_history().dates.tolist())


# --- shipped files -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHIPPED_SHA256), ids=str)
def test_package_file_is_the_verbatim_realdata_copy(name: str) -> None:
    data = (resources.files("adapters") / "data" / "market" / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHIPPED_SHA256[name]


# --- known facts (NOTES.md §1 "Known facts checked against these files") ----------------------------------


def test_covid_record_day_has_record_vix_vix3m_and_vvix() -> None:
    day = regime_day(D(2020, 3, 16))
    assert (day.vix, day.vix3m, day.vvix, day.vix3m_source) == (82.69, 67.70, 207.59, "VIX3M")
    assert day.vix / (day.vix3m or np.nan) == pytest.approx(1.22, abs=0.005)
    history = load_regime_history()
    assert history.dates[np.argmax(history.vix)] == np.datetime64("2020-03-16")
    assert history.dates[np.nanargmax(history.vvix)] == np.datetime64("2020-03-16")


def test_record_low_vix_close_is_2017_11_03() -> None:
    history = load_regime_history()
    assert regime_day(D(2017, 11, 3)).vix == 9.14
    assert history.dates[np.argmin(history.vix)] == np.datetime64("2017-11-03")


def test_volmageddon_vix_jump() -> None:
    before, after = regime_day(D(2018, 2, 2)), regime_day(D(2018, 2, 5))
    assert (before.vix, after.vix) == (17.31, 37.32)
    assert after.vix / before.vix - 1.0 == pytest.approx(1.156, abs=0.0005)
    assert _index(D(2018, 2, 5)) == _index(D(2018, 2, 2)) + 1  # Friday → Monday, adjacent rows


def test_2008_peak_uses_yahoo_vxv_as_vix3m() -> None:
    day = regime_day(D(2008, 10, 24))
    assert day.vix == 79.13
    assert day.vix3m_source == "VXV"
    assert day.vix / (day.vix3m or np.nan) == pytest.approx(1.43, abs=0.005)
    assert "VXV" in day.sources


def test_2022_high_close_was_barely_inverted() -> None:
    day = regime_day(D(2022, 3, 7))
    assert (day.vix, day.vix3m_source) == (36.45, "VIX3M")
    assert day.vix / (day.vix3m or np.nan) == pytest.approx(1.02, abs=0.005)
    history = load_regime_history()
    in_2022 = history.dates.astype("datetime64[Y]") == np.datetime64("2022", "Y")
    assert history.vix[in_2022].max() == 36.45


@pytest.mark.parametrize(
    ("year", "days"),
    [(2008, 118), (2011, 51), (2017, 2), (2018, 53), (2020, 53), (2022, 15), (2023, 0), (2024, 9)],
    ids=lambda v: str(v),
)
def test_backwardation_days_per_year(year: int, days: int) -> None:
    history = load_regime_history()
    in_year = history.dates.astype("datetime64[Y]") == np.datetime64(str(year), "Y")
    assert not np.isnan(history.vix3m[in_year]).any()  # a NaN would silently count as "not inverted"
    assert int(np.sum(history.vix[in_year] > history.vix3m[in_year])) == days


def test_history_range_is_the_cboe_vix_file_span() -> None:
    assert history_range() == (D(1990, 1, 2), D(2026, 7, 22))


# --- trading-day filter and join ---------------------------------------------------------------------------


@pytest.mark.parametrize("day", HOLIDAY_VIX_ROWS_2022_2024 + MOURNING_VIX_ROWS, ids=str)
def test_vix_rows_on_market_closures_are_dropped(day: datetime.date) -> None:
    assert any(row[0] == f"{day:%m/%d/%Y}" for row in _package_csv("cboe_VIX_History.csv"))
    assert not _in_history(day)


def test_2007_2024_row_count_is_notes_count_minus_named_holiday_rows() -> None:
    raw = [row for row in _package_csv("cboe_VIX_History.csv") if 2007 <= int(row[0][6:10]) <= 2024]
    assert len(raw) == 4_549  # NOTES.md: "In 2007–2024 there are 4,549 VIX rows"
    history = load_regime_history()
    years = history.dates.astype("datetime64[Y]").astype(int) + 1970
    kept = int(np.sum((years >= 2007) & (years <= 2024)))
    assert kept == 4_549 - len(HOLIDAY_VIX_ROWS_2022_2024)
    assert kept == 4_530  # NOTES.md's SPX row count for 2007–2024: the same trading days


def test_dates_are_unique_ascending_weekdays() -> None:
    dates = load_regime_history().dates
    assert dates.dtype == np.dtype("datetime64[D]")
    assert (np.diff(dates) > np.timedelta64(0, "D")).all()
    assert np.is_busday(dates).all()


def test_arrays_have_one_row_per_date_and_vix_is_never_nan() -> None:
    h = load_regime_history()
    assert {a.shape for a in (h.dates, h.vix, h.vix3m, h.vvix, h.vix3m_source)} == {h.dates.shape}
    assert not np.isnan(h.vix).any()


def test_vvix_is_nan_before_2007_and_on_days_cboe_skipped() -> None:
    h = load_regime_history()
    assert np.isnan(h.vvix[h.dates < np.datetime64("2007-01-01")]).all()
    for day in (D(2010, 11, 11), D(2013, 5, 13)):
        assert np.isnan(h.vvix[_index(day)])
        assert regime_day(day).vvix is None
    assert int(np.isnan(h.vvix[h.dates >= np.datetime64("2007-01-01")]).sum()) == 2


def test_vix3m_is_nan_before_vxv_starts_and_sourced_by_date() -> None:
    h = load_regime_history()
    assert np.isnan(h.vix3m[h.dates < np.datetime64("2006-07-17")]).all()
    assert (h.vix3m_source == "").tolist() == np.isnan(h.vix3m).tolist()
    has = ~np.isnan(h.vix3m)
    before_cboe = h.dates < np.datetime64("2009-09-18")
    assert (h.vix3m_source[has & before_cboe] == "VXV").all()
    assert (h.vix3m_source[has & ~before_cboe] == "VIX3M").all()
    assert regime_day(D(2009, 9, 17)).vix3m_source == "VXV"
    assert regime_day(D(2009, 9, 18)).vix3m_source == "VIX3M"


def test_the_join_drops_no_secondary_row_except_yahoo_vxv_on_presidents_day() -> None:
    dropped = {}
    for name in ("cboe_VIX3M_History.csv", "cboe_VVIX_History.csv"):
        days = [datetime.datetime.strptime(row[0], "%m/%d/%Y").date() for row in _package_csv(name)]
        dropped[name] = [d for d in days if d >= D(2007, 1, 1) and not _in_history(d)]
    vxv_days = [D.fromisoformat(row[0]) for row in _package_csv("yahoo_VXV_2006_2017.csv")]
    dropped["vxv"] = [d for d in vxv_days if not _in_history(d)]
    assert dropped == {
        "cboe_VIX3M_History.csv": [],
        "cboe_VVIX_History.csv": [],
        "vxv": [D(2014, 2, 17)],  # Yahoo row on an NYSE holiday; VXV is not used after 2009 anyway
    }


def test_cached_arrays_are_shared_and_read_only() -> None:
    history = load_regime_history()
    assert load_regime_history() is history
    with pytest.raises(ValueError, match="read-only"):
        history.vix[0] = 0.0


# --- regime_day errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "before", "after", "why"),
    [
        (D(2022, 7, 2), "2022-07-01", "2022-07-05", "Saturday"),
        (D(2022, 7, 4), "2022-07-01", "2022-07-05", "Independence Day"),
        (D(2025, 1, 9), "2025-01-08", "2025-01-10", "Carter"),
        (D(1999, 12, 31), "1999-12-30", "2000-01-03", "without a CBOE VIX close"),
        (D(1989, 12, 29), "none", "1990-01-02", "outside"),
        (D(2026, 7, 23), "2026-07-22", "none", "outside"),
    ],
    ids=["saturday", "holiday-with-vix-row", "mourning-day", "trading-day-without-vix", "before", "after"],
)
def test_regime_day_off_history_names_range_and_nearest_days(
    day: datetime.date, before: str, after: str, why: str
) -> None:
    with pytest.raises(HistoryError) as caught:
        regime_day(day)
    message = str(caught.value)
    assert day.isoformat() in message
    assert why in message
    assert "1990-01-02 to 2026-07-22" in message
    assert f"before {before}, after {after}" in message
    assert isinstance(caught.value, AdapterError)


def test_regime_day_rejects_a_datetime() -> None:
    with pytest.raises(TypeError, match="date"):
        regime_day(datetime.datetime(2020, 3, 16, 16, 0))


def test_regime_day_before_2007_has_no_vvix_and_says_why() -> None:
    day = regime_day(D(2006, 5, 1))
    assert (day.vix3m, day.vvix, day.vix3m_source) == (None, None, None)
    assert "2007-01-01" in day.sources


# --- S&P 500 closes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "close"),
    [
        (D(2007, 10, 9), 1565.15),
        (D(2009, 3, 9), 676.53),
        (D(2020, 2, 19), 3386.15),
        (D(2020, 3, 23), 2237.40),
        (D(2022, 10, 12), 3577.03),
        (D(2024, 12, 31), 5881.63),
    ],
    ids=str,
)
def test_spx_close_matches_notes(day: datetime.date, close: float) -> None:
    spx = load_spx_closes()
    at = int(np.searchsorted(spx.dates, np.datetime64(day, "D")))
    assert spx.dates[at] == np.datetime64(day, "D")
    assert spx.closes[at] == close  # exact: float32 artefacts are rounded away


def test_spx_black_monday_fell_20_47_percent() -> None:
    spx = load_spx_closes()
    at = int(np.searchsorted(spx.dates, np.datetime64("1987-10-19")))
    assert spx.closes[at] / spx.closes[at - 1] - 1.0 == pytest.approx(-0.2047, abs=0.00005)


def test_spx_closes_have_two_decimals_and_every_file_row() -> None:
    spx = load_spx_closes()
    assert spx.dates.size == spx.closes.size == 24_746  # NOTES.md row count
    assert spx.closes[0] == 17.66  # "17.65999984741211" in the file
    assert np.allclose(spx.closes * 100.0, np.round(spx.closes * 100.0), rtol=0.0, atol=1e-6)
    years = spx.dates.astype("datetime64[Y]").astype(int) + 1970
    assert int(np.sum((years >= 2007) & (years <= 2024))) == 4_530  # NOTES.md count


# --- malformed files -------------------------------------------------------------------------------------

_GOOD = "DATE,OPEN,HIGH,LOW,CLOSE\n01/02/1990,17.240000,17.240000,17.240000,17.240000\n"


@pytest.mark.parametrize(
    ("bad_row", "fragment"),
    [
        ("1990-01-03,1,1,1,18.19", "is not MM/DD/YYYY"),
        ("02/30/1990,1,1,1,18.19", "not a calendar date"),
        ("01/03/1990,1,1,1,", "is not a number"),
        ("01/03/1990,1,1,1,abc", "is not a number"),
        ("01/03/1990,1,1,1,nan", "not a positive level"),
        ("01/03/1990,1,1,1,-3.0", "not a positive level"),
        ("01/03/1990,1,1,18.19", "4 fields, expected 5"),
        ("01/02/1990,1,1,1,18.19", "rows must be unique and ascending"),
        ("01/01/1990,1,1,1,18.19", "rows must be unique and ascending"),
    ],
    ids=["iso-date", "impossible-date", "empty-close", "text-close", "nan", "negative", "short-row",
         "duplicate", "unsorted"],
)  # fmt: skip
def test_unparseable_row_raises_naming_file_and_line(bad_row: str, fragment: str) -> None:
    with pytest.raises(HistoryError, match=fragment) as caught:
        mh._parse_closes(_GOOD + bad_row + "\n", "broken.csv", mh._CBOE_OHLC)
    assert "broken.csv line 3" in str(caught.value)


def test_wrong_header_raises_naming_file_and_line() -> None:
    with pytest.raises(HistoryError, match=re.escape("broken.csv line 1: header")):
        mh._parse_closes("Date,Close\n2020-01-02,12.47\n", "broken.csv", mh._CBOE_OHLC)


def test_file_without_rows_raises() -> None:
    with pytest.raises(HistoryError, match=re.escape("broken.csv: no data rows")):
        mh._parse_closes("DATE,VVIX\n", "broken.csv", mh._CBOE_VVIX)
