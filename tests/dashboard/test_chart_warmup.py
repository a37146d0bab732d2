"""The chart warm-up: sent once per session, cleared before the page is drawn, never left on screen."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from dashboard.chart_warmup import WARMED_KEY, WARMUP_FIGURE, needs_warmup

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def test_only_a_sessions_first_run_needs_the_warmup() -> None:
    state: dict[str, object] = {}
    assert needs_warmup(state)
    assert state[WARMED_KEY] is True
    assert not needs_warmup(state)


def test_the_warmup_figure_is_a_valid_plotly_figure_with_nothing_to_show() -> None:
    import plotly.graph_objects as go

    figure = go.Figure(WARMUP_FIGURE)  # raises on an invalid property
    assert all(len(trace.x) == 0 for trace in figure.data)
    assert figure.layout.height == 10


def _sidebar_keys(at: AppTest) -> list[str]:
    return [str(chart.key) for chart in at.sidebar.get("plotly_chart")]


def test_the_page_clears_the_warmup_and_keeps_its_real_charts() -> None:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception
    assert at.session_state[WARMED_KEY] is True
    assert _sidebar_keys(at) == []  # sent on the first run, cleared once the book was computed
    assert {str(chart.key) for chart in at.get("plotly_chart")} == {"gamma_by_dte", "theta_vega"}
    at.run()
    assert _sidebar_keys(at) == []
    assert [m.value for m in at.sidebar.markdown if "✓" in m.value]  # the sidebar's own elements are intact
