"""Session bookkeeping: the regime-change alert stays until acknowledged; refresh nonce and auto-refresh clock."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from dashboard.regime_alert import acknowledge, observe_regime
from dashboard.session import auto_refresh_due, bump_refresh, format_interval, mark_page_run, nonce
from tests.dashboard.books import NOW


def test_first_refresh_only_records_the_regime() -> None:
    state: dict[str, Any] = {}
    assert observe_regime(state, "neutral_volatility", NOW) is None


def test_regime_change_raises_an_alert_that_stays_until_acknowledged() -> None:
    state: dict[str, Any] = {}
    observe_regime(state, "neutral_volatility", NOW)
    alert = observe_regime(state, "high_volatility", NOW + timedelta(minutes=1))
    assert alert is not None
    assert "Neutral Volatility → High Volatility" in alert.text
    assert observe_regime(state, "high_volatility", NOW + timedelta(minutes=2)) == alert
    acknowledge(state)
    assert observe_regime(state, "high_volatility", NOW + timedelta(minutes=3)) is None


def test_change_and_change_back_before_acknowledging_still_alerts_from_the_first_regime() -> None:
    state: dict[str, Any] = {}
    observe_regime(state, "neutral_volatility", NOW)
    observe_regime(state, "high_volatility", NOW + timedelta(minutes=1))
    alert = observe_regime(state, "crisis_mode", NOW + timedelta(minutes=2))
    assert alert is not None
    assert (alert.previous, alert.current) == ("neutral_volatility", "crisis_mode")


def test_refresh_button_bumps_the_nonce() -> None:
    state: dict[str, Any] = {}
    assert nonce(state) == 0
    assert bump_refresh(state) == 1
    assert nonce(state) == 1


def test_auto_refresh_is_due_only_after_the_interval_and_asks_for_fresh_data() -> None:
    state: dict[str, Any] = {}
    mark_page_run(state, 100.0)
    assert not auto_refresh_due(state, 100.0, 30)  # the fragment's inline run right after the page
    assert not auto_refresh_due(state, 129.9, 30)
    assert auto_refresh_due(state, 130.0, 30)
    assert nonce(state) == 1


def test_auto_refresh_off_is_never_due() -> None:
    state: dict[str, Any] = {}
    mark_page_run(state, 0.0)
    assert not auto_refresh_due(state, 1e9, 0)


@pytest.mark.parametrize(("seconds", "text"), [(0, "off"), (30, "30 s"), (60, "1 min"), (300, "5 min")])
def test_interval_labels(seconds: int, text: str) -> None:
    assert format_interval(seconds) == text
