"""Regime replay over the shipped CBOE history."""

from __future__ import annotations

import datetime

import pytest

from adapters.market_history import HistoryError
from config.risk_matrix import load_risk_matrix
from dashboard.replay import replay_bounds, replay_regime

MATRIX = load_risk_matrix()


def test_covid_crash_close_replays_as_crisis() -> None:
    # CBOE VIX closed at a record 82.69 on 2020-03-16; the crisis clause is VIX > 35.
    replay = replay_regime(datetime.date(2020, 3, 16), MATRIX)
    assert replay.day.vix == 82.69
    assert replay.result.regime == "crisis_mode"
    assert replay.title == "2020-03-16: Crisis Mode"
    assert "VIX 82.69 pts" in replay.inputs_text
    assert "backwardation" in replay.inputs_text


def test_calm_day_replays_as_low_volatility_with_recession_odds_missing() -> None:
    # CBOE closes of 2017-11-03: VIX 9.14, VIX3M 12.42 (ratio 1.36 > 1.10, VIX < 15): low volatility.
    replay = replay_regime(datetime.date(2017, 11, 3), MATRIX)
    assert (replay.day.vix, replay.day.vix3m) == (9.14, 12.42)
    assert replay.result.regime == "low_volatility"
    assert "contango" in replay.inputs_text
    # The high-volatility clause asks for Polymarket odds, which past days do not have.
    assert "Polymarket_Recession_Prob" in replay.result.missing_inputs


def test_weekend_is_refused_with_the_nearest_trading_days() -> None:
    with pytest.raises(HistoryError, match=r"Saturday.*before 2020-03-13, after 2020-03-16"):
        replay_regime(datetime.date(2020, 3, 14), MATRIX)


def test_bounds_are_the_history_range() -> None:
    first, last = replay_bounds()
    assert first < datetime.date(2007, 1, 1) < last
