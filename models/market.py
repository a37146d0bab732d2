"""`MarketSnapshot`: the market inputs of one refresh, each value with its source and as-of instant."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field, field_validator

from models.base import RiskdashModel

__all__ = ["Beta", "BetaSource", "MarketSnapshot", "Quote", "UnderlyingMarket"]


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("as_of must be tz-aware")
    return value


class Quote(RiskdashModel):
    """One market value (a level, a rate, a probability, a volatility) with where and when it came from."""

    value: float
    source: str = Field(min_length=1)
    as_of: datetime

    _aware = field_validator("as_of")(_require_aware)


class BetaSource(StrEnum):
    """How a beta was obtained; DEFAULT (1.0, nothing known) is flagged wherever it is used."""

    BROKER = "broker"
    ESTIMATED = "estimated"
    CONFIG = "config"
    DEFAULT = "default"


class Beta(RiskdashModel):
    """Beta of an underlying against the reference index (SPX), with its source and fit quality."""

    value: float
    source: BetaSource
    as_of: datetime
    correlation: float | None = Field(default=None, ge=-1, le=1)

    _aware = field_validator("as_of")(_require_aware)


class UnderlyingMarket(RiskdashModel):
    """Market data of one underlying: price, beta to SPX, realised vols, dividend yield, IV and IV rank.

    hv20/hv30/iv are decimals (0.25 = 25 vol); dividend_yield is a continuous decimal rate; iv_rank is 0..1.
    """

    spot: Quote | None = None
    beta: Beta | None = None
    hv20: Quote | None = None
    hv30: Quote | None = None
    dividend_yield: Quote | None = None
    iv: Quote | None = None
    iv_rank: Quote | None = None


class MarketSnapshot(RiskdashModel):
    """Regime inputs and per-underlying data for one refresh; `demo` marks the bundled sample snapshot.

    vix, vix3m, vvix are index levels; recession_prob is 0..1; risk_free_rate a continuous decimal rate.
    """

    vix: Quote | None = None
    vix3m: Quote | None = None
    vvix: Quote | None = None
    recession_prob: Quote | None = None
    spx: Quote | None = None
    risk_free_rate: Quote | None = None
    underlyings: dict[str, UnderlyingMarket] = Field(default_factory=dict)
    as_of: datetime
    demo: bool = False

    _aware = field_validator("as_of")(_require_aware)

    @field_validator("recession_prob")
    @classmethod
    def _probability(cls, quote: Quote | None) -> Quote | None:
        if quote is not None and not 0.0 <= quote.value <= 1.0:
            raise ValueError(f"recession_prob must be a probability in [0, 1], got {quote.value}")
        return quote

    def underlying(self, symbol: str) -> UnderlyingMarket:
        """Market data for `symbol`, or an empty record (every value missing) when the snapshot has none."""
        return self.underlyings.get(symbol, UnderlyingMarket())
