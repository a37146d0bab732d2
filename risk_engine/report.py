"""`build_risk_report`: the whole pipeline — arrays, Greeks, aggregation, regime, limits — for one snapshot.

Pure: positions, market snapshot, risk matrix and the valuation instant come in; a typed report goes out.
The dashboard, the CLI and the assistant all read this one report, so every figure has one computation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from config.risk_matrix import RiskMatrix
from models.market import MarketSnapshot, Quote
from models.positions import UnifiedPosition
from risk_engine.aggregation import (
    BookTotals,
    GroupTotals,
    PositionGreeks,
    book_totals,
    bucket_labels,
    group_totals,
    position_greeks,
)
from risk_engine.arrays import PositionArrays, StrArray, to_arrays
from risk_engine.limits import LimitCheck, check_limits
from risk_engine.regime import RegimeInputs, RegimeResult, classify_regime

__all__ = ["InputQuote", "RiskReport", "ThetaVegaZoneStatus", "build_risk_report", "regime_inputs_from"]


class ThetaVegaZoneStatus(StrEnum):
    """Where the book's |θ|/|ν| ratio sits in Sebastian's zones (config theta_vega_zone)."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    UNDEFINED = "undefined"


@dataclass(frozen=True)
class InputQuote:
    """A regime input as shown: value (None when missing), its source and as-of."""

    name: str
    value: float | None
    source: str | None
    as_of: datetime | None


@dataclass(frozen=True)
class RiskReport:
    """Everything the page shows for one refresh, computed once."""

    as_of: datetime
    demo: bool
    regime: RegimeResult
    regime_quotes: tuple[InputQuote, ...]
    totals: BookTotals
    limits: tuple[LimitCheck, ...]
    arrays: PositionArrays
    greeks: PositionGreeks
    dte_bucket: StrArray
    by_underlying: GroupTotals
    by_bucket: GroupTotals
    by_account: GroupTotals
    by_broker: GroupTotals
    near_expiry_bucket: str
    near_expiry_gamma: float
    near_expiry_gamma_limit: float
    theta_vega_zone: ThetaVegaZoneStatus

    @property
    def near_expiry_warning(self) -> bool:
        """True when |beta-weighted gamma| in the near-expiry bucket exceeds the configured threshold."""
        return abs(self.near_expiry_gamma) > self.near_expiry_gamma_limit


def _value(quote: Quote | None) -> float | None:
    return None if quote is None else quote.value


def regime_inputs_from(snapshot: MarketSnapshot) -> RegimeInputs:
    """The regime classifier's inputs taken from a market snapshot (None where the snapshot lacks one)."""
    return RegimeInputs(
        vix=_value(snapshot.vix),
        vix3m=_value(snapshot.vix3m),
        vvix=_value(snapshot.vvix),
        recession_prob=_value(snapshot.recession_prob),
    )


def _quotes(snapshot: MarketSnapshot) -> tuple[InputQuote, ...]:
    named = (
        ("vix", snapshot.vix),
        ("vix3m", snapshot.vix3m),
        ("vvix", snapshot.vvix),
        ("recession_prob", snapshot.recession_prob),
        ("spx", snapshot.spx),
        ("risk_free_rate", snapshot.risk_free_rate),
    )
    return tuple(
        InputQuote(name, None, None, None) if q is None else InputQuote(name, q.value, q.source, q.as_of)
        for name, q in named
    )


def _zone(ratio: float | None, matrix: RiskMatrix) -> ThetaVegaZoneStatus:
    if ratio is None or math.isnan(ratio):
        return ThetaVegaZoneStatus.UNDEFINED
    zone = matrix.theta_vega_zone
    if zone.green_low <= ratio <= zone.green_high:
        return ThetaVegaZoneStatus.GREEN
    if ratio < zone.red_below or ratio > zone.red_above:
        return ThetaVegaZoneStatus.RED
    return ThetaVegaZoneStatus.AMBER


def build_risk_report(
    positions: Sequence[UnifiedPosition], snapshot: MarketSnapshot, matrix: RiskMatrix, now: datetime
) -> RiskReport:
    """The risk report of `positions` under `snapshot` and the regime limits of `matrix`, valued at `now`.

    Args:
        positions: The book (any mix of brokers and accounts).
        snapshot: Market inputs (regime inputs, spots, betas, rate, dividend yields).
        matrix: The validated risk matrix (config/risk_matrix.yaml).
        now: Valuation instant, tz-aware.
    """
    arrays = to_arrays(positions, snapshot, now)
    greeks = position_greeks(arrays)
    totals = book_totals(arrays, greeks)
    regime = classify_regime(matrix, regime_inputs_from(snapshot))
    limits = matrix.regimes[regime.limits_regime].limits
    buckets = [(b.label, b.min_days, b.max_days) for b in matrix.dte_buckets]
    dte_bucket = bucket_labels(arrays.dte_days, arrays.has_expiry, buckets)
    by_bucket = group_totals(dte_bucket, greeks, order=[label for label, _, _ in buckets])
    near = matrix.near_expiry_gamma
    near_gamma = float(greeks.bw_gamma[dte_bucket == near.bucket].sum()) if arrays.size else 0.0
    return RiskReport(
        as_of=now,
        demo=snapshot.demo,
        regime=regime,
        regime_quotes=_quotes(snapshot),
        totals=totals,
        limits=check_limits(totals, limits, matrix.status_thresholds),
        arrays=arrays,
        greeks=greeks,
        dte_bucket=dte_bucket,
        by_underlying=group_totals(arrays.underlying, greeks),
        by_bucket=by_bucket,
        by_account=group_totals(arrays.account, greeks),
        by_broker=group_totals(arrays.broker, greeks),
        near_expiry_bucket=near.bucket,
        near_expiry_gamma=near_gamma,
        near_expiry_gamma_limit=near.max_abs_gamma,
        theta_vega_zone=_zone(totals.theta_vega_ratio, matrix),
    )
