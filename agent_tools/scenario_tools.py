"""The assistant's scenario tools: stress test, historical replay and VaR, each a full revaluation of the book.

Tools read the context's position arrays and call risk_engine; the S&P 500 and VIX closes come from the package
data shipped with riskdash (adapters.market_history reads files only, never the network, never a broker).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from pydantic import Field

from adapters.market_history import load_spx_vix_closes
from agent_tools.registry import ToolArgs, ToolArgumentError, ToolContext, ToolSpec
from agent_tools.scenario_json import replay_json, var_estimate_json
from agent_tools.serialize import finite_or_none
from models.account import AccountValues
from models.positions import UnifiedPosition
from risk_engine.replays import ASSUMED_IV_SHOCK_1987, REPLAY_DATES, market_move, replay_book
from risk_engine.scenarios import VolRule, pct_of_net_liq, revalue_paths
from risk_engine.stress import stress_grid
from risk_engine.var import (
    DEFAULT_MC_PATHS,
    DEFAULT_MC_SEED,
    DEFAULT_WINDOW_DAYS,
    MIN_WINDOW_DAYS,
    VarEstimate,
    historical_var,
    monte_carlo_var,
    parametric_var,
)

__all__ = [
    "SCENARIO_TOOLS",
    "GetVarArgs",
    "ReplayArgs",
    "StressTestArgs",
    "book_net_liquidation_usd",
    "get_var",
    "replay_historical_day",
    "run_stress_test",
]

_PERCENT = 100.0


def book_net_liquidation_usd(positions: Sequence[UnifiedPosition], accounts: Sequence[AccountValues]) -> float | None:
    """Net liquidation in USD of the accounts holding `positions`; None unless every one reports it in USD."""
    by_account = {(a.broker, a.account): a for a in accounts}
    holding = {(p.broker, p.account) for p in positions}
    values = [by_account.get(key) for key in holding]
    if not values or any(a is None or a.currency != "USD" or a.net_liquidation is None for a in values):
        return None
    return float(sum(a.net_liquidation for a in values if a is not None and a.net_liquidation is not None))


class StressTestArgs(ToolArgs):
    """Arguments of run_stress_test."""

    index_move_pct: float | None = Field(
        default=None, ge=-90, le=100, description="S&P 500 move in percent (-7 = a 7 % drop); omit for the full grid"
    )
    iv_change_pct: float = Field(
        default=0.0, gt=-100, le=500, description="relative implied-vol change in percent (50 = IVs x 1.5)"
    )
    horizon_days: float = Field(default=0.0, ge=0, le=365, description="calendar days that pass with the move")
    beta_weighted: bool = Field(default=True, description="move each underlying by its beta x the index move")
    vol_rule: VolRule = Field(default=VolRule.STICKY_STRIKE, description="how the IV change spreads over expiries")
    include_grid: bool = Field(default=False, description="also return the full 3 x 41 x 11 P&L grid in USD")


def run_stress_test(context: ToolContext, args: StressTestArgs) -> dict[str, Any]:
    """P&L in USD of the book under one index/IV/time scenario (with per-underlying P&L) and the grid's worst cell."""
    p = context.report.arrays
    net_liq = book_net_liquidation_usd(context.positions, context.accounts)
    grid = stress_grid(p, net_liquidation_usd=net_liq, beta_weighted=args.beta_weighted, vol_rule=args.vol_rule)
    worst = grid.worst
    result: dict[str, Any] = {
        "as_of": context.report.as_of.isoformat(),
        "method": "full revaluation",
        "vol_rule": args.vol_rule.value,
        "beta_weighted": args.beta_weighted,
        "net_liquidation_usd": finite_or_none(net_liq),
        "worst_cell": {
            "index_move_pct": worst.spot_shock * _PERCENT,
            "iv_change_pct": worst.vol_shock * _PERCENT,
            "horizon_days": worst.horizon_days,
            "pnl_usd": worst.pnl_usd,
            "pnl_pct_net_liq": finite_or_none(worst.pnl_pct_net_liq),
        },
        "excluded_positions": list(grid.excluded),
    }
    if args.index_move_pct is not None:
        per_position = revalue_paths(
            p,
            spot_shocks=np.array([args.index_move_pct / _PERCENT]),
            vol_shocks=np.array([args.iv_change_pct / _PERCENT]),
            horizons_days=np.array([args.horizon_days]),
            beta_weighted=args.beta_weighted,
            vol_rule=args.vol_rule,
            per_position=True,
        )[0]
        total = float(per_position.sum())
        pct = pct_of_net_liq(np.array([total]), net_liq)
        names = list(dict.fromkeys(p.underlying.tolist()))
        result["scenario"] = {
            "index_move_pct": args.index_move_pct,
            "iv_change_pct": args.iv_change_pct,
            "horizon_days": args.horizon_days,
            "pnl_usd": total,
            "pnl_pct_net_liq": None if pct is None else float(pct[0]),
            "by_underlying": [
                {"underlying": name, "pnl_usd": float(per_position[p.underlying == name].sum())} for name in names
            ],
        }
    if args.include_grid:
        result["grid"] = {
            "index_moves_pct": (grid.spot_shocks * _PERCENT).tolist(),
            "iv_changes_pct": (grid.vol_shocks * _PERCENT).tolist(),
            "horizons_days": grid.horizons_days.tolist(),
            "pnl_usd": grid.pnl_usd.tolist(),
        }
    return result


class ReplayArgs(ToolArgs):
    """Arguments of replay_historical_day."""

    date: datetime.date | None = Field(
        default=None, description="trading day to replay (YYYY-MM-DD); omit for the standard crash days"
    )
    assumed_iv_change_pct: float = Field(
        default=ASSUMED_IV_SHOCK_1987 * _PERCENT,
        gt=-100,
        le=500,
        description="relative IV change in percent assumed where no VIX close exists (before 1990)",
    )
    horizon_days: float = Field(default=0.0, ge=0, le=30, description="calendar days that pass with the move")
    vol_rule: VolRule = Field(default=VolRule.STICKY_STRIKE, description="how the IV change spreads over expiries")


def replay_historical_day(context: ToolContext, args: ReplayArgs) -> dict[str, Any]:
    """P&L in USD of today's book under real historical days' S&P 500 and VIX moves (flagging assumed IV shocks).

    Raises:
        ToolArgumentError: the date is not a trading day of the shipped history (names the nearest ones).
    """
    history = load_spx_vix_closes()
    days = REPLAY_DATES if args.date is None else (args.date,)
    try:
        moves = [market_move(history, day, assumed_iv_shock=args.assumed_iv_change_pct / _PERCENT) for day in days]
    except ValueError as exc:
        raise ToolArgumentError(f"replay_historical_day: date: {exc}") from exc
    net_liq = book_net_liquidation_usd(context.positions, context.accounts)
    replays = replay_book(
        context.report.arrays,
        moves,
        net_liquidation_usd=net_liq,
        horizon_days=args.horizon_days,
        vol_rule=args.vol_rule,
    )
    rows = []
    for replay in replays:
        row = replay_json(replay)
        rows.append(
            {
                "date": row["date"],
                "previous_date": row["previous_date"],
                "index_move_pct": replay.move.index_move * _PERCENT,
                "vix_change_pct": replay.move.vix_change * _PERCENT,
                "iv_change_assumed": replay.move.assumed,
                "pnl_usd": row["pnl"],
                "pnl_pct_net_liq": row["pnl_pct_net_liq"],
                "spx_close": row["spx_close"],
                "spx_previous_close": row["spx_previous_close"],
                "vix_close": row["vix_close"],
                "vix_previous_close": row["vix_previous_close"],
                "note": row["note"],
            }
        )
    return {
        "as_of": context.report.as_of.isoformat(),
        "method": "full revaluation; each underlying moves by beta x the S&P 500 change, IVs by the VIX change",
        "horizon_days": args.horizon_days,
        "vol_rule": args.vol_rule.value,
        "replays": rows,
    }


class GetVarArgs(ToolArgs):
    """Arguments of get_var."""

    window_days: int = Field(
        default=DEFAULT_WINDOW_DAYS, ge=MIN_WINDOW_DAYS, le=9000, description="trading days of SPX/VIX history"
    )
    paths: int = Field(default=DEFAULT_MC_PATHS, ge=MIN_WINDOW_DAYS, le=100_000, description="Monte Carlo paths")
    seed: int = Field(default=DEFAULT_MC_SEED, ge=0, description="Monte Carlo seed (same seed, same result)")
    vol_rule: VolRule = Field(default=VolRule.STICKY_STRIKE, description="how the IV change spreads over expiries")


# get_var speaks the tools' unit-suffixed names; the same fields carry short names in `riskdash var --json`.
_VAR_TOOL_KEYS: Final = {
    "var95": "var95_usd",
    "var99": "var99_usd",
    "es95": "es95_usd",
    "es99": "es99_usd",
    "window": "window_days",
    "as_of": "market_data_as_of",
}


def _estimate_json(estimate: VarEstimate) -> dict[str, Any]:
    return {_VAR_TOOL_KEYS.get(key, key): value for key, value in var_estimate_json(estimate).items()}


def get_var(context: ToolContext, args: GetVarArgs) -> dict[str, Any]:
    """One-day VaR and expected shortfall (95 %, 99 %) in USD of the book: historical, parametric, Monte Carlo."""
    history = load_spx_vix_closes()
    p = context.report.arrays
    common: dict[str, Any] = {"window_days": args.window_days, "vol_rule": args.vol_rule}
    estimates = (
        historical_var(p, history, **common),
        parametric_var(p, history, **common),
        monte_carlo_var(p, history, paths=args.paths, seed=args.seed, **common),
    )
    return {
        "as_of": context.report.as_of.isoformat(),
        "losses_are_positive": True,
        **{e.method: _estimate_json(e) for e in estimates},
    }


SCENARIO_TOOLS: tuple[ToolSpec[Any], ...] = (
    ToolSpec(
        name="run_stress_test",
        description=(
            "Full-revaluation P&L (USD) of the whole book if the S&P 500 moves by index_move_pct (each underlying "
            "by its beta x that), implied vols change by iv_change_pct (relative) and horizon_days pass; also the "
            "worst cell of the standard grid (index -20..+20 %, IV -50..+100 %, 0/1/7 days)."
        ),
        args_model=StressTestArgs,
        run=run_stress_test,
    ),
    ToolSpec(
        name="replay_historical_day",
        description=(
            "Apply a real day's S&P 500 and VIX moves (default: 1987-10-19, 2008, 2010 flash crash, 2011, 2015, "
            "2018 Volmageddon, March 2020, 2022, 2024-08-05) to today's book; P&L in USD per day."
        ),
        args_model=ReplayArgs,
        run=replay_historical_day,
    ),
    ToolSpec(
        name="get_var",
        description=(
            "One-day value at risk and expected shortfall (95 %, 99 %, USD losses) of the book by historical "
            "simulation, parametric delta-gamma-vega (Cornish-Fisher) and Monte Carlo, with window and paths."
        ),
        args_model=GetVarArgs,
        run=get_var,
    ),
)
