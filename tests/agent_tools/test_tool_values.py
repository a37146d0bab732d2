"""Tool figures against independent references: report identities, the YAML files read directly, CBOE closes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from adapters.market_history import regime_day
from agent_tools.catalog import build_context, tool_named
from agent_tools.registry import ToolContext
from config.risk_matrix import load_risk_matrix
from models.conventions import NEW_YORK
from models.market import MarketSnapshot, Quote
from risk_engine.regime import RegimeInputs, classify_regime
from tests.agent_tools.books import FROZEN, demo_context

ROOT = Path(__file__).resolve().parents[2]


def _call(name: str, args: dict[str, Any] | None = None, ctx: ToolContext | None = None) -> dict[str, Any]:
    return tool_named(name).call(ctx or demo_context(), args or {})


def test_summary_totals_are_the_report_totals() -> None:
    ctx = demo_context()
    t = _call("get_portfolio_summary", ctx=ctx)["totals"]
    assert t["beta_weighted_delta_spx_shares"] == ctx.report.totals.beta_weighted_delta
    assert t["vega_usd_per_vol_point"] == ctx.report.totals.vega_per_vol_point


def test_summary_groups_add_up_to_the_book() -> None:
    result = _call("get_portfolio_summary")
    for group in ("by_underlying", "by_broker", "by_account"):
        total = sum(row["theta_usd_per_day"] for row in result[group])
        assert total == pytest.approx(result["totals"]["theta_usd_per_day"], abs=1e-6), group
        assert sum(row["positions_count"] for row in result[group]) == result["positions_count"]


def test_gamma_buckets_add_up_to_the_book_gamma() -> None:
    result = _call("get_gamma_risk_by_dte")
    total = sum(b["beta_weighted_gamma_spx_deltas_per_point"] for b in result["buckets"])
    assert total == pytest.approx(result["book_beta_weighted_gamma_spx_deltas_per_point"], abs=1e-9)
    assert sum(b["share_of_abs_gamma_pct"] for b in result["buckets"]) == pytest.approx(100.0)


def test_positions_filter_by_expiry_window_counts_new_york_days() -> None:
    ctx = demo_context()
    result = _call("get_positions", {"expiring_within_days": 3}, ctx)
    today = FROZEN.astimezone(NEW_YORK).date()
    expected = [
        p
        for p in ctx.positions
        if p.expiry is not None and 0 <= (p.expiry.astimezone(NEW_YORK).date() - today).days <= 3
    ]
    assert result["matching_count"] == len(expected) > 0
    assert {row["key"] for row in result["positions"]} == {p.key for p in expected}
    assert result["totals"]["vega_usd_per_vol_point"] == pytest.approx(
        sum(row["vega_usd_per_vol_point"] for row in result["positions"]), abs=1e-9
    )


@pytest.mark.parametrize(
    ("args", "check"),
    [
        ({"underlying": "tsla"}, lambda p: p.underlying == "TSLA"),
        ({"broker": "ibkr"}, lambda p: p.broker == "IBKR"),
        ({"account": "DEMO-5WT00001"}, lambda p: p.account == "DEMO-5WT00001"),
        ({"kind": "stock"}, lambda p: p.kind.value == "stock"),
        ({"underlying": "SPY", "broker": "Tastytrade"}, lambda p: p.underlying == "SPY" and p.broker == "Tastytrade"),
    ],
    ids=["underlying", "broker", "account", "kind", "combined"],
)
def test_positions_filters_match_the_book(args: dict[str, Any], check: Any) -> None:
    ctx = demo_context()
    result = _call("get_positions", args, ctx)
    assert result["matching_count"] == sum(1 for p in ctx.positions if check(p)) > 0


def test_explain_limit_quotes_every_regime_value_from_the_yaml_file() -> None:
    raw = yaml.safe_load((ROOT / "config" / "risk_matrix.yaml").read_text(encoding="utf-8"))
    result = _call("explain_limit", {"limit": "max_negative_vega", "regime": "high_volatility"})
    assert result["value"] == raw["regimes"]["high_volatility"]["limits"]["max_negative_vega"] == -2500
    assert {r["regime"]: r["limit"] for r in result["across_regimes"]} == {
        name: spec["limits"]["max_negative_vega"] for name, spec in raw["regimes"].items()
    }
    assert result["semantics"].startswith("floor on book vega")
    assert result["allowed_strategies"] == raw["regimes"]["high_volatility"]["limits"]["allowed_strategies"]


def test_explain_limit_reads_the_inline_yaml_note() -> None:
    result = _call("explain_limit", {"limit": "max_beta_delta", "regime": "low_volatility"})
    assert result["yaml_note"] == "SPX-share equivalents, |delta| <= 600"


def test_iv_analysis_edges_are_iv_minus_hv_from_the_demo_market_file() -> None:
    raw = yaml.safe_load((ROOT / "adapters" / "data" / "demo_market.yaml").read_text(encoding="utf-8"))
    rows = {r["underlying"]: r for r in _call("get_iv_analysis")["underlyings"]}
    tsla = rows["TSLA"]
    assert tsla["hv20_vol_points"] == pytest.approx(raw["underlyings"]["TSLA"]["hv20"] * 100)
    assert tsla["edge_vs_hv20_vol_points"] == pytest.approx(tsla["iv_vol_points"] - tsla["hv20_vol_points"])
    # demo_market.yaml: TSLA and NVDA are 15+ points rich, IWM's implied is below realised.
    assert tsla["natenberg_grade"] == "strong (rich)"
    assert rows["IWM"]["edge_vs_hv20_vol_points"] < 0


def test_iv_analysis_vega_weights_the_book_iv() -> None:
    ctx = demo_context()
    row = _call("get_iv_analysis", {"underlying": "TSLA"}, ctx)["underlyings"][0]
    vegas = {p.key: abs(v) for p, v in zip(ctx.positions, ctx.report.greeks.vega_usd_per_vol_point, strict=True)}
    ivs = [(p.iv, vegas[p.key]) for p in ctx.positions if p.underlying == "TSLA" and p.iv is not None]
    expected = sum(iv * w for iv, w in ivs) / sum(w for _, w in ivs)
    assert row["iv_vol_points"] == pytest.approx(expected * 100)
    assert min(iv for iv, _ in ivs) * 100 <= row["iv_vol_points"] <= max(iv for iv, _ in ivs) * 100


def test_index_move_estimate_is_delta_gamma_on_the_report_totals() -> None:
    ctx = demo_context()
    result = _call("estimate_index_move", {"move_pct": -4}, ctx)
    ds = -0.04 * 5900.0  # demo_market.yaml: SPX 5,900
    t = ctx.report.totals
    assert result["spx_move_points"] == pytest.approx(ds)
    assert result["total_pnl_usd"] == pytest.approx(t.beta_weighted_delta * ds + 0.5 * t.beta_weighted_gamma * ds * ds)


def test_limits_tool_reports_the_demo_breach_and_warn() -> None:
    result = _call("check_risk_limits")
    # demo_book.yaml header: vega breaches the -1,200 floor, delta is a warn on 300.
    assert result["breached"] == ["max_negative_vega"]
    assert result["near_breach"] == ["max_beta_delta"]
    vega = next(r for r in result["limits"] if r["name"] == "max_negative_vega")
    assert vega["utilization_pct"] == pytest.approx(100 * vega["value"] / vega["limit"])


def test_macro_tool_reads_the_snapshot_probability_and_the_clause_using_it() -> None:
    result = _call("get_macro_indicators")
    assert result["recession_probability"] == 0.22  # demo_market.yaml
    assert result["regime_conditions_using_it"] == [
        {"regime": "high_volatility", "condition": "VIX > 22 or Polymarket_Recession_Prob > 40%"}
    ]


def _historical_context(day: dt.date) -> ToolContext:
    closes = regime_day(day)
    instant = dt.datetime.combine(day, dt.time(16, 0), tzinfo=NEW_YORK)

    def quote(value: float | None) -> Quote | None:
        return None if value is None else Quote(value=value, source="CBOE close", as_of=instant)

    market = MarketSnapshot(vix=quote(closes.vix), vix3m=quote(closes.vix3m), vvix=quote(closes.vvix), as_of=instant)
    return build_context([], market, load_risk_matrix(), instant)


def _regime_on(day: dt.date) -> str:
    closes = regime_day(day)
    inputs = RegimeInputs(vix=closes.vix, vix3m=closes.vix3m, vvix=closes.vvix, recession_prob=None)
    return classify_regime(load_risk_matrix(), inputs).regime


def test_last_regime_change_on_a_historical_day_is_the_day_the_scalar_classifier_changes() -> None:
    # 2020-03-16: VIX closed at a record 82.69 (crisis_mode); the change is checked with the scalar classifier
    # on each CBOE day, independently of the vectorized history.
    change = _call("get_market_regime", ctx=_historical_context(dt.date(2020, 3, 16)))["last_change"]
    assert change["determined"] is True
    assert change["history_regime_on_day"] == "crisis_mode"
    changed_on = dt.date.fromisoformat(change["changed_on"])
    assert _regime_on(changed_on) == "crisis_mode"
    days = np.arange(np.datetime64(changed_on), np.datetime64("2020-03-17"))
    trading = [d.astype(object) for d in days if np.is_busday(d)]
    assert all(_regime_on(d) == "crisis_mode" for d in trading if d not in (dt.date(2020, 2, 17),))
    previous = next(
        d
        for d in (changed_on - dt.timedelta(days=k) for k in range(1, 6))
        if np.is_busday(np.datetime64(d)) and d != dt.date(2020, 2, 17)
    )
    assert _regime_on(previous) == change["previous_regime"] != "crisis_mode"
    assert change["days_since_change"] == (dt.date(2020, 3, 16) - changed_on).days


def test_last_regime_change_after_the_history_says_it_is_not_observed() -> None:
    change = _call("get_market_regime")["last_change"]
    assert change["determined"] is False
    assert change["unobserved_days"] == (FROZEN.date() - dt.date.fromisoformat(change["history_last_day"])).days
    assert "unobserved" in change["method"]
