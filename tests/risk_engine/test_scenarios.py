"""Full revaluation kernel: zero shock, QuantLib golden prices after a scenario, Taylor agreement, conventions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

import risk_engine.scenarios as scenarios_module
from dashboard.book import demo_inputs
from risk_engine.aggregation import position_greeks
from risk_engine.arrays import to_arrays
from risk_engine.scenarios import (
    VolRule,
    current_values_usd,
    iv_shock_scale,
    revalue,
    revalue_paths,
    subset,
    taylor_coefficients,
    taylor_pnl,
)
from tests.conftest import golden_rows
from tests.risk_engine.scenario_book import book

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York
DAY = 1.0 / 365.0


def _demo_arrays() -> Any:
    inputs = demo_inputs(NOW)
    return to_arrays(inputs.positions, inputs.market, NOW)


def _mixed_book() -> Any:
    return book(
        {"is_call": False, "strike": 95.0},
        {"is_call": True, "is_american": True, "div_yield": 0.03, "quantity": -2.0},
        {"is_call": False, "is_american": True, "strike": 110.0, "t_years": 0.6},
        {"is_black76": True, "spot": 5000.0, "strike": 4900.0, "multiplier": 50.0, "beta": 1.0},
        {"kind": "STOCK", "quantity": 300.0, "multiplier": 1.0, "beta": 1.3},
        {"t_years": 0.5 * DAY, "strike": 99.0, "quantity": -5.0},  # expires within a day
        {"priced": False, "iv": np.nan},
    )


def test_zero_shock_is_zero_pnl_on_every_position() -> None:
    for p in (_mixed_book(), _demo_arrays()):
        pnl = revalue_paths(p, spot_shocks=[0.0], vol_shocks=[0.0], horizons_days=[0.0], per_position=True)
        assert np.array_equal(pnl, np.zeros((1, p.size)))


def test_grid_zero_cell_is_exactly_zero_and_prices_the_same_base_as_a_grid_without_it() -> None:
    for p in (_mixed_book(), _demo_arrays()):
        kwargs: dict[str, Any] = {"vol_shocks": [-0.2, 0.0, 0.4], "horizons_days": [0.0, 7.0], "per_position": True}
        with_zero = revalue(p, spot_shocks=[-0.05, 0.0, 0.05], **kwargs)
        assert np.array_equal(with_zero[0, 1, 1], np.zeros(p.size))
        # Without a cell free of every move, today's prices come from a call of their own.
        without_zero = revalue(p, spot_shocks=[-0.05, 0.05], **kwargs)
        np.testing.assert_allclose(without_zero, with_zero[:, [0, 2]], rtol=1e-12, atol=1e-8)


def test_current_value_equals_the_reports_position_values() -> None:
    p = _demo_arrays()
    # aggregation.position_greeks values the book through its own compute_greeks call.
    np.testing.assert_allclose(current_values_usd(p), position_greeks(p).value_usd, rtol=1e-12, atol=1e-9)


def _scenario_value(p: Any, shock: float, vol: float, days: float) -> float:
    pnl = revalue_paths(p, spot_shocks=[shock], vol_shocks=[vol], horizons_days=[days])
    return float(current_values_usd(p).sum() + pnl[0])


GOLDEN_IDS = ("G00001", "G00010", "G00100", "G00500", "G01000", "G01500", "G01995", "G01998")


@pytest.mark.parametrize("row_id", GOLDEN_IDS)
def test_value_after_a_scenario_matches_quantlib_golden_price(row_id: str) -> None:
    row = next(r for r in golden_rows("greeks_public.csv") if r["id"] == row_id)
    shock, vol, days = -0.1, 0.5, 7.0
    american = row["style"] == "american"
    # Start from inputs that the scenario carries exactly onto the golden row's S, sigma and T.
    p = book(
        {
            "is_call": row["type"] == "call",
            "is_american": american,
            "spot": float(row["S"]) / (1.0 + shock),
            "strike": float(row["K"]),
            "t_years": float(row["T"]) + days / 365.0,
            "rate": float(row["r"]),
            "div_yield": float(row["q"]),
            "iv": float(row["sigma"]) / (1.0 + vol),
            "multiplier": 1.0,
        }
    )
    tolerance = 5e-4 if american else 1e-6 * max(1.0, float(row["price"]))
    assert _scenario_value(p, shock, vol, days) == pytest.approx(float(row["price"]), abs=tolerance)


@pytest.mark.parametrize("row_id", ["B00001", "B00100", "B00300", "B00500"])
def test_futures_option_after_a_scenario_matches_black76_golden(row_id: str) -> None:
    row = next(r for r in golden_rows("black76_public.csv") if r["id"] == row_id)
    shock, vol, days = 0.05, -0.2, 1.0
    p = book(
        {
            "is_call": row["type"] == "call",
            "is_black76": True,
            "spot": float(row["F"]) / (1.0 + shock),
            "strike": float(row["K"]),
            "t_years": float(row["T"]) + days / 365.0,
            "rate": float(row["r"]),
            "div_yield": 0.07,  # ignored by Black-76
            "iv": float(row["sigma"]) / (1.0 + vol),
            "multiplier": 1.0,
        }
    )
    assert _scenario_value(p, shock, vol, days) == pytest.approx(float(row["price"]), abs=1e-6)


def test_option_expiring_inside_the_horizon_settles_at_intrinsic() -> None:
    p = book({"is_call": False, "strike": 100.0, "t_years": 0.5 * DAY, "quantity": 3.0})
    value = _scenario_value(p, -0.07, 0.3, 1.0)
    assert value == pytest.approx((100.0 - 93.0) * 3.0 * 100.0, abs=1e-9)


def test_stock_leg_moves_by_beta_times_the_index_shock() -> None:
    p = book({"kind": "STOCK", "quantity": 200.0, "multiplier": 1.0, "spot": 50.0, "beta": 1.5})
    pnl = revalue_paths(p, spot_shocks=[-0.1], vol_shocks=[0.5], horizons_days=[7.0])
    assert pnl[0] == pytest.approx(200.0 * 50.0 * -0.15, abs=1e-9)
    own = revalue_paths(p, spot_shocks=[-0.1], vol_shocks=[0.0], horizons_days=[0.0], beta_weighted=False)
    assert own[0] == pytest.approx(200.0 * 50.0 * -0.10, abs=1e-9)


def test_stock_cannot_lose_more_than_its_value() -> None:
    p = book({"kind": "STOCK", "quantity": 10.0, "multiplier": 1.0, "spot": 20.0, "beta": 3.0})
    assert revalue_paths(p, spot_shocks=[-0.5], vol_shocks=[0.0], horizons_days=[0.0])[0] == pytest.approx(-200.0)


def test_unpriced_rows_contribute_nothing() -> None:
    p = book({"priced": False, "iv": np.nan}, {"kind": "STOCK", "priced": False, "spot": np.nan})
    assert np.array_equal(revalue(p, spot_shocks=[-0.2, 0.2], vol_shocks=[1.0], horizons_days=[7]), np.zeros((1, 2, 1)))


def test_per_position_pnl_sums_to_the_book_total() -> None:
    p = _mixed_book()
    kwargs: dict[str, Any] = {"spot_shocks": [-0.05, 0.03], "vol_shocks": [0.0, 0.4], "horizons_days": [0, 7]}
    total = revalue(p, **kwargs)
    per_position = revalue(p, per_position=True, **kwargs)
    assert per_position.shape == (2, 2, 2, p.size)
    np.testing.assert_allclose(per_position.sum(axis=-1), total, rtol=1e-12, atol=1e-8)


def test_grid_cells_do_not_depend_on_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    # 600 option rows: a chunk of 1 << 17 elements holds 96 rows of the 1,353-cell grid, so the grid takes 7 chunks.
    monkeypatch.setattr(scenarios_module, "_GRID_CHUNK_ELEMENTS", 1 << 17)
    chunks: list[int] = []
    priced = scenarios_module._european_grid_pnl

    def counting(p: Any, rows: Any, axes: Any) -> Any:
        chunks.append(rows.size)
        return priced(p, rows, axes)

    monkeypatch.setattr(scenarios_module, "_european_grid_pnl", counting)
    rng = np.random.default_rng(7)
    rows = [
        {"strike": float(k), "t_years": float(t), "is_call": bool(c), "quantity": float(q)}
        for k, t, c, q in zip(
            rng.uniform(80, 120, 600),
            rng.uniform(0.01, 1, 600),
            rng.random(600) < 0.5,
            rng.integers(-5, 5, 600),
            strict=True,
        )
    ]
    p = book(*rows)
    spot, vol, horizon = np.linspace(-0.2, 0.2, 41), np.linspace(-0.5, 1.0, 11), np.array([0.0, 1.0, 7.0])
    grid = revalue(p, spot_shocks=spot, vol_shocks=vol, horizons_days=horizon)
    assert chunks == [96] * 6 + [24]
    for h, s, v in [(0, 39, 7), (0, 19, 9), (0, 19, 10), (1, 0, 0), (2, 40, 10), (1, 20, 5)]:
        one = revalue_paths(p, spot_shocks=[spot[s]], vol_shocks=[vol[v]], horizons_days=[horizon[h]])
        assert grid[h, s, v] == pytest.approx(one[0], rel=1e-12, abs=1e-8)


@pytest.mark.parametrize(
    "row",
    [
        {"is_call": True},
        {"is_call": False, "strike": 90.0, "t_years": 0.1},
        {"is_call": False, "is_american": True, "strike": 105.0, "t_years": 0.5},
        {"is_black76": True, "spot": 5000.0, "strike": 5100.0},
    ],
    ids=["euro-call", "euro-put", "american-put", "black76-call"],
)
def test_small_spot_shocks_agree_with_delta_gamma_to_second_order(row: dict[str, Any]) -> None:
    p = book(row)
    c = taylor_coefficients(p)

    def residual(shock: float) -> float:
        full = revalue_paths(p, spot_shocks=[shock], vol_shocks=[0.0], horizons_days=[0.0])[0]
        return abs(
            float(full) - float(taylor_pnl(c, spot_shocks=[shock], vol_shocks=[0.0], horizons_days=[0.0])[0, 0, 0])
        )

    big, small = residual(0.004), residual(0.002)
    # The remainder is third order: halving the shock divides it by ~8 (a wrong delta or gamma gives 2 or 4).
    assert small < big / 6.0
    assert big < 0.01 * abs(c.delta_usd * 0.004)


def test_small_vol_shocks_agree_with_vega_to_first_order() -> None:
    p = book({"is_call": False, "strike": 95.0, "t_years": 0.3, "iv": 0.25, "quantity": 4.0})
    c = taylor_coefficients(p)
    for shock in (0.01, -0.01):
        full = revalue_paths(p, spot_shocks=[0.0], vol_shocks=[shock], horizons_days=[0.0])[0]
        assert full == pytest.approx(c.vega_usd * shock, rel=2e-3)


def test_one_day_of_time_agrees_with_theta() -> None:
    p = book({"strike": 102.0, "t_years": 0.5, "quantity": -3.0})
    full = revalue_paths(p, spot_shocks=[0.0], vol_shocks=[0.0], horizons_days=[1.0])[0]
    assert full == pytest.approx(taylor_coefficients(p).theta_usd_per_day, rel=1e-2)


def test_vol_coordinated_rule_scales_long_expiries_by_sqrt_30_over_days() -> None:
    long_dated = book({"t_years": 120.0 / 365.0})
    coordinated = revalue_paths(
        long_dated, spot_shocks=[0.0], vol_shocks=[0.4], horizons_days=[0.0], vol_rule=VolRule.VOL_COORDINATED
    )
    half = revalue_paths(long_dated, spot_shocks=[0.0], vol_shocks=[0.2], horizons_days=[0.0])
    assert coordinated[0] == pytest.approx(half[0], rel=1e-12)
    short_dated = book({"t_years": 10.0 / 365.0})
    assert iv_shock_scale(short_dated, VolRule.VOL_COORDINATED)[0] == 1.0


def test_subset_keeps_matching_rows_only() -> None:
    p = _mixed_book()
    part = subset(p, p.is_american)
    assert part.size == 2
    assert part.keys == ("row1", "row2")
    assert part.spx == p.spx


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"spot_shocks": [0.0], "vol_shocks": [-1.0], "horizons_days": [0.0]}, "vol_shocks"),
        ({"spot_shocks": [0.0], "vol_shocks": [0.0], "horizons_days": [-1.0]}, "horizons_days"),
        ({"spot_shocks": [np.nan], "vol_shocks": [0.0], "horizons_days": [0.0]}, "spot_shocks"),
        ({"spot_shocks": [0.0, 0.1], "vol_shocks": [0.0], "horizons_days": [0.0]}, "pair up"),
    ],
    ids=["vol-minus-100pct", "negative-horizon", "nan-shock", "unpaired"],
)
def test_invalid_scenarios_are_rejected_naming_the_input(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        revalue_paths(book({}), **kwargs)
