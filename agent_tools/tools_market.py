"""The market tools: the regime and why (with the time since it last changed), Polymarket odds, IV against HV.

Levels come from the MarketSnapshot in the ToolContext; the regime's history comes from the shipped CBOE
closes (adapters.market_history), classified by the same risk matrix.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
from pydantic import Field

from adapters.market_history import HistoryError, load_regime_history
from agent_tools.registry import ToolArgs, ToolContext, ToolSpec
from agent_tools.serialize import regime_json
from agent_tools.tools_common import NoArgs, number, stamp
from models.conventions import NEW_YORK, vol_points_from_decimal
from models.market import Quote
from risk_engine.regime import classify_regime_history

__all__ = ["MARKET_TOOLS", "IvArgs", "last_regime_change"]

_SECONDS_PER_MINUTE = 60.0


def _quote_row(name: str, quote: Quote | None, ctx: ToolContext) -> dict[str, Any]:
    if quote is None:
        return {"name": name, "value": None, "source": None, "as_of": None, "age_minutes": None, "stale": None}
    age = (ctx.now - quote.as_of).total_seconds() / _SECONDS_PER_MINUTE
    return {
        "name": name,
        "value": number(quote.value),
        "source": quote.source,
        "as_of": quote.as_of.isoformat(),
        "age_minutes": number(max(age, 0.0)),
        "stale": age > ctx.matrix.staleness_minutes,
    }


def _day(value: np.datetime64) -> date:
    day = value.astype("datetime64[D]").astype(object)
    assert isinstance(day, date)
    return day


def last_regime_change(ctx: ToolContext) -> dict[str, Any]:
    """When the regime last changed, from the shipped daily CBOE closes classified by ctx.matrix; says how."""
    try:
        history = load_regime_history()
    except HistoryError as exc:
        return {"determined": False, "method": f"shipped CBOE history unreadable: {exc}"}
    labels = classify_regime_history(
        ctx.matrix, history.vix, history.vix3m, history.vvix, np.full(history.vix.shape, np.nan)
    )
    day = ctx.market.as_of.astimezone(NEW_YORK).date()
    first, last = _day(history.dates[0]), _day(history.dates[-1])
    caveat = "the history has no Polymarket odds, so recession-probability clauses never hold in it"
    if day < first:
        return {"determined": False, "method": f"snapshot date {day} is before the history ({first} to {last})"}
    at = int(np.searchsorted(history.dates, np.datetime64(day, "D"), side="right")) - 1
    changed = np.flatnonzero(labels[1 : at + 1] != labels[:at])
    start = int(changed[-1]) + 1 if changed.size else 0
    run_regime = str(labels[at])
    current = ctx.report.regime.regime
    result: dict[str, Any] = {
        "history_first_day": first.isoformat(),
        "history_last_day": last.isoformat(),
        "history_regime_on_day": run_regime,
        "history_day": _day(history.dates[at]).isoformat(),
        "previous_regime": str(labels[start - 1]) if start > 0 else None,
        "changed_on": _day(history.dates[start]).isoformat() if start > 0 else None,
    }
    since_days = (day - _day(history.dates[start])).days if start > 0 else None
    if day <= last:
        return result | {
            "determined": start > 0 and run_regime == current,
            "days_since_change": since_days,
            "trading_days_since_change": at - start if start > 0 else None,
            "method": f"historical snapshot: CBOE closes up to {_day(history.dates[at])} classified day by day "
            f"with the risk matrix; {caveat}",
        }
    gap = (day - last).days
    if run_regime == current:
        return result | {
            "determined": False,
            "days_since_change_at_least": since_days,
            "unobserved_days": gap,
            "method": f"the shipped history ends {last}, {gap} days before the snapshot; it shows {run_regime} "
            f"since {result['changed_on']}, and the snapshot's regime is the same, so the regime has held at "
            f"least that long if nothing changed in the unobserved days; {caveat}",
        }
    return result | {
        "determined": False,
        "days_since_change_at_most": gap,
        "unobserved_days": gap,
        "method": f"the shipped history ends {last} in {run_regime}; the snapshot is {current}, so the change "
        f"happened in the {gap} unobserved days after it, on a day the history cannot show; {caveat}",
    }


def get_market_regime(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    """The regime, its deciding clause and inputs (with source and age), term structure, and its last change."""
    report, market = ctx.report, ctx.market
    term = report.regime.inputs.get("term_structure")
    state = None if term is None else "contango" if term > 1.0 else "backwardation" if term < 1.0 else "flat"
    quotes = [
        _quote_row(name, quote, ctx)
        for name, quote in (
            ("vix", market.vix),
            ("vix3m", market.vix3m),
            ("vvix", market.vvix),
            ("recession_prob", market.recession_prob),
            ("spx", market.spx),
        )
    ]
    return stamp(ctx) | {
        "regime": regime_json(report.regime),
        "vix_points": number(report.regime.inputs.get("vix")),
        "vix3m_points": number(report.regime.inputs.get("vix3m")),
        "vvix_points": number(report.regime.inputs.get("vvix")),
        "term_structure_ratio": number(term),
        "term_structure_state": state,
        "quotes": quotes,
        "stale_inputs": [q["name"] for q in quotes if q["stale"]],
        "last_change": last_regime_change(ctx),
    }


def get_macro_indicators(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    """Polymarket's US-recession probability from the snapshot, its age, and the regime clauses that use it."""
    quote = ctx.market.recession_prob
    row = _quote_row("recession_prob", quote, ctx)
    return stamp(ctx) | {
        "available": quote is not None,
        "recession_probability": row["value"],
        "recession_probability_pct": None if quote is None else number(100.0 * quote.value),
        "source": row["source"],
        "quote_as_of": row["as_of"],
        "age_minutes": row["age_minutes"],
        "stale": row["stale"],
        "regime_conditions_using_it": [
            {"regime": name, "condition": spec.condition.text}
            for name, spec in ctx.matrix.regimes.items()
            if "Polymarket_Recession_Prob" in spec.condition.text
        ],
    }


class IvArgs(ToolArgs):
    """Arguments of get_iv_analysis."""

    underlying: str | None = Field(default=None, description="One underlying (default: every one in the book).")


def _grade(edge: float | None, ctx: ToolContext) -> str | None:
    if edge is None:
        return None
    th = ctx.matrix.natenberg_edge_vol_points
    side = "rich" if edge > 0 else "cheap"
    if abs(edge) >= th.strong:
        return f"strong ({side})"
    if abs(edge) >= th.moderate:
        return f"moderate ({side})"
    return "no edge"


def _points(value: float | None) -> float | None:
    return None if value is None else number(vol_points_from_decimal(value))


def get_iv_analysis(ctx: ToolContext, args: IvArgs) -> dict[str, Any]:
    """Per underlying: IV (vega-weighted over the book's options, else the snapshot's) vs HV20/HV30 in vol points."""
    a, g = ctx.report.arrays, ctx.report.greeks
    names = list(dict.fromkeys(a.underlying.tolist()))
    if args.underlying is not None:
        names = [n for n in names if n.upper() == args.underlying.strip().upper()] or [args.underlying.strip()]
    rows = []
    for name in names:
        market = ctx.market.underlying(name)
        options = (a.underlying == name) & a.is_option & a.priced
        weights = np.abs(g.vega_usd_per_vol_point[options])
        book_iv = float((a.iv[options] * weights).sum() / weights.sum()) if weights.sum() > 0 else None
        iv = book_iv if book_iv is not None else (None if market.iv is None else market.iv.value)
        hv20 = None if market.hv20 is None else market.hv20.value
        hv30 = None if market.hv30 is None else market.hv30.value
        edge20 = None if iv is None or hv20 is None else vol_points_from_decimal(iv - hv20)
        edge30 = None if iv is None or hv30 is None else vol_points_from_decimal(iv - hv30)
        vega = float(g.vega_usd_per_vol_point[a.underlying == name].sum())
        rows.append(
            {
                "underlying": name,
                "iv_vol_points": _points(iv),
                "iv_source": "book, vega-weighted" if book_iv is not None else ("snapshot" if iv is not None else None),
                "snapshot_iv_vol_points": _points(None if market.iv is None else market.iv.value),
                "hv20_vol_points": _points(hv20),
                "hv30_vol_points": _points(hv30),
                "edge_vs_hv20_vol_points": number(edge20),
                "edge_vs_hv30_vol_points": number(edge30),
                "natenberg_grade": _grade(edge20, ctx),
                "iv_rank_pct": None if market.iv_rank is None else number(100.0 * market.iv_rank.value),
                "book_vega_usd_per_vol_point": number(vega),
                "book_side": "short vol" if vega < 0 else "long vol" if vega > 0 else "flat",
            }
        )
    th = ctx.matrix.natenberg_edge_vol_points
    return stamp(ctx) | {
        "underlyings": rows,
        "edge_thresholds_vol_points": {"moderate": th.moderate, "strong": th.strong},
        "method": "edge = IV minus HV20 (realised vol as the forecast), graded by natenberg_edge_vol_points in "
        "config/risk_matrix.yaml; HV30 edge shown for comparison",
    }


MARKET_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        "get_market_regime",
        "The market regime and why: VIX, VIX3M, term structure (VIX3M/VIX), VVIX, recession probability, the "
        "deciding clause of config/risk_matrix.yaml, allowed strategies, each input's source and age, and the "
        "time since the regime last changed (from shipped CBOE history) with how that was determined.",
        NoArgs,
        get_market_regime,
    ),
    ToolSpec(
        "get_macro_indicators",
        "Polymarket's US-recession probability from the market snapshot, its age, and the regime conditions "
        "that use it.",
        NoArgs,
        get_macro_indicators,
    ),
    ToolSpec(
        "get_iv_analysis",
        "Implied volatility (vega-weighted over the book's options, else the snapshot's) against realised HV20 "
        "and HV30 per underlying, in vol points, with the Natenberg edge grade and the book's vega there.",
        IvArgs,
        get_iv_analysis,
    ),
)
