"""Position Greeks and their sums: per position, for the book, and by underlying, DTE bucket, account, broker.

Position Greek = per-unit Greek × signed quantity × multiplier. SPX-beta-weighted delta = Σ delta·q·m·β·S/SPX
(SPX-share equivalents); beta-weighted gamma = Σ gamma·q·m·(β·S/SPX)² (deltas per SPX point); theta in $ per
calendar day; vega in $ per vol point. Rows whose inputs are missing contribute nothing and are counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from risk_engine.arrays import IntArray, PositionArrays, StrArray
from risk_engine.greeks import FloatArray, compute_greeks

__all__ = [
    "BookTotals",
    "GroupTotals",
    "PositionGreeks",
    "book_totals",
    "bucket_labels",
    "group_totals",
    "position_greeks",
]

EXPIRED_BUCKET = "expired"
NO_EXPIRY_BUCKET = "no expiry"


@dataclass(frozen=True)
class PositionGreeks:
    """Per-position exposures (one element per position; 0 where the row could not be priced).

    price: model value per unit (NaN where unpriced); delta_shares: underlying-share equivalents;
    dollar_delta_usd: delta × S; bw_delta: SPX-share equivalents; gamma_shares: shares per $1 move;
    bw_gamma: SPX deltas per SPX point; theta_usd_per_day; vega_usd_per_vol_point; rho_usd_per_pct;
    value_usd: model value of the position.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    delta_shares: FloatArray
    dollar_delta_usd: FloatArray
    bw_delta: FloatArray
    gamma_shares: FloatArray
    bw_gamma: FloatArray
    theta_usd_per_day: FloatArray
    vega_usd_per_vol_point: FloatArray
    rho_usd_per_pct: FloatArray
    value_usd: FloatArray


@dataclass(frozen=True)
class BookTotals:
    """Book sums in riskdash units; theta_vega_ratio = |θ| / |ν| (None when vega is zero)."""

    beta_weighted_delta: float
    beta_weighted_gamma: float
    theta_per_day: float
    vega_per_vol_point: float
    dollar_delta_usd: float
    rho_per_pct: float
    theta_vega_ratio: float | None
    positions: int
    priced_positions: int


@dataclass(frozen=True)
class GroupTotals:
    """Sums per group label (same units as BookTotals), in first-seen label order."""

    labels: tuple[str, ...]
    beta_weighted_delta: FloatArray
    beta_weighted_gamma: FloatArray
    theta_per_day: FloatArray
    vega_per_vol_point: FloatArray
    count: IntArray


def position_greeks(p: PositionArrays) -> PositionGreeks:
    """Greeks of every position, scaled by signed quantity and multiplier (see module docstring for units)."""
    options = p.is_option & p.priced
    # Unpriced and non-option rows get harmless inputs; their option Greeks are masked out below.
    g = compute_greeks(
        p.is_call,
        np.where(options, p.spot, 1.0),
        np.where(options, p.strike, 1.0),
        np.where(options, p.t_years, 1.0),
        p.rate,
        p.div_yield,
        np.where(options, p.iv, 0.2),
        model=p.is_black76,
        american=p.is_american & options,
    )
    linear = ~p.is_option & p.priced
    delta = np.where(options, g.delta, np.where(linear, 1.0, 0.0))
    gamma = np.where(options, g.gamma, 0.0)
    vega = np.where(options, g.vega, 0.0)
    theta = np.where(options, g.theta, 0.0)
    rho = np.where(options, g.rho, 0.0)
    price = np.where(options, g.price, np.where(linear, p.spot, np.nan))
    size = p.quantity * p.multiplier
    spot = np.where(p.priced, p.spot, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spx_ratio = p.beta * spot / p.spx
    return PositionGreeks(
        price=price,
        delta=delta,
        gamma=gamma,
        vega=vega,
        theta=theta,
        delta_shares=delta * size,
        dollar_delta_usd=delta * size * spot,
        bw_delta=delta * size * spx_ratio,
        gamma_shares=gamma * size,
        bw_gamma=gamma * size * spx_ratio * spx_ratio,
        theta_usd_per_day=theta * size,
        vega_usd_per_vol_point=vega * size,
        rho_usd_per_pct=rho * size,
        value_usd=np.where(np.isnan(price), 0.0, price) * size,
    )


def book_totals(p: PositionArrays, g: PositionGreeks) -> BookTotals:
    """Sums over the whole book; beta-weighted values are NaN when no SPX level is known."""
    theta = float(g.theta_usd_per_day.sum())
    vega = float(g.vega_usd_per_vol_point.sum())
    return BookTotals(
        beta_weighted_delta=float(g.bw_delta.sum()),
        beta_weighted_gamma=float(g.bw_gamma.sum()),
        theta_per_day=theta,
        vega_per_vol_point=vega,
        dollar_delta_usd=float(g.dollar_delta_usd.sum()),
        rho_per_pct=float(g.rho_usd_per_pct.sum()),
        theta_vega_ratio=abs(theta) / abs(vega) if vega != 0.0 else None,
        positions=p.size,
        priced_positions=int(p.priced.sum()),
    )


def bucket_labels(
    dte_days: IntArray, is_expiring: np.ndarray, buckets: Sequence[tuple[str, int, int | None]]
) -> StrArray:
    """DTE bucket label of every position: the matching (label, min_days, max_days) bucket, else expired/no expiry.

    Args:
        dte_days: Calendar days to expiry (negative once expired).
        is_expiring: True where the instrument has an expiry.
        buckets: Contiguous (label, min_days, max_days or None for open-ended) in ascending order.
    """
    labels = np.full(dte_days.shape, NO_EXPIRY_BUCKET, dtype=object)
    labels[is_expiring & (dte_days < 0)] = EXPIRED_BUCKET
    for label, low, high in buckets:
        inside = is_expiring & (dte_days >= low) & (dte_days <= (np.iinfo(np.int64).max if high is None else high))
        labels[inside] = label
    return labels.astype(np.str_)


def group_totals(labels: StrArray, g: PositionGreeks, order: Sequence[str] = ()) -> GroupTotals:
    """Sums of the book Greeks per label; `order` lists labels to show first (even when empty)."""
    seen = list(order) + [label for label in dict.fromkeys(labels.tolist()) if label not in order]
    index = {label: i for i, label in enumerate(seen)}
    codes = np.array([index[label] for label in labels.tolist()], dtype=np.int64)
    n = len(seen)

    def total(values: FloatArray) -> FloatArray:
        return np.bincount(codes, weights=values, minlength=n).astype(np.float64)

    return GroupTotals(
        labels=tuple(seen),
        beta_weighted_delta=total(g.bw_delta),
        beta_weighted_gamma=total(g.bw_gamma),
        theta_per_day=total(g.theta_usd_per_day),
        vega_per_vol_point=total(g.vega_usd_per_vol_point),
        count=np.bincount(codes, minlength=n).astype(np.int64),
    )
