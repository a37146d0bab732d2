"""Historical replays: moves come from the shipped real closes; 1987's IV shock is a flagged assumption."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from adapters.market_history import load_spx_vix_closes
from risk_engine.replays import ASSUMED_IV_SHOCK_1987, REPLAY_DATES, market_move, replay_book
from tests.risk_engine.scenario_book import book


def test_black_monday_uses_the_real_index_move_and_an_assumed_iv_shock() -> None:
    move = market_move(load_spx_vix_closes(), datetime.date(1987, 10, 19))
    # S&P 500 closes: 282.70 on Friday 1987-10-16, 224.84 on Black Monday (−20.47 %).
    assert (move.spx_previous_close, move.spx_close) == (282.70, 224.84)
    assert round(move.index_move * 100, 2) == -20.47
    assert move.previous_date == datetime.date(1987, 10, 16)
    assert move.assumed
    assert move.vix_change == ASSUMED_IV_SHOCK_1987
    assert move.vix_close is None
    assert "assumption" in move.note


def test_assumed_iv_shock_is_configurable() -> None:
    move = market_move(load_spx_vix_closes(), datetime.date(1987, 10, 19), assumed_iv_shock=2.5)
    assert move.vix_change == 2.5


def test_volmageddon_uses_the_real_vix_closes() -> None:
    move = market_move(load_spx_vix_closes(), datetime.date(2018, 2, 5))
    # shared/realdata NOTES.md: VIX 17.31 on 2018-02-02 → 37.32 on 2018-02-05 (+115.6 %).
    assert (move.vix_previous_close, move.vix_close) == (17.31, 37.32)
    assert round(move.vix_change * 100, 1) == 115.6
    assert not move.assumed


def test_march_2020_closes_match_the_published_levels() -> None:
    history = load_spx_vix_closes()
    assert market_move(history, datetime.date(2020, 3, 16)).vix_close == 82.69  # record VIX close
    assert market_move(history, datetime.date(2020, 3, 23)).spx_close == 2237.40  # the 2020 low
    assert round(market_move(history, datetime.date(2020, 3, 16)).index_move * 100, 2) == -11.98


def test_every_default_replay_day_is_in_the_shipped_data_and_only_1987_is_assumed() -> None:
    history = load_spx_vix_closes()
    moves = [market_move(history, day) for day in REPLAY_DATES]
    assert [m.date for m in moves if m.assumed] == [datetime.date(1987, 10, 19)]
    assert all(m.index_move < 0.0 and m.vix_change > 0.0 for m in moves)


def test_a_weekend_is_rejected_naming_the_nearest_trading_days() -> None:
    with pytest.raises(ValueError, match=r"2024-08-02.*2024-08-05"):
        market_move(load_spx_vix_closes(), datetime.date(2024, 8, 4))


def test_replay_of_a_stock_is_its_beta_times_the_real_move() -> None:
    history = load_spx_vix_closes()
    move = market_move(history, datetime.date(2024, 8, 5))
    p = book({"kind": "STOCK", "quantity": 100.0, "multiplier": 1.0, "spot": 400.0, "beta": 1.2})
    (replay,) = replay_book(p, [move], net_liquidation_usd=80_000.0)
    expected = 100.0 * 400.0 * 1.2 * (move.spx_close / move.spx_previous_close - 1.0)
    assert replay.pnl_usd == pytest.approx(expected, rel=1e-12)
    assert replay.pnl_pct_net_liq == pytest.approx(expected / 80_000.0 * 100.0)


def test_replay_of_a_long_put_gains_on_a_crash_day() -> None:
    history = load_spx_vix_closes()
    moves = [market_move(history, day) for day in REPLAY_DATES]
    replays = replay_book(book({"is_call": False, "strike": 100.0}), moves)
    assert [r.move.date for r in replays] == list(REPLAY_DATES)
    assert all(r.pnl_usd > 0.0 for r in replays)
    assert np.argmax([r.pnl_usd for r in replays]) == 0  # 1987 is the largest fall
    assert replays[0].pnl_pct_net_liq is None


def test_no_moves_no_replays() -> None:
    assert replay_book(book({}), []) == ()
