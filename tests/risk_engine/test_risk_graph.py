"""Risk graphs: expiration hockey sticks, breakevens at strike ± premium, σ bands, the beta-weighted book."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest

from dashboard.book import demo_inputs
from risk_engine.arrays import to_arrays
from risk_engine.risk_graph import BOOK_LABEL, breakevens, risk_graph, risk_graphs
from risk_engine.scenarios import current_values_usd
from tests.risk_engine.scenario_book import book

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_breakevens_interpolate_sign_changes() -> None:
    prices = np.array([98.0, 99.0, 101.0, 102.0, 103.0])
    assert breakevens(prices, np.array([-2.0, -1.0, 1.0, 0.5, -0.5])) == (100.0, 102.5)
    assert breakevens(prices, np.ones(5)) == ()


def test_long_call_expiration_curve_is_intrinsic_less_premium() -> None:
    p = book({"strike": 100.0, "t_years": 30 / 365, "quantity": 2.0}, {"underlying": "OTHER", "spot": 50.0})
    premium = float(current_values_usd(p)[0]) / 200.0
    graph = risk_graph(p, "XYZ", points=201)
    expiration = graph.curves[2]
    assert expiration.label == "expiration"
    assert expiration.horizon_days == pytest.approx(30.0)
    intrinsic = np.maximum(graph.prices - 100.0, 0.0)
    np.testing.assert_allclose(expiration.pnl_usd, (intrinsic - premium) * 200.0, atol=1e-9)
    (breakeven,) = expiration.breakevens
    assert breakeven == pytest.approx(100.0 + premium, abs=1e-9)  # exact: the curve is linear there
    assert graph.positions == 1


def test_short_put_breakeven_is_strike_less_premium() -> None:
    p = book({"is_call": False, "strike": 95.0, "t_years": 10 / 365, "quantity": -1.0, "iv": 0.3})
    premium = -float(current_values_usd(p)[0]) / 100.0
    graph = risk_graph(p, "XYZ", points=301)
    assert graph.curves[2].breakevens == pytest.approx((95.0 - premium,), abs=1e-9)
    assert graph.curves[0].label == "T+0"
    assert 100.0 in graph.curves[0].breakevens  # P&L is measured from today's value


def test_sigma_bands_follow_the_iv_and_the_horizon() -> None:
    p = book({"strike": 100.0, "t_years": 73 / 365, "iv": 0.25})
    graph = risk_graph(p, "XYZ", k_days=7.0)
    t_plus_k = graph.curves[1]
    assert t_plus_k.label == "T+7"
    width = 0.25 * math.sqrt(7 / 365)
    assert t_plus_k.band_1sd == pytest.approx((100 * math.exp(-width), 100 * math.exp(width)))
    assert t_plus_k.band_2sd == pytest.approx((100 * math.exp(-2 * width), 100 * math.exp(2 * width)))
    assert graph.curves[0].band_1sd is None
    assert graph.band_iv == 0.25
    # The axis reaches 3σ of the first expiration: 0.25 × sqrt(73/365) × 3 = 33.5 %.
    assert graph.prices[-1] == pytest.approx(100 * (1 + 3 * 0.25 * math.sqrt(0.2)))


def test_book_graph_is_on_the_spx_axis_and_beta_weighted() -> None:
    p = book({"kind": "STOCK", "quantity": 100.0, "multiplier": 1.0, "spot": 200.0, "beta": 1.5}, spx=5000.0)
    graph = risk_graph(p, None, points=101, span=0.1)
    assert graph.underlying == BOOK_LABEL
    assert graph.current_price == 5000.0
    at = int(np.argmin(np.abs(graph.prices - 5500.0)))
    assert graph.curves[0].pnl_usd[at] == pytest.approx(100 * 200 * 1.5 * 0.1)


def test_unknown_underlying_is_rejected_naming_the_book() -> None:
    with pytest.raises(ValueError, match="NOPE"):
        risk_graph(book({}), "NOPE")


def test_demo_book_has_a_book_graph_and_one_per_underlying() -> None:
    inputs = demo_inputs(NOW)
    p = to_arrays(inputs.positions, inputs.market, NOW)
    graphs = risk_graphs(p, points=41, index_iv=0.184)
    assert graphs[0].underlying == BOOK_LABEL
    assert graphs[0].band_iv == 0.184
    assert {g.underlying for g in graphs[1:]} == set(p.underlying.tolist())
    for g in graphs:
        assert [c.label for c in g.curves] == ["T+0", "T+7", "expiration"]
        assert all(np.isfinite(c.pnl_usd).all() for c in g.curves)
        middle = g.prices.size // 2
        assert g.prices[middle] == pytest.approx(g.current_price)
        assert g.curves[0].pnl_usd[middle] == pytest.approx(0.0, abs=1e-6)
