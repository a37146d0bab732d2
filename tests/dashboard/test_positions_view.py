"""Positions table: grouped by underlying and expiry, signed quantities, broker Greeks checked, stale rows marked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.results import FetchResult, RejectedRow
from config.risk_matrix import load_risk_matrix
from dashboard.book import BookInputs
from dashboard.positions_view import SUBTOTAL, grouped_position_rows, position_rows, rejected_rows
from models.market import MarketSnapshot, Quote, UnderlyingMarket
from models.positions import BrokerGreeks, Right, UnifiedPosition
from risk_engine.report import build_risk_report
from tests.dashboard.books import NOW, _snapshot, spx_option

MATRIX = load_risk_matrix()
STALE_MIN = MATRIX.staleness_minutes


def _inputs(positions: list[UnifiedPosition], market: MarketSnapshot, **fetch: object) -> BookInputs:
    result = FetchResult(source="test", positions=tuple(positions), fetched_at=NOW, **fetch)
    return BookInputs(fetches=(result,), market=market)


def _rows(inputs: BookInputs) -> list[dict[str, object]]:
    report = build_risk_report(inputs.positions, inputs.market, MATRIX, NOW)
    return position_rows(report, inputs, NOW, STALE_MIN)


def test_rows_are_sorted_by_underlying_then_expiry_with_signed_quantities() -> None:
    far, near = spx_option(2.0, 60.0), spx_option(-3.0, 5.0)
    spy = spx_option(1.0, 30.0).model_copy(update={"underlying": "SPY", "symbol": "SPY x", "strike": 600.0})
    rows = _rows(_inputs([far, spy, near], _snapshot({"SPX": 6000.0, "SPY": 600.0})))
    assert [(r["underlying"], r["qty"]) for r in rows] == [("SPX", "-3"), ("SPX", "+2"), ("SPY", "+1")]
    assert rows[0]["DTE"] == 5


def _hull_call(broker_vega: float) -> tuple[list[UnifiedPosition], MarketSnapshot]:
    """Hull's call S = K = 100, T = 0.25 y, r = 5 %, q = 0, σ = 20 %: delta 0.5695, theta −0.0287/day, vega 0.1964."""
    greeks = BrokerGreeks(iv=0.2, delta=0.5695, gamma=0.0393, theta=-0.0287, vega=broker_vega, source="test", as_of=NOW)
    option = spx_option(1.0, 0.25 * 365.0, strike=100.0, right=Right.CALL).model_copy(
        update={"underlying": "XYZ", "symbol": "XYZ C100", "broker_greeks": greeks}
    )
    quote = Quote(value=100.0, source="test", as_of=NOW)
    market = MarketSnapshot(
        spx=Quote(value=6000.0, source="test", as_of=NOW),
        risk_free_rate=Quote(value=0.05, source="test", as_of=NOW),
        underlyings={"XYZ": UnderlyingMarket(spot=quote, dividend_yield=Quote(value=0.0, source="test", as_of=NOW))},
        as_of=NOW,
    )
    return [option], market


def test_broker_greeks_that_agree_are_not_flagged() -> None:
    (row,) = _rows(_inputs(*_hull_call(0.1964)))
    assert row["divergence"] == "agrees"
    assert row["Δ/unit broker"] == "0.5695"


def test_broker_vega_in_the_wrong_unit_is_flagged() -> None:
    (row,) = _rows(_inputs(*_hull_call(19.64)))  # per 1.00 of vol instead of per vol point
    assert str(row["divergence"]).startswith("⚠ vega")


def test_rows_without_broker_greeks_show_a_dash() -> None:
    (row,) = _rows(_inputs([spx_option(-1.0, 10.0)], _snapshot({"SPX": 6000.0})))
    assert row["divergence"] == "—"
    assert row["Δ/unit broker"] == "n/a"
    assert row["status"] == "ok"


def test_stale_source_marks_its_rows_stale_since() -> None:
    since = NOW - timedelta(minutes=30)
    inputs = _inputs([spx_option(-1.0, 10.0)], _snapshot({"SPX": 6000.0}), stale=True, stale_since=since)
    (row,) = _rows(inputs)
    assert str(row["status"]).startswith("stale since 2026-11-23 14:30:00 UTC")


def test_old_position_as_of_is_stale_past_the_yaml_threshold() -> None:
    old = spx_option(-1.0, 10.0).model_copy(update={"as_of": NOW - timedelta(minutes=STALE_MIN + 1)})
    (row,) = _rows(_inputs([old], _snapshot({"SPX": 6000.0})))
    assert str(row["status"]).startswith("stale since")


def test_missing_iv_row_says_it_is_excluded() -> None:
    no_iv = spx_option(-1.0, 10.0).model_copy(update={"iv": None})
    (row,) = _rows(_inputs([no_iv], _snapshot({"SPX": 6000.0})))
    assert row["status"] == "excluded: no implied volatility"
    assert row["Δ/unit ours"] == "n/a"


def test_rejected_rows_keep_source_row_field_and_reason() -> None:
    bad = RejectedRow(source="ibkr", row="line 7", field="strike", reason="strike is not a number")
    assert rejected_rows([bad]) == [
        {"source": "ibkr", "row": "line 7", "field": "strike", "reason": "strike is not a number"}
    ]


def test_groups_by_underlying_and_expiry_each_end_with_its_subtotal() -> None:
    near_a, near_b, far = spx_option(-3.0, 5.0), spx_option(2.0, 5.0, strike=5900.0), spx_option(1.0, 60.0)
    spy = spx_option(1.0, 30.0).model_copy(update={"underlying": "SPY", "symbol": "SPY x", "strike": 600.0})
    inputs = _inputs([far, spy, near_a, near_b], _snapshot({"SPX": 6000.0, "SPY": 600.0}))
    report = build_risk_report(inputs.positions, inputs.market, MATRIX, NOW)
    rows = grouped_position_rows(report, inputs, NOW, STALE_MIN)
    assert [(r["row"], r["underlying"]) for r in rows] == [
        ("position", "SPX"), ("position", "SPX"), (SUBTOTAL, "SPX"),
        ("position", "SPX"), (SUBTOTAL, "SPX"),
        ("position", "SPY"), (SUBTOTAL, "SPY"),
    ]  # fmt: skip
    near_total = rows[2]
    assert near_total["position"] == "2 positions"
    assert near_total["expiry"] == rows[0]["expiry"]
    assert (near_total["DTE"], near_total["qty"], near_total["status"]) == (5, "", "")
    assert set(near_total) == set(rows[0])  # same columns as its positions: no missing cells in the table
    # The subtotal is the sum of its rows' position Greeks (report order: far, spy, near_a, near_b).
    g = report.greeks
    assert near_total["θ $/day"] == f"{g.theta_usd_per_day[2] + g.theta_usd_per_day[3]:,.2f}"
    assert near_total["ν $/vol pt"] == f"{g.vega_usd_per_vol_point[2] + g.vega_usd_per_vol_point[3]:,.2f}"
    assert near_total["βΔ SPX"] == f"{g.bw_delta[2] + g.bw_delta[3]:,.2f}"


def test_book_total_equals_the_sum_of_the_subtotals() -> None:
    positions = [spx_option(-3.0, 5.0), spx_option(2.0, 60.0), spx_option(1.0, 60.0, strike=5800.0)]
    inputs = _inputs(positions, _snapshot({"SPX": 6000.0}))
    report = build_risk_report(inputs.positions, inputs.market, MATRIX, NOW)
    subtotals = [r for r in grouped_position_rows(report, inputs, NOW, STALE_MIN) if r["row"] == SUBTOTAL]
    total = sum(float(str(r["θ $/day"]).replace(",", "")) for r in subtotals)
    assert total == pytest.approx(report.totals.theta_per_day, abs=0.01 * len(subtotals))
