"""Starts the browser loading the chart library while a cold server's Python imports and values the book.

Streamlit's frontend fetches and evaluates Plotly (a 4.7 MB bundle) only when the first chart element reaches it. On
a server's first run that element comes ~1.2 s after the page connects (module imports, then the book's first
valuation), and the fetch then sits in front of every chart. So that run sends a 10-pixel empty chart at once, from
a slot at the top of the sidebar, and clears the slot once the book is computed: the browser loads Plotly while
Python works (bench/bench_dashboard.py, cold load of the demo page: last chart 3.26 s → 2.86 s). On a warm server
the page's Python takes ~50 ms, nothing is gained, and the early Plotly evaluation would only delay the banner.

Imports only streamlit, so app.py can call it before its heavy imports.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Final

import streamlit as st

WARMED_KEY: Final = "chart_library.warmed"
"""Session-state flag: this session's browser has been sent the warm-up chart."""

WARMUP_FIGURE: Final[dict[str, Any]] = {
    "data": [{"type": "scatter", "x": [], "y": [], "hoverinfo": "skip"}],
    "layout": {"height": 10, "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "xaxis": {"visible": False},
               "yaxis": {"visible": False}},
}  # fmt: skip


def needs_warmup(state: MutableMapping[Any, Any]) -> bool:
    """True on a session's first run (and marks the session): only then has the browser not loaded Plotly yet."""
    if state.get(WARMED_KEY):
        return False
    state[WARMED_KEY] = True
    return True


class ChartWarmup:
    """The sidebar slot holding the warm-up chart; `done()` clears it once the real page is about to be drawn."""

    def __init__(self, state: MutableMapping[Any, Any], *, server_cold: bool) -> None:
        """Sends the warm-up chart on a session's first run when `server_cold` (the page's modules not yet loaded)."""
        # The slot exists on every run, so the sidebar's element positions never shift between runs.
        self._slot = st.sidebar.empty()
        self._shown = server_cold and needs_warmup(state)
        if self._shown:
            self._slot.plotly_chart(WARMUP_FIGURE, config={"staticPlot": True}, key="chart_warmup")

    def done(self) -> None:
        """Clears the warm-up chart (the library stays loaded in the browser)."""
        if self._shown:
            self._slot.empty()
            self._shown = False
