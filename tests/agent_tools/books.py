"""Tool contexts for the agent_tools tests: the demo book at a frozen instant, and small breaching books."""

from __future__ import annotations

from datetime import UTC, datetime

from agent_tools.catalog import build_context
from agent_tools.registry import ToolContext
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs
from models.conventions import SettlementTime, expiry_instant
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

FROZEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York (as tests/dashboard uses)


def demo_context(now: datetime = FROZEN) -> ToolContext:
    """The bundled demo book and snapshot at `now`."""
    inputs = demo_inputs(now)
    return build_context(inputs.positions, inputs.market, load_risk_matrix(), now, inputs.rejected, demo=inputs.demo)


def _quote(value: float, now: datetime = FROZEN) -> Quote:
    return Quote(value=value, source="test", as_of=now)


def high_vol_snapshot(now: datetime = FROZEN) -> MarketSnapshot:
    """VIX 26 (high_volatility: delta limit 100, vega floor −2,500), SPX 6,000, SPY 600 with beta 1, no SPY IV."""
    return MarketSnapshot(
        vix=_quote(26.0, now),
        vix3m=_quote(25.0, now),
        vvix=_quote(110.0, now),
        spx=_quote(6000.0, now),
        risk_free_rate=_quote(0.04, now),
        underlyings={
            "SPY": UnderlyingMarket(spot=_quote(600.0, now), beta=Beta(value=1.0, source=BetaSource.BROKER, as_of=now))
        },
        as_of=now,
    )


def spy_shares(quantity: float, now: datetime = FROZEN) -> UnifiedPosition:
    """Long SPY shares in account T1 at IBKR."""
    return UnifiedPosition(
        source=Source.DEMO,
        broker="IBKR",
        account="T1",
        symbol="SPY",
        kind=InstrumentKind.STOCK,
        underlying="SPY",
        quantity=quantity,
        multiplier=1.0,
        as_of=now,
    )


def spy_option(right: Right, strike: float, quantity: float, iv: float, now: datetime = FROZEN) -> UnifiedPosition:
    """A SPY option expiring 2027-01-15 (PM, American) in account T1."""
    expiry = expiry_instant(datetime(2027, 1, 15).date(), SettlementTime.PM)
    return UnifiedPosition(
        source=Source.DEMO,
        broker="IBKR",
        account="T1",
        symbol=f"SPY 270115{right.value}{strike:08.0f}",
        kind=InstrumentKind.EQUITY_OPTION,
        underlying="SPY",
        quantity=quantity,
        multiplier=100.0,
        expiry=expiry,
        strike=strike,
        right=right,
        exercise_style=ExerciseStyle.AMERICAN,
        settlement=SettlementTime.PM,
        iv=iv,
        as_of=now,
    )


def delta_breach_context() -> ToolContext:
    """tests/dashboard/books.breaching_report's book: 2,000 SPY shares = 200 SPX deltas against a limit of 100."""
    return build_context([spy_shares(2000.0)], high_vol_snapshot(), load_risk_matrix(), FROZEN)


def vega_breach_context() -> ToolContext:
    """A short SPY strangle (−25 × 560 P / 640 C) on the VIX-26 day: vega below the −2,500 $/vol pt floor."""
    positions = [spy_option(Right.PUT, 560.0, -25.0, 0.28), spy_option(Right.CALL, 640.0, -25.0, 0.22)]
    return build_context(positions, high_vol_snapshot(), load_risk_matrix(), FROZEN)
