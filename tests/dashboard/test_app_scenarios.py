"""The page's scenario section and what-if form under AppTest on the demo book, against the engine's own results.

The engine is called here on the same book at the page's valuation instant (read from the page), so the page's
numbers are checked to be the engine's — not recomputed by the view, not rounded into something else.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from adapters.market_history import load_spx_vix_closes
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs, report_for
from risk_engine.arrays import PositionArrays, to_arrays
from risk_engine.replays import REPLAY_DATES, market_move, replay_book
from risk_engine.risk_graph import risk_graphs
from risk_engine.stress import stress_grid
from risk_engine.var import historical_var, monte_carlo_var, parametric_var
from tests.dashboard.test_app import APP

MATRIX = load_risk_matrix()


def _app() -> AppTest:
    return AppTest.from_file(str(APP), default_timeout=120)


def _as_of(at: AppTest) -> dt.datetime:
    caption = next(c.value for c in at.caption if c.value.startswith("Valued at "))
    return dt.datetime.fromisoformat(caption.removeprefix("Valued at ").split(" · ")[0])


def _arrays(now: dt.datetime) -> PositionArrays:
    inputs = demo_inputs(now)
    return to_arrays(inputs.positions, inputs.market, now)


def _charts(at: AppTest) -> dict[str, Any]:
    return {str(chart.key): json.loads(chart.proto.spec) for chart in at.get("plotly_chart")}


def _frame(at: AppTest, column: str) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


@pytest.fixture(scope="module")
def closed() -> AppTest:
    at = _app()
    at.run()
    return at


def test_scenario_section_is_closed_by_default_and_computes_nothing(closed: AppTest) -> None:
    assert not closed.exception
    assert closed.radio(key="scenario.view").value == "Closed"
    assert not {"stress_heatmap", "stress_error", "risk_graph"} & set(_charts(closed))
    assert not any("S&P 500 move %" in frame.value.columns for frame in closed.dataframe)


def test_stress_heatmap_shows_the_engines_grid_with_the_worst_cell_marked() -> None:
    at = _app()
    at.run()
    at.radio(key="scenario.view").set_value("Stress grid").run()
    assert not at.exception
    grid = stress_grid(_arrays(_as_of(at)))
    charts = _charts(at)
    heatmap = next(t for t in charts["stress_heatmap"]["data"] if t["type"] == "heatmap")
    np.testing.assert_allclose(np.array(heatmap["z"], dtype=float), grid.pnl_usd[0], rtol=1e-9)
    worst = next(t for t in charts["stress_heatmap"]["data"] if t.get("name") == "worst cell")
    row, column = np.unravel_index(int(np.argmin(grid.pnl_usd[0])), grid.pnl_usd[0].shape)
    assert (worst["y"][0], worst["x"][0]) == (heatmap["y"][row], heatmap["x"][column])
    error = next(t for t in charts["stress_error"]["data"] if t["type"] == "heatmap")
    np.testing.assert_allclose(np.array(error["z"], dtype=float), grid.approximation_error_usd[0], rtol=1e-9)
    # The demo book has no account values: % of net liquidation is unknown, so that choice is off.
    assert at.radio(key="scenario.unit").disabled
    assert any(f"{grid.worst.pnl_usd:,.0f} USD" in c.value for c in at.caption)


def test_stress_horizon_selector_switches_to_seven_days() -> None:
    at = _app()
    at.run()
    at.radio(key="scenario.view").set_value("Stress grid").run()
    at.radio(key="scenario.horizon").set_value("+7 days").run()
    grid = stress_grid(_arrays(_as_of(at)))
    heatmap = next(t for t in _charts(at)["stress_heatmap"]["data"] if t["type"] == "heatmap")
    np.testing.assert_allclose(np.array(heatmap["z"], dtype=float), grid.pnl_usd[2], rtol=1e-9)


def test_replay_table_lists_the_crash_days_with_1987_assumed_and_a_picked_day() -> None:
    at = _app()
    at.run()
    at.radio(key="scenario.view").set_value("Crash replays").run()
    at.date_input(key="scenario.replay_day").set_value(dt.date(2001, 9, 17)).run()
    assert not at.exception
    table = _frame(at, "S&P 500 move %")
    assert table["date"].tolist() == [d.isoformat() for d in (*REPLAY_DATES, dt.date(2001, 9, 17))]
    # Black Monday: SPX 282.70 → 224.84, −20.47 %; VIX starts in 1990, so its IV shock is an assumption.
    black_monday = table.iloc[0]
    assert black_monday["S&P 500 move %"] == pytest.approx(-20.47, abs=0.005)
    assert black_monday["IV shock source"].startswith("ASSUMED")
    assert not table.iloc[1:]["IV shock source"].str.startswith("ASSUMED").any()
    history = load_spx_vix_closes()
    moves = [market_move(history, day) for day in (*REPLAY_DATES, dt.date(2001, 9, 17))]
    replays = replay_book(_arrays(_as_of(at)), moves)
    np.testing.assert_allclose(table["P&L USD"].to_numpy(float), [round(r.pnl_usd) for r in replays], atol=0.5)


def test_picked_weekend_is_a_warning_naming_the_nearest_trading_days() -> None:
    at = _app()
    at.run()
    at.radio(key="scenario.view").set_value("Crash replays").run()
    at.date_input(key="scenario.replay_day").set_value(dt.date(2020, 3, 14)).run()
    assert not at.exception
    warning = next(w.value for w in at.warning if "2020-03-14" in w.value)
    assert "2020-03-13" in warning
    assert "2020-03-16" in warning
    assert len(_frame(at, "S&P 500 move %")) == len(REPLAY_DATES)


def test_var_table_has_three_methods_equal_to_the_engine() -> None:
    at = _app()
    at.run()
    at.radio(key="scenario.view").set_value("VaR / ES").run()
    assert not at.exception
    table = _frame(at, "VaR 99 % USD")
    arrays, history = _arrays(_as_of(at)), load_spx_vix_closes()
    estimates = (historical_var(arrays, history), parametric_var(arrays, history), monte_carlo_var(arrays, history))
    assert table["method"].tolist() == ["historical", "parametric", "monte carlo"]
    for column, field in (("VaR 95 % USD", "var95_usd"), ("VaR 99 % USD", "var99_usd"), ("ES 99 % USD", "es99_usd")):
        np.testing.assert_allclose(table[column].to_numpy(float), [round(getattr(e, field)) for e in estimates])
    assert "10,000 paths" in table.iloc[2]["window / paths"]
    assert all(table["as of"] == estimates[0].as_of.isoformat())


def test_risk_graph_of_the_book_and_of_one_underlying() -> None:
    at = _app()
    at.run()
    at.radio(key="scenario.view").set_value("Risk graph").run()
    assert not at.exception
    graphs = risk_graphs(_arrays(_as_of(at)), index_iv=0.184)  # demo_market.yaml: VIX 18.4
    selector = at.selectbox(key="scenario.graph")
    assert list(selector.options) == [g.underlying for g in graphs]
    lines = [t for t in _charts(at)["risk_graph"]["data"] if t.get("mode") == "lines"]
    assert [t["name"].split(" (")[0] for t in lines] == [c.label for c in graphs[0].curves]
    np.testing.assert_allclose(lines[0]["y"], graphs[0].curves[0].pnl_usd, rtol=1e-9)
    selector.set_value(graphs[1].underlying).run()
    lines = [t for t in _charts(at)["risk_graph"]["data"] if t.get("mode") == "lines"]
    np.testing.assert_allclose(lines[2]["y"], graphs[1].curves[2].pnl_usd, rtol=1e-9)


def _open_what_if(at: AppTest) -> AppTest:
    at.session_state["whatif.open"] = True  # the expander is lazy: its form is drawn only while open
    return at.run()


def _check(at: AppTest, lines: str) -> AppTest:
    _open_what_if(at)
    at.text_area(key="whatif.lines").set_value(lines)
    return at.button(key="whatif.submit").click().run()


def test_what_if_form_says_it_is_read_only_and_is_drawn_only_when_opened(closed: AppTest) -> None:
    (box,) = [e for e in closed.expander if e.label.startswith("What-if trade")]
    assert "read-only: nothing is sent" in box.label
    assert not closed.text_area  # closed: no form on the page
    opened = _open_what_if(closed)
    assert any("nothing is sent to any broker" in c.value for c in opened.caption)
    assert [t.key for t in opened.text_area] == ["whatif.lines"]


def test_what_if_of_an_empty_trade_changes_nothing() -> None:
    at = _app()
    at.run()
    _check(at, "")
    assert not at.exception
    greeks = _frame(at, "change")
    assert (greeks["before"] == greeks["after"]).all()
    limits = _frame(at, "status after")
    assert (limits["status before"] == limits["status after"]).all()
    assert (limits["value before"] == limits["value after"]).all()


def test_breaching_what_if_fails_and_names_the_limit() -> None:
    at = _app()
    at.run()
    _check(at, "SPY 2000")  # + about 200 SPX deltas on the demo book's ~257: past the neutral limit of 300
    assert not at.exception
    verdict = next(m.value for m in at.markdown if "Verdict:" in m.value)
    assert "Verdict: FAIL" in verdict
    assert "max_beta_delta" in verdict
    limits = _frame(at, "status after")
    row = limits[limits["limit"] == "max_beta_delta"].iloc[0]
    assert row["status after"] == "BREACH"
    report = report_for(demo_inputs(_as_of(at)), MATRIX, _as_of(at))
    assert _frame(at, "change").iloc[0]["before"] == f"{report.totals.beta_weighted_delta:,.2f}"


def test_what_if_line_that_is_not_a_leg_is_listed_and_not_checked() -> None:
    at = _app()
    at.run()
    _check(at, "SPY 2000\nSPY 2027-01-15 560 X -3")
    assert not at.exception
    problems = _frame(at, "text")
    assert problems["leg"].tolist() == ["line 2"]
    assert "right" in problems.iloc[0]["reason"]
    assert not any("Verdict:" in m.value for m in at.markdown)


def test_what_if_small_form_leg_is_checked() -> None:
    at = _app()
    _open_what_if(at)
    at.text_input(key="whatif.underlying").set_value("SPY")
    at.number_input(key="whatif.quantity").set_value(2000.0)
    at.button(key="whatif.submit").click().run()
    assert not at.exception
    legs = _frame(at, "strike")
    assert legs[["symbol", "qty"]].values.tolist() == [["SPY", "+2,000"]]
