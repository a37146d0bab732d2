"""American engine shortcuts: `greeks=` subsets, rows that skip the boundary solve, and degenerate rates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import risk_engine.american as american
import risk_engine.american_boundary as american_boundary
import risk_engine.american_premium as american_premium
from risk_engine.american import american_greeks, american_price
from risk_engine.greeks import GREEK_NAMES, GreekName, Greeks, compute_greeks, european_greeks

FIVE: tuple[GreekName, ...] = ("delta", "gamma", "vega", "theta", "rho")
VEGA: tuple[GreekName, ...] = ("vega",)


def _book(n: int, seed: int) -> tuple[np.ndarray, ...]:
    """Golden-like random inputs (is_call, S, K, T, r, q, sigma): S 5-5000, K/S 0.5-1.5, 1 day-3 years."""
    rng = np.random.default_rng(seed)
    s = np.exp(rng.uniform(np.log(5.0), np.log(5000.0), n))
    k = s * rng.uniform(0.5, 1.5, n)
    t = np.exp(rng.uniform(np.log(1 / 365), np.log(3.0), n))
    v = np.exp(rng.uniform(np.log(0.05), np.log(2.0), n))
    return rng.random(n) < 0.5, s, k, t, rng.uniform(0.0, 0.06, n), rng.uniform(0.0, 0.05, n), v


def _scales(s: np.ndarray, k: np.ndarray, t: np.ndarray, r: np.ndarray, q: np.ndarray, v: np.ndarray) -> dict[str, Any]:
    """Natural size of each quantity (shared/golden/README.md)."""
    return {
        "price": s,
        "delta": 1.0,
        "gamma": 1.0 / (s * v * np.sqrt(t)),
        "vega": s * np.sqrt(t) / 100.0,
        "theta": (s * v / np.sqrt(t) + r * k + q * s) / 365.0,
        "rho": k * t / 100.0,
    }


def _assert_within(name: str, ours: np.ndarray, reference: np.ndarray, rtol: float, atol: Any) -> None:
    err = np.abs(ours - reference) / (atol + rtol * np.abs(reference))
    worst = int(np.argmax(err))
    assert err.max() <= 1.0, f"{name}: {err.max():.3g} x tolerance, ours {ours[worst]!r} reference {reference[worst]!r}"


# ---------------------------------------------------------------------------------------------------------------
# greeks= subsets: the same numbers, fewer boundary solves.


def test_a_subset_gives_the_full_computations_values_and_nan_elsewhere() -> None:
    call, s, k, t, r, q, v = _book(600, 21)
    full = american_greeks(call, s, k, t, r, r - q, v)
    part = american_greeks(call, s, k, t, r, r - q, v, greeks=FIVE)
    scales = _scales(s, k, t, r, q, v)
    for name in ("price", "delta", "gamma", "theta", "rho"):
        # Identical arithmetic up to the rounding of a matrix product over differently sized stacks.
        _assert_within(name, getattr(part, name), getattr(full, name), 1e-12, 1e-14 * scales[name])
    # Vega: a forward difference of the premium (step 2e-5 v) against a central one (1e-3 v); both are within
    # 1e-6 of vega's scale of the exact derivative, the level of the finite-difference test in test_american.py.
    _assert_within("vega", part.vega, full.vega, 1e-4, 1e-6 * scales["vega"])
    for name in ("vanna", "charm", "vomma"):
        assert np.all(np.isnan(getattr(part, name))), name


def _rows_solved(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records the number of boundary rows each fixed-point call sweeps."""
    solved: list[int] = []
    real: Callable[..., np.ndarray] = american_boundary.fixed_point

    def spy(y: np.ndarray, *args: Any) -> np.ndarray:
        if args[-1] > 0:  # the sweep count
            solved.append(y.shape[0])
        return real(y, *args)

    monkeypatch.setattr(american_premium, "fixed_point", spy)
    return solved


@pytest.mark.parametrize(
    ("greeks", "scenarios"),
    [
        ((), 1),
        (("delta", "gamma", "theta", "charm"), 1),
        (("vega",), 2),
        (("rho",), 2),
        (FIVE, 3),
        (("vomma",), 3),
        (("vanna", "rho"), 4),
        (None, 4),
    ],
    ids=["price", "spot-and-time", "vega", "rho", "five", "vomma", "vanna-rho", "all"],
)
def test_a_subset_solves_only_the_boundaries_it_needs(
    greeks: tuple[GreekName, ...] | None, scenarios: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    call, s, k, t, r, q, v = _book(400, 22)
    solved = _rows_solved(monkeypatch)
    american_greeks(call, s, k, t, r, r - q, v, greeks=())
    price_only = sum(solved)
    solved.clear()
    g = american_greeks(call, s, k, t, r, r - q, v, greeks=greeks)
    assert sum(solved) == scenarios * price_only > 0
    for name in GREEK_NAMES:
        asked = greeks is None or name == "price" or name in greeks
        assert bool(np.all(np.isfinite(getattr(g, name)))) == asked, name


def test_compute_greeks_passes_its_subset_to_the_american_rows() -> None:
    call, s, k, t, r, q, v = _book(200, 23)
    mixed = np.arange(s.size) % 3 == 0
    g = compute_greeks(call, s, k, t, r, q, v, american=mixed, greeks=("delta", "vega"))
    am = american_greeks(call[mixed], s[mixed], k[mixed], t[mixed], r[mixed], (r - q)[mixed], v[mixed], greeks=VEGA)
    np.testing.assert_allclose(g.vega[mixed], am.vega, rtol=1e-12)
    assert np.all(np.isnan(g.gamma))
    assert np.all(np.isnan(g.rho))
    assert np.all(np.isfinite(g.delta))


# ---------------------------------------------------------------------------------------------------------------
# Rows that skip the boundary solve give what the solve would give.


def _greeks_close(ours: Greeks, reference: Greeks, scales: dict[str, Any], atol: float) -> None:
    for name, scale in scales.items():
        _assert_within(name, getattr(ours, name), getattr(reference, name), 0.0, atol * scale)


def test_rows_with_a_negligible_premium_equal_the_full_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    call, s, k, t, r, q, v = _book(4000, 24)
    # The rows just past the cut (8 to 9.6 standard deviations), where the bound is tightest: their premium and its
    # Greeks are below 1e-10 of the natural scales (the engine's own error is ~1e-7).
    put_x = np.where(call, k / s, s / k)
    rate, div = np.where(call, q, r) * t, np.where(call, r, q) * t
    depth = [american._negligible_premium(put_x, rate, div, v * np.sqrt(t) * f) for f in (1.0, 1.2)]
    rows = depth[0] & ~depth[1]
    assert rows.sum() > 50
    args = (call[rows], s[rows], k[rows], t[rows], r[rows], (r - q)[rows], v[rows])
    skipped = american_greeks(*args)
    np.testing.assert_array_equal(skipped.price, european_greeks(*args).price)
    monkeypatch.setattr(american, "_NEGLIGIBLE_DEPTH", np.inf)
    solved = american_greeks(*args)
    _, ss, kk, tt, rr, b, vv = args
    _greeks_close(skipped, solved, _scales(ss, kk, tt, rr, rr - b, vv), 1e-10)


def test_rows_below_the_perpetual_boundary_equal_the_full_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deep in-the-money puts (and calls by symmetry) with high rates: exercised at once.
    spot = np.array([20.0, 40.0, 55.0, 60.0, 62.0])
    args = (np.array([False] * 5 + [True] * 5), np.r_[spot, 10_000.0 / spot], 100.0, 0.5, 0.08, 0.0, 0.2)
    at_once = american_greeks(*args)
    assert np.sum(at_once.price == np.abs(args[1] - 100.0)) >= 4
    monkeypatch.setattr(american, "_perpetual_ln_boundary", lambda r, *_: np.full(r.shape, -np.inf))
    solved = american_greeks(*args)
    for name in GREEK_NAMES:
        np.testing.assert_array_equal(getattr(at_once, name), getattr(solved, name), err_msg=name)


# ---------------------------------------------------------------------------------------------------------------
# Degenerate rates: no RuntimeWarning escapes (pytest turns one into an error), values stay finite and arbitrage-free.


@pytest.mark.parametrize("rate", [1e-300, 1e-200, 1e-14, 3e-13, 1.0001e-12, 1e-9], ids=lambda r: f"r{r:g}")
@pytest.mark.parametrize("t_years", [1 / 8760, 1.0, 30.0], ids=["1h", "1y", "30y"])
def test_tiny_rates_price_without_warnings(rate: float, t_years: float) -> None:
    spot = np.array([50.0, 99.0, 100.0, 101.0, 150.0])
    for call, r, q in ((False, rate, 0.02), (False, rate, -0.02), (True, 0.02, rate), (False, rate, rate)):
        for vol in (0.0, 1e-4, 0.3):
            g = american_greeks(call, spot, 100.0, t_years, r, r - q, vol)
            price = american_price(call, spot, 100.0, t_years, r, r - q, vol)
            for name in GREEK_NAMES:
                assert np.all(np.isfinite(getattr(g, name))), (name, call, q, vol)
            np.testing.assert_allclose(price, g.price, rtol=1e-13)
            intrinsic = np.maximum(np.where(call, spot - 100.0, 100.0 - spot), 0.0)
            assert np.all(price >= intrinsic - 1e-13 * spot)


def test_vega_next_to_the_exercise_boundary_in_volatility_uses_the_upward_side() -> None:
    # A deep in-the-money call (from a random book) that is exercised at 0.1 % less volatility: the central stencil
    # straddles the kink there and once gave a vega of -1793 (true value 6.3e-4). Vega and vanna now come from
    # upward differences, vomma (two-sided by nature) is NaN, and both paths agree.
    args = (True, 461.394824016851, 355.561136567363, 0.41093108049710453, 0.012562144346841787)
    q, vol = 0.026538965437508607, 0.2203320851248643
    call, spot, strike, t, r = args
    assert american_price(call, spot, strike, t, r, r - q, vol * (1 - 1e-3)) == spot - strike
    assert american_price(call, spot, strike, t, r, r - q, vol) > spot - strike
    full = american_greeks(call, spot, strike, t, r, r - q, vol)
    five = american_greeks(call, spot, strike, t, r, r - q, vol, greeks=FIVE)
    h = 1e-6 * vol
    forward = (
        american_price(call, spot, strike, t, r, r - q, vol + h) - american_price(call, spot, strike, t, r, r - q, vol)
    ) / h
    assert float(full.vega) == pytest.approx(float(forward) / 100.0, rel=0.03)
    assert float(full.vega) == pytest.approx(float(five.vega), rel=1e-9)
    assert np.isnan(full.vomma)
    assert np.isfinite(full.vanna)
