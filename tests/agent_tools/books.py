"""Tool contexts for the agent_tools tests: the demo book at a frozen instant, and small breaching books."""

from __future__ import annotations

from datetime import datetime

from agent_tools.catalog import build_context
from agent_tools.registry import ToolContext
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs
from models.conventions import SettlementTime, expiry_instant
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition
from tests.books import FROZEN, high_vol_snapshot, spy_shares

__all__ = [
    "FROZEN",
    "delta_breach_context",
    "demo_context",
    "high_vol_snapshot",
    "spy_option",
    "spy_shares",
    "vega_breach_context",
]


def demo_context(now: datetime = FROZEN) -> ToolContext:
    """The bundled demo book and snapshot at `now`."""
    inputs = demo_inputs(now)
    return build_context(inputs.positions, inputs.market, load_risk_matrix(), now, inputs.rejected, demo=inputs.demo)


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
