"""Hand-built market days and positions shared by the test packages (tests/dashboard/books.py keeps its own)."""

from __future__ import annotations

from datetime import UTC, datetime

from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import InstrumentKind, Source, UnifiedPosition

__all__ = ["FROZEN", "high_vol_snapshot", "quote", "spy_shares"]

FROZEN = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York (as tests/dashboard uses)


def quote(value: float, now: datetime = FROZEN) -> Quote:
    """A test quote of `value` as of `now`."""
    return Quote(value=value, source="test", as_of=now)


def high_vol_snapshot(now: datetime = FROZEN) -> MarketSnapshot:
    """VIX 26 (high_volatility: delta limit 100, vega floor −2,500), SPX 6,000, SPY 600 with beta 1, no SPY IV."""
    return MarketSnapshot(
        vix=quote(26.0, now),
        vix3m=quote(25.0, now),
        vvix=quote(110.0, now),
        spx=quote(6000.0, now),
        risk_free_rate=quote(0.04, now),
        underlyings={
            "SPY": UnderlyingMarket(spot=quote(600.0, now), beta=Beta(value=1.0, source=BetaSource.BROKER, as_of=now))
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
