"""Scenario figures and tables: hand-built results (known cells) and real replays of known market days."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from adapters.market_history import load_spx_vix_closes
from dashboard.scenario_figures import (
    WORST_MARKER,
    approximation_error_figure,
    horizon_label,
    replay_rows,
    risk_graph_figure,
    shock_labels,
    stress_heatmap,
    var_rows,
    worst_cell_text,
)
from risk_engine.replays import BLACK_MONDAY_1987, Replay, market_move
from risk_engine.risk_graph import RiskCurve, RiskGraph
from risk_engine.scenarios import VolRule
from risk_engine.stress import StressGrid, WorstCell
from risk_engine.var import VarEstimate
from tests.dashboard.books import NOW

# One horizon, index −10 / 0 / +10 %, IV −50 / +100 %: the worst cell is index −10 %, IV −50 % (−900 USD).
PNL = np.array([[[-900.0, -300.0], [0.0, 200.0], [500.0, 800.0]]])


def _grid(net_liq: float | None = None) -> StressGrid:
    pct = None if net_liq is None else PNL / net_liq * 100.0
    return StressGrid(
        spot_shocks=np.array([-0.1, 0.0, 0.1]),
        vol_shocks=np.array([-0.5, 1.0]),
        horizons_days=np.array([0.0]),
        pnl_usd=PNL,
        pnl_pct_net_liq=pct,
        approx_pnl_usd=PNL + 10.0,
        approximation_error_usd=np.full_like(PNL, 10.0),
        worst=WorstCell(0.0, -0.1, -0.5, -900.0, None if pct is None else -900.0 / net_liq * 100.0),  # type: ignore[operator]
        net_liquidation_usd=net_liq,
        beta_weighted=True,
        vol_rule=VolRule.STICKY_STRIKE,
        excluded=(),
    )


def _trace(fig: Any, name: str) -> Any:
    return next(trace for trace in fig.data if trace.name == name)


@pytest.mark.parametrize(("days", "label"), [(0.0, "now"), (1.0, "+1 day"), (7.0, "+7 days")], ids=["0", "1", "7"])
def test_horizon_labels(days: float, label: str) -> None:
    assert horizon_label(days) == label


def test_shock_labels_are_signed_whole_percents() -> None:
    assert shock_labels(np.array([-0.2, 0.0, 0.1, 1.0])) == ["−20 %", "0 %", "+10 %", "+100 %"]


def test_heatmap_plots_the_grid_and_marks_its_worst_cell() -> None:
    fig = stress_heatmap(_grid(), 0, percent=False, as_of=NOW)
    heat = _trace(fig, "P&L")
    assert np.array(heat.z).tolist() == PNL[0].tolist()
    assert list(heat.y) == ["−10 %", "0 %", "+10 %"]
    assert list(heat.x) == ["−50 %", "+100 %"]
    marker = _trace(fig, WORST_MARKER)
    assert (marker.y[0], marker.x[0]) == ("−10 %", "−50 %")
    assert "-900 USD" in marker.text[0]
    assert heat.zmid == 0.0


def test_heatmap_in_percent_of_net_liquidation() -> None:
    fig = stress_heatmap(_grid(net_liq=90_000.0), 0, percent=True, as_of=NOW)
    assert np.array(_trace(fig, "P&L").z)[0, 0] == pytest.approx(-1.0)  # −900 / 90,000 = −1 %


def test_heatmap_in_percent_without_net_liquidation_is_refused() -> None:
    with pytest.raises(ValueError, match="net liquidation is unknown"):
        stress_heatmap(_grid(), 0, percent=True, as_of=NOW)


def test_approximation_error_figure_plots_estimate_minus_full() -> None:
    fig = approximation_error_figure(_grid(), 0, as_of=NOW)
    assert np.array(_trace(fig, "Greeks error").z).tolist() == [[10.0, 10.0]] * 3


def test_worst_cell_text_names_shocks_horizon_and_pnl() -> None:
    assert worst_cell_text(_grid()) == (
        "Worst cell of the grid: index -10 %, IV -50 % (relative), now: -900 USD (% of net liquidation unknown)"
    )
    assert worst_cell_text(_grid(net_liq=90_000.0)).endswith("(-1.00 % of net liq)")


def test_replay_rows_flag_1987_as_assumed_and_show_real_moves() -> None:
    history = load_spx_vix_closes()
    covid = dt.date(2020, 3, 16)
    moves = [market_move(history, BLACK_MONDAY_1987), market_move(history, covid)]
    rows = replay_rows([Replay(moves[0], -12_345.4, None), Replay(moves[1], 2_000.0, 1.5)])
    # Black Monday: SPX 282.70 → 224.84 (−20.47 %); 2020-03-16: SPX 2711.02 → 2386.13 (−11.98 %),
    # VIX 57.83 → 82.69 (+43.0 %).
    assert rows[0]["S&P 500 move %"] == pytest.approx(-20.47)
    assert str(rows[0]["IV shock source"]).startswith("ASSUMED")
    assert rows[0]["P&L USD"] == -12_345.0
    assert rows[0]["P&L % net liq"] == "n/a"
    assert (rows[1]["date"], rows[1]["vs close of"]) == ("2020-03-16", "2020-03-13")
    assert rows[1]["S&P 500 move %"] == pytest.approx(-11.98)
    assert rows[1]["IV shock %"] == pytest.approx(43.0)
    assert rows[1]["IV shock source"] == "real VIX change"
    assert rows[1]["P&L % net liq"] == "1.50 %"


def test_var_rows_show_each_method_with_its_window_or_paths() -> None:
    start, end = dt.date(2024, 1, 2), dt.date(2025, 12, 31)
    historical = VarEstimate("historical", 1000.4, 2000.0, 1500.0, 2500.0, 1.0, 500, start, end, None, None, "")
    monte = VarEstimate("monte_carlo", 900.0, 1900.0, 1400.0, 2400.0, 1.0, 500, start, end, 10_000, 7, "")
    rows = var_rows([historical, monte])
    assert [r["method"] for r in rows] == ["historical", "monte carlo"]
    assert rows[0]["VaR 95 % USD"] == 1000.0
    assert rows[0]["window / paths"] == "500 days 2024-01-02…2025-12-31"
    assert rows[1]["window / paths"] == "10,000 paths, seed 7; 500 days 2024-01-02…2025-12-31"
    assert rows[1]["horizon"] == "+1 day"
    assert rows[1]["as of"] == "2025-12-31"


def _graph() -> RiskGraph:
    prices = np.array([90.0, 100.0, 110.0])
    now_curve = RiskCurve("T+0", 0.0, np.array([-10.0, 0.0, 10.0]), (100.0,), None, None)
    later = RiskCurve("T+7", 7.0, np.array([-5.0, 5.0, -5.0]), (95.0, 105.0), (97.0, 103.0), (94.0, 106.0))
    return RiskGraph("XYZ", 100.0, prices, (now_curve, later), 0.2, 2, ())


def test_risk_graph_draws_curves_breakevens_bands_and_the_current_price() -> None:
    fig = risk_graph_figure(_graph(), as_of=NOW)
    assert [t.name for t in fig.data if t.mode == "lines"] == ["T+0 (now)", "T+7 (+7 days)"]
    assert list(_trace(fig, "T+7 breakevens").x) == [95.0, 105.0]
    assert list(_trace(fig, "T+0 breakevens").y) == [0.0]
    rects = [(s.x0, s.x1) for s in fig.layout.shapes if s.type == "rect"]
    assert rects == [(94.0, 106.0), (97.0, 103.0)]  # 2σ then 1σ, of the T+7 curve
    lines = [s for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1]
    assert [s.x0 for s in lines] == [100.0]
    assert "XYZ price" in fig.layout.xaxis.title.text
