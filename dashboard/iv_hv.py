"""IV vs HV per underlying: implied vol (vega-weighted from the book, else the snapshot's), HV20/HV30, Natenberg edge.

Owns the table's rows: the vega-weighted IV of the book's option rows and the edge grading against the YAML's
natenberg_edge_vol_points. Volatilities are decimals inside, vol points (models.conventions) on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import numpy as np

from config.risk_matrix import NatenbergEdge
from dashboard.format import MISSING, format_instant, format_vol_points
from models.conventions import vol_points_from_decimal
from models.market import MarketSnapshot
from risk_engine.report import RiskReport

__all__ = ["EDGE_COLOURS", "Edge", "IvHvRow", "book_iv_by_underlying", "grade_edge", "iv_hv_rows", "iv_hv_table"]


class Edge:
    """Natenberg edge labels (IV − HV20 in vol points against the YAML's moderate/strong thresholds)."""

    STRONG_SELL: Final = "sell edge (strong)"
    MODERATE_SELL: Final = "sell edge (moderate)"
    NONE: Final = "no edge"
    BUY: Final = "buy edge (IV < HV)"
    UNKNOWN: Final = "unknown"


EDGE_COLOURS: Final = {
    Edge.STRONG_SELL: "#2e7d32",
    Edge.MODERATE_SELL: "#9e9d24",
    Edge.NONE: "#616161",
    Edge.BUY: "#1565c0",
    Edge.UNKNOWN: "#616161",
}


@dataclass(frozen=True)
class IvHvRow:
    """One underlying: IV and where it came from, HV20/HV30, spread IV − HV20 (vol points), edge, IV rank (0..1)."""

    underlying: str
    iv: float | None
    iv_source: str
    hv20: float | None
    hv30: float | None
    spread_vol_points: float | None
    edge: str
    iv_rank: float | None
    as_of: datetime | None


def book_iv_by_underlying(report: RiskReport) -> dict[str, float]:
    """Vega-weighted IV (decimal) of each underlying's priced option rows: Σ IV·|vega $| / Σ |vega $|."""
    arrays = report.arrays
    weight = np.where(arrays.is_option & arrays.priced, np.abs(report.greeks.vega_usd_per_vol_point), 0.0)
    labels = list(dict.fromkeys(arrays.underlying.tolist()))
    codes = np.array([labels.index(u) for u in arrays.underlying.tolist()], dtype=np.int64)
    iv = np.where(weight > 0.0, arrays.iv, 0.0)
    sum_w = np.bincount(codes, weights=weight, minlength=len(labels))
    sum_wiv = np.bincount(codes, weights=weight * iv, minlength=len(labels))
    return {label: float(sum_wiv[i] / sum_w[i]) for i, label in enumerate(labels) if sum_w[i] > 0.0}


def grade_edge(spread_vol_points: float | None, edge: NatenbergEdge) -> str:
    """Natenberg edge of IV − HV (vol points): strong sell from `strong`, moderate from `moderate`, buy below 0."""
    if spread_vol_points is None:
        return Edge.UNKNOWN
    if spread_vol_points >= edge.strong:
        return Edge.STRONG_SELL
    if spread_vol_points >= edge.moderate:
        return Edge.MODERATE_SELL
    if spread_vol_points < 0.0:
        return Edge.BUY
    return Edge.NONE


def iv_hv_rows(report: RiskReport, market: MarketSnapshot, edge: NatenbergEdge) -> list[IvHvRow]:
    """One row per underlying of the book (book order), IV from the book where it holds options.

    Args:
        report: The refresh's report.
        market: The refresh's market snapshot (HV20, HV30, IV, IV rank per underlying).
        edge: The YAML's Natenberg thresholds in vol points.
    """
    book_iv = book_iv_by_underlying(report)
    rows: list[IvHvRow] = []
    for underlying in report.by_underlying.labels:
        data = market.underlying(underlying)
        if underlying in book_iv:
            iv, iv_source = book_iv[underlying], "book (vega-weighted)"
        elif data.iv is not None:
            iv, iv_source = data.iv.value, f"market ({data.iv.source})"
        else:
            iv, iv_source = None, "none"
        hv20 = None if data.hv20 is None else data.hv20.value
        hv30 = None if data.hv30 is None else data.hv30.value
        spread = None if iv is None or hv20 is None else vol_points_from_decimal(iv - hv20)
        stamps = [q.as_of for q in (data.hv20, data.hv30, data.iv) if q is not None]
        rows.append(
            IvHvRow(
                underlying=underlying,
                iv=iv,
                iv_source=iv_source,
                hv20=hv20,
                hv30=hv30,
                spread_vol_points=spread,
                edge=grade_edge(spread, edge),
                iv_rank=None if data.iv_rank is None else data.iv_rank.value,
                as_of=min(stamps) if stamps else None,
            )
        )
    return rows


def iv_hv_table(rows: list[IvHvRow]) -> list[dict[str, str]]:
    """The rows as page text: every volatility in vol points, IV rank in percent, the oldest input's as-of."""
    return [
        {
            "underlying": row.underlying,
            "IV": format_vol_points(row.iv),
            "IV from": row.iv_source,
            "HV20": format_vol_points(row.hv20),
            "HV30": format_vol_points(row.hv30),
            "IV − HV20": MISSING if row.spread_vol_points is None else f"{row.spread_vol_points:+.1f} vol pts",
            "edge": row.edge,
            "IV rank": MISSING if row.iv_rank is None else f"{row.iv_rank:.0%}",
            "as of": format_instant(row.as_of),
        }
        for row in rows
    ]
