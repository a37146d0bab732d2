"""The limit tools: every limit's status in the current regime, and why a limit has its value there.

Statuses come from the RiskReport; the explanations quote config/risk_matrix.yaml (values from the loaded
matrix, meanings from the packaged file's comments), never a sentence invented about a number.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final, Literal

from pydantic import Field

from agent_tools.registry import ToolArgs, ToolArgumentError, ToolContext, ToolSpec
from agent_tools.serialize import limit_json
from agent_tools.tools_common import NoArgs, number, stamp
from config.risk_matrix import RiskMatrix, default_risk_matrix_path
from risk_engine.limits import LimitCheck

__all__ = ["LIMITS_TOOLS", "LIMIT_NAMES", "ExplainLimitArgs", "LimitName", "limit_rows"]

LimitName = Literal["max_beta_delta", "max_negative_vega", "min_daily_theta", "max_gamma"]
LIMIT_NAMES: Final[tuple[str, ...]] = ("max_beta_delta", "max_negative_vega", "min_daily_theta", "max_gamma")

_RATIONALE: Final = {
    "max_beta_delta": (
        "Directional exposure: the book's SPX-beta-weighted delta is what a broad index move costs per SPX "
        "point. Fast markets punish directional bets, so calmer regimes allow more of it."
    ),
    "max_negative_vega": (
        "Short volatility: vega is what a one-point rise in implied volatility costs. Sellers collect premium "
        "for carrying it (Sebastian), but a vol spike is the tail that ruins them (Taleb), so the floor follows "
        "what premium the regime pays for the risk and forbids net short vega in a crisis."
    ),
    "min_daily_theta": (
        "Income floor: a premium-selling book should earn at least this much time decay per day for the "
        "risks it carries; a book below it is paying for its risk rather than being paid."
    ),
    "max_gamma": (
        "Convexity: gamma is how fast delta changes as SPX moves; large short gamma turns a fast move into "
        "a growing loss (Taleb), so the bound tightens as moves get faster."
    ),
}


def limit_rows(checks: tuple[LimitCheck, ...]) -> list[dict[str, Any]]:
    """limit_json of each check plus utilization in percent (null when undefined)."""
    rows = []
    for check in checks:
        row = limit_json(check)
        row["utilization_pct"] = None if row["utilization"] is None else number(100.0 * row["utilization"])
        rows.append(row)
    return rows


def check_risk_limits(ctx: ToolContext, args: NoArgs) -> dict[str, Any]:
    """Every limit of the applicable regime: value, limit, utilization, status, plus the near-expiry gamma warning."""
    report, th = ctx.report, ctx.matrix.status_thresholds
    rows = limit_rows(report.limits)
    return stamp(ctx) | {
        "regime": report.regime.regime,
        "limits_regime": report.regime.limits_regime,
        "thresholds_pct": {"warn": 100.0 * th.warn, "alert": 100.0 * th.alert, "breach": 100.0 * th.breach},
        "limits": rows,
        "breached": [r["name"] for r in rows if r["status"] == "breach"],
        "near_breach": [r["name"] for r in rows if r["status"] in ("warn", "alert")],
        "unknown": [r["name"] for r in rows if r["status"] == "unknown"],
        "near_expiry_gamma": {
            "dte_bucket": report.near_expiry_bucket,
            "beta_weighted_gamma_spx_deltas_per_point": number(report.near_expiry_gamma),
            "max_abs_gamma_spx_deltas_per_point": number(report.near_expiry_gamma_limit),
            "warning": report.near_expiry_warning,
        },
        "theta_vega_zone": report.theta_vega_zone.value,
    }


@lru_cache(maxsize=1)
def _yaml_comments() -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """Comments of the packaged risk_matrix.yaml: limit semantics by limit name, inline notes by (regime, limit)."""
    semantics: dict[str, str] = {}
    inline: dict[tuple[str, str], str] = {}
    try:
        text = default_risk_matrix_path().read_text(encoding="utf-8")
    except OSError:  # the values still come from the loaded matrix; only the quoted comments are lost
        return semantics, inline
    regime = ""
    for line in text.splitlines():
        head = re.match(r"#\s+(max_beta_delta|max_negative_vega|min_daily_theta|max_gamma)\s+(.+)", line)
        if head:
            semantics[head.group(1)] = head.group(2).strip()
        block = re.match(r"  ([a-z_]+):\s*$", line)
        if block:
            regime = block.group(1)
        note = re.match(r"\s+(max_beta_delta|max_negative_vega|min_daily_theta|max_gamma):[^#]*#\s*(.+)", line)
        if note and regime:
            inline[(regime, note.group(1))] = note.group(2).strip()
    return semantics, inline


class ExplainLimitArgs(ToolArgs):
    """Arguments of explain_limit."""

    limit: LimitName = Field(description="The limit to explain.")
    regime: str | None = Field(
        default=None, description="Regime name (default: the regime whose limits apply now), e.g. high_volatility."
    )


def _compare(matrix: RiskMatrix, limit: str) -> list[dict[str, Any]]:
    return [
        {
            "regime": name,
            "limit": getattr(spec.limits, limit),
            "condition": spec.condition.text,
            "description": spec.description,
        }
        for name, spec in matrix.regimes.items()
    ]


def explain_limit(ctx: ToolContext, args: ExplainLimitArgs) -> dict[str, Any]:
    """The limit's value and meaning in a regime, the same limit in every regime, and its status now."""
    matrix = ctx.matrix
    regime = args.regime or ctx.report.regime.limits_regime
    if regime not in matrix.regimes:
        known = ", ".join(matrix.regimes)
        raise ToolArgumentError(f"explain_limit: regime: {regime!r} is not in the risk matrix (regimes: {known})")
    spec = matrix.regimes[regime]
    semantics, inline = _yaml_comments()
    check = next((c for c in ctx.report.limits if c.name == args.limit), None)
    applies_now = regime == ctx.report.regime.limits_regime
    return stamp(ctx) | {
        "limit": args.limit,
        "regime": regime,
        "applies_now": applies_now,
        "current_regime": ctx.report.regime.regime,
        "value": getattr(spec.limits, args.limit),
        "unit": None if check is None else check.unit,
        "semantics": semantics.get(args.limit),
        "yaml_note": inline.get((regime, args.limit)),
        "regime_condition": spec.condition.text,
        "regime_description": spec.description,
        "allowed_strategies": list(spec.limits.allowed_strategies),
        "rationale": _RATIONALE[args.limit],
        "across_regimes": _compare(matrix, args.limit),
        "status_now": None if check is None or not applies_now else limit_json(check),
        "source": "config/risk_matrix.yaml",
    }


LIMITS_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        "check_risk_limits",
        "Every Greek limit of the regime that applies now: the book's value, the limit, utilization in percent, "
        "status (ok/warn/alert/breach/unknown) and reason; also the near-expiry gamma warning.",
        NoArgs,
        check_risk_limits,
    ),
    ToolSpec(
        "explain_limit",
        "Why a limit has its value in a regime: the value and unit, its meaning and notes from "
        "config/risk_matrix.yaml, the regime's condition, description and allowed strategies, and the same limit "
        "in every regime.",
        ExplainLimitArgs,
        explain_limit,
    ),
)
