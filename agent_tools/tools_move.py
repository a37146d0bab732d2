"""The delta-gamma index-move estimate: book P&L for an SPX move from beta-weighted delta and gamma.

A second-order Taylor estimate, not a revaluation: implied vols, time and rates are held, and names move by
beta × the SPX move. The scenario tools (agent_tools.scenario_tools), where present, revalue in full.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from agent_tools.registry import ToolArgs, ToolContext, ToolSpec
from agent_tools.tools_common import number, stamp

__all__ = ["MOVE_TOOLS", "IndexMoveArgs", "estimate_index_move"]

_PERCENT = 100.0
"""move_pct is in percent of the SPX level."""

METHOD = (
    "delta-gamma: P&L = delta x dS + gamma x dS^2 / 2 on SPX-beta-weighted delta (SPX shares) and gamma (SPX "
    "deltas per point); vols, time and rates held; a Taylor estimate, not a full revaluation"
)


class IndexMoveArgs(ToolArgs):
    """Arguments of estimate_index_move."""

    move_pct: float = Field(ge=-50.0, le=50.0, description="SPX move in percent, e.g. -5 for a 5 % drop.")


def estimate_index_move(ctx: ToolContext, args: IndexMoveArgs) -> dict[str, Any]:
    """Estimated book P&L in USD for an SPX move of `move_pct` percent, split into delta and gamma parts."""
    spx = ctx.report.arrays.spx
    delta = ctx.report.totals.beta_weighted_delta
    gamma = ctx.report.totals.beta_weighted_gamma
    points = spx * args.move_pct / _PERCENT
    delta_pnl = delta * points
    gamma_pnl = 0.5 * gamma * points * points
    return stamp(ctx) | {
        "move_pct": args.move_pct,
        "spx_points": number(spx),
        "spx_move_points": number(points),
        "beta_weighted_delta_spx_shares": number(delta),
        "beta_weighted_gamma_spx_deltas_per_point": number(gamma),
        "delta_pnl_usd": number(delta_pnl),
        "gamma_pnl_usd": number(gamma_pnl),
        "total_pnl_usd": number(delta_pnl + gamma_pnl),
        "method": METHOD,
    }


MOVE_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        "estimate_index_move",
        "Delta-gamma estimate of the book's P&L in USD for an SPX move in percent (vols and time held). "
        "A quick Taylor estimate; prefer a full-revaluation stress test when one is available.",
        IndexMoveArgs,
        estimate_index_move,
    ),
)
