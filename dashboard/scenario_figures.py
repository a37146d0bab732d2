"""Figures and tables of the scenario section: stress heatmap, Greeks-error heatmap, replays, VaR/ES, risk graph.

Owns only drawing and formatting: every number shown is a risk_engine result (stress, replays, var, risk_graph).
Shocks are fractions in the engine and shown in percent; P&L in USD, losses of VaR/ES positive.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import numpy as np
import plotly.graph_objects as go

from dashboard.format import MISSING, format_number
from risk_engine.greeks import FloatArray
from risk_engine.replays import Replay
from risk_engine.risk_graph import RiskGraph
from risk_engine.stress import StressGrid
from risk_engine.var import VarEstimate

__all__ = [
    "WORST_MARKER",
    "approximation_error_figure",
    "horizon_label",
    "replay_rows",
    "risk_graph_figure",
    "shock_labels",
    "stress_heatmap",
    "var_rows",
    "worst_cell_text",
]

_PERCENT: Final = 100.0
WORST_MARKER: Final = "worst cell"
"""Name of the heatmap trace that marks the shown horizon's worst cell."""
_LOSS_GAIN: Final = [[0.0, "#c62828"], [0.5, "#f5f5f5"], [1.0, "#2e7d32"]]
_ERROR_SCALE: Final = [[0.0, "#1565c0"], [0.5, "#f5f5f5"], [1.0, "#ef6c00"]]
_CURVE_COLOURS: Final = ("#1565c0", "#7b1fa2", "#2e7d32")
_BAND_1SD: Final = "rgba(21,101,192,0.16)"
_BAND_2SD: Final = "rgba(21,101,192,0.07)"


def horizon_label(days: float) -> str:
    """`now`, `+1 day`, `+7 days`."""
    if days == 0.0:
        return "now"
    return f"+{days:g} day" + ("" if days == 1.0 else "s")


def shock_labels(shocks: FloatArray) -> list[str]:
    """Fractions as signed whole percents: −0.2 → `−20 %`, 0 → `0 %`."""
    return [f"{value * _PERCENT:+.0f} %".replace("+0 %", "0 %").replace("-", "−") for value in shocks.tolist()]


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _worst_at(values: FloatArray) -> tuple[int, int] | None:
    """(row, column) of the lowest finite value, or None when none is finite."""
    if not np.isfinite(values).any():
        return None
    row, column = np.unravel_index(int(np.nanargmin(np.where(np.isfinite(values), values, np.nan))), values.shape)
    return int(row), int(column)


def stress_heatmap(grid: StressGrid, horizon_index: int, *, percent: bool, as_of: datetime) -> go.Figure:
    """P&L of one horizon: index move down the rows, relative IV move across; the horizon's worst cell marked.

    Args:
        grid: The stress grid.
        horizon_index: Index into grid.horizons_days.
        percent: Colour by % of net liquidation (needs grid.pnl_pct_net_liq) instead of USD.
        as_of: Valuation instant, for the title.

    Raises:
        ValueError: percent was asked for but net liquidation is unknown.
    """
    if percent and grid.pnl_pct_net_liq is None:
        raise ValueError("stress heatmap: % of net liquidation asked for, but net liquidation is unknown")
    usd = grid.pnl_usd[horizon_index]
    pct = None if grid.pnl_pct_net_liq is None else grid.pnl_pct_net_liq[horizon_index]
    z = pct if percent and pct is not None else usd
    unit = "% of net liq" if percent else "USD"
    x, y = shock_labels(grid.vol_shocks), shock_labels(grid.spot_shocks)
    custom = np.stack([usd, pct if pct is not None else np.full_like(usd, np.nan)], axis=-1)
    pct_hover = "%{customdata[1]:,.2f} % of net liq" if pct is not None else "% of net liq unknown"
    limit = float(np.nanmax(np.abs(z))) if np.isfinite(z).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=z.tolist(),
            x=x,
            y=y,
            customdata=custom.tolist(),
            colorscale=_LOSS_GAIN,
            zmid=0.0,
            zmin=-limit,
            zmax=limit,
            colorbar={"title": {"text": unit}},
            name="P&L",
            hovertemplate=f"index %{{y}}, IV %{{x}}: %{{customdata[0]:,.0f}} USD · {pct_hover}<extra></extra>",
        )
    )
    worst = _worst_at(z)
    if worst is not None:
        row, column = worst
        fig.add_scatter(
            x=[x[column]], y=[y[row]], mode="markers+text", name=WORST_MARKER,
            marker={"symbol": "x", "size": 14, "color": "#000000", "line": {"width": 2, "color": "#ffffff"}},
            text=[f"worst {format_number(float(usd[row, column]), 'USD', 0)}"], textposition="middle right",
            hovertemplate=f"worst cell at {horizon_label(float(grid.horizons_days[horizon_index]))}<extra></extra>",
        )  # fmt: skip
    fig.update_xaxes(title_text="implied vol change (relative)", type="category")
    fig.update_yaxes(title_text="index move (each underlying × its β)", type="category")
    horizon = horizon_label(float(grid.horizons_days[horizon_index]))
    title = f"Stress P&L · {horizon} · {unit} · as of {as_of:%Y-%m-%d %H:%M %Z}"
    return _layout(fig, title)


def approximation_error_figure(grid: StressGrid, horizon_index: int, *, as_of: datetime) -> go.Figure:
    """Where the Greeks lie: Δ-Γ-ν-θ estimate minus full revaluation (USD) for one horizon."""
    error = grid.approximation_error_usd[horizon_index]
    limit = float(np.nanmax(np.abs(error))) if np.isfinite(error).any() else 1.0
    fig = go.Figure(
        go.Heatmap(
            z=error.tolist(),
            x=shock_labels(grid.vol_shocks),
            y=shock_labels(grid.spot_shocks),
            colorscale=_ERROR_SCALE,
            zmid=0.0,
            zmin=-limit,
            zmax=limit if limit > 0.0 else 1.0,
            colorbar={"title": {"text": "USD"}},
            name="Greeks error",
            hovertemplate="index %{y}, IV %{x}: Greeks estimate − full revaluation %{z:,.0f} USD<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="implied vol change (relative)", type="category")
    fig.update_yaxes(title_text="index move", type="category")
    horizon = horizon_label(float(grid.horizons_days[horizon_index]))
    title = f"Greeks error (Δ-Γ-ν-θ estimate − full revaluation) · {horizon} · USD · as of {as_of:%Y-%m-%d %H:%M %Z}"
    return _layout(fig, title)


def worst_cell_text(grid: StressGrid) -> str:
    """The grid's worst cell over every horizon: shocks, horizon, P&L in USD and % of net liquidation."""
    w = grid.worst
    pct = "% of net liquidation unknown" if w.pnl_pct_net_liq is None else f"{w.pnl_pct_net_liq:,.2f} % of net liq"
    return (
        f"Worst cell of the grid: index {w.spot_shock * _PERCENT:+.0f} %, IV {w.vol_shock * _PERCENT:+.0f} % "
        f"(relative), {horizon_label(w.horizon_days)}: {format_number(w.pnl_usd, 'USD', 0)} ({pct})"
    )


def _pct(value: float | None) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:,.2f} %"


def replay_rows(replays: Sequence[Replay]) -> list[dict[str, object]]:
    """One row per replayed day: date, real S&P 500 move, IV shock (real VIX change or ASSUMED), P&L USD and %."""
    rows: list[dict[str, object]] = []
    for r in replays:
        m = r.move
        rows.append(
            {
                "date": m.date.isoformat(),
                "vs close of": m.previous_date.isoformat(),
                "S&P 500 move %": round(m.index_move * _PERCENT, 2),
                "IV shock %": round(m.vix_change * _PERCENT, 1),
                "IV shock source": "ASSUMED (no VIX before 1990)" if m.assumed else "real VIX change",
                "P&L USD": round(r.pnl_usd, 0) if math.isfinite(r.pnl_usd) else None,
                "P&L % net liq": _pct(r.pnl_pct_net_liq),
                "note": m.note,
            }
        )
    return rows


def var_rows(estimates: Sequence[VarEstimate]) -> list[dict[str, object]]:
    """One row per method: VaR and ES at 95 and 99 % (USD losses), horizon, window or paths, as-of."""
    rows: list[dict[str, object]] = []
    for e in estimates:
        sample = f"{e.paths:,} paths, seed {e.seed}; " if e.paths is not None else ""
        rows.append(
            {
                "method": e.method.replace("_", " "),
                "VaR 95 % USD": round(e.var95_usd, 0),
                "VaR 99 % USD": round(e.var99_usd, 0),
                "ES 95 % USD": round(e.es95_usd, 0),
                "ES 99 % USD": round(e.es99_usd, 0),
                "horizon": horizon_label(e.horizon_days),
                "window / paths": f"{sample}{e.window_days} days {e.window_start}…{e.as_of}",
                "as of": e.as_of.isoformat(),
                "note": e.note,
            }
        )
    return rows


def risk_graph_figure(graph: RiskGraph, *, as_of: datetime) -> go.Figure:
    """P&L (USD) against price at T+0, T+k and expiration; breakevens, 1σ/2σ bands and today's price marked.

    The bands drawn are those of the longest curve that has them (σ from graph.band_iv over its horizon).
    """
    fig = go.Figure()
    banded = [c for c in graph.curves if c.band_1sd is not None and c.band_2sd is not None]
    if banded:
        curve = max(banded, key=lambda c: c.horizon_days)
        assert curve.band_1sd is not None  # filtered above
        assert curve.band_2sd is not None
        for (low, high), fill, name in ((curve.band_2sd, _BAND_2SD, "2σ"), (curve.band_1sd, _BAND_1SD, "1σ")):
            fig.add_vrect(x0=low, x1=high, fillcolor=fill, line_width=0, layer="below",
                          annotation_text=f"{name} to {curve.label}", annotation_position="top left")  # fmt: skip
    prices = graph.prices.tolist()
    for colour, curve in zip(_CURVE_COLOURS, graph.curves, strict=False):
        fig.add_scatter(
            x=prices, y=curve.pnl_usd.tolist(), mode="lines", line={"color": colour},
            name=f"{curve.label} ({horizon_label(curve.horizon_days)})",
            hovertemplate=f"{curve.label}: price %{{x:,.2f}} → %{{y:,.0f}} USD<extra></extra>",
        )  # fmt: skip
        if curve.breakevens:
            fig.add_scatter(
                x=list(curve.breakevens), y=[0.0] * len(curve.breakevens), mode="markers", showlegend=False,
                name=f"{curve.label} breakevens", marker={"symbol": "diamond", "size": 8, "color": colour},
                hovertemplate=f"{curve.label} breakeven %{{x:,.2f}}<extra></extra>",
            )  # fmt: skip
    fig.add_vline(x=graph.current_price, line_dash="dash", line_color="#616161",
                  annotation_text=f"now {graph.current_price:,.2f}", annotation_position="bottom right")  # fmt: skip
    fig.add_hline(y=0.0, line_color="#9e9e9e", line_width=1)
    fig.update_xaxes(title_text="SPX level" if graph.underlying.startswith("book") else f"{graph.underlying} price")
    fig.update_yaxes(title_text="P&L · USD (vs today's value)")
    band = "no IV for bands" if graph.band_iv is None else f"bands at IV {graph.band_iv * _PERCENT:.1f} vol pts"
    title = f"Risk graph · {graph.underlying} · {graph.positions} positions · {band} · as of {as_of:%Y-%m-%d %H:%M %Z}"
    return _layout(fig, title)
