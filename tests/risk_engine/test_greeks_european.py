"""European Black-Scholes-Merton and Black-76 against QuantLib golden values and textbook identities."""

from __future__ import annotations

import numpy as np
import pytest

from risk_engine.greeks import GREEK_NAMES, Greeks, compute_greeks
from tests.conftest import golden_rows

GREEKS = ("price", "delta", "gamma", "vega", "theta", "rho")
TOL = 1e-9  # the bound: 1e-9 of each quantity's natural scale plus 1e-9 relative


def _columns(rows: list[dict[str, str]], names: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {name: np.array([float(row[name]) for row in rows]) for name in names}


def _natural_scales(
    s: np.ndarray, k: np.ndarray, t: np.ndarray, r: np.ndarray, q: np.ndarray, v: np.ndarray
) -> dict[str, np.ndarray]:
    # Natural size of each quantity as defined in shared/golden/README.md.
    return {
        "price": s,
        "delta": np.ones_like(s),
        "gamma": 1.0 / (s * v * np.sqrt(t)),
        "vega": s * np.sqrt(t) / 100.0,
        "theta": (s * v / np.sqrt(t) + r * k + q * s) / 365.0,
        "rho": k * t / 100.0,
    }


def _assert_close(name: str, ours: np.ndarray, golden: np.ndarray, scale: np.ndarray, ids: list[str]) -> None:
    err = np.abs(ours - golden)
    bound = TOL * scale + TOL * np.abs(golden)
    bad = np.flatnonzero(~(err <= bound))
    assert bad.size == 0, (
        f"{name}: {bad.size} rows off, first {ids[bad[0]]}: ours {ours[bad[0]]!r} golden {golden[bad[0]]!r}"
    )


def test_european_rows_match_quantlib_golden() -> None:
    rows = [row for row in golden_rows("greeks_public.csv") if row["style"] == "european"]
    c = _columns(rows, ("S", "K", "T", "r", "q", "sigma", *GREEKS))
    is_call = np.array([row["type"] == "call" for row in rows])
    g = compute_greeks(is_call, c["S"], c["K"], c["T"], c["r"], c["q"], c["sigma"])
    scales = _natural_scales(c["S"], c["K"], c["T"], c["r"], c["q"], c["sigma"])
    ids = [row["id"] for row in rows]
    assert len(rows) > 1000
    for name in GREEKS:
        _assert_close(name, getattr(g, name), c[name], scales[name], ids)


def test_black76_rows_match_quantlib_golden() -> None:
    rows = golden_rows("black76_public.csv")
    c = _columns(rows, ("F", "K", "T", "r", "sigma", *GREEKS))
    is_call = np.array([row["type"] == "call" for row in rows])
    g = compute_greeks(is_call, c["F"], c["K"], c["T"], c["r"], 0.0, c["sigma"], model="black76")
    # Black-76 scales: those of BSM with F for S and q = r (golden README).
    scales = _natural_scales(c["F"], c["K"], c["T"], c["r"], c["r"], c["sigma"])
    ids = [row["id"] for row in rows]
    for name in GREEKS:
        _assert_close(name, getattr(g, name), c[name], scales[name], ids)


def test_mixed_book_in_one_call_matches_separate_calls() -> None:
    is_b76 = np.array([False, True, False, True])
    spot = np.array([100.0, 5000.0, 250.0, 5010.0])
    strike = np.array([95.0, 4900.0, 260.0, 5100.0])
    t = np.array([0.25, 0.1, 1.0, 0.02])
    args = (np.array([True, False, False, True]), spot, strike, t, 0.04, 0.015, np.array([0.3, 0.18, 0.5, 0.16]))
    mixed = compute_greeks(*args, model=is_b76)
    bsm = compute_greeks(*args, model="bsm")
    b76 = compute_greeks(*args, model="black76")
    for name in GREEKS:
        expected = np.where(is_b76, getattr(b76, name), getattr(bsm, name))
        np.testing.assert_array_equal(getattr(mixed, name), expected)


@pytest.mark.parametrize(
    ("spot", "strike", "t", "r", "q", "vol"),
    [
        (100.0, 100.0, 0.5, 0.05, 0.02, 0.25),
        (4321.0, 3900.0, 2.0, 0.0, 0.03, 0.6),
        (12.0, 14.0, 1 / 8760, 0.04, 0.0, 1.2),
    ],
    ids=["atm-half-year", "itm-two-years-zero-rate", "otm-one-hour"],
)
def test_put_call_parity(spot: float, strike: float, t: float, r: float, q: float, vol: float) -> None:
    call = compute_greeks(True, spot, strike, t, r, q, vol)
    put = compute_greeks(False, spot, strike, t, r, q, vol)
    forward_pv = spot * np.exp(-q * t) - strike * np.exp(-r * t)
    assert float(call.price - put.price) == pytest.approx(forward_pv, abs=1e-10 * spot)
    assert float(call.delta - put.delta) == pytest.approx(np.exp(-q * t), abs=1e-12)
    assert float(call.gamma) == pytest.approx(float(put.gamma), rel=1e-12)
    assert float(call.vega) == pytest.approx(float(put.vega), rel=1e-12)


def test_greeks_agree_with_finite_differences_of_the_price() -> None:
    rng = np.random.default_rng(7)
    n = 400
    s = rng.uniform(20, 500, n)
    k = s * rng.uniform(0.7, 1.3, n)
    t = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(0.0, 0.06, n)
    q = rng.uniform(0.0, 0.04, n)
    v = rng.uniform(0.1, 0.8, n)
    is_call = rng.random(n) < 0.5

    def price(**bump: np.ndarray) -> np.ndarray:
        args = {"spot": s, "t_years": t, "rate": r, "vol": v} | bump
        return compute_greeks(is_call, args["spot"], k, args["t_years"], args["rate"], q, args["vol"]).price

    g = compute_greeks(is_call, s, k, t, r, q, v)
    h_s = s * 1e-4
    fd_delta = (price(spot=s + h_s) - price(spot=s - h_s)) / (2 * h_s)
    fd_gamma = (price(spot=s + h_s) - 2 * g.price + price(spot=s - h_s)) / h_s**2
    fd_vega = (price(vol=v + 1e-5) - price(vol=v - 1e-5)) / 2e-5 * 0.01
    fd_theta = -(price(t_years=t + 1e-5) - price(t_years=t - 1e-5)) / 2e-5 / 365.0
    fd_rho = (price(rate=r + 1e-6) - price(rate=r - 1e-6)) / 2e-6 * 0.01
    # Central differences carry an O(h²) truncation error: the tolerances are sized to it, not to our error.
    np.testing.assert_allclose(g.delta, fd_delta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g.gamma, fd_gamma, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(g.vega, fd_vega, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(g.theta, fd_theta, rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(g.rho, fd_rho, rtol=1e-6, atol=1e-8)


def test_second_order_greeks_agree_with_finite_differences_of_first_order() -> None:
    rng = np.random.default_rng(11)
    n = 300
    s, t = rng.uniform(20, 500, n), rng.uniform(0.05, 2.0, n)
    k, v = s * rng.uniform(0.7, 1.3, n), rng.uniform(0.1, 0.8, n)
    r, q = rng.uniform(0.0, 0.06, n), rng.uniform(0.0, 0.04, n)
    is_call = rng.random(n) < 0.5
    model = rng.random(n) < 0.3  # some Black-76 rows: the same formulas with zero carry
    g = compute_greeks(is_call, s, k, t, r, q, v, model=model)

    def at(vol: np.ndarray = v, time: np.ndarray = t) -> Greeks:
        return compute_greeks(is_call, s, k, time, r, q, vol, model=model)

    fd_vanna = (at(vol=v + 1e-5).delta - at(vol=v - 1e-5).delta) / 2e-5 * 0.01
    fd_vomma = (at(vol=v + 1e-5).vega - at(vol=v - 1e-5).vega) / 2e-5 * 0.01
    fd_charm = -(at(time=t + 1e-6).delta - at(time=t - 1e-6).delta) / 2e-6 / 365.0
    np.testing.assert_allclose(g.vanna, fd_vanna, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(g.vomma, fd_vomma, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(g.charm, fd_charm, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("t", [0.0, -0.01], ids=["at-expiry", "past-expiry"])
def test_expired_options_price_at_intrinsic_without_warnings_or_nan(t: float) -> None:
    is_call = np.array([True, True, False, False, True])
    strike = np.array([90.0, 110.0, 110.0, 90.0, 100.0])
    g = compute_greeks(is_call, 100.0, strike, t, 0.05, 0.01, 0.3)
    np.testing.assert_allclose(g.price, [10.0, 0.0, 10.0, 0.0, 0.0], atol=1e-9)
    np.testing.assert_array_equal(g.delta, [1.0, 0.0, -1.0, 0.0, 0.0])
    for name in ("gamma", "vega", "theta"):
        assert np.all(np.isfinite(getattr(g, name)))
        np.testing.assert_array_equal(getattr(g, name), 0.0)


def test_vanishing_time_is_finite_and_tends_to_intrinsic() -> None:
    strike = np.array([90.0, 110.0, 100.0])
    g = compute_greeks(np.array([True, True, True]), 100.0, strike, 1e-300, 0.05, 0.01, 0.3)
    for name in ("price", "delta", "gamma", "vega", "theta", "rho"):
        assert np.all(np.isfinite(getattr(g, name))), name
    np.testing.assert_allclose(g.price, [10.0, 0.0, 0.0], atol=1e-9)
    assert float(g.delta[2]) == pytest.approx(0.5)  # at the money the limit of N(d1) is 1/2


def test_zero_volatility_is_the_discounted_forward_intrinsic() -> None:
    g = compute_greeks(np.array([True, False]), 100.0, 95.0, 1.0, 0.05, 0.0, 0.0)
    assert float(g.price[0]) == pytest.approx(100.0 - 95.0 * np.exp(-0.05), rel=1e-14)
    assert float(g.price[1]) == 0.0
    assert np.all(np.isfinite(g.theta))
    assert np.all(g.gamma == 0.0)


def test_unknown_model_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="model must be"):
        compute_greeks(True, 100.0, 100.0, 1.0, 0.0, 0.0, 0.2, model="heston")


@pytest.mark.parametrize("american", [False, True], ids=["european", "american"])
def test_infinite_expiry_is_nan_without_warnings_and_leaves_other_rows_alone(american: bool) -> None:
    # inf - inf in the discount factors used to escape as a RuntimeWarning; an infinite expiry has no finite value
    # we could stand behind (0, S or K depending on the rates), so it is reported missing, like a NaN expiry.
    t = np.array([np.inf, 0.5, -np.inf])
    g = compute_greeks(np.array([True, False, True]), 100.0, 90.0, t, 0.05, 0.02, 0.25, model="bsm", american=american)
    reference = compute_greeks(False, 100.0, 90.0, 0.5, 0.05, 0.02, 0.25, american=american)
    for name in GREEK_NAMES:
        assert np.isnan(getattr(g, name)[0]), name
        assert getattr(g, name)[1] == getattr(reference, name), name
    assert g.price[2] == 10.0  # expired long ago: intrinsic
