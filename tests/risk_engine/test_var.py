"""VaR and ES: tail statistics, cumulants against chi-square, normal limits, ordering and a reproducible seed."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pytest
from scipy import stats

from adapters.market_history import load_spx_vix_closes
from risk_engine.var import (
    cornish_fisher_quantile,
    factor_window,
    historical_var,
    monte_carlo_var,
    parametric_var,
    quadratic_cumulants,
    tail_losses,
)
from tests.risk_engine.scenario_book import book

STOCK = {"kind": "STOCK", "quantity": 1000.0, "multiplier": 1.0, "spot": 100.0, "beta": 1.0}


def _options_book() -> Any:
    return book(
        {"is_call": False, "strike": 95.0, "quantity": -10.0},
        {"is_call": True, "strike": 105.0, "quantity": -10.0},
        {"is_call": False, "strike": 90.0, "quantity": 5.0, "t_years": 0.5},
        STOCK,
    )


def test_tail_losses_of_a_known_sample() -> None:
    var95, var99, es95, es99 = tail_losses(-np.arange(1.0, 101.0))
    assert (var95, var99, es95, es99) == (96.0, 100.0, 98.0, 100.0)  # 5th worst of 100, mean of the worst 5


def test_factor_window_has_the_requested_real_days() -> None:
    window = factor_window(load_spx_vix_closes(), 250, datetime.date(2020, 3, 31))
    assert window.index_moves.size == 250
    assert window.end == datetime.date(2020, 3, 31)
    assert window.start.year == 2019
    at = int(np.flatnonzero(window.dates == np.datetime64("2020-03-16"))[0])
    assert window.vix_changes[at] == pytest.approx(82.69 / 57.83 - 1.0)
    assert np.isfinite(window.index_moves).all()
    assert np.isfinite(window.vix_changes).all()


def test_too_short_a_window_is_rejected() -> None:
    with pytest.raises(ValueError, match="window_days"):
        factor_window(load_spx_vix_closes(), 20)


def test_quadratic_cumulants_of_a_pure_gamma_book_are_scaled_chi_square() -> None:
    g, sigma = -3.0, 0.02
    # P = ½ g x² = (g σ² / 2) χ²₁: cumulants (g σ²/2)^r × 2^(r−1) (r−1)!, taken from scipy's chi2 moments.
    scale = g * sigma**2 / 2.0
    mean, var, skew, kurt = stats.chi2(1).stats(moments="mvsk")
    k = quadratic_cumulants(np.zeros(1), np.array([[g]]), np.array([[sigma**2]]))
    assert k[0] == pytest.approx(scale * float(mean))
    assert k[1] == pytest.approx(scale**2 * float(var))
    assert k[2] == pytest.approx(scale**3 * float(skew) * float(var) ** 1.5)
    assert k[3] == pytest.approx(scale**4 * float(kurt) * float(var) ** 2)


def test_quadratic_cumulants_match_sampled_moments_in_two_factors() -> None:
    c, g = np.array([3.0, -1.0]), np.array([[-40.0, 5.0], [5.0, 2.0]])
    cov = np.array([[0.01, -0.004], [-0.004, 0.02]])
    x = np.random.default_rng(1).multivariate_normal(np.zeros(2), cov, size=2_000_000)
    sample = x @ c + 0.5 * np.einsum("ni,ij,nj->n", x, g, x)
    k = quadratic_cumulants(c, g, cov)
    assert k[0] == pytest.approx(sample.mean(), abs=3e-3)
    assert k[1] == pytest.approx(sample.var(), rel=5e-3)
    assert k[2] / k[1] ** 1.5 == pytest.approx(stats.skew(sample), abs=0.02)
    assert k[3] / k[1] ** 2 == pytest.approx(stats.kurtosis(sample), abs=0.1)


def test_cornish_fisher_without_skew_or_kurtosis_is_the_normal_quantile() -> None:
    q = cornish_fisher_quantile(np.array([0.05, 0.01]), 10.0, 2.0, 0.0, 0.0)
    np.testing.assert_allclose(q, stats.norm(10.0, 2.0).ppf([0.05, 0.01]), rtol=1e-12)


def test_parametric_var_of_a_stock_is_the_normal_var_of_its_delta() -> None:
    history = load_spx_vix_closes()
    window = factor_window(history, 500)
    sigma_usd = 1000.0 * 100.0 * float(np.std(window.index_moves, ddof=1))
    estimate = parametric_var(book(STOCK), history, window_days=500)
    assert estimate.var95_usd == pytest.approx(-stats.norm.ppf(0.05) * sigma_usd, rel=1e-9)
    assert estimate.var99_usd == pytest.approx(-stats.norm.ppf(0.01) * sigma_usd, rel=1e-9)
    # Normal ES: σ φ(z) / (1 − level); the quantile average over 4,000 nodes is within 1e-3 of it.
    assert estimate.es95_usd == pytest.approx(sigma_usd * stats.norm.pdf(stats.norm.ppf(0.05)) / 0.05, rel=1e-3)


def test_historical_var_of_a_stock_is_its_kth_worst_real_day() -> None:
    history = load_spx_vix_closes()
    estimate = historical_var(book(STOCK), history, window_days=1000)
    usable = np.isfinite(history.vix_close) & np.isfinite(history.vix_previous_close)
    returns = (history.spx_close[usable] / history.spx_previous_close[usable] - 1.0)[-1000:]
    ordered = np.sort(1000.0 * 100.0 * returns)
    assert estimate.var95_usd == pytest.approx(-ordered[49])
    assert estimate.var99_usd == pytest.approx(-ordered[9])
    assert estimate.es99_usd == pytest.approx(-ordered[:10].mean())
    assert estimate.as_of == datetime.date(2026, 7, 9)  # the last SPX close shipped


@pytest.mark.parametrize("method", ["historical", "parametric", "monte_carlo"])
def test_var_and_es_are_ordered(method: str) -> None:
    history = load_spx_vix_closes()
    p = _options_book()
    if method == "historical":
        e = historical_var(p, history)
    elif method == "parametric":
        e = parametric_var(p, history)
    else:
        e = monte_carlo_var(p, history, paths=5000)
    assert e.var99_usd >= e.var95_usd > 0.0
    assert e.es95_usd >= e.var95_usd
    assert e.es99_usd >= e.var99_usd
    assert e.method == method


def test_seeded_monte_carlo_is_reproducible() -> None:
    history = load_spx_vix_closes()
    p = _options_book()
    first = monte_carlo_var(p, history, paths=2000, seed=11)
    again = monte_carlo_var(p, history, paths=2000, seed=11)
    other = monte_carlo_var(p, history, paths=2000, seed=12)
    assert first == again
    assert other.var95_usd != first.var95_usd
    assert (first.paths, first.seed) == (2000, 11)


def test_monte_carlo_of_a_stock_approaches_the_lognormal_var() -> None:
    history = load_spx_vix_closes()
    window = factor_window(history, 500)
    sigma = float(np.std(np.log1p(window.index_moves), ddof=1))
    estimate = monte_carlo_var(book(STOCK), history, paths=100_000, seed=3)
    expected = -1000.0 * 100.0 * np.expm1(stats.norm.ppf(0.05) * sigma)
    assert estimate.var95_usd == pytest.approx(expected, rel=0.02)
