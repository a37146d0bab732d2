"""European Greeks: no-arbitrage identities and bounds (hypothesis), near-expiry and zero-vol limits, subsets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from risk_engine.greeks import GREEK_NAMES, FloatArray, Greeks, compute_greeks

SECOND = 1 / (365 * 86_400)
MINUTE = 60 * SECOND
# Times from 1e-12 years to 5 years, vols from 0 to 300 %: the whole range the property tests sweep.
times = st.one_of(st.sampled_from([0.0, 1e-12, SECOND, MINUTE, 1 / 8760]), st.floats(1e-12, 5.0))
vols = st.one_of(st.sampled_from([0.0, 1e-8, 1e-4]), st.floats(1e-8, 3.0))
market = {
    "spot": st.floats(1.0, 5000.0),
    "log_moneyness": st.floats(-1.5, 1.5),
    "t": times,
    "r": st.floats(-0.02, 0.1),
    "q": st.floats(0.0, 0.1),
    "vol": vols,
    "black76": st.booleans(),
}


def _both(
    spot: float, log_moneyness: float, t: float, r: float, q: float, vol: float, black76: bool
) -> tuple[Greeks, float, float, float]:
    """Call (element 0) and put (element 1) Greeks, the strike, and the discount factors of forward and strike."""
    strike = spot * np.exp(log_moneyness)
    g = compute_greeks(np.array([True, False]), spot, strike, t, r, q, vol, model="black76" if black76 else "bsm")
    carry_q = r if black76 else q  # Black-76 discounts the futures price at r
    return g, float(strike), float(np.exp(-carry_q * max(t, 0.0))), float(np.exp(-r * max(t, 0.0)))


@settings(max_examples=400, deadline=None)
@given(**market)
def test_every_greek_is_finite_everywhere(
    spot: float, log_moneyness: float, t: float, r: float, q: float, vol: float, black76: bool
) -> None:
    g, *_ = _both(spot, log_moneyness, t, r, q, vol, black76)
    for name in GREEK_NAMES:
        assert np.all(np.isfinite(getattr(g, name))), name


@settings(max_examples=400, deadline=None)
@given(**market)
def test_put_call_parity(
    spot: float, log_moneyness: float, t: float, r: float, q: float, vol: float, black76: bool
) -> None:
    g, strike, df_q, df_r = _both(spot, log_moneyness, t, r, q, vol, black76)
    call, put = 0, 1
    scale = spot + strike
    assert g.price[call] - g.price[put] == pytest.approx(spot * df_q - strike * df_r, abs=1e-12 * scale)
    at_kink = vol * np.sqrt(max(t, 0.0)) == 0.0 and spot * df_q == strike * df_r  # delta steps there: undefined
    if not at_kink:
        assert g.delta[call] - g.delta[put] == pytest.approx(df_q, abs=1e-12)
    for name in ("gamma", "vega", "vanna", "vomma"):  # the parity forward is linear in S and free of sigma
        a, b = getattr(g, name)
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12 * max(abs(a), 1.0)), name


@settings(max_examples=400, deadline=None)
@given(**market)
def test_delta_bounds_and_convexity(
    spot: float, log_moneyness: float, t: float, r: float, q: float, vol: float, black76: bool
) -> None:
    g, _, df_q, _ = _both(spot, log_moneyness, t, r, q, vol, black76)
    assert -1e-15 <= g.delta[0] <= df_q * (1 + 1e-15)
    assert -df_q * (1 + 1e-15) <= g.delta[1] <= 1e-15
    assert np.all(g.gamma >= 0.0)
    assert np.all(g.vega >= 0.0)
    assert np.all(g.price >= 0.0)


@settings(max_examples=300, deadline=None)
@given(**market, bump=st.floats(1e-6, 1.0))
def test_price_rises_with_volatility(
    spot: float, log_moneyness: float, t: float, r: float, q: float, vol: float, black76: bool, bump: float
) -> None:
    low, *_ = _both(spot, log_moneyness, t, r, q, vol, black76)
    high, *_ = _both(spot, log_moneyness, t, r, q, vol + bump, black76)
    # Strictly, up to the rounding of a price built from terms of size S and K.
    assert np.all(high.price >= low.price - 4e-16 * (spot + spot * np.exp(log_moneyness)))


NEAR_EXPIRY = [("one-minute", MINUTE), ("one-second", SECOND), ("1e-12-years", 1e-12), ("expired", 0.0)]
SMALL_VOL = [("30-vol", 0.3), ("1e-8-vol", 1e-8), ("zero-vol", 0.0)]


@pytest.mark.parametrize(
    ("t", "vol"),
    [(t, v) for _, t in NEAR_EXPIRY for _, v in SMALL_VOL],
    ids=[f"{a}-{b}" for a, _ in NEAR_EXPIRY for b, _ in SMALL_VOL],
)
def test_near_expiry_and_zero_vol_limits_are_finite_and_intrinsic(t: float, vol: float) -> None:
    # Strikes 20 % in, 1 % in, at, 1 % out and 20 % out of the money, for calls (first row) and puts.
    strike = np.array([80.0, 99.0, 100.0, 101.0, 120.0])
    is_call = np.array([[True], [False]])
    g = compute_greeks(is_call, 100.0, strike, t, 0.05, 0.02, vol)
    for name in GREEK_NAMES:
        assert np.all(np.isfinite(getattr(g, name))), name
    forward_value, strike_value = 100.0 * np.exp(-0.02 * t), strike * np.exp(-0.05 * t)
    intrinsic = np.maximum(np.where(is_call, forward_value - strike_value, strike_value - forward_value), 0.0)
    away = np.abs(strike - 100.0) >= 1.0
    # With sigma sqrt(T) <= 3e-5 the time value of a strike 1 % away is below e^{-(0.01/3e-5)^2 / 2} of spot.
    np.testing.assert_allclose(g.price[:, away], intrinsic[:, away], rtol=0, atol=1e-12)
    step = np.where(is_call, 1.0 * (strike < 100.0), -1.0 * (strike > 100.0)) * np.exp(-0.02 * t)
    np.testing.assert_allclose(g.delta[:, away], step[:, away], rtol=0, atol=1e-12)
    assert np.all(g.gamma[:, away] < 1e-9)
    assert np.all(g.price[:, ~away] >= intrinsic[:, ~away])
    assert np.all(g.price[:, ~away] <= intrinsic[:, ~away] + 100.0 * vol * np.sqrt(t) + 1e-12)


def test_at_the_money_delta_tends_to_one_half_as_expiry_nears() -> None:
    g = compute_greeks(True, 100.0, 100.0, np.array([MINUTE, SECOND, 1e-12]), 0.0, 0.0, 0.3)
    np.testing.assert_allclose(g.delta, 0.5, atol=2e-3)
    assert np.all(np.diff(np.abs(g.delta - 0.5)) <= 0.0)


def test_second_order_greeks_agree_with_finite_differences_a_day_before_expiry() -> None:
    rng = np.random.default_rng(23)
    n = 200
    s = rng.uniform(50, 150, n)
    k = s * rng.uniform(0.97, 1.03, n)
    t = np.full(n, 1 / 365)
    v = rng.uniform(0.1, 0.8, n)
    r, q = rng.uniform(0.0, 0.05, n), rng.uniform(0.0, 0.03, n)
    is_call = rng.random(n) < 0.5
    model = rng.random(n) < 0.3
    g = compute_greeks(is_call, s, k, t, r, q, v, model=model)

    def at(spot: FloatArray = s, vol: FloatArray = v, time: FloatArray = t) -> Greeks:
        return compute_greeks(is_call, spot, k, time, r, q, vol, model=model)

    h_v, h_s, h_t = 1e-5, s * 1e-5, 1e-8
    # Vanna two ways: the vol-derivative of delta and the spot-derivative of vega (per vol point).
    np.testing.assert_allclose(
        g.vanna, (at(vol=v + h_v).delta - at(vol=v - h_v).delta) / (2 * h_v) * 0.01, rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(
        g.vanna, (at(spot=s + h_s).vega - at(spot=s - h_s).vega) / (2 * h_s), rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(
        g.vomma, (at(vol=v + h_v).vega - at(vol=v - h_v).vega) / (2 * h_v) * 0.01, rtol=1e-5, atol=1e-8
    )
    np.testing.assert_allclose(
        g.charm, -(at(time=t + h_t).delta - at(time=t - h_t).delta) / (2 * h_t) / 365.0, rtol=1e-4, atol=1e-8
    )


def test_a_subset_computes_the_same_values_and_leaves_the_rest_nan() -> None:
    args = (np.array([True, False, True]), 100.0, np.array([90.0, 100.0, 120.0]), 0.25, 0.03, 0.01, 0.35)
    full = compute_greeks(*args)
    part = compute_greeks(*args, greeks=("delta", "vega", "charm"))
    for name in ("price", "delta", "vega", "charm"):
        np.testing.assert_array_equal(getattr(part, name), getattr(full, name))
    for name in ("gamma", "theta", "rho", "vanna", "vomma"):
        assert np.all(np.isnan(getattr(part, name))), name


def test_an_unknown_greek_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="speed"):
        compute_greeks(True, 100.0, 100.0, 1.0, 0.0, 0.0, 0.2, greeks=("delta", "speed"))  # type: ignore[arg-type]


def test_blocked_two_thread_evaluation_equals_small_one_pass_calls() -> None:
    # A large batch runs in blocks on two threads; below one block the kernel is a single pass.
    rng = np.random.default_rng(29)
    n = 150_001
    s = rng.uniform(5, 5000, n)
    args: tuple[np.ndarray, ...] = (
        rng.random(n) < 0.5,
        s,
        s * rng.uniform(0.5, 1.5, n),
        np.where(rng.random(n) < 0.05, 0.0, rng.uniform(0.0, 3.0, n)),
        rng.uniform(0.0, 0.06, n),
        rng.uniform(0.0, 0.04, n),
        np.where(rng.random(n) < 0.05, 0.0, rng.uniform(0.01, 2.0, n)),
    )
    model = rng.random(n) < 0.3
    whole = compute_greeks(args[0], args[1], args[2], args[3], args[4], args[5], args[6], model=model)
    for chunk in np.array_split(np.arange(n), 15):
        call, spot, strike, t, r, q, vol = (a[chunk] for a in args)
        part = compute_greeks(call, spot, strike, t, r, q, vol, model=model[chunk])
        for name in GREEK_NAMES:
            np.testing.assert_array_equal(getattr(part, name), getattr(whole, name)[chunk], err_msg=name)


def test_two_dimensional_inputs_keep_their_shape() -> None:
    spot = np.array([[95.0], [100.0], [105.0]])
    vol = np.array([0.1, 0.2, 0.3, 0.4])
    g = compute_greeks(True, spot, 100.0, 0.5, 0.02, 0.0, vol)
    flat = compute_greeks(True, np.repeat(spot[:, 0], 4), 100.0, 0.5, 0.02, 0.0, np.tile(vol, 3))
    for name in GREEK_NAMES:
        assert getattr(g, name).shape == (3, 4)
        np.testing.assert_array_equal(getattr(g, name).ravel(), getattr(flat, name))


def test_a_missing_or_negative_input_gives_nan_not_an_intrinsic_value() -> None:
    spot = np.array([100.0, 100.0, np.nan, 100.0, 100.0])
    t = np.array([0.5, 0.5, 0.0, np.nan, 0.0])
    vol = np.array([np.nan, -0.2, 0.3, 0.3, np.nan])
    g = compute_greeks(True, spot, 90.0, t, 0.05, 0.01, vol)
    for name in GREEK_NAMES:
        assert np.all(np.isnan(getattr(g, name)[:4])), name
    # At expiry the volatility no longer matters: a missing one still gives the intrinsic value.
    assert float(g.price[4]) == 10.0
    assert float(g.delta[4]) == 1.0


@pytest.mark.parametrize("spots_per_option", [41, 40_000], ids=["row-blocks", "flat-fallback"])
def test_per_option_inputs_against_a_spot_axis_equal_the_flattened_call(spots_per_option: int) -> None:
    # Per-option inputs of shape (n, 1) keep their shape inside the kernel (computed once per option), blocks split
    # the option axis, and rows past one block per option fall back to flat blocks: every path gives the same bits
    # as the fully broadcast, flattened call, expired, zero-vol and missing rows included.
    rng = np.random.default_rng(41)
    n = 2_000 if spots_per_option == 41 else 3
    call = rng.random(n) < 0.5
    strike = rng.uniform(50.0, 150.0, n)
    t = np.where(rng.random(n) < 0.1, rng.choice([0.0, -0.01], n), rng.uniform(0.001, 2.0, n))
    rate, div = rng.uniform(0.0, 0.06, n), rng.uniform(0.0, 0.04, n)
    vol = np.where(rng.random(n) < 0.1, 0.0, rng.uniform(0.05, 1.5, n))
    vol[rng.random(n) < 0.05] = np.nan
    black76 = rng.random(n) < 0.3
    spot = strike[:, None] * np.exp(rng.normal(0.0, 0.3, (n, spots_per_option)))
    per_option = [a[:, None] for a in (call, strike, t, rate, div, vol)]
    g = compute_greeks(per_option[0], spot, *per_option[1:], model=black76[:, None])
    wide = [np.broadcast_to(a, spot.shape).ravel() for a in (*per_option, black76[:, None])]
    flat = compute_greeks(wide[0], spot.ravel(), *wide[1:6], model=wide[6])
    for name in GREEK_NAMES:
        assert getattr(g, name).shape == spot.shape
        np.testing.assert_array_equal(getattr(g, name).ravel(), getattr(flat, name), err_msg=name)
