"""Small hand-built books for dashboard tests."""

from __future__ import annotations

from datetime import UTC, datetime

from config.risk_matrix import load_risk_matrix
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import InstrumentKind, Source, UnifiedPosition
from risk_engine.report import RiskReport, build_risk_report

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _quote(value: float) -> Quote:
    return Quote(value=value, source="test", as_of=NOW)


def breaching_report() -> RiskReport:
    """A high-volatility day (VIX 26) and 2,000 SPY shares: 200 SPX deltas against a limit of 100."""
    snapshot = MarketSnapshot(
        vix=_quote(26.0),
        vix3m=_quote(25.0),
        vvix=_quote(110.0),
        spx=_quote(6000.0),
        risk_free_rate=_quote(0.04),
        underlyings={
            "SPY": UnderlyingMarket(spot=_quote(600.0), beta=Beta(value=1.0, source=BetaSource.BROKER, as_of=NOW))
        },
        as_of=NOW,
    )
    shares = UnifiedPosition(
        source=Source.DEMO,
        broker="IBKR",
        account="T1",
        symbol="SPY",
        kind=InstrumentKind.STOCK,
        underlying="SPY",
        quantity=2000.0,
        multiplier=1.0,
        as_of=NOW,
    )
    return build_risk_report([shares], snapshot, load_risk_matrix(), NOW)
