"""suggest_adjustment: candidates that cure a breach, verified by rebuilding the report from the listed legs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from agent_tools.catalog import tool_named
from agent_tools.registry import ToolContext
from config.risk_matrix import StatusThresholds
from models.conventions import SettlementTime
from models.positions import ExerciseStyle, InstrumentKind, Right, UnifiedPosition
from risk_engine.adjustments import cure_per_theta, cured_fraction, limit_excess, target_utilization
from risk_engine.limits import LimitCheck, LimitStatus
from risk_engine.report import build_risk_report
from tests.agent_tools.books import FROZEN, delta_breach_context, demo_context, vega_breach_context


def _suggest(ctx: ToolContext, **args: Any) -> dict[str, Any]:
    return tool_named("suggest_adjustment").call(ctx, args)


def _block(result: dict[str, Any], limit: str) -> dict[str, Any]:
    return next(b for b in result["adjustments"] if b["limit"]["name"] == limit)


def _apply(ctx: ToolContext, legs: list[dict[str, Any]]) -> list[UnifiedPosition]:
    """The book after the legs, built here from the legs' own fields (not from the tool's internal book)."""
    book = list(ctx.positions)
    for leg in legs:
        if leg["action"] in ("buy to close", "sell to close"):
            i = next(i for i, p in enumerate(book) if p.symbol == leg["symbol"])
            p = book[i]
            left = abs(p.quantity) - leg["quantity"]
            if left == 0:
                del book[i]
            else:
                book[i] = p.model_copy(update={"quantity": left if p.quantity > 0 else -left})
        else:
            sign = 1.0 if leg["action"] == "buy" else -1.0
            index = leg["underlying"] == "SPX"
            book.append(
                UnifiedPosition(
                    source=book[0].source,
                    broker=book[0].broker,
                    account=book[0].account,
                    symbol=leg["symbol"],
                    kind=InstrumentKind.INDEX_OPTION if index else InstrumentKind.EQUITY_OPTION,
                    underlying=leg["underlying"],
                    quantity=sign * leg["quantity"],
                    multiplier=100.0,
                    expiry=datetime.fromisoformat(leg["expiry"]),
                    strike=leg["strike"],
                    right=Right(leg["right"]),
                    exercise_style=ExerciseStyle.EUROPEAN if index else ExerciseStyle.AMERICAN,
                    settlement=SettlementTime.PM,
                    iv=leg["iv"],
                    as_of=FROZEN,
                )
            )
    return book


def _rebuilt_limits(ctx: ToolContext, candidate: dict[str, Any]) -> dict[str, tuple[float | None, str]]:
    report = build_risk_report(_apply(ctx, candidate["legs"]), ctx.market, ctx.matrix, ctx.now)
    return {c.name: (c.value, c.status.value) for c in report.limits}


def test_delta_breach_of_the_share_book_gets_a_curing_candidate_verified_by_rebuilding() -> None:
    ctx = delta_breach_context()
    block = _block(_suggest(ctx), "max_beta_delta")
    assert block["limit"]["status"] == "breach"
    assert block["limit"]["excess"] == pytest.approx(100.0)  # 200 SPX deltas against 100
    curing = [c for c in block["candidates"] if c["cures"]]
    assert curing
    for candidate in curing:
        rebuilt = _rebuilt_limits(ctx, candidate)
        assert rebuilt["max_beta_delta"][1] != "breach"
        after = {row["name"]: (row["value"], row["status"]) for row in candidate["limits_after"]}
        assert rebuilt["max_beta_delta"][0] == pytest.approx(after["max_beta_delta"][0], abs=1e-6)
        assert rebuilt["max_beta_delta"][1] == after["max_beta_delta"][1]


def test_reducing_the_shares_takes_exactly_the_units_that_cure() -> None:
    block = _block(_suggest(delta_breach_context()), "max_beta_delta")
    reduce = next(c for c in block["candidates"] if c["kind"] == "reduce")
    # 2,000 SPY shares at beta 1, SPY 600 / SPX 6,000: 0.1 SPX delta per share; 100 excess = 1,000 shares.
    assert reduce["legs"][0]["quantity"] == 1000
    assert reduce["target_status_after"] == "alert"  # 100 of 100: at the limit, not strictly past it


def test_vega_breach_candidates_include_long_puts_sized_to_cure_and_verified() -> None:
    ctx = vega_breach_context()
    block = _block(_suggest(ctx, limit="max_negative_vega", max_candidates=20), "max_negative_vega")
    assert block["limit"]["status"] == "breach"
    puts = next(c for c in block["candidates"] if c["kind"] == "add_long_puts")
    rebuilt = _rebuilt_limits(ctx, puts)
    assert rebuilt["max_negative_vega"][1] != "breach"
    assert rebuilt["max_negative_vega"][0] == pytest.approx(puts["totals_after"]["vega_usd_per_vol_point"], rel=1e-9)
    # One contract fewer would not cure: the sizing is minimal.
    smaller = [dict(leg, quantity=leg["quantity"] - 1) for leg in puts["legs"]]
    fewer = _rebuilt_limits(ctx, {"legs": smaller})
    assert fewer["max_negative_vega"][1] == "breach"
    # SPY has no IV in this snapshot: the hedge's IV is VIX's level, and the candidate says so.
    assert puts["legs"][0]["iv"] == pytest.approx(0.26)
    assert any("VIX" in note for note in puts["assumptions"])


def test_candidates_are_ranked_by_cure_per_theta_given_up() -> None:
    block = _block(_suggest(vega_breach_context(), max_candidates=20), "max_negative_vega")
    scores = [c["cured_pct_per_usd_theta"] for c in block["candidates"]]
    assert scores == sorted(scores, reverse=True)
    assert [c["rank"] for c in block["candidates"]] == list(range(1, len(scores) + 1))
    assert all(c["cured_pct"] > 0 for c in block["candidates"])


def test_opening_a_strategy_the_regime_does_not_allow_is_flagged() -> None:
    # Demo book: neutral_volatility allows Iron Condors, Strangles, Credit Spreads — not long puts.
    block = _block(_suggest(demo_context()), "max_negative_vega")
    puts = [c for c in block["candidates"] if c["kind"] == "add_long_puts"]
    closes = [c for c in block["candidates"] if c["kind"] == "close"]
    assert puts
    assert closes
    assert all(c["regime_allowed"] is False for c in puts)
    assert all(c["regime_allowed"] is True for c in closes)


def test_a_candidate_that_breaks_another_limit_says_so() -> None:
    result = _suggest(demo_context(), max_candidates=20)
    for block in result["adjustments"]:
        for c in block["candidates"]:
            before = {r["name"]: r["status"] for r in result_limits(demo_context())}
            after = {r["name"]: r["status"] for r in c["limits_after"]}
            newly = [n for n in after if n != block["limit"]["name"] and after[n] == "breach" and before[n] != "breach"]
            assert c["breaks_other_limits"] == newly


def result_limits(ctx: ToolContext) -> list[dict[str, Any]]:
    return list(tool_named("check_risk_limits").call(ctx, {})["limits"])


def test_book_within_limits_has_nothing_to_cure() -> None:
    result = _suggest(demo_context(), limit="max_gamma")
    assert result["adjustments"] == []


def test_passarelli_synthetic_swap_keeps_the_greeks_nearly_unchanged() -> None:
    block = _block(_suggest(demo_context(), max_candidates=20), "max_beta_delta")
    swaps = block["equivalents"]
    assert swaps
    for swap in swaps:
        # Covered call ≡ short put (put-call parity): delta moves by carry and early exercise only.
        assert abs(swap["greek_change"]["beta_weighted_delta_spx_shares"]) < 1.0


TH = StatusThresholds(warn=0.8, alert=0.9, breach=1.0)


def _check(name: str, value: float, limit: float, status: LimitStatus = LimitStatus.BREACH) -> LimitCheck:
    return LimitCheck(name, value, limit, None, status, "", "")


@pytest.mark.parametrize(
    ("check", "target", "excess"),
    [
        (_check("max_beta_delta", -130.0, 100.0), 1.0, 30.0),
        (_check("max_gamma", 12.0, 10.0), 1.0, 2.0),
        (_check("max_negative_vega", -1581.54, -1200.0), 1.0, 381.54),
        (_check("max_negative_vega", -100.0, 0.0), 1.0, 100.0),
        (_check("min_daily_theta", 250.0, 300.0), 1.0, 50.0),
        (_check("min_daily_theta", 350.0, 300.0, LimitStatus.WARN), 0.8, 25.0),
        (_check("min_daily_theta", -20.0, 0.0), 1.0, 20.0),
        (_check("max_beta_delta", 253.03, 300.0, LimitStatus.WARN), 0.8, 13.03),
    ],
    ids=["delta", "gamma", "vega", "vega-zero", "theta", "theta-warn", "theta-zero", "delta-warn"],
)
def test_limit_excess_in_the_limits_unit(check: LimitCheck, target: float, excess: float) -> None:
    assert limit_excess(check, target) == pytest.approx(excess)


def test_target_is_the_limit_for_a_breach_and_warn_otherwise() -> None:
    assert target_utilization(LimitStatus.BREACH, TH) == 1.0
    assert target_utilization(LimitStatus.ALERT, TH) == 0.8


@pytest.mark.parametrize(
    ("before", "after", "fraction"), [(400.0, 100.0, 0.75), (381.54, -10.0, 1.0), (100.0, 150.0, 0.0), (0.0, -5, 0.0)]
)
def test_cured_fraction(before: float, after: float, fraction: float) -> None:
    assert cured_fraction(before, after) == pytest.approx(fraction)


def test_cure_per_theta_counts_free_adjustments_at_one_dollar() -> None:
    assert cure_per_theta(1.0, 500.0, 600.0) == 1.0
    assert cure_per_theta(0.5, 500.0, 450.0) == pytest.approx(0.01)
