"""Risk graphs: P&L against the underlying's price at T+0, T+k days and the first expiration, per underlying and
for the SPX-beta-weighted book, with breakevens and 1σ/2σ price bands. Pure data; drawing is the dashboard's job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np

from models.conventions import CALENDAR_DAYS_PER_YEAR
from risk_engine.arrays import PositionArrays
from risk_engine.greeks import FloatArray
from risk_engine.scenarios import revalue_paths, subset

__all__ = ["BOOK_LABEL", "RiskCurve", "RiskGraph", "breakevens", "risk_graph", "risk_graphs"]

BOOK_LABEL: Final = "book (SPX beta-weighted)"
_DEFAULT_POINTS: Final = 121
_DEFAULT_SPAN: Final = 0.20
# The price axis reaches 3σ of the first expiration (σ from the band IV), but never less than ±5 % nor more than
# ±60 %: a week-long 0DTE-heavy graph would otherwise be a sliver, a LEAPS graph mostly empty.
_SIGMAS_SHOWN: Final = 3.0
_MIN_SPAN: Final = 0.05
_MAX_SPAN: Final = 0.60


@dataclass(frozen=True)
class RiskCurve:
    """P&L in USD at each price of the graph, `horizon_days` calendar days from now, and where it crosses zero.

    P&L is measured from today's model value (positions carry no cost basis), so breakevens are the prices at
    which the book is worth what it is worth today; at T+0 today's price is always one of them.

    band_1sd / band_2sd: the price range exp(±nσ√t) around today's price for this horizon (None at T+0 or
    without an IV).
    """

    label: str
    horizon_days: float
    pnl_usd: FloatArray
    breakevens: tuple[float, ...]
    band_1sd: tuple[float, float] | None
    band_2sd: tuple[float, float] | None


@dataclass(frozen=True)
class RiskGraph:
    """The risk graph of one underlying (price axis in its own units) or of the book (price axis: SPX level)."""

    underlying: str
    current_price: float
    prices: FloatArray
    curves: tuple[RiskCurve, ...]
    band_iv: float | None
    positions: int
    excluded: tuple[str, ...]


def breakevens(prices: FloatArray, pnl_usd: FloatArray) -> tuple[float, ...]:
    """Prices where the P&L curve crosses zero, by linear interpolation between grid points.

    Example:
        P&L −1, 1 at prices 99, 101 crosses at 100.
    """
    sign = np.sign(pnl_usd)
    crossings: list[float] = []
    for i in np.flatnonzero(sign[:-1] * sign[1:] < 0.0):
        x0, x1, y0, y1 = prices[i], prices[i + 1], pnl_usd[i], pnl_usd[i + 1]
        crossings.append(float(x0 - y0 * (x1 - x0) / (y1 - y0)))
    crossings.extend(float(prices[i]) for i in np.flatnonzero(sign == 0.0) if 0 < i < sign.size - 1)
    return tuple(sorted(crossings))


def _atm_iv(p: PositionArrays) -> float | None:
    """IV of the live option nearest the money (then nearest expiry), or None without one."""
    live = np.flatnonzero(p.is_option & p.priced & (p.t_years > 0.0))
    if live.size == 0:
        return None
    moneyness = np.abs(np.log(p.strike[live] / p.spot[live]))
    best = live[np.lexsort((p.t_years[live], moneyness))[0]]
    return float(p.iv[best])


def _band(price: float, iv: float | None, horizon_days: float, sigmas: float) -> tuple[float, float] | None:
    if iv is None or horizon_days <= 0.0:
        return None
    width = sigmas * iv * math.sqrt(horizon_days / CALENDAR_DAYS_PER_YEAR)
    return (price * math.exp(-width), price * math.exp(width))


def risk_graph(
    p: PositionArrays,
    underlying: str | None,
    *,
    k_days: float = 7.0,
    points: int = _DEFAULT_POINTS,
    span: float | None = None,
    band_iv: float | None = None,
) -> RiskGraph:
    """P&L curves in USD of one underlying's positions (or, with underlying None, of the beta-weighted book).

    Curves: T+0 (now), T+k (k calendar days on), and the first expiration (the earliest expiry instant still ahead
    among the graph's options: options expiring then are at intrinsic, later ones keep their time value at
    unchanged IV). Prices span ±`span` around today's (default: 3σ of the first expiration, 5…60 %, or ±20 %
    without an IV). The book graph moves each underlying by β × the SPX move; its price axis is the SPX level.

    Args:
        p: Position arrays at the valuation instant.
        underlying: Symbol whose positions to graph; None for the beta-weighted book.
        k_days: The T+k horizon in calendar days.
        points: Number of prices on the axis.
        span: Half-width of the price axis as a fraction of today's price.
        band_iv: IV (decimal) of the σ bands; default: the IV of the graph's option nearest the money.

    Raises:
        ValueError: the underlying has no positions, or no price (or, for the book, no SPX level) is known.
    """
    if underlying is None:
        group, label, price, beta_weighted = p, BOOK_LABEL, p.spx, True
    else:
        rows = p.underlying == underlying
        if not rows.any():
            raise ValueError(f"risk graph: no positions in {underlying!r}; the book holds {sorted(set(p.underlying))}")
        group, label, beta_weighted = subset(p, rows), underlying, False
        spots = group.spot[np.isfinite(group.spot)]
        price = float(spots[0]) if spots.size else math.nan
    if not (math.isfinite(price) and price > 0.0):
        raise ValueError(f"risk graph of {label}: no current price known")
    iv = band_iv if band_iv is not None else _atm_iv(group)
    live = group.is_option & group.priced & (group.t_years > 0.0)
    expiration_days = float(group.t_years[live].min() * CALENDAR_DAYS_PER_YEAR) if live.any() else 0.0
    if span is None:
        span = _DEFAULT_SPAN
        if iv is not None and expiration_days > 0.0:
            reach = _SIGMAS_SHOWN * iv * math.sqrt(expiration_days / CALENDAR_DAYS_PER_YEAR)
            span = min(max(reach, _MIN_SPAN), _MAX_SPAN)
    prices = price * np.linspace(1.0 - span, 1.0 + span, points)
    shocks = prices / price - 1.0
    horizons = (("T+0", 0.0), (f"T+{k_days:g}", k_days), ("expiration", expiration_days))
    curves = []
    for name, days in horizons:
        pnl = revalue_paths(
            group,
            spot_shocks=shocks,
            vol_shocks=np.zeros(points),
            horizons_days=np.array([days]),
            beta_weighted=beta_weighted,
        )
        curves.append(
            RiskCurve(
                label=name,
                horizon_days=days,
                pnl_usd=pnl,
                breakevens=breakevens(prices, pnl),
                band_1sd=_band(price, iv, days, 1.0),
                band_2sd=_band(price, iv, days, 2.0),
            )
        )
    return RiskGraph(
        underlying=label,
        current_price=price,
        prices=prices,
        curves=tuple(curves),
        band_iv=iv,
        positions=group.size,
        excluded=tuple(key for key, ok in zip(group.keys, group.priced.tolist(), strict=True) if not ok),
    )


def risk_graphs(
    p: PositionArrays, *, k_days: float = 7.0, points: int = _DEFAULT_POINTS, index_iv: float | None = None
) -> tuple[RiskGraph, ...]:
    """The beta-weighted book's graph (first; bands from `index_iv`, e.g. VIX / 100) then one per underlying.

    Underlyings without a known price are skipped (their rows are in PositionArrays.issues); so is the book
    graph when no SPX level is known.

    Args:
        p: Position arrays at the valuation instant.
        k_days: The T+k horizon in calendar days.
        points: Number of prices per axis.
        index_iv: IV (decimal) for the book graph's σ bands; default: the nearest-the-money SPX option's.
    """
    graphs: list[RiskGraph] = []
    if math.isfinite(p.spx) and p.spx > 0.0:
        spx_rows = p.underlying == "SPX"
        iv = index_iv if index_iv is not None else _atm_iv(subset(p, spx_rows)) if spx_rows.any() else None
        graphs.append(risk_graph(p, None, k_days=k_days, points=points, band_iv=iv))
    for name in dict.fromkeys(p.underlying.tolist()):
        spots = p.spot[p.underlying == name]
        if np.isfinite(spots).any():
            graphs.append(risk_graph(p, name, k_days=k_days, points=points))
    return tuple(graphs)
