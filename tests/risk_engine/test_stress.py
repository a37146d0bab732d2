"""Stress grid: the issue's axes, a lone long put's convexity, worst cell, % of net liq, the Greeks' error."""

from __future__ import annotations

import numpy as np
import pytest

from risk_engine.stress import DEFAULT_HORIZONS_DAYS, DEFAULT_SPOT_SHOCKS, DEFAULT_VOL_SHOCKS, stress_grid
from tests.risk_engine.scenario_book import book


def test_default_axes_are_the_issues_grid() -> None:
    assert DEFAULT_SPOT_SHOCKS.size == 41
    assert (DEFAULT_SPOT_SHOCKS[0], DEFAULT_SPOT_SHOCKS[20], DEFAULT_SPOT_SHOCKS[-1]) == (-0.2, 0.0, 0.2)
    assert np.allclose(np.diff(DEFAULT_SPOT_SHOCKS), 0.01)
    assert DEFAULT_VOL_SHOCKS.size == 11
    assert (DEFAULT_VOL_SHOCKS[0], DEFAULT_VOL_SHOCKS[-1]) == (-0.5, 1.0)
    assert 0.0 in DEFAULT_VOL_SHOCKS
    assert DEFAULT_HORIZONS_DAYS.tolist() == [0.0, 1.0, 7.0]


def test_lone_long_put_grid_is_convex_in_spot_and_rises_with_vol() -> None:
    grid = stress_grid(book({"is_call": False, "strike": 100.0, "t_years": 0.25, "quantity": 1.0}))
    assert grid.pnl_usd.shape == (3, 41, 11)
    second_difference = np.diff(grid.pnl_usd, n=2, axis=1)
    assert (second_difference >= -1e-9).all()
    assert (np.diff(grid.pnl_usd, axis=2) > 0.0).all()  # long vega everywhere
    assert (np.diff(grid.pnl_usd, axis=1) < 0.0).all()  # a put loses as the index rises


def test_zero_cell_is_zero_and_worst_cell_is_the_grid_minimum() -> None:
    p = book(
        {"is_call": False, "strike": 95.0, "quantity": -4.0}, {"kind": "STOCK", "quantity": 100.0, "multiplier": 1}
    )
    grid = stress_grid(p, net_liquidation_usd=50_000.0)
    zero_vol = int(np.flatnonzero(grid.vol_shocks == 0.0)[0])
    assert grid.pnl_usd[0, 20, zero_vol] == 0.0
    worst = grid.worst
    assert worst.pnl_usd == grid.pnl_usd.min()
    h = int(np.flatnonzero(grid.horizons_days == worst.horizon_days)[0])
    s = int(np.flatnonzero(grid.spot_shocks == worst.spot_shock)[0])
    v = int(np.flatnonzero(grid.vol_shocks == worst.vol_shock)[0])
    assert grid.pnl_usd[h, s, v] == worst.pnl_usd
    assert worst.spot_shock == -0.2  # short put and long stock both lose most in the deepest fall
    assert worst.pnl_pct_net_liq == pytest.approx(worst.pnl_usd / 50_000.0 * 100.0)
    assert grid.pnl_pct_net_liq is not None
    np.testing.assert_allclose(grid.pnl_pct_net_liq, grid.pnl_usd / 500.0)


def test_without_net_liquidation_there_is_no_percentage() -> None:
    grid = stress_grid(book({}))
    assert grid.pnl_pct_net_liq is None
    assert grid.worst.pnl_pct_net_liq is None


def test_greeks_error_is_small_near_the_centre_and_grows_in_the_wings() -> None:
    grid = stress_grid(book({"is_call": False, "strike": 100.0, "quantity": -10.0}))
    zero_vol = int(np.flatnonzero(grid.vol_shocks == 0.0)[0])
    error = np.abs(grid.approximation_error_usd[0, :, zero_vol])
    pnl = np.abs(grid.pnl_usd[0, :, zero_vol])
    assert error[19] < 0.01 * pnl[19]  # −1 %: the Taylor expansion is good to 1 %
    assert error[0] > 10.0 * error[19]  # −20 %: far worse
    np.testing.assert_allclose(grid.approximation_error_usd, grid.approx_pnl_usd - grid.pnl_usd)


def test_linear_book_has_no_approximation_error() -> None:
    grid = stress_grid(book({"kind": "STOCK", "quantity": 50.0, "multiplier": 1.0, "beta": 1.2}))
    np.testing.assert_allclose(grid.approximation_error_usd, 0.0, atol=1e-8)


def test_excluded_positions_are_named() -> None:
    grid = stress_grid(book({}, {"priced": False, "iv": np.nan}))
    assert grid.excluded == ("row1",)
