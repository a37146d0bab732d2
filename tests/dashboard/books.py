"""Small hand-built books for dashboard tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.risk_matrix import load_risk_matrix
from models.conventions import SettlementTime
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition
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


def _snapshot(spots: dict[str, float], vix: float = 18.0) -> MarketSnapshot:
    return MarketSnapshot(
        vix=_quote(vix),
        vix3m=_quote(vix * 1.1),
        vvix=_quote(90.0),
        spx=_quote(spots.get("SPX", 6000.0)),
        risk_free_rate=_quote(0.04),
        underlyings={
            name: UnderlyingMarket(
                spot=_quote(spot),
                beta=Beta(value=1.0, source=BetaSource.CONFIG, as_of=NOW),
                dividend_yield=_quote(0.0),
            )
            for name, spot in spots.items()
        },
        as_of=NOW,
    )


def spx_option(quantity: float, days: float, strike: float = 6000.0, right: Right = Right.PUT) -> UnifiedPosition:
    """An SPXW European PM option `days` calendar days from NOW, IV 15 %."""
    return UnifiedPosition(
        source=Source.DEMO,
        broker="IBKR",
        account="T1",
        symbol=f"SPXW {days:g}d {strike:g}{right.value}",
        kind=InstrumentKind.INDEX_OPTION,
        underlying="SPX",
        quantity=quantity,
        multiplier=100.0,
        expiry=NOW + timedelta(days=days),
        strike=strike,
        right=right,
        exercise_style=ExerciseStyle.EUROPEAN,
        settlement=SettlementTime.PM,
        iv=0.15,
        as_of=NOW,
    )


def near_expiry_report(quantity: float = -20.0) -> RiskReport:
    """ATM SPX puts 2 days out: short 20 carry about −12 SPX Δ/pt of gamma (φ(0)/(S·σ·√T)·100·20), past 5."""
    positions = [spx_option(quantity, 2.0), spx_option(1.0, 45.0, 5800.0)]
    return build_risk_report(positions, _snapshot({"SPX": 6000.0}), load_risk_matrix(), NOW)
