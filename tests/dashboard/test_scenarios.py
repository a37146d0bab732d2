"""Scenario runs of a page's book: the engine called on the report's arrays, net liquidation, VIX, picked days."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest

from adapters.results import FetchResult
from config.risk_matrix import load_risk_matrix
from dashboard.book import BookInputs, demo_inputs, report_for
from dashboard.scenarios import (
    ScenarioBook,
    replay_date_range,
    run_replays,
    run_risk_graphs,
    run_stress,
    run_var,
    scenario_book,
)
from models.account import AccountValues
from risk_engine.replays import REPLAY_DATES
from tests.dashboard.books import NOW, _snapshot, spx_option

MATRIX = load_risk_matrix()
SNAPSHOT = _snapshot({"SPX": 6000.0})


@pytest.fixture(scope="module")
def demo() -> ScenarioBook:
    inputs = demo_inputs(NOW)
    return scenario_book(report_for(inputs, MATRIX, NOW), inputs, ())


def _account(account: str, net_liq: float | None) -> AccountValues:
    return AccountValues(source="ibkr", broker="IBKR", account=account, net_liquidation=net_liq, as_of=NOW)


def _lone_put_book(accounts: tuple[AccountValues, ...]) -> ScenarioBook:
    inputs = BookInputs((FetchResult(source="t", positions=(spx_option(1.0, 30.0),), fetched_at=NOW),), SNAPSHOT)
    return scenario_book(report_for(inputs, MATRIX, NOW), inputs, accounts)


def test_demo_book_has_no_net_liquidation_and_the_snapshots_vix() -> None:
    inputs = demo_inputs(NOW)
    book = scenario_book(report_for(inputs, MATRIX, NOW), inputs, ())
    assert book.net_liquidation_usd is None
    assert book.index_iv == pytest.approx(0.184)  # demo_market.yaml: VIX 18.4
    assert book.demo
    assert book.as_of == NOW


def test_net_liquidation_of_the_account_holding_the_book() -> None:
    book = _lone_put_book((_account("T1", 250_000.0), _account("OTHER", 1e9)))
    assert book.net_liquidation_usd == 250_000.0
    assert _lone_put_book((_account("T1", None),)).net_liquidation_usd is None


def test_stress_of_a_lone_long_put_loses_most_when_the_index_rises_and_vol_falls() -> None:
    grid = run_stress(_lone_put_book((_account("T1", 100_000.0),)))
    assert grid.pnl_usd.shape == (3, 41, 11)
    zero_spot, zero_vol = int(np.argmin(abs(grid.spot_shocks))), int(np.argmin(abs(grid.vol_shocks)))
    assert grid.pnl_usd[0, zero_spot, zero_vol] == pytest.approx(0.0, abs=1e-6)  # no shock, no time: no P&L
    w = grid.worst
    assert w.spot_shock >= 0.15
    assert w.vol_shock == -0.5
    # Far out of the money at lower vol the put is worth ~nothing: the worst cell loses the whole premium.
    # Black-Scholes put S = K = 6000, T = 30/365, σ = 15 %, r = 4 %, q = 0: 93.21 per unit, × 100.
    t = 30.0 / 365.0
    d1 = (0.04 + 0.15**2 / 2) * t / (0.15 * math.sqrt(t))
    d2 = d1 - 0.15 * math.sqrt(t)
    put = 6000.0 * math.exp(-0.04 * t) * _cdf(-d2) - 6000.0 * _cdf(-d1)
    assert w.pnl_usd == pytest.approx(-put * 100.0, rel=0.01)
    assert grid.pnl_pct_net_liq is not None
    assert w.pnl_pct_net_liq == pytest.approx(w.pnl_usd / 1000.0)


def _cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def test_replays_are_the_crash_days_then_the_picked_day(demo: ScenarioBook) -> None:
    run = run_replays(demo, [dt.date(2001, 9, 17), REPLAY_DATES[3]])
    assert [r.move.date for r in run.replays] == [*REPLAY_DATES, dt.date(2001, 9, 17)]
    assert run.problems == ()
    assert run.replays[0].move.assumed


def test_picked_day_without_a_close_is_a_problem_naming_the_nearest_days(demo: ScenarioBook) -> None:
    run = run_replays(demo, [dt.date(2020, 3, 14)])
    assert len(run.replays) == len(REPLAY_DATES)
    (problem,) = run.problems
    assert "2020-03-13" in problem
    assert "2020-03-16" in problem


def test_replay_date_range_starts_before_black_monday() -> None:
    first, last = replay_date_range()
    assert first < REPLAY_DATES[0] < last


def test_var_methods_in_order_with_their_ordering(demo: ScenarioBook) -> None:
    estimates = run_var(demo, paths=2_000)
    assert [e.method for e in estimates] == ["historical", "parametric", "monte_carlo"]
    for e in estimates:
        assert e.var99_usd >= e.var95_usd
        assert e.es95_usd >= e.var95_usd
        assert e.es99_usd >= e.var99_usd
    assert estimates[2].paths == 2_000


def test_risk_graphs_start_with_the_book_banded_at_vix(demo: ScenarioBook) -> None:
    graphs = run_risk_graphs(demo)
    assert graphs[0].underlying.startswith("book")
    assert graphs[0].band_iv == pytest.approx(0.184)
    assert {g.underlying for g in graphs[1:]} <= set(demo.arrays.underlying.tolist())
