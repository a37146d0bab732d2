"""Page tables and formatting: a breach is shown as a breach, missing numbers as n/a, every figure with a unit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dashboard.format import (
    MISSING,
    format_age,
    format_number,
    format_stale_since,
    format_term_structure,
    format_vol_points,
    markdown_safe,
)
from dashboard.tables import REGIME_COLOURS, banner_for, banner_html, compliance_rows, summary_cards
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


@pytest.mark.parametrize(
    ("ratio", "text"),
    [(1.1033, "1.1033 (contango)"), (0.95, "0.9500 (backwardation)"), (1.0, "1.0000 (flat)"), (None, MISSING)],
    ids=["contango", "backwardation", "flat", "missing"],
)
def test_term_structure_says_its_shape(ratio: float | None, text: str) -> None:
    assert format_term_structure(ratio) == text


def test_vol_points_and_stale_since_carry_units_and_instants() -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert format_vol_points(0.184) == "18.4 vol pts"
    assert format_vol_points(None) == MISSING
    assert format_stale_since(now - timedelta(minutes=20), now) == "stale since 2026-11-23 14:40:00 UTC (20 min ago)"


def test_markdown_safe_escapes_dollars_outside_code_only() -> None:
    assert markdown_safe("1 $/day, 2 $/vol pt `3 $/x`\nnext") == "1 \\$/day, 2 \\$/vol pt `3 $/x`  \nnext"


def test_banner_lists_each_regime_input_with_source_and_as_of() -> None:
    report = breaching_report()
    banner = banner_for(report)
    vix, vix3m, vvix, recession = banner.inputs
    # books.breaching_report: VIX 26, VIX3M 25 (ratio 0.9615: backwardation), VVIX 110, no recession odds.
    assert vix.startswith("VIX 26.00 pts · test · as of 2026-11-23 15:00:00 UTC")
    assert "VIX3M/VIX 0.9615 (backwardation)" in vix3m
    assert vvix.startswith("VVIX 110.00 pts")
    assert recession.startswith("Recession odds n/a · missing")
    assert banner.page_title == "riskdash — High Volatility"


def test_banner_html_escapes_text() -> None:
    banner = replace(banner_for(breaching_report()), description="<script>x</script>")
    assert "<script>" not in banner_html(banner)
