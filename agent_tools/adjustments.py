"""suggest_adjustment: for each breached or near-breach limit, candidate adjustments checked by rebuilding the report.

Every candidate's Greek effect and limit statuses come from risk_engine.report.build_risk_report on the adjusted
book; ranking is by the share of the excess cured per USD/day of theta given up. Read-only: nothing is an order.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from agent_tools.adjustment_candidates import MAX_HEDGE_CONTRACTS, Candidate, generate_candidates
from agent_tools.registry import ToolArgs, ToolContext, ToolSpec
from agent_tools.tools_common import GROUP_UNITS, number, stamp
from agent_tools.tools_limits import LimitName, limit_rows
from models.positions import UnifiedPosition
from risk_engine.adjustments import cure_per_theta, cured_fraction, limit_excess, target_utilization
from risk_engine.limits import LimitCheck, LimitStatus
from risk_engine.report import RiskReport, build_risk_report

__all__ = ["ADJUSTMENT_TOOLS", "AdjustmentArgs", "suggest_adjustment"]

_SEVERITY = {"ok": 0, "unknown": 1, "warn": 2, "alert": 3, "breach": 4}
_NEAR = (LimitStatus.WARN, LimitStatus.ALERT)


class AdjustmentArgs(ToolArgs):
    """Arguments of suggest_adjustment."""

    limit: LimitName | None = Field(
        default=None, description="Only this limit (default: every breached, then every near-breach limit)."
    )
    include_near_breach: bool = Field(default=True, description="Also limits in warn or alert, not only breaches.")
    max_candidates: int = Field(default=5, ge=1, le=20, description="Candidates listed per limit, best first.")


def _check(report: RiskReport, name: str) -> LimitCheck:
    return next(c for c in report.limits if c.name == name)


def _rebuild(ctx: ToolContext, positions: tuple[UnifiedPosition, ...]) -> RiskReport:
    return build_risk_report(positions, ctx.market, ctx.matrix, ctx.now)


def _greeks(report: RiskReport) -> dict[str, float | None]:
    t = report.totals
    return {
        "beta_weighted_delta_spx_shares": number(t.beta_weighted_delta),
        "beta_weighted_gamma_spx_deltas_per_point": number(t.beta_weighted_gamma),
        "theta_usd_per_day": number(t.theta_per_day),
        "vega_usd_per_vol_point": number(t.vega_per_vol_point),
    }


def _regime_fit(ctx: ToolContext, candidate: Candidate) -> tuple[bool | None, str]:
    allowed = ctx.report.regime.allowed_strategies
    regime = ctx.report.regime.limits_regime
    if candidate.kind == "roll_out":
        return None, "a roll re-opens the existing structure further out; check that its strategy is allowed"
    if candidate.opens_strategy is None:
        return True, "reduces existing positions: allowed in every regime"
    fits = candidate.opens_strategy.lower() in (s.lower() for s in allowed)
    verdict = "is" if fits else "is NOT"
    return fits, f"opens {candidate.opens_strategy}, which {verdict} among {regime}'s allowed strategies"


def _evaluate(ctx: ToolContext, candidate: Candidate, check: LimitCheck, target: float) -> dict[str, Any]:
    after = _rebuild(ctx, candidate.positions)
    before_excess = limit_excess(check, target) or 0.0
    after_check = _check(after, check.name)
    after_excess = limit_excess(after_check, target)
    fraction = 0.0 if after_excess is None else cured_fraction(before_excess, after_excess)
    theta_before, theta_after = ctx.report.totals.theta_per_day, after.totals.theta_per_day
    before_status = {c.name: c.status.value for c in ctx.report.limits}
    worsened = [
        c.name
        for c in after.limits
        if c.name != check.name and _SEVERITY[c.status.value] > _SEVERITY[before_status[c.name]]
    ]
    new_breaches = [n for n in worsened if _check(after, n).status is LimitStatus.BREACH]
    fits, note = _regime_fit(ctx, candidate)
    before, now = _greeks(ctx.report), _greeks(after)
    change = {k: number((now[k] or 0.0) - (before[k] or 0.0)) for k in before}
    return {
        "kind": candidate.kind,
        "description": candidate.description,
        "legs": [vars(leg) for leg in candidate.legs],
        "greek_change": change,
        "totals_after": now,
        "limits_after": limit_rows(after.limits),
        "target_status_after": after_check.status.value,
        "cures": after_excess is not None and after_excess <= 0.0,
        "excess_before": number(before_excess),
        "excess_after": number(after_excess),
        "cured_pct": number(100.0 * fraction),
        "theta_given_up_usd_per_day": number(max(theta_before - theta_after, 0.0)),
        "cured_pct_per_usd_theta": number(100.0 * cure_per_theta(fraction, theta_before, theta_after)),
        "worsens_other_limits": worsened,
        "breaks_other_limits": new_breaches,
        "regime_allowed": fits,
        "regime_note": note,
        "assumptions": list(candidate.assumptions),
    }


def _sizer(ctx: ToolContext, check: LimitCheck, target: float, excess: float) -> Any:
    def size(unit: tuple[UnifiedPosition, ...]) -> float | None:
        one = _rebuild(ctx, (*ctx.positions, *unit))
        after = limit_excess(_check(one, check.name), target)
        if after is None or after >= excess:
            return None
        contracts = math.ceil(excess / (excess - after))  # position Greeks are linear in quantity
        return float(contracts) if contracts <= MAX_HEDGE_CONTRACTS else None

    return size


def _for_limit(ctx: ToolContext, check: LimitCheck, args: AdjustmentArgs) -> dict[str, Any]:
    target = target_utilization(check.status, ctx.matrix.status_thresholds)
    excess = limit_excess(check, target)
    head = limit_rows((check,))[0] | {"target_utilization_pct": number(100.0 * target), "excess": number(excess)}
    if excess is None or excess <= 0.0:
        return {"limit": head, "candidates": [], "equivalents": [], "note": "nothing to cure"}
    candidates = generate_candidates(ctx, check.name, excess, _sizer(ctx, check, target, excess))
    evaluated = [_evaluate(ctx, c, check, target) for c in candidates]
    curing = [e for e in evaluated if e["cured_pct"] and e["cured_pct"] > 0.0]
    curing.sort(key=lambda e: (-e["cured_pct_per_usd_theta"], -e["cured_pct"]))
    for rank, row in enumerate(curing, start=1):
        row["rank"] = rank
    equivalents = [e for e in evaluated if e["kind"].startswith("synthetic") and e not in curing]
    return {
        "limit": head,
        "candidates": curing[: args.max_candidates],
        "candidates_considered": len(evaluated),
        "equivalents": equivalents[: args.max_candidates],
    }


def suggest_adjustment(ctx: ToolContext, args: AdjustmentArgs) -> dict[str, Any]:
    """Ranked candidate adjustments per breached (then near-breach) limit, each verified on a rebuilt report."""
    wanted = [c for c in ctx.report.limits if args.limit is None or c.name == args.limit]
    breached = [c for c in wanted if c.status is LimitStatus.BREACH]
    near = [c for c in wanted if c.status in _NEAR] if args.include_near_breach else []
    return stamp(ctx) | {
        "regime": ctx.report.regime.regime,
        "limits_regime": ctx.report.regime.limits_regime,
        "allowed_strategies": list(ctx.report.regime.allowed_strategies),
        "totals_before": _greeks(ctx.report),
        "adjustments": [_for_limit(ctx, c, args) for c in (*breached, *near)],
        "ranking": "share of the excess cured (cured_pct) per USD/day of theta given up (at least $1/day)",
        "units": GROUP_UNITS | {"excess": "the limit's own unit (see limit.unit)"},
        "read_only": "suggestions only: riskdash places, stages and sends no orders",
    }


ADJUSTMENT_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        "suggest_adjustment",
        "For each breached or near-breach limit, candidate adjustments (close or reduce the largest contributor, "
        "buy back short wings, add long puts or a put spread, roll out in time, Passarelli synthetic swaps), each "
        "verified by rebuilding the risk report: Greek change, every limit's status after, share of the excess "
        "cured, theta given up, and flags when it worsens another limit or opens a strategy the regime does not "
        "allow. Ranked by cure per USD/day of theta given up. Suggestions only, never orders.",
        AdjustmentArgs,
        suggest_adjustment,
    ),
)
