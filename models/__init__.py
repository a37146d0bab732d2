"""Typed data of riskdash: positions, market snapshots and the units convention. Imports nothing of ours."""

from models.account import AccountValues
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import (
    OPTION_KINDS,
    BrokerGreeks,
    ExerciseStyle,
    InstrumentKind,
    Right,
    Source,
    UnifiedPosition,
)

__all__ = [
    "OPTION_KINDS",
    "AccountValues",
    "Beta",
    "BetaSource",
    "BrokerGreeks",
    "ExerciseStyle",
    "InstrumentKind",
    "MarketSnapshot",
    "Quote",
    "Right",
    "Source",
    "UnderlyingMarket",
    "UnifiedPosition",
]
