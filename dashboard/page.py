"""Everything one page run shows, computed once from the gathered inputs: the report and every table and figure.

Owns assembling the tested pieces (tables, figures, IV/HV, positions) for app.py, which only draws them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import plotly.graph_objects as go

from config.risk_matrix import RiskMatrix
from dashboard.book import BookInputs, report_for
from dashboard.figures import gamma_by_dte_figure, greeks_by_dte_figure, near_expiry_warning_text, theta_vega_figure
from dashboard.iv_hv import EDGE_COLOURS, iv_hv_rows, iv_hv_table
from dashboard.positions_view import grouped_position_rows, rejected_rows
from dashboard.sources import Gathered, StatusLine, account_names, select_accounts, status_lines
from dashboard.tables import Banner, Card, banner_for, compliance_rows, excluded_rows, summary_cards
from risk_engine.report import RiskReport

__all__ = ["Page", "build_page"]


@dataclass(frozen=True)
class Page:
    """One page run's content; every figure comes from `report`."""

    gathered: Gathered
    inputs: BookInputs
    report: RiskReport
    accounts: tuple[str, ...]
    statuses: tuple[StatusLine, ...]
    banner: Banner
    cards: tuple[Card, ...]
    compliance: list[dict[str, object]]
    gamma_figure: go.Figure
    theta_vega_figure: go.Figure
    near_expiry_warning: str | None
    iv_hv: list[dict[str, str]]
    iv_hv_colours: list[str]
    positions: list[dict[str, object]]
    """Position rows grouped by underlying and expiry, each group followed by its subtotal row."""
    rejected: list[dict[str, str]]
    excluded: list[dict[str, str]]

    @cached_property
    def greeks_figure(self) -> go.Figure:
        """Theta and vega by DTE: built on first use, since its tab is closed on most runs (~20 ms of Plotly)."""
        return greeks_by_dte_figure(self.report)


def build_page(gathered: Gathered, accounts: Sequence[str], matrix: RiskMatrix, now: datetime) -> Page:
    """The page of one refresh, restricted to `accounts` (empty = every account).

    Args:
        gathered: What the sources delivered.
        accounts: Accounts chosen in the sidebar.
        matrix: The risk matrix in force.
        now: tz-aware instant of the refresh (valuation instant).
    """
    every = account_names(gathered.inputs)
    inputs = select_accounts(gathered.inputs, accounts) if accounts else gathered.inputs
    report = report_for(inputs, matrix, now)
    iv_rows = iv_hv_rows(report, inputs.market, matrix.natenberg_edge_vol_points)
    return Page(
        gathered=gathered,
        inputs=inputs,
        report=report,
        accounts=tuple(every),
        statuses=status_lines(gathered.statuses, now, matrix.staleness_minutes),
        banner=banner_for(report, now),
        cards=summary_cards(report),
        compliance=compliance_rows(report),
        gamma_figure=gamma_by_dte_figure(report),
        theta_vega_figure=theta_vega_figure(report, matrix.theta_vega_zone),
        near_expiry_warning=near_expiry_warning_text(report),
        iv_hv=iv_hv_table(iv_rows),
        iv_hv_colours=[EDGE_COLOURS[row.edge] for row in iv_rows],
        positions=grouped_position_rows(report, inputs, now, matrix.staleness_minutes),
        rejected=rejected_rows(inputs.rejected),
        excluded=excluded_rows(report),
    )
