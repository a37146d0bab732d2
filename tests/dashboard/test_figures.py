"""Figure builders: every plotted number is the report's, stacks add up, zones sit where the YAML puts them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pytest

from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs, report_for
from dashboard.figures import (
    NEAR_EXPIRY_COLOUR,
    gamma_by_dte_figure,
    gamma_stack,
    greeks_by_dte_figure,
    near_expiry_warning_text,
    theta_vega_figure,
)
from risk_engine.report import RiskReport
from tests.dashboard.books import near_expiry_report

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
MATRIX = load_risk_matrix()


@pytest.fixture(scope="module")
def demo() -> RiskReport:
    return report_for(demo_inputs(NOW), MATRIX, NOW)


def test_gamma_stack_adds_up_to_bucket_and_underlying_totals(demo: RiskReport) -> None:
    stack = gamma_stack(demo)
    np.testing.assert_allclose(stack.values.sum(axis=0), demo.by_bucket.beta_weighted_gamma, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(stack.values.sum(axis=1), demo.by_underlying.beta_weighted_gamma, rtol=1e-12, atol=1e-12)


def test_gamma_figure_has_one_bar_trace_per_underlying_in_yaml_bucket_order(demo: RiskReport) -> None:
    fig = gamma_by_dte_figure(demo)
    assert [t.name for t in fig.data] == list(demo.by_underlying.labels)
    assert list(fig.data[0].x)[:4] == [b.label for b in MATRIX.dte_buckets]
    assert fig.layout.barmode == "relative"


def test_quiet_near_bucket_draws_no_warning(demo: RiskReport) -> None:
    assert not demo.near_expiry_warning
    assert near_expiry_warning_text(demo) is None
    assert gamma_by_dte_figure(demo).layout.shapes == ()


def test_near_bucket_turns_red_with_a_taleb_warning_past_the_threshold() -> None:
    report = near_expiry_report()
    text = near_expiry_warning_text(report)
    assert text is not None
    assert "Taleb" in text
    assert "0-7" in text
    assert "5.00 SPX Δ/pt" in text  # the YAML threshold near_expiry_gamma.max_abs_gamma
    shapes = gamma_by_dte_figure(report).layout.shapes
    assert len(shapes) == 1
    assert shapes[0].fillcolor == NEAR_EXPIRY_COLOUR
    assert (shapes[0].x0, shapes[0].x1) == (-0.5, 0.5)  # category 0 is the 0-7 bucket


def test_small_near_bucket_position_stays_below_threshold() -> None:
    report = near_expiry_report(quantity=-1.0)  # about −0.6 SPX Δ/pt
    assert near_expiry_warning_text(report) is None


def test_theta_vega_by_bucket_plots_the_report_sums(demo: RiskReport) -> None:
    fig = greeks_by_dte_figure(demo)
    theta, vega = fig.data
    assert list(theta.y) == demo.by_bucket.theta_per_day.tolist()
    assert list(vega.y) == demo.by_bucket.vega_per_vol_point.tolist()
    assert sum(theta.y) == pytest.approx(demo.totals.theta_per_day, rel=1e-12)


def _trace(fig: go.Figure, name: str) -> Any:
    return next(t for t in fig.data if t.name == name)


def test_theta_vega_book_marker_sits_at_book_totals_with_its_ratio(demo: RiskReport) -> None:
    fig = theta_vega_figure(demo, MATRIX.theta_vega_zone)
    book = _trace(fig, "book")
    assert (book.x[0], book.y[0]) == (demo.totals.vega_per_vol_point, demo.totals.theta_per_day)
    ratio = abs(demo.totals.theta_per_day) / abs(demo.totals.vega_per_vol_point)
    assert f"{ratio:.2f}" in book.text[0]


def test_theta_vega_has_one_marker_per_underlying(demo: RiskReport) -> None:
    fig = theta_vega_figure(demo, MATRIX.theta_vega_zone)
    markers = _trace(fig, "underlyings")
    assert list(markers.text) == list(demo.by_underlying.labels)
    assert list(markers.x) == demo.by_underlying.vega_per_vol_point.tolist()


def test_zones_and_target_follow_the_yaml_slopes(demo: RiskReport) -> None:
    zone = MATRIX.theta_vega_zone
    fig = theta_vega_figure(demo, zone)
    green = _trace(fig, f"green zone {zone.green_low:g}–{zone.green_high:g}")
    slopes = sorted(abs(y / x) for x, y in zip(green.x, green.y, strict=True) if x != 0)
    assert slopes == pytest.approx([zone.green_low, zone.green_high])
    target = _trace(fig, f"target {zone.target:g}")
    assert abs(target.y[1] / target.x[1]) == pytest.approx(zone.target)
    # The demo book is short vega and long theta: the zones are drawn in that quadrant.
    assert max(green.x) <= 0.0
    assert min(green.y) >= 0.0
