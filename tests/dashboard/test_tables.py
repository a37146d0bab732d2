"""Page tables and formatting: a breach is shown as a breach, missing numbers as n/a, every figure with a unit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.format import MISSING, format_age, format_number
from dashboard.tables import REGIME_COLOURS, banner_for, compliance_rows, summary_cards
from risk_engine.limits import LimitStatus
from tests.dashboard.books import breaching_report


def test_breaching_book_shows_breach_in_table_and_card() -> None:
    report = breaching_report()
    rows = {row["limit"]: row for row in compliance_rows(report)}
    assert rows["max_beta_delta"]["status"] == "BREACH"
    delta_card = summary_cards(report)[0]
    assert delta_card.status is LimitStatus.BREACH
    assert "breach" in delta_card.limit_text


def test_banner_colour_follows_regime() -> None:
    banner = banner_for(breaching_report())
    assert banner.colour == REGIME_COLOURS["high_volatility"]
    assert banner.title == "Regime: High Volatility"


@pytest.mark.parametrize(("value", "text"), [(None, MISSING), (float("nan"), MISSING), (-1234.5, "-1,234.50 $/day")])
def test_numbers_carry_units_and_missing_is_never_zero(value: float | None, text: str) -> None:
    assert format_number(value, "$/day") == text


def test_age_says_how_old_an_input_is() -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert "3 min ago" in format_age(now - timedelta(minutes=3), now)
    assert format_age(None, now) == "as of: unknown"
