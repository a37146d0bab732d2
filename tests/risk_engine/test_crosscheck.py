"""Broker Greeks cross-check on real vendor files (SPY EOD chain 2015-01-05, tastytrade market data 2025-06-27).

The vendor conventions asserted here are the ones documented in risk_engine/crosscheck.py; each bound says
which documented effect it allows for. Run with `-s` to see the median and p95 divergence per Greek.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from functools import cache

import numpy as np
import pytest

from models.conventions import (
    CALENDAR_DAYS_PER_YEAR,
    NEW_YORK,
    TROPICAL_YEAR_DAYS,
    VOL_POINT,
    expiry_instant,
    t_years,
    theta_per_day_from_tropical_day,
)
from risk_engine.crosscheck import (
    DELTA_ABS_TOL,
    THETA_FLOOR,
    THETA_REL_TOL,
    VEGA_REL_TOL,
    CrossCheck,
    cross_check_greeks,
    divergence_summary,
)
from risk_engine.greeks import BoolArray, FloatArray, compute_greeks
from tests.conftest import fixture_path

SPY_EOD_FILE = "spy_eod_option_chain_2015-01-05_with_greeks.csv"
TASTY_FILE = "market_data_by_type_equity_option_SPY_250701.json"

SPY_EOD_TRADE_DATE = date(2015, 1, 5)
SPY_EOD_SPOT = 201.72  # SPY's close on 2015-01-05; re-derived from the file in test_spy_eod_spot_*
SPY_EOD_CARRY_SLOPE = 0.0012  # vendor's effective dividend yield is −0.0012·T (fit documented in crosscheck.py)
SPY_EOD_PLACEHOLDER_IV = 0.113826  # vendor's IV where it could not solve one

TASTY_SPOT = 613.38  # underlying price the tastytrade Greeks were computed at; re-derived in test_tastytrade_spot_*
TASTY_EXPIRY_DATE = date(2025, 7, 1)
TASTY_GREEKS_EXPIRY_WALL = time(16, 15)  # dxFeed/tastytrade time runs to SPY's last trade, 16:15 New York


@dataclass(frozen=True)
class Chain:
    """Rows of a vendor file as arrays; theta in riskdash units (USD per calendar day)."""

    is_call: BoolArray
    strike: FloatArray
    t_years: FloatArray  # riskdash convention: exact instants
    t_vendor: FloatArray  # the vendor's own day count
    t_listed: FloatArray  # calendar days to the expiry date as listed (Saturday OCC dates kept) / 365
    iv: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    vega: FloatArray
    rho: FloatArray

    def check(self, spot: float, rate: float | FloatArray, div_yield: float | FloatArray) -> CrossCheck:
        """Cross-check of these rows at riskdash's t_years with the given spot, rate and dividend yield."""
        return cross_check_greeks(
            self.is_call,
            spot,
            self.strike,
            self.t_years,
            rate,
            div_yield,
            self.iv,
            self.delta,
            self.gamma,
            self.theta,
            self.vega,
        )


def _friday(occ_date: date) -> date:
    # Monthlies listed before 2015 carry the Saturday OCC date; the last trading day is the Friday before.
    return occ_date - timedelta(days=1) if occ_date.weekday() == 5 else occ_date


@cache
def spy_eod() -> Chain:
    """Standard (nonstd 0), unexpired rows of the SPY 2015-01-05 chain."""
    with fixture_path("vendor", SPY_EOD_FILE).open(newline="", encoding="utf-8") as handle:
        rows = [
            row
            for row in csv.DictReader(handle, skipinitialspace=True)  # headers have a space after each comma
            if row["nonstd"] == "0" and date.fromisoformat(row["expiration"]) > SPY_EOD_TRADE_DATE
        ]
    close = expiry_instant(SPY_EOD_TRADE_DATE)  # an EOD chain is valued at the 16:00 close
    listed = [date.fromisoformat(row["expiration"]) for row in rows]
    fridays = [_friday(day) for day in listed]

    def col(name: str) -> FloatArray:
        return np.array([float(row[name]) for row in rows])

    return Chain(
        is_call=np.array([row["put/call"] == "C" for row in rows]),
        strike=col("strike"),
        t_years=np.array([t_years(expiry_instant(day), close) for day in fridays]),
        t_vendor=np.array([(day - SPY_EOD_TRADE_DATE).days / CALENDAR_DAYS_PER_YEAR for day in fridays]),
        t_listed=np.array([(day - SPY_EOD_TRADE_DATE).days / CALENDAR_DAYS_PER_YEAR for day in listed]),
        iv=col("implied vol"),
        delta=col("delta"),
        gamma=col("gamma"),
        theta=col("theta"),
        vega=col("vega"),
        rho=col("rho"),
    )


def _placeholder_rows(chain: Chain) -> BoolArray:
    greeks = np.stack([chain.delta, chain.gamma, chain.theta, chain.vega])
    return np.asarray((chain.iv == SPY_EOD_PLACEHOLDER_IV) & np.all(greeks == 0.0, axis=0))


@cache
def tasty_items() -> tuple[dict[str, object], ...]:
    payload = json.loads(fixture_path("vendor", TASTY_FILE).read_text(encoding="utf-8"))
    return tuple(payload["items"])  # pasted without the usual {"data": ...} wrapper


def tasty(expiry_wall: time) -> Chain:
    """The two tastytrade SPY calls, t_years to `expiry_wall` New York on 2025-07-01 from `updated-at`."""
    items = tasty_items()
    as_of = datetime.fromisoformat(str(items[0]["updated-at"]).replace("Z", "+00:00"))
    expiry = datetime.combine(TASTY_EXPIRY_DATE, expiry_wall, tzinfo=NEW_YORK)

    def col(name: str) -> FloatArray:
        return np.array([float(str(item[name])) for item in items])  # every number is a string

    t = np.full(len(items), t_years(expiry, as_of))
    return Chain(
        is_call=np.array([str(item["symbol"])[12] == "C" for item in items]),
        strike=np.array([int(str(item["symbol"])[13:]) / 1000.0 for item in items]),
        t_years=t,
        t_vendor=t,
        t_listed=t,
        iv=col("volatility"),
        delta=col("delta"),
        gamma=col("gamma"),
        theta=np.array([theta_per_day_from_tropical_day(x) for x in col("theta")]),
        vega=col("vega"),
        rho=col("rho"),
    )


def _report(label: str, check: CrossCheck) -> dict[str, dict[str, float]]:
    summary = divergence_summary(check)
    print(f"\n{label}: {int(np.count_nonzero(check.flagged))} of {check.flagged.size} rows flagged")
    for name, row in summary.items():
        print(f"  {name:9s} median {row['median']:.3g}  p95 {row['p95']:.3g}  max {row['max']:.3g}")
    return summary


# --- SPY end-of-day chain: conventions re-derived from the file -----------------------------------------------


def test_spy_eod_spot_from_vega_over_gamma_is_the_close_on_a_friday_day_count() -> None:
    chain = spy_eod()
    live = chain.gamma > 1e-4  # tiny quoted gammas carry too few digits for the ratio
    s_squared_t = chain.vega[live] / (chain.iv[live] * chain.gamma[live] * VOL_POINT)  # vega per point = σS²TΓ·0.01
    spot_friday = np.sqrt(s_squared_t / chain.t_vendor[live])
    spot_saturday = np.sqrt(s_squared_t / chain.t_listed[live])
    assert np.all(np.abs(spot_friday - SPY_EOD_SPOT) < 0.005)  # six-digit quotes of vega, gamma, IV
    assert np.max(spot_saturday) - np.min(spot_saturday) > 5.0  # the Saturday date breaks it for January


def test_spy_eod_theta_is_per_calendar_day_and_vega_per_vol_point() -> None:
    chain = spy_eod()
    ours = compute_greeks(
        chain.is_call,
        SPY_EOD_SPOT,
        chain.strike,
        chain.t_vendor,
        0.0,
        -SPY_EOD_CARRY_SLOPE * chain.t_vendor,
        chain.iv,
    )
    material = (np.abs(ours.theta) > 1e-3) & (np.abs(ours.vega) > 1e-3)
    theta_ratio = np.median(chain.theta[material] / ours.theta[material])
    vega_ratio = np.median(chain.vega[material] / ours.vega[material])
    rho_ratio = np.median(chain.rho[material] / ours.rho[material])
    # 365/252 = 1.45 (trading days) or 100 (per 1.00 vol) would be unmistakable; 1 % allows the roll-down term.
    assert theta_ratio == pytest.approx(1.0, abs=0.01)
    assert vega_ratio == pytest.approx(1.0, abs=1e-4)
    assert rho_ratio == pytest.approx(1.0, abs=1e-4)


def test_spy_eod_divergence_with_the_vendors_inputs_is_quote_rounding() -> None:
    # The vendor's own day count (whole calendar days / 365): riskdash's exact instants differ from it by one real
    # hour on expiries after the 2015-03-08 DST change, which is a convention, not a pricing difference.
    chain = replace(spy_eod(), t_years=spy_eod().t_vendor)
    check = chain.check(SPY_EOD_SPOT, 0.0, -SPY_EOD_CARRY_SLOPE * chain.t_years)
    summary = _report("SPY EOD 2015-01-05, vendor inputs (r=0, q=-0.12%·T), vendor T", check)
    # Quotes have six decimals (±5e-7 each).
    assert summary["delta"]["median"] < 2e-6
    assert summary["delta"]["p95"] < 2e-5
    assert summary["gamma"]["median"] < 1e-7
    assert summary["gamma"]["p95"] < 1e-6
    assert summary["vega"]["median"] < 2e-6
    assert summary["vega"]["p95"] < 2e-5
    # Theta also carries the vendor's roll-down term (≤ 2.6e-4 a day, documented).
    assert summary["theta"]["median"] < 5e-5
    assert summary["theta"]["p95"] < 5e-4
    assert summary["rel_theta"]["p95"] < THETA_REL_TOL
    assert summary["delta"]["compared"] == chain.delta.size == 2764


def test_spy_eod_flags_only_the_vendors_zero_greek_rows_and_long_dated_theta() -> None:
    chain = spy_eod()
    check = chain.check(SPY_EOD_SPOT, 0.0, -SPY_EOD_CARRY_SLOPE * chain.t_years)
    placeholder = _placeholder_rows(chain)
    assert np.count_nonzero(placeholder) == 42
    np.testing.assert_array_equal(check.flag_delta, placeholder)  # a deep-ITM call quoted with delta 0
    assert not np.any(check.flag_vega & ~placeholder)
    assert np.all(chain.t_years[check.flag_theta & ~placeholder] > 1.9)  # roll-down term grows with T
    assert all("delta +1.0" in check.reasons[i] for i in np.flatnonzero(placeholder))


def test_spy_eod_without_carry_diverges_by_the_forward_factor_only() -> None:
    chain = spy_eod()
    check = chain.check(SPY_EOD_SPOT, 0.0, 0.0)
    _report("SPY EOD 2015-01-05, r = q = 0", check)
    usable = ~_placeholder_rows(chain)
    # The vendor's forward is S·e^{0.0012·T²}: dropping it scales delta by e^{-0.0012·T²} and moves d1 by
    # 0.0012·T^1.5/σ, so |Δdelta| ≤ (e^{0.0012·T²} − 1) + φ_max·0.0012·T^1.5/σ, plus quote rounding.
    t = chain.t_years
    bound = (
        np.expm1(SPY_EOD_CARRY_SLOPE * t**2) + SPY_EOD_CARRY_SLOPE * t**1.5 / (chain.iv * np.sqrt(2.0 * np.pi)) + 2e-5
    )
    assert np.all(np.abs(check.d_delta[usable]) <= bound[usable])
    assert np.max(np.abs(check.d_delta[usable])) > 0.005  # material on 2017 expiries: the fit is not noise


def test_spy_eod_market_dividend_yield_is_not_the_vendors() -> None:
    chain = spy_eod()
    check = chain.check(SPY_EOD_SPOT, 0.002, 0.019)  # 2015: short rate ~0.2 %, SPY dividend yield ~1.9 %
    summary = _report("SPY EOD 2015-01-05, r = 0.2 %, q = 1.9 %", check)
    assert summary["delta"]["median"] > 0.005
    assert np.count_nonzero(check.flagged) > 0.8 * check.flagged.size


def test_spy_eod_theta_scaled_by_365_is_flagged_on_every_row() -> None:
    chain = spy_eod()
    check = cross_check_greeks(
        chain.is_call,
        SPY_EOD_SPOT,
        chain.strike,
        chain.t_years,
        0.0,
        -SPY_EOD_CARRY_SLOPE * chain.t_years,
        chain.iv,
        chain.delta,
        chain.gamma,
        chain.theta * CALENDAR_DAYS_PER_YEAR,  # a per-year theta sent as if per day
        chain.vega,
    )
    assert np.all(check.flag_theta)


# --- tastytrade market data --------------------------------------------------------------------------------


def test_tastytrade_spot_and_expiry_instant_from_the_payload() -> None:
    fits = {}
    for wall in (time(16, 0), TASTY_GREEKS_EXPIRY_WALL):
        chain = tasty(wall)
        spot = np.sqrt(chain.vega / (chain.iv * chain.gamma * VOL_POINT * chain.t_years))  # vega = σS²TΓ·0.01
        check = chain.check(float(np.mean(spot)), 0.0, 0.0)
        fits[wall] = (spot, float(np.max(np.abs(check.d_delta))))
    spot_1615, delta_err_1615 = fits[TASTY_GREEKS_EXPIRY_WALL]
    _, delta_err_1600 = fits[time(16, 0)]
    np.testing.assert_allclose(spot_1615, TASTY_SPOT, atol=0.005)
    # updated-at is ~2 s off the Greeks' instant: 6e-6 of T, 0.002 of spot, ≤ 1e-4 of delta through gamma.
    assert delta_err_1615 < 2e-4
    assert delta_err_1600 > 0.02  # to 16:00 the same vega/gamma imply 614.21, and delta no longer fits


def test_tastytrade_theta_is_per_tropical_year_day() -> None:
    chain = tasty(TASTY_GREEKS_EXPIRY_WALL)
    raw_theta = np.array([float(str(item["theta"])) for item in tasty_items()])
    ours = compute_greeks(chain.is_call, TASTY_SPOT, chain.strike, chain.t_years, 0.0, 0.0, chain.iv)
    # 1e-5 is the 2-second timing slack; a 365-day theta would be off by 6.6e-4.
    np.testing.assert_allclose(ours.theta / raw_theta, TROPICAL_YEAR_DAYS / CALENDAR_DAYS_PER_YEAR, rtol=1e-5)


def test_tastytrade_divergence_with_the_vendors_conventions() -> None:
    check = tasty(TASTY_GREEKS_EXPIRY_WALL).check(TASTY_SPOT, 0.0, 0.0)
    summary = _report("tastytrade SPY 2025-06-27, vendor T (16:15), r = q = 0", check)
    assert summary["delta"]["max"] < 2e-6
    assert summary["gamma"]["max"] < 2e-7
    assert summary["rel_theta"]["max"] < 1e-5
    assert summary["rel_vega"]["max"] < 1e-5
    assert not np.any(check.flagged)


def test_tastytrade_divergence_in_riskdash_conventions_is_the_15_minutes() -> None:
    chain = tasty(time(16, 0))  # riskdash's expiry instant
    check = chain.check(TASTY_SPOT, 0.0, 0.0)
    summary = _report("tastytrade SPY 2025-06-27, riskdash T (16:00), r = q = 0", check)
    short = 1.0 - chain.t_years[0] / tasty(TASTY_GREEKS_EXPIRY_WALL).t_years[0]  # 0.27 % less time
    assert 0.002 < short < 0.003
    # Vega ∝ √T·φ(d1) and theta ∝ φ(d1)/√T: a 0.27 % shorter T moves them by about ±0.1–0.3 %.
    assert summary["rel_vega"]["max"] < 2 * short
    assert summary["rel_theta"]["max"] < 2 * short
    assert summary["delta"]["max"] < 0.001
    assert not np.any(check.flagged)


def test_tastytrade_with_a_market_rate_is_flagged() -> None:
    check = tasty(time(16, 0)).check(TASTY_SPOT, 0.043, 0.012)  # mid-2025 short rate and SPY yield
    assert np.all(check.flag_theta)
    assert np.max(np.abs(check.d_delta)) > 0.005


def test_tastytrade_theta_scaled_by_365_is_flagged_on_every_row() -> None:
    chain = tasty(TASTY_GREEKS_EXPIRY_WALL)
    check = cross_check_greeks(
        chain.is_call,
        TASTY_SPOT,
        chain.strike,
        chain.t_years,
        0.0,
        0.0,
        chain.iv,
        chain.delta,
        chain.gamma,
        chain.theta * CALENDAR_DAYS_PER_YEAR,  # a per-year theta sent as if per day
        chain.vega,
    )
    assert np.all(check.flag_theta)


# --- flag thresholds and missing values ---------------------------------------------------------------------

_ROW = {"is_call": True, "spot": 100.0, "strike": 105.0, "t_years": 0.25, "rate": 0.04, "div_yield": 0.01}
_IV = 0.22


def _ours() -> tuple[float, float, float, float]:
    g = compute_greeks(
        _ROW["is_call"], _ROW["spot"], _ROW["strike"], _ROW["t_years"], _ROW["rate"], _ROW["div_yield"], _IV
    )
    return float(g.delta), float(g.gamma), float(g.theta), float(g.vega)


def _check(delta: float, gamma: float, theta: float, vega: float) -> CrossCheck:
    return cross_check_greeks(**_ROW, broker_iv=_IV, broker_delta=delta, broker_gamma=gamma, broker_theta=theta,
                              broker_vega=vega)  # fmt: skip


@pytest.mark.parametrize(
    ("greek", "scale", "flagged"),
    [
        ("delta", 1.0, False),
        ("delta", 1.0001, True),
        ("theta", 1.0, False),
        ("theta", 1.0001, True),
        ("vega", 1.0, False),
        ("vega", 1.0001, True),
    ],
    ids=["delta-at-0.01", "delta-above", "theta-at-5pct", "theta-above", "vega-at-5pct", "vega-above"],
)
def test_flag_threshold_is_exclusive(greek: str, scale: float, flagged: bool) -> None:
    delta, gamma, theta, vega = _ours()
    if greek == "delta":
        delta -= DELTA_ABS_TOL * scale
    elif greek == "theta":
        theta /= 1.0 + THETA_REL_TOL * scale  # ours − broker = 5 % of |broker|
    else:
        vega /= 1.0 + VEGA_REL_TOL * scale
    check = _check(delta, gamma, theta, vega)
    assert bool(check.flagged[0]) is flagged
    assert bool(getattr(check, f"flag_{greek}")[0]) is flagged
    assert (greek in check.reasons[0]) is flagged


@pytest.mark.parametrize(("excess", "flagged"), [(0.049, False), (0.051, True)], ids=["below", "above"])
def test_relative_theta_of_a_tiny_theta_is_taken_of_the_floor(excess: float, flagged: bool) -> None:
    far_otm = {**_ROW, "strike": 200.0, "t_years": 0.02}
    ours = compute_greeks(True, 100.0, 200.0, 0.02, 0.04, 0.01, _IV)
    assert abs(float(ours.theta)) < 1e-9  # so the broker theta below is ~excess·floor, far under the floor
    check = cross_check_greeks(
        **far_otm, broker_iv=_IV, broker_delta=ours.delta, broker_gamma=ours.gamma,
        broker_theta=ours.theta - excess * THETA_FLOOR, broker_vega=ours.vega,
    )  # fmt: skip
    assert check.rel_theta[0] == pytest.approx(excess, rel=1e-6)
    assert bool(check.flag_theta[0]) is flagged


def test_missing_broker_greek_is_nan_not_flagged_and_not_comparable() -> None:
    delta, gamma, theta, vega = _ours()
    nan = float("nan")
    check = cross_check_greeks(
        True, 100.0, 105.0, 0.25, 0.04, 0.01, _IV,
        [delta, nan], [gamma, gamma], [theta, nan], [nan, vega * 2.0],
    )  # fmt: skip
    assert np.isnan([check.d_delta[1], check.d_theta[1], check.d_vega[0]]).all()
    np.testing.assert_array_equal(check.flagged, [False, True])  # row 1 only for its doubled vega
    summary = divergence_summary(check)
    assert (summary["delta"]["compared"], summary["delta"]["not_comparable"]) == (1.0, 1.0)
    assert (summary["vega"]["compared"], summary["vega"]["not_comparable"]) == (1.0, 1.0)


def test_row_without_any_broker_greek_says_so() -> None:
    nan = float("nan")
    check = cross_check_greeks(True, 100.0, 105.0, 0.25, 0.04, 0.01, _IV, nan, nan, nan, nan)
    assert not check.flagged[0]
    assert check.reasons[0] == "not comparable: the broker sent no Greeks"
    assert divergence_summary(check)["delta"]["not_comparable"] == 1.0


@pytest.mark.parametrize(
    ("iv", "spot", "t"),
    [(float("nan"), 100.0, 0.25), (0.0, 100.0, 0.25), (_IV, float("nan"), 0.25), (_IV, 100.0, 0.0)],
    ids=["no-iv", "zero-iv", "no-spot", "expired"],
)
def test_row_without_inputs_is_not_comparable(iv: float, spot: float, t: float) -> None:
    check = cross_check_greeks(True, spot, 105.0, t, 0.04, 0.01, iv, 0.3, 0.04, -0.03, 0.2)
    assert not check.comparable[0]
    assert not check.flagged[0]
    assert np.isnan([check.d_delta[0], check.d_gamma[0], check.d_theta[0], check.d_vega[0]]).all()
    assert check.reasons[0].startswith("not comparable")
    summary = divergence_summary(check)
    assert np.isnan(summary["delta"]["median"])
    assert summary["theta"]["not_comparable"] == 1.0


def test_american_flag_is_passed_to_the_pricer() -> None:
    try:
        american = cross_check_greeks(False, 100.0, 110.0, 1.0, 0.05, 0.0, 0.25, -0.6, 0.015, -0.01, 0.35,
                                      american=True)  # fmt: skip
    except NotImplementedError:
        pytest.skip("risk_engine.american is not available yet")
    european = cross_check_greeks(False, 100.0, 110.0, 1.0, 0.05, 0.0, 0.25, -0.6, 0.015, -0.01, 0.35)
    # An in-the-money put with r = 5 % has early-exercise value: its American delta is further from 0.
    assert american.ours.delta[0] < european.ours.delta[0]
