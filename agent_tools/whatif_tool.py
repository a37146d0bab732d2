"""`what_if_trade`: the pre-trade check as an assistant tool, and the JSON of `riskdash whatif --json`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent_tools.registry import ToolArgs, ToolContext, ToolSpec
from agent_tools.serialize import finite_or_none
from models.trade import TradeLeg
from risk_engine.aggregation import BookTotals
from risk_engine.whatif import LimitChange, WhatIfResult, what_if

__all__ = ["WHATIF_TOOLS", "WhatIfArgs", "whatif_json"]


class WhatIfArgs(ToolArgs):
    """The hypothetical legs to check (nothing is sent to a broker)."""

    legs: list[TradeLeg] = Field(
        description="legs to add: options need expiry (YYYY-MM-DD), strike, right (C/P) and signed quantity; "
        "shares only underlying and quantity; missing terms and IV are taken from the book's own positions",
    )


def _totals(totals: BookTotals) -> dict[str, float | None]:
    return {
        "beta_weighted_delta_spx_shares": finite_or_none(totals.beta_weighted_delta),
        "beta_weighted_gamma_spx_deltas_per_point": finite_or_none(totals.beta_weighted_gamma),
        "theta_usd_per_day": finite_or_none(totals.theta_per_day),
        "vega_usd_per_vol_point": finite_or_none(totals.vega_per_vol_point),
        "theta_vega_ratio": finite_or_none(totals.theta_vega_ratio),
    }


def _limit(change: LimitChange) -> dict[str, Any]:
    def side(value: float | None, limit: float, utilization: float | None, status: str) -> dict[str, Any]:
        return {
            "value": finite_or_none(value),
            "limit": limit,
            "utilization": finite_or_none(utilization),
            "status": status,
        }

    return {
        "name": change.name,
        "unit": change.unit,
        "before": side(change.value_before, change.limit_before, change.utilization_before, change.status_before),
        "after": side(change.value_after, change.limit_after, change.utilization_after, change.status_after),
    }


def whatif_json(result: WhatIfResult) -> dict[str, Any]:
    """`{"verdict", "reasons", "legs", "problems", "assumptions", "limits": [{name, unit, before, after}],
    "totals_before", "totals_after", "regime", "as_of", "demo"}` (utilization as a fraction, null if undefined)."""
    return {
        "as_of": result.before.as_of.isoformat(),
        "demo": result.before.demo,
        "regime": result.before.regime.limits_regime,
        "verdict": result.verdict.value,
        "reasons": list(result.reasons),
        "legs": [
            {
                "symbol": p.symbol,
                "underlying": p.underlying,
                "quantity": p.quantity,
                "multiplier": p.multiplier,
                "expiry": None if p.expiry is None else p.expiry.isoformat(),
                "strike": p.strike,
                "right": None if p.right is None else p.right.value,
                "iv": p.iv,
            }
            for p in result.legs
        ],
        "problems": [{"leg": p.leg, "field": p.field, "reason": p.reason} for p in result.problems],
        "assumptions": list(result.assumptions),
        "limits": [_limit(change) for change in result.changes],
        "totals_before": _totals(result.before.totals),
        "totals_after": _totals(result.after.totals),
    }


def what_if_trade(ctx: ToolContext, args: WhatIfArgs) -> dict[str, Any]:
    """Every limit before and after adding the legs to the current book, with the verdict."""
    return whatif_json(what_if(ctx.positions, args.legs, ctx.market, ctx.matrix, ctx.now))


WHATIF_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="what_if_trade",
        description="Pre-trade check (read-only): Greeks and every regime limit before and after adding hypothetical "
        "legs to the current book, with a pass / improves / fail verdict and its reasons.",
        args_model=WhatIfArgs,
        run=what_if_trade,
    ),
)
