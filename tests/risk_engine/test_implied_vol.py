"""Implied volatility against QuantLib golden prices, price -> vol -> price round trips, and bad-price handling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_engine.american import american_greeks, american_price
from risk_engine.greeks import compute_greeks
from risk_engine.implied_vol import IVReason, IVResult, implied_vol, implied_vol_array
from tests.conftest import golden_rows

EPS = np.finfo(np.float64).eps
ROUND_TRIP_TOL = 1e-8  # the bound on |recovered − true| vol wherever vega > 1e-8 per vol point


def _columns(rows: list[dict[str, str]], *names: str) -> list[np.ndarray]:
    return [np.array([float(row[name]) for row in rows]) for name in names]


def _is_call(rows: list[dict[str, str]]) -> np.ndarray:
    return np.array([row["type"] == "call" for row in rows])


def _iv_rows(style: str, expect: str) -> list[dict[str, str]]:
    return [row for row in golden_rows("iv_public.csv") if row["style"] == style and row["expect"] == expect]


def _solve(rows: list[dict[str, str]], american: bool) -> IVResult:
    price, s, k, t, r, q = _columns(rows, "price", "S", "K", "T", "r", "q")
    return implied_vol(price, _is_call(rows), s, k, t, r, q, american=american)


def test_golden_european_rows_recover_sigma_within_their_tolerance() -> None:
    rows = _iv_rows("european", "ok")
    result = _solve(rows, american=False)
    sigma, tol = _columns(rows, "sigma", "sigma_tol")
    assert len(rows) == 420
    assert np.all(result.reason == IVReason.OK)
    err = np.abs(result.vol - sigma)
    worst = int(np.argmax(err / tol))
    assert np.all(err <= tol), f"{rows[worst]['id']}: vol {result.vol[worst]!r}, golden {sigma[worst]!r}"


def test_golden_american_rows_recover_sigma_up_to_the_engines_own_price_difference() -> None:
    # Our ALO engine and QuantLib's high-precision QdFp differ by up to ~1e-7 of the price; inverting through our
    # engine therefore moves sigma by (price difference / vega). The solver itself must add nothing to that.
    rows = _iv_rows("american", "ok")
    result = _solve(rows, american=True)
    price, s, k, t, r, q, sigma, tol, vega = _columns(
        rows, "price", "S", "K", "T", "r", "q", "sigma", "sigma_tol", "vega"
    )
    engine_gap = np.abs(american_price(_is_call(rows), s, k, t, r, r - q, sigma) - price) / (vega * 100.0)
    assert len(rows) == 150
    assert np.all(result.reason == IVReason.OK)
    err = np.abs(result.vol - sigma)
    assert np.all(err <= tol + 1.01 * engine_gap + 1e-10)
    assert np.max(err) < 1e-4  # and the engine's gap stays small in vol terms


NO_SOLUTION_REASONS = {
    "iv_negative_price": IVReason.NON_POSITIVE_PRICE,
    "iv_above_upper_bound": IVReason.ABOVE_UPPER_BOUND,
    "iv_below_lower_bound": IVReason.BELOW_INTRINSIC,
}


@pytest.mark.parametrize("style", ["european", "american"])
def test_golden_no_solution_rows_are_nan_with_the_violated_bound(style: str) -> None:
    rows = _iv_rows(style, "no_solution")
    result = _solve(rows, american=style == "american")
    assert np.all(np.isnan(result.vol))
    for row, reason in zip(rows, result.reason, strict=True):
        expected = NO_SOLUTION_REASONS[row["case"]]
        if float(row["price"]) <= 0.0:  # a non-positive price below the bound is reported as such first
            expected = IVReason.NON_POSITIVE_PRICE
        assert IVReason(int(reason)) is expected, row["id"]


def test_black76_golden_prices_invert_to_their_sigma() -> None:
    rows = golden_rows("black76_public.csv")
    price, f, k, t, r, sigma, vega = _columns(rows, "price", "F", "K", "T", "r", "sigma", "vega")
    result = implied_vol(price, _is_call(rows), f, k, t, r, 0.0, model="black76")
    _assert_inverts_golden(result, sigma, vega * 100.0, f, [row["id"] for row in rows])


def test_european_golden_prices_invert_to_their_sigma() -> None:
    rows = [row for row in golden_rows("greeks_public.csv") if row["style"] == "european"]
    price, s, k, t, r, q, sigma, vega = _columns(rows, "price", "S", "K", "T", "r", "q", "sigma", "vega")
    result = implied_vol(price, _is_call(rows), s, k, t, r, q)
    _assert_inverts_golden(result, sigma, vega * 100.0, s, [row["id"] for row in rows])


def _assert_inverts_golden(
    result: IVResult, sigma: np.ndarray, vega_unit: np.ndarray, spot: np.ndarray, ids: list[str]
) -> None:
    # Golden prices are exact to 5e-13 of spot (README); that, over vega, bounds what any solver can recover.
    ok = result.reason == IVReason.OK
    informative = vega_unit >= 1e-9 * spot
    missing = np.flatnonzero(informative & ~ok)
    assert missing.size == 0, f"{ids[missing[0]]}: {IVReason(int(result.reason[missing[0]])).name}"
    # What is not solved carries no volatility information: no time value, or a price that rounded to 0.
    assert set(np.unique(result.reason[~ok])) <= {IVReason.NO_TIME_VALUE, IVReason.NON_POSITIVE_PRICE}
    err = np.abs(result.vol - sigma)[ok]
    bound = 1e-9 + 5e-13 * spot[ok] / vega_unit[ok]
    assert np.all(err <= bound)


def _round_trip_grid() -> tuple[np.ndarray, ...]:
    grid = itertools.product(
        [0.5, 0.7, 0.9, 0.98, 1.0, 1.02, 1.1, 1.5, 2.0],  # K / S: deep ITM to deep OTM for calls and puts
        [1 / 8760, 1 / 365, 1 / 52, 0.25, 1.0, 5.0],  # one hour to five years
        [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 3.0],  # 5 % to 300 % vol
        [0.0, 0.05],
        [0.0, 0.03],
        [True, False],
        [False, True],  # BSM, Black-76
    )
    return tuple(np.array(column) for column in zip(*grid, strict=True))


def test_round_trip_recovers_vol_to_1e_8_wherever_vega_exceeds_1e_8() -> None:
    moneyness, t, vol, r, q, is_call, black76 = _round_trip_grid()
    spot = 100.0
    g = compute_greeks(is_call, spot, spot * moneyness, t, r, q, vol, model=black76)
    result = implied_vol(g.price, is_call, spot, spot * moneyness, t, r, q, model=black76)
    informative = g.vega > 1e-8
    assert informative.sum() > 4000
    assert np.all(result.reason[informative] == IVReason.OK)
    assert np.max(np.abs(result.vol - vol)[informative]) <= ROUND_TRIP_TOL


def test_round_trip_solutions_reprice_their_input_even_without_vega() -> None:
    # Where vega is negligible the vol is ill-determined, but any vol returned must reproduce the price.
    moneyness, t, vol, r, q, is_call, black76 = _round_trip_grid()
    spot = 100.0
    price = compute_greeks(is_call, spot, spot * moneyness, t, r, q, vol, model=black76).price
    result = implied_vol(price, is_call, spot, spot * moneyness, t, r, q, model=black76)
    ok = result.ok
    repriced = compute_greeks(is_call, spot, spot * moneyness, t, r, q, np.where(ok, result.vol, 0.2), model=black76)
    assert np.all(np.abs(repriced.price - price)[ok] <= 8 * EPS * spot * (1.0 + moneyness[ok]))
    assert set(np.unique(result.reason[~ok])) <= {IVReason.NO_TIME_VALUE, IVReason.NON_POSITIVE_PRICE}


@settings(max_examples=300, deadline=None)
@given(
    spot=st.floats(1.0, 5000.0),
    log_moneyness=st.floats(-1.0, 1.0),
    t=st.floats(1 / 8760, 5.0),
    vol=st.floats(0.05, 3.0),
    r=st.floats(-0.01, 0.1),
    q=st.floats(0.0, 0.1),
    is_call=st.booleans(),
    black76=st.booleans(),
)
def test_round_trip_property(
    spot: float, log_moneyness: float, t: float, vol: float, r: float, q: float, is_call: bool, black76: bool
) -> None:
    strike = spot * np.exp(log_moneyness)
    model = "black76" if black76 else "bsm"
    g = compute_greeks(is_call, spot, strike, t, r, q, vol, model=model)
    result = implied_vol(g.price, is_call, spot, strike, t, r, q, model=model)
    # The pricer itself rounds at a few ulps of S + K: that, over vega, is the most any solver can recover.
    vega_unit = float(g.vega) * 100.0
    if float(g.vega) > 1e-8:
        assert int(result.reason) == IVReason.OK
        assert abs(float(result.vol) - vol) <= ROUND_TRIP_TOL + 8 * EPS * (spot + strike) / vega_unit
    elif result.ok:
        repriced = compute_greeks(is_call, spot, strike, t, r, q, float(result.vol), model=model).price
        assert abs(float(repriced) - float(g.price)) <= 8 * EPS * (spot + strike)
    else:
        assert IVReason(int(result.reason)) in (IVReason.NO_TIME_VALUE, IVReason.NON_POSITIVE_PRICE)


wide = {
    "spot": st.floats(1e-6, 1e8),
    "log_moneyness": st.floats(-7.0, 7.0),
    "t": st.one_of(st.floats(-1.0, 0.0), st.floats(1e-14, 100.0)),
    "vol": st.floats(1e-6, 20.0),
    "r": st.floats(-0.3, 0.5),
    "q": st.floats(-0.2, 0.5),
    "is_call": st.booleans(),
    "black76": st.booleans(),
    "distortion": st.sampled_from([1.0, 1.0, 0.5, 1.5, -1.0, 0.0]),
}


@settings(max_examples=400, deadline=None)
@given(**wide)
def test_any_input_gives_a_vol_that_reprices_it_or_nan_and_a_reason(
    spot: float,
    log_moneyness: float,
    t: float,
    vol: float,
    r: float,
    q: float,
    is_call: bool,
    black76: bool,
    distortion: float,
) -> None:
    # Extreme but finite markets, and prices that are exact, distorted, negated or zero: never an exception or
    # a warning (pytest turns those into errors), and every vol returned reproduces the price it came from.
    strike = spot * np.exp(log_moneyness)
    model = "black76" if black76 else "bsm"
    price = float(compute_greeks(is_call, spot, strike, t, r, q, vol, model=model).price) * distortion
    result = implied_vol(price, is_call, spot, strike, t, r, q, model=model)
    if not result.ok:
        assert np.isnan(result.vol)
        assert int(result.reason) in set(IVReason) - {IVReason.OK}
        return
    assert 0.0 < float(result.vol) < np.inf
    repriced = float(compute_greeks(is_call, spot, strike, t, r, q, float(result.vol), model=model).price)
    forward_value = spot * np.exp(-(r if black76 else q) * t)
    assert abs(repriced - price) <= 4 * EPS * (forward_value + strike * np.exp(-r * t))


@settings(max_examples=60, deadline=None)
@given(
    spot=st.floats(1.0, 1e4),
    log_moneyness=st.floats(-1.0, 1.0),
    t=st.floats(1e-6, 10.0),
    vol=st.floats(1e-3, 4.0),
    # Rates below 1e-12 in magnitude (other than 0) are left out: american_price warns at r ~ 1e-289 (reported).
    r=st.one_of(st.just(0.0), st.floats(1e-12, 0.2), st.floats(-0.02, -1e-12)),
    q=st.one_of(st.just(0.0), st.floats(1e-12, 0.2), st.floats(-0.02, -1e-12)),
    is_call=st.booleans(),
    distortion=st.sampled_from([1.0, 1.0, 0.9, 1.1, -1.0]),
)
def test_american_vols_reprice_through_the_american_engine(
    spot: float, log_moneyness: float, t: float, vol: float, r: float, q: float, is_call: bool, distortion: float
) -> None:
    strike = spot * np.exp(log_moneyness)
    price = float(american_price(is_call, spot, strike, t, r, r - q, vol)) * distortion
    result = implied_vol(price, is_call, spot, strike, t, r, q, american=True)
    if not result.ok:
        assert np.isnan(result.vol)
        return
    repriced = float(american_price(is_call, spot, strike, t, r, r - q, float(result.vol)))
    assert abs(repriced - price) <= 4 * EPS * (spot + strike)


@pytest.mark.parametrize("t", [1 / (365 * 24 * 60), 1 / (365 * 24 * 3600)], ids=["one-minute", "one-second"])
def test_round_trip_minutes_and_seconds_before_expiry(t: float) -> None:
    strike = np.array([99.9, 99.99, 100.0, 100.01, 100.1])
    vol = np.array([0.05, 0.2, 0.8, 1.5, 3.0])
    is_call = np.array([True, False])[:, None]
    g = compute_greeks(is_call, 100.0, strike, t, 0.05, 0.01, vol)
    result = implied_vol(g.price, is_call, 100.0, strike, t, 0.05, 0.01)
    informative = g.vega > 1e-8
    assert informative.sum() >= 8
    assert np.max(np.abs(result.vol - vol)[informative]) <= ROUND_TRIP_TOL


def test_at_the_money_forward_uses_the_closed_form_exactly() -> None:
    # r = q makes the forward equal to spot: x = ln(F/K) = 0, where b = erf(s / 2√2) inverts in closed form.
    vol = np.array([0.01, 0.1, 0.3, 1.0, 4.0])
    price = compute_greeks(True, 100.0, 100.0, 0.5, 0.03, 0.03, vol).price
    result = implied_vol(price, True, 100.0, 100.0, 0.5, 0.03, 0.03)
    np.testing.assert_allclose(result.vol, vol, rtol=1e-13)


@pytest.mark.parametrize(
    ("price", "spot", "strike", "t", "expected"),
    [
        (float("nan"), 100.0, 100.0, 1.0, IVReason.INVALID_INPUT),
        (5.0, float("inf"), 100.0, 1.0, IVReason.INVALID_INPUT),
        (5.0, 0.0, 100.0, 1.0, IVReason.INVALID_INPUT),
        (5.0, 100.0, -100.0, 1.0, IVReason.INVALID_INPUT),
        (5.0, 100.0, 100.0, float("nan"), IVReason.INVALID_INPUT),
        (5.0, 100.0, 100.0, 1e6, IVReason.INVALID_INPUT),  # discount factor underflows: no bound to test against
        (5.0, 100.0, 100.0, 0.0, IVReason.EXPIRED),
        (5.0, 100.0, 100.0, -0.1, IVReason.EXPIRED),
        (0.0, 100.0, 100.0, 1.0, IVReason.NON_POSITIVE_PRICE),
        (-1.0, 100.0, 100.0, 1.0, IVReason.NON_POSITIVE_PRICE),
        (19.0, 120.0, 100.0, 1.0, IVReason.BELOW_INTRINSIC),  # call intrinsic 120 − 100 e^{−r} ≈ 24.9
        (120.0, 120.0, 100.0, 1.0, IVReason.ABOVE_UPPER_BOUND),  # the spot itself: infinite volatility
        (150.0, 120.0, 100.0, 1.0, IVReason.ABOVE_UPPER_BOUND),
    ],
    ids=[
        "nan-price",
        "inf-spot",
        "zero-spot",
        "negative-strike",
        "nan-time",
        "overflowing-time",
        "at-expiry",
        "past-expiry",
        "zero-price",
        "negative-price",
        "below-intrinsic",
        "at-upper-bound",
        "above-upper-bound",
    ],
)
def test_bad_prices_give_nan_and_a_reason(price: float, spot: float, strike: float, t: float, expected: int) -> None:
    result = implied_vol(price, True, spot, strike, t, 0.05, 0.0)
    assert np.isnan(result.vol)
    assert IVReason(int(result.reason)) is expected


def test_price_equal_to_the_discounted_intrinsic_has_no_time_value() -> None:
    spot, strike, t, r, q = 120.0, 100.0, 1.0, 0.05, 0.01
    bound = spot * np.exp(-q * t) - strike * np.exp(-r * t)
    result = implied_vol(np.array([bound, np.nextafter(bound, 0.0)]), True, spot, strike, t, r, q)
    assert np.all(np.isnan(result.vol))
    assert np.all(result.reason == IVReason.NO_TIME_VALUE)


def test_results_keep_the_broadcast_shape() -> None:
    strike = np.array([[90.0], [100.0], [110.0]])
    vol = np.array([0.2, 0.4])
    price = compute_greeks(True, 100.0, strike, 0.5, 0.02, 0.0, vol).price
    result = implied_vol(price, True, 100.0, strike, 0.5, 0.02, 0.0)
    assert result.vol.shape == result.reason.shape == (3, 2)
    np.testing.assert_allclose(result.vol, np.broadcast_to(vol, (3, 2)), rtol=1e-12)
    scalar = implied_vol(float(price[1, 0]), True, 100.0, 100.0, 0.5, 0.02, 0.0)
    assert scalar.vol.shape == ()
    assert float(scalar.vol) == pytest.approx(0.2, rel=1e-12)
    np.testing.assert_array_equal(implied_vol_array(price, True, 100.0, strike, 0.5, 0.02, 0.0), result.vol)


def test_large_batches_match_small_ones_element_for_element() -> None:
    # Above one block the solver runs in blocks on two threads; each element must not depend on that.
    rng = np.random.default_rng(5)
    n = 100_003
    spot = rng.uniform(10.0, 500.0, n)
    strike = spot * np.exp(rng.uniform(-0.5, 0.5, n))
    t, r, q = rng.uniform(1 / 365, 2.0, n), rng.uniform(0.0, 0.05, n), rng.uniform(0.0, 0.03, n)
    is_call = rng.random(n) < 0.5
    price = compute_greeks(is_call, spot, strike, t, r, q, rng.uniform(0.05, 1.5, n)).price
    whole = implied_vol(price, is_call, spot, strike, t, r, q)
    for chunk in np.array_split(np.arange(n), 25):
        part = implied_vol(price[chunk], is_call[chunk], spot[chunk], strike[chunk], t[chunk], r[chunk], q[chunk])
        np.testing.assert_array_equal(part.vol, whole.vol[chunk])
        np.testing.assert_array_equal(part.reason, whole.reason[chunk])


def test_unknown_model_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="model must be"):
        implied_vol(5.0, True, 100.0, 100.0, 1.0, 0.0, 0.0, model="heston")


def test_american_round_trip_through_the_american_engine() -> None:
    rng = np.random.default_rng(17)
    n = 600
    spot = rng.uniform(20.0, 200.0, n)
    strike = spot * np.exp(rng.uniform(-0.4, 0.4, n))
    t = np.exp(rng.uniform(np.log(1 / 8760), np.log(3.0), n))
    r, q = rng.uniform(0.0, 0.08, n), rng.uniform(0.0, 0.06, n)
    vol = np.exp(rng.uniform(np.log(0.05), np.log(3.0), n))
    is_call = rng.random(n) < 0.5
    g = american_greeks(is_call, spot, strike, t, r, r - q, vol)
    result = implied_vol(g.price, is_call, spot, strike, t, r, q, american=True)
    informative = g.vega > 1e-6 * spot  # the ALO engine's price carries ~1e-15 relative rounding
    assert informative.sum() > 250
    assert np.all(result.reason[informative] == IVReason.OK)
    assert np.max(np.abs(result.vol - vol)[informative]) <= ROUND_TRIP_TOL


def test_american_rows_that_never_exercise_early_match_the_european_solve() -> None:
    # A call without dividends and a put at r = 0 are worth their European value.
    is_call = np.array([True, False])
    rate = np.array([0.05, 0.0])
    div = np.array([0.0, 0.02])
    price = compute_greeks(is_call, 100.0, 105.0, 0.75, rate, div, 0.3).price
    american = implied_vol(price, is_call, 100.0, 105.0, 0.75, rate, div, american=True)
    european = implied_vol(price, is_call, 100.0, 105.0, 0.75, rate, div)
    np.testing.assert_array_equal(american.vol, european.vol)


def test_american_bounds_are_intrinsic_and_spot_or_strike() -> None:
    # Deep ITM American put: intrinsic 20 exceeds the European bound 100 e^{−0.05} − 80 ≈ 15.1.
    result = implied_vol(
        np.array([19.0, 20.0, 100.0, 20.5]),
        False,
        80.0,
        100.0,
        1.0,
        0.05,
        0.0,
        american=np.array([True, True, True, True]),
    )
    assert [IVReason(int(code)) for code in result.reason[:3]] == [
        IVReason.BELOW_INTRINSIC,
        IVReason.NO_TIME_VALUE,
        IVReason.ABOVE_UPPER_BOUND,
    ]
    assert int(result.reason[3]) == IVReason.OK
    assert float(american_price(False, 80.0, 100.0, 1.0, 0.05, 0.05, float(result.vol[3]))) == pytest.approx(20.5)


def test_american_flag_applies_per_element() -> None:
    price = float(american_price(False, 90.0, 100.0, 1.0, 0.06, 0.06, 0.25))
    result = implied_vol(price, False, 90.0, 100.0, 1.0, 0.06, 0.0, american=np.array([True, False]))
    assert float(result.vol[0]) == pytest.approx(0.25, abs=1e-9)
    assert float(result.vol[1]) > 0.25  # the same price read as European needs more volatility
