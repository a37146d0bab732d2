"""IV vs HV: book IV is vega-weighted, market IV fills in, the Natenberg edge follows the YAML's vol-point bands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs, report_for
from dashboard.iv_hv import Edge, book_iv_by_underlying, grade_edge, iv_hv_rows, iv_hv_table
from risk_engine.report import build_risk_report
from tests.dashboard.books import NOW, _snapshot, spx_option

MATRIX = load_risk_matrix()
EDGE = MATRIX.natenberg_edge_vol_points


@pytest.mark.parametrize(
    ("spread", "edge"),
    [
        (15.0, Edge.STRONG_SELL),
        (14.99, Edge.MODERATE_SELL),
        (10.0, Edge.MODERATE_SELL),
        (9.99, Edge.NONE),
        (0.0, Edge.NONE),
        (-0.01, Edge.BUY),
        (None, Edge.UNKNOWN),
    ],
    ids=["strong-at-15", "moderate-below-15", "moderate-at-10", "none-below-10", "none-at-0", "buy-below-0", "missing"],
)
def test_edge_bands_follow_the_yaml(spread: float | None, edge: str) -> None:
    assert (EDGE.moderate, EDGE.strong) == (10, 15)
    assert grade_edge(spread, EDGE) == edge


def test_single_option_book_iv_is_that_options_iv() -> None:
    report = build_risk_report([spx_option(-1.0, 30.0)], _snapshot({"SPX": 6000.0}), MATRIX, NOW)
    assert book_iv_by_underlying(report) == {"SPX": pytest.approx(0.15, abs=1e-15)}


def test_book_iv_weights_each_row_by_its_absolute_vega() -> None:
    near = spx_option(-3.0, 10.0).model_copy(update={"iv": 0.10})
    far = spx_option(2.0, 90.0).model_copy(update={"iv": 0.30})
    report = build_risk_report([near, far], _snapshot({"SPX": 6000.0}), MATRIX, NOW)
    vega = abs(report.greeks.vega_usd_per_vol_point)
    expected = (0.10 * vega[0] + 0.30 * vega[1]) / (vega[0] + vega[1])
    assert book_iv_by_underlying(report)["SPX"] == pytest.approx(expected, rel=1e-12)
    assert 0.10 < expected < 0.30


def test_demo_rows_take_hv_from_the_snapshot_and_grade_iwm_a_buy_edge() -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    inputs = demo_inputs(now)
    rows = {row.underlying: row for row in iv_hv_rows(report_for(inputs, MATRIX, now), inputs.market, EDGE)}
    iwm = rows["IWM"]
    # demo_market.yaml: IWM hv20 0.248, hv30 0.236; its options and its market IV (0.212) sit below realised.
    assert (iwm.hv20, iwm.hv30) == (0.248, 0.236)
    assert iwm.spread_vol_points is not None
    assert iwm.spread_vol_points == pytest.approx((iwm.iv - 0.248) * 100.0, rel=1e-12)  # type: ignore[operator]
    assert iwm.edge == Edge.BUY
    assert iwm.iv_rank == 0.22


def test_underlying_without_options_takes_the_market_iv() -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    market = demo_inputs(now).market
    shares = [p for p in demo_inputs(now).positions if p.underlying == "SPY" and not p.is_option]
    assert shares
    report = build_risk_report(shares, market, MATRIX, now)
    (row,) = iv_hv_rows(report, market, EDGE)
    assert (row.underlying, row.iv, row.iv_source) == ("SPY", 0.156, "market (demo snapshot)")  # demo_market.yaml


def test_table_shows_vol_points_and_rank_percent() -> None:
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    inputs = demo_inputs(now)
    table = iv_hv_table(iv_hv_rows(report_for(inputs, MATRIX, now), inputs.market, EDGE))
    iwm = next(row for row in table if row["underlying"] == "IWM")
    assert iwm["HV20"] == "24.8 vol pts"
    assert iwm["IV rank"] == "22%"
    assert iwm["IV − HV20"].endswith("vol pts")
    assert "UTC" in iwm["as of"]
