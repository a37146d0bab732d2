"""Helpers shared by the assistant's tools: the as-of stamp, JSON numbers, and group tables.

Owns no figure of its own: every number here is read from the RiskReport the tools were given.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from agent_tools.registry import ToolArgs, ToolContext
from agent_tools.serialize import finite_or_none
from risk_engine.aggregation import GroupTotals
from risk_engine.greeks import FloatArray

__all__ = ["GROUP_UNITS", "NoArgs", "group_rows", "largest_by", "number", "stamp"]

GROUP_UNITS: Final = {
    "beta_weighted_delta_spx_shares": "SPX share equivalents",
    "beta_weighted_gamma_spx_deltas_per_point": "SPX deltas per SPX point",
    "theta_usd_per_day": "USD per calendar day",
    "vega_usd_per_vol_point": "USD per vol point",
}
"""Units of the unit-suffixed keys every tool uses for book and group Greeks."""


class NoArgs(ToolArgs):
    """A tool that takes no arguments: it reads the current snapshot only."""


def number(value: float | None) -> float | None:
    """The value as a JSON number (None when missing or not finite, never NaN)."""
    return finite_or_none(None if value is None else float(value))


def stamp(ctx: ToolContext) -> dict[str, Any]:
    """`{"as_of": ISO instant of the report, "demo": bool}`, the head of every tool result."""
    return {"as_of": ctx.report.as_of.isoformat(), "demo": ctx.report.demo}


def group_rows(groups: GroupTotals, key: str) -> list[dict[str, Any]]:
    """One dict per group label: its position count and Greek sums in the unit-suffixed keys of GROUP_UNITS."""
    return [
        {
            key: label,
            "positions_count": int(groups.count[i]),
            "beta_weighted_delta_spx_shares": number(float(groups.beta_weighted_delta[i])),
            "beta_weighted_gamma_spx_deltas_per_point": number(float(groups.beta_weighted_gamma[i])),
            "theta_usd_per_day": number(float(groups.theta_per_day[i])),
            "vega_usd_per_vol_point": number(float(groups.vega_per_vol_point[i])),
        }
        for i, label in enumerate(groups.labels)
    ]


def largest_by(values: FloatArray, count: int) -> list[int]:
    """Indices of the `count` largest |values|, largest first (ties in book order)."""
    order = np.argsort(-np.abs(values), kind="stable")
    return [int(i) for i in order[:count] if values[i] != 0.0]
