"""The chart warm-up: sent on a cold server's first run of a session, cleared before the page is drawn."""

from __future__ import annotations

from pathlib import Path

import pytest
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


def _warmup_page(server_cold: bool, clear: bool) -> None:
    import streamlit as st

    from dashboard.chart_warmup import ChartWarmup

    warmup = ChartWarmup(st.session_state, server_cold=server_cold)
    st.sidebar.write("sidebar content")
    if clear:
        warmup.done()


def _sidebar_charts(at: AppTest) -> list[str]:
    return [str(chart.key) for chart in at.sidebar.get("plotly_chart")]


@pytest.mark.parametrize(
    ("server_cold", "clear", "shown"), [(True, False, True), (True, True, False), (False, False, False)]
)
def test_the_warmup_chart_is_sent_only_on_a_cold_server_and_cleared_by_done(
    server_cold: bool, clear: bool, shown: bool
) -> None:
    at = AppTest.from_function(_warmup_page, kwargs={"server_cold": server_cold, "clear": clear}).run()
    assert not at.exception
    assert _sidebar_charts(at) == (["chart_warmup"] if shown else [])
    at.run()  # a rerun of the same session never sends it again
    assert _sidebar_charts(at) == []
    assert [m.value for m in at.sidebar.markdown] == ["sidebar content"]


def test_the_page_keeps_only_its_real_charts() -> None:
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception
    assert _sidebar_charts(at) == []
    assert {str(chart.key) for chart in at.get("plotly_chart")} == {"gamma_by_dte", "theta_vega"}
