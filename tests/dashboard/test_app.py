"""The Streamlit page under AppTest on the demo book: renders, labelled demo, banner, cards, every limit."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at


def test_page_renders_without_exception(app: AppTest) -> None:
    assert not app.exception


def test_page_is_labelled_demo(app: AppTest) -> None:
    assert any("DEMO BOOK" in w.value for w in app.warning)


def test_banner_names_the_regime_and_its_clause(app: AppTest) -> None:
    banner = next(m.value for m in app.markdown if "Regime:" in m.value)
    assert "Neutral Volatility" in banner
    assert "Decided by" in banner


def test_five_summary_cards_with_units(app: AppTest) -> None:
    labels = [m.label for m in app.metric]
    assert labels == [
        "Beta-weighted delta · SPX Δ",
        "Beta-weighted gamma · SPX Δ/pt",
        "Theta · $/day",
        "Vega · $/vol pt",
        "Theta / vega · |θ|/|ν|",
    ]
    for metric in app.metric:
        float(metric.value.replace(",", ""))  # a number, not n/a, for the demo book


def test_compliance_table_lists_every_limit_and_shows_the_demo_breach(app: AppTest) -> None:
    table = app.dataframe[0].value
    assert table["limit"].tolist() == ["max_beta_delta", "max_negative_vega", "min_daily_theta", "max_gamma"]
    assert "BREACH" in table["status"].tolist()
