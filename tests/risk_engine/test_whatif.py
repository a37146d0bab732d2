"""The pre-trade check: legs valued with the book's own terms, every limit before/after, and the verdict."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from adapters.demo import load_demo_book, load_demo_snapshot
from config.risk_matrix import load_risk_matrix
from models.conventions import NEW_YORK
from models.positions import Right, Source, UnifiedPosition
from models.trade import TradeLeg
from risk_engine.limits import LimitStatus
from risk_engine.report import build_risk_report
from risk_engine.whatif import Verdict, legs_to_positions, what_if
from tests.books import high_vol_snapshot, spy_shares

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
MATRIX = load_risk_matrix()
BOOK = load_demo_book(NOW).positions
SNAPSHOT = load_demo_snapshot(NOW)


def test_empty_trade_changes_nothing() -> None:
    result = what_if(BOOK, [], SNAPSHOT, MATRIX, NOW)
    assert result.after.totals == result.before.totals
    for change in result.changes:
        assert change.value_after == change.value_before
        assert change.status_after is change.status_before
    assert result.legs == ()


def test_demo_book_breaches_vega_before_any_trade() -> None:
    before = build_risk_report(BOOK, SNAPSHOT, MATRIX, NOW)
    assert {c.name: c.status for c in before.limits}["max_negative_vega"] is LimitStatus.BREACH


def _closing_leg(position: UnifiedPosition) -> TradeLeg:
    assert position.expiry is not None
    return TradeLeg(
        underlying=position.underlying,
        quantity=-position.quantity,
        expiry=position.expiry.astimezone(NEW_YORK).date(),
        strike=position.strike,
        right=position.right,
        root=position.symbol.split()[0],
        iv=position.iv,
    )


def _short_index_options() -> list[UnifiedPosition]:
    return [p for p in BOOK if p.is_option and p.quantity < 0 and p.underlying in {"SPX", "SPY", "QQQ", "IWM"}]


def test_closing_every_short_option_cures_vega_but_fails_on_theta() -> None:
    # Buying back all short premium cures the vega floor and leaves the book paying theta: the crisis of one limit
    # is traded for a breach of another, and the verdict must say both.
    result = what_if(BOOK, [_closing_leg(p) for p in _short_index_options()], SNAPSHOT, MATRIX, NOW)
    changes = {c.name: c for c in result.changes}
    assert (changes["max_negative_vega"].status_before, changes["max_negative_vega"].status_after) == (
        LimitStatus.BREACH,
        LimitStatus.OK,
    )
    assert changes["min_daily_theta"].status_after is LimitStatus.BREACH
    assert result.verdict is Verdict.FAIL
    assert "max_negative_vega: breach cured" in result.reasons
    assert any(r.startswith("min_daily_theta: would breach") for r in result.reasons)


def test_closing_the_breaching_position_cures_the_breach() -> None:
    # VIX 26 = high_volatility, whose delta limit is 100 SPX deltas; 2,000 SPY shares at β 1 are 2,000 × 600 / 6,000
    # = 200 SPX deltas: a breach at 200 %.
    snapshot = high_vol_snapshot(NOW)
    shares = spy_shares(2000.0, NOW)
    result = what_if([shares], [TradeLeg(underlying="SPY", quantity=-1500)], snapshot, MATRIX, NOW)
    delta = {c.name: c for c in result.changes}["max_beta_delta"]
    assert result.before.regime.limits_regime == "high_volatility"
    assert delta.value_before == pytest.approx(200.0)
    assert delta.limit_before == 100.0
    assert delta.value_after == pytest.approx(50.0)
    assert (delta.status_before, delta.status_after) == (LimitStatus.BREACH, LimitStatus.OK)
    # Shares earn no theta and high_volatility asks for income: that breach stays, so the trade improves, no more.
    assert result.verdict is Verdict.IMPROVES
    assert result.reasons == ("max_beta_delta: breach cured", "min_daily_theta: still in breach (unchanged)")


def test_trade_totals_are_the_legs_own_totals_added() -> None:
    # Independent of the verdict logic: Greeks are linear in positions, so after − before equals the legs alone.
    legs = [
        TradeLeg(underlying="SPY", quantity=-3, expiry=date(2027, 1, 15), strike=560, right=Right.PUT, iv=0.21),
        TradeLeg(underlying="QQQ", quantity=50),
    ]
    result = what_if(BOOK, legs, SNAPSHOT, MATRIX, NOW)
    alone = build_risk_report(list(result.legs), SNAPSHOT, MATRIX, NOW).totals
    for name in ("beta_weighted_delta", "beta_weighted_gamma", "theta_per_day", "vega_per_vol_point"):
        before, after, added = (getattr(t, name) for t in (result.before.totals, result.after.totals, alone))
        assert after == pytest.approx(before + added, rel=1e-12, abs=1e-9)


def test_new_breach_fails_with_the_limit_named() -> None:
    # 40 short SPY puts near the money add ~+800 SPX-weighted deltas on top of a book already at ~85 % of 300.
    leg = TradeLeg(underlying="SPY", quantity=-40, expiry=date(2027, 1, 15), strike=600, right=Right.PUT)
    result = what_if(BOOK, [leg], SNAPSHOT, MATRIX, NOW)
    assert result.verdict is Verdict.FAIL
    assert any(r.startswith("max_beta_delta: would breach") for r in result.reasons)


def test_leg_borrows_terms_and_nearest_iv_from_the_book() -> None:
    leg = TradeLeg(underlying="SPX", quantity=1, expiry=date(2027, 1, 15), strike=5600, right=Right.PUT, root="SPXW")
    positions, problems, notes = legs_to_positions([leg], BOOK, SNAPSHOT, NOW)
    assert problems == []
    (made,) = positions
    spxw = [p for p in BOOK if p.symbol.startswith("SPXW")]
    assert made.multiplier == 100
    assert made.settlement is spxw[0].settlement
    assert made.iv in {p.iv for p in spxw}
    assert made.source is Source.WHAT_IF
    assert made.expiry == datetime(2027, 1, 15, 16, 0, tzinfo=NEW_YORK)
    assert any("nearest strike/expiry" in note for note in notes)


def test_unvaluable_leg_fails_the_check_and_says_why() -> None:
    leg = TradeLeg(underlying="ZZZZ", quantity=1, expiry=date(2027, 1, 15), strike=10, right=Right.CALL)
    result = what_if(BOOK, [leg], SNAPSHOT, MATRIX, NOW)
    assert result.verdict is Verdict.FAIL
    (problem,) = result.problems
    assert (problem.leg, problem.field) == (0, "iv")
    assert "ZZZZ" in problem.reason


def test_expired_leg_is_a_problem_not_a_position() -> None:
    leg = TradeLeg(underlying="SPY", quantity=1, expiry=date(2026, 11, 20), strike=600, right=Right.CALL, iv=0.2)
    positions, problems, _ = legs_to_positions([leg], BOOK, SNAPSHOT, NOW)
    assert positions == []
    assert problems[0].field == "expiry"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"underlying": "SPY", "quantity": 1, "strike": 600}, "missing expiry, right"),
        ({"underlying": "SPY", "quantity": 0}, "quantity 0"),
    ],
)
def test_incomplete_leg_is_rejected_by_the_model(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TradeLeg.model_validate(fields)
