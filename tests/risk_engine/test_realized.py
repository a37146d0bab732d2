"""Realised volatility and beta against independent pure-Python statistics on real S&P 500 and VIX closes."""

from __future__ import annotations

import csv
import itertools
import math
import statistics
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from risk_engine.realized import beta_to_index, log_returns, realized_vol

MARKET_DATA = Path(__file__).resolve().parents[2] / "adapters" / "data" / "market"
FIRST_DAY, LAST_DAY = date(2025, 7, 9), date(2026, 7, 9)
ANNUALISE = math.sqrt(252)


def _cboe_closes(name: str) -> dict[date, float]:
    """{day: close} of a CBOE-layout CSV (DATE as MM/DD/YYYY, CLOSE) within the test year, parsed with csv."""
    closes: dict[date, float] = {}
    with (MARKET_DATA / name).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            day = datetime.strptime(row["DATE"], "%m/%d/%Y").date()
            if FIRST_DAY <= day <= LAST_DAY:
                closes[day] = float(row["CLOSE"])
    return closes


SPX = _cboe_closes("yahoo_GSPC_SPX_History.csv")
VIX = _cboe_closes("cboe_VIX_History.csv")


def _reference_hv(closes: list[float], window: int) -> float:
    tail = closes[-(window + 1) :]
    returns = [math.log(b / a) for a, b in itertools.pairwise(tail)]
    return statistics.stdev(returns) * ANNUALISE


def test_alternating_closes_match_the_worked_example() -> None:
    closes = np.array([100.0, 110.0, 100.0, 110.0, 100.0])
    expected = math.log(1.1) * math.sqrt(4 / 3) * ANNUALISE
    assert float(realized_vol(closes, 4)) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("window", [20, 30], ids=["hv20", "hv30"])
def test_hv_of_real_spx_closes_matches_pure_python_stdev(window: int) -> None:
    closes = [SPX[day] for day in sorted(SPX)]
    assert float(realized_vol(np.array(closes), window)) == pytest.approx(_reference_hv(closes, window), rel=1e-12)


def test_hv_uses_only_the_last_window_returns() -> None:
    closes = np.array([SPX[day] for day in sorted(SPX)])
    spiked = closes.copy()
    spiked[:-31] *= 3.0  # a jump before the window must not reach HV30
    assert float(realized_vol(spiked, 30)) == float(realized_vol(closes, 30))


def test_hv_of_columns_equals_hv_of_each_series() -> None:
    days = sorted(set(SPX) & set(VIX))
    both = np.column_stack([[SPX[d] for d in days], [VIX[d] for d in days]])
    per_column = realized_vol(both, 20)
    assert per_column.shape == (2,)
    assert per_column[0] == pytest.approx(_reference_hv([SPX[d] for d in days], 20), rel=1e-12)
    assert per_column[1] == pytest.approx(_reference_hv([VIX[d] for d in days], 20), rel=1e-12)


def test_beta_and_correlation_of_vix_to_spx_match_linear_regression() -> None:
    days = sorted(set(SPX) & set(VIX))  # VIX's holiday rows (GTH sessions) are not SPX days
    spx = [SPX[d] for d in days]
    vix = [VIX[d] for d in days]
    spx_returns = [math.log(b / a) for a, b in itertools.pairwise(spx)]
    vix_returns = [math.log(b / a) for a, b in itertools.pairwise(vix)]

    fit = beta_to_index(np.array(vix), np.array(spx))

    assert fit.beta == pytest.approx(statistics.linear_regression(spx_returns, vix_returns).slope, rel=1e-10)
    assert fit.correlation == pytest.approx(statistics.correlation(spx_returns, vix_returns), rel=1e-10)
    assert fit.n_returns == len(days) - 1
    assert fit.beta < -3.0  # VIX moves several times SPX's size, the other way
    assert -1.0 < fit.correlation < -0.5


def test_beta_does_not_depend_on_price_level() -> None:
    days = sorted(set(SPX) & set(VIX))
    spx = np.array([SPX[d] for d in days])
    vix = np.array([VIX[d] for d in days])
    assert beta_to_index(vix * 37.0, spx).beta == pytest.approx(beta_to_index(vix, spx).beta, rel=1e-12)


def test_index_against_itself_has_beta_and_correlation_one() -> None:
    spx = np.array([SPX[d] for d in sorted(SPX)])
    fit = beta_to_index(spx, spx)
    assert fit.beta == pytest.approx(1.0, rel=1e-14)
    assert fit.correlation == 1.0


def test_log_returns_are_log_ratios() -> None:
    assert log_returns(np.array([100.0, 110.0, 99.0])) == pytest.approx([math.log(1.1), math.log(0.9)], rel=1e-15)


@pytest.mark.parametrize(
    ("closes", "window", "message"),
    [
        (np.array([100.0, 101.0, 102.0]), 20, "20 returns need 21 closes, got 3"),
        (np.array([100.0, 0.0, 102.0, 103.0]), 2, "finite and positive; row 1"),
        (np.array([100.0, np.nan, 102.0, 103.0]), 2, "finite and positive; row 1"),
        (np.array([100.0, 101.0, 102.0]), 1, "window must be at least 2"),
    ],
    ids=["too-short", "zero-close", "nan-close", "window-one"],
)
def test_bad_closes_are_refused_with_the_reason(closes: np.ndarray, window: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        realized_vol(closes, window)


def test_flat_index_has_no_beta() -> None:
    with pytest.raises(ValueError, match="index closes never move"):
        beta_to_index(np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 5.0, 5.0, 5.0]))


def test_misaligned_series_are_refused() -> None:
    with pytest.raises(ValueError, match="equal length"):
        beta_to_index(np.array([1.0, 2.0, 3.0, 4.0]), np.array([5.0, 6.0, 5.0]))
