"""Plotly figures of the report: gamma by DTE bucket (stacked by underlying), theta and vega by bucket, theta/vega.

Owns only drawing: every number plotted is a report figure (risk_engine computes them), regrouped for the chart.
Colours are mid-tone so both the light and the dark Streamlit theme read them; backgrounds stay transparent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from config.risk_matrix import ThetaVegaZone
from dashboard.format import format_number
from risk_engine.aggregation import group_totals
from risk_engine.report import RiskReport

__all__ = [
    "NEAR_EXPIRY_COLOUR",
    "GammaStack",
    "gamma_by_dte_figure",
    "gamma_stack",
    "greeks_by_dte_figure",
    "near_expiry_warning_text",
    "theta_vega_figure",
]

NEAR_EXPIRY_COLOUR: Final = "#c62828"
_GREEN: Final = "rgba(46,125,50,0.18)"
_RED: Final = "rgba(198,40,40,0.14)"
_TARGET: Final = "#2e7d32"
_BOOK: Final = "#7b1fa2"
_SEP: Final = "\x1f"  # joins bucket and underlying labels; never part of a symbol
_AXIS_MARGIN: Final = 1.15


@dataclass(frozen=True)
class GammaStack:
    """Beta-weighted gamma (SPX deltas per SPX point) per underlying and DTE bucket: values[underlying, bucket]."""

    buckets: tuple[str, ...]
    underlyings: tuple[str, ...]
    values: np.ndarray


def gamma_stack(report: RiskReport) -> GammaStack:
    """Beta-weighted gamma of every underlying in every DTE bucket (the report's buckets, in the YAML's order)."""
    buckets = report.by_bucket.labels
    underlyings = report.by_underlying.labels
    keys = np.char.add(np.char.add(report.dte_bucket.astype(np.str_), _SEP), report.arrays.underlying)
    grouped = group_totals(keys, report.greeks)
    values = np.zeros((len(underlyings), len(buckets)), dtype=np.float64)
    row = {u: i for i, u in enumerate(underlyings)}
    col = {b: j for j, b in enumerate(buckets)}
    for label, gamma in zip(grouped.labels, grouped.beta_weighted_gamma.tolist(), strict=True):
        bucket, underlying = label.split(_SEP, 1)
        values[row[underlying], col[bucket]] = gamma
    return GammaStack(buckets=buckets, underlyings=underlyings, values=values)


def near_expiry_warning_text(report: RiskReport) -> str | None:
    """The Taleb warning when |gamma| in the near-expiry bucket exceeds the YAML threshold, else None."""
    if not report.near_expiry_warning:
        return None
    return (
        f"Taleb warning: |beta-weighted gamma| in the {report.near_expiry_bucket} DTE bucket is "
        f"{format_number(abs(report.near_expiry_gamma), 'SPX Δ/pt')}, past the threshold of "
        f"{format_number(report.near_expiry_gamma_limit, 'SPX Δ/pt')}: near-expiry gamma moves the book fastest."
    )


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(
        title=title,
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def gamma_by_dte_figure(report: RiskReport) -> go.Figure:
    """Bars of beta-weighted gamma per DTE bucket, stacked by underlying; the near bucket red past its threshold."""
    stack = gamma_stack(report)
    fig = go.Figure()
    for underlying, values in zip(stack.underlyings, stack.values, strict=True):
        fig.add_bar(
            name=underlying,
            x=list(stack.buckets),
            y=values.tolist(),
            hovertemplate=f"{underlying} · %{{x}} DTE: %{{y:,.3f}} SPX Δ/pt<extra></extra>",
        )
    fig.update_layout(barmode="relative")
    fig.update_yaxes(title_text="beta-weighted gamma · SPX deltas per SPX point", zeroline=True)
    fig.update_xaxes(title_text="days to expiry", type="category", categoryorder="array", categoryarray=stack.buckets)
    warning = near_expiry_warning_text(report)
    if warning is not None and report.near_expiry_bucket in stack.buckets:
        at = stack.buckets.index(report.near_expiry_bucket)
        fig.add_vrect(
            x0=at - 0.5, x1=at + 0.5, fillcolor=NEAR_EXPIRY_COLOUR, opacity=0.25, line_width=2,
            line_color=NEAR_EXPIRY_COLOUR, layer="below", name="near-expiry gamma past threshold",
        )  # fmt: skip
        fig.add_annotation(
            x=report.near_expiry_bucket, y=1.0, yref="paper", text="Taleb: gamma past threshold",
            showarrow=False, font={"color": NEAR_EXPIRY_COLOUR}, yanchor="bottom",
        )  # fmt: skip
    return _layout(fig, f"Gamma by DTE · as of {report.as_of:%Y-%m-%d %H:%M %Z}")


def greeks_by_dte_figure(report: RiskReport) -> go.Figure:
    """Theta ($/day) and vega ($/vol pt) per DTE bucket, side by side."""
    buckets = list(report.by_bucket.labels)
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Theta · $/day", "Vega · $/vol pt"))
    fig.add_bar(
        x=buckets, y=report.by_bucket.theta_per_day.tolist(), name="theta $/day", row=1, col=1,
        marker_color="#2e7d32", hovertemplate="%{x} DTE: %{y:,.2f} $/day<extra></extra>",
    )  # fmt: skip
    fig.add_bar(
        x=buckets, y=report.by_bucket.vega_per_vol_point.tolist(), name="vega $/vol pt", row=1, col=2,
        marker_color="#1565c0", hovertemplate="%{x} DTE: %{y:,.2f} $/vol pt<extra></extra>",
    )  # fmt: skip
    fig.update_xaxes(type="category", title_text="days to expiry")
    return _layout(fig, f"Theta and vega by DTE · as of {report.as_of:%Y-%m-%d %H:%M %Z}")


def _wedge(
    sx: float, sy: float, low: float, high: float, x_max: float, y_max: float
) -> tuple[list[float], list[float]]:
    """Polygon of the points whose |theta|/|vega| lies in [low, high] in one quadrant, clipped to the axes."""
    x_edge = sx * x_max
    ys = [min(low * x_max, y_max), min(high * x_max, y_max)]
    xs = [0.0, x_edge, x_edge]
    yv = [0.0, sy * ys[0], sy * ys[1]]
    if high * x_max > y_max:  # the upper edge leaves through the top of the plot
        xs.append(sx * y_max / high)
        yv.append(sy * y_max)
    return [*xs, 0.0], [*yv, 0.0]


def theta_vega_figure(report: RiskReport, zone: ThetaVegaZone) -> go.Figure:
    """Vega on x, theta on y: Sebastian's green and red zones, the target line, the book and each underlying.

    Zones are wedges of |θ|/|ν| drawn in the book's quadrant (sign of its vega and theta): green from
    green_low to green_high, red below red_below and above red_above; the target is a dashed line.
    """
    totals, groups = report.totals, report.by_underlying
    vegas = np.append(groups.vega_per_vol_point, totals.vega_per_vol_point)
    thetas = np.append(groups.theta_per_day, totals.theta_per_day)
    sx = -1.0 if totals.vega_per_vol_point < 0 else 1.0
    sy = -1.0 if totals.theta_per_day < 0 else 1.0
    # Zones fill the book's quadrant out to the farthest point on that side; the axes show every point.
    x_max = max(float(np.max(sx * vegas, initial=0.0)), float(np.max(np.abs(vegas), initial=0.0)) / 2, 1.0)
    x_max *= _AXIS_MARGIN
    y_max = max(float(np.max(sy * thetas, initial=0.0)), zone.red_above * x_max, 1.0) * _AXIS_MARGIN
    x_range = [
        min(float(vegas.min()), -0.1 * x_max) * _AXIS_MARGIN,
        max(float(vegas.max()), 0.1 * x_max) * _AXIS_MARGIN,
    ]
    y_range = [
        min(float(thetas.min()), -0.1 * y_max) * _AXIS_MARGIN,
        max(float(thetas.max()), 0.1 * y_max) * _AXIS_MARGIN,
    ]
    x_range = [min(x_range[0], sx * x_max), max(x_range[1], sx * x_max)]
    y_range = [min(y_range[0], sy * y_max), max(y_range[1], sy * y_max)]
    fig = go.Figure()
    for name, low, high, fill in (
        (f"green zone {zone.green_low:g}–{zone.green_high:g}", zone.green_low, zone.green_high, _GREEN),
        (f"red zone < {zone.red_below:g}", 0.0, zone.red_below, _RED),
        (f"red zone > {zone.red_above:g}", zone.red_above, y_max / x_max * 1e6, _RED),
    ):
        xs, ys = _wedge(sx, sy, low, high, x_max, y_max)
        fig.add_scatter(x=xs, y=ys, fill="toself", fillcolor=fill, line_width=0, mode="lines", name=name,
                        hoverinfo="skip")  # fmt: skip
    target_x = min(x_max, y_max / zone.target)
    fig.add_scatter(
        x=[0.0, sx * target_x], y=[0.0, sy * zone.target * target_x], mode="lines", name=f"target {zone.target:g}",
        line={"color": _TARGET, "dash": "dash"}, hoverinfo="skip",
    )  # fmt: skip
    ratios = [
        "n/a" if v == 0.0 else f"{abs(t) / abs(v):.2f}"
        for t, v in zip(groups.theta_per_day.tolist(), groups.vega_per_vol_point.tolist(), strict=True)
    ]
    fig.add_scatter(
        x=groups.vega_per_vol_point.tolist(), y=groups.theta_per_day.tolist(), mode="markers+text",
        text=list(groups.labels), textposition="top center", name="underlyings", customdata=ratios,
        hovertemplate="%{text}: vega %{x:,.2f} $/vol pt, theta %{y:,.2f} $/day, |θ|/|ν| %{customdata}<extra></extra>",
        marker={"size": 9, "color": "#1565c0"},
    )  # fmt: skip
    book_ratio = format_number(totals.theta_vega_ratio)
    fig.add_scatter(
        x=[totals.vega_per_vol_point], y=[totals.theta_per_day], mode="markers+text", name="book",
        text=[f"Book |θ|/|ν| = {book_ratio}"], textposition="bottom center",
        marker={"size": 18, "symbol": "star", "color": _BOOK},
        hovertemplate="book: vega %{x:,.2f} $/vol pt, theta %{y:,.2f} $/day<extra></extra>",
    )  # fmt: skip
    fig.update_xaxes(title_text="vega · $ per vol point", range=x_range, zeroline=True)
    fig.update_yaxes(title_text="theta · $ per day", range=y_range, zeroline=True)
    return _layout(fig, f"Theta vs vega · book |θ|/|ν| {book_ratio} · as of {report.as_of:%Y-%m-%d %H:%M %Z}")
