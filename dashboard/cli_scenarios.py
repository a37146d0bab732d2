"""`riskdash stress` and `riskdash var`: the scenario risk of the (demo) book in text or the README's JSON."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime
from typing import Any, TextIO

from adapters.market_history import load_spx_vix_closes
from agent_tools.scenario_json import stress_json, var_json
from dashboard.book import demo_inputs
from risk_engine.arrays import to_arrays
from risk_engine.replays import ASSUMED_IV_SHOCK_1987, REPLAY_DATES, Replay, market_move, replay_book
from risk_engine.scenarios import VolRule
from risk_engine.stress import StressGrid, stress_grid
from risk_engine.var import (
    DEFAULT_MC_PATHS,
    DEFAULT_MC_SEED,
    DEFAULT_WINDOW_DAYS,
    VarEstimate,
    historical_var,
    monte_carlo_var,
    parametric_var,
)

__all__ = ["register"]

_PERCENT = 100.0


def register(sub: Any) -> None:
    """Adds the `stress` and `var` subcommands to the riskdash parser's subparsers."""
    stress = sub.add_parser("stress", help="stress grid (index x IV x days) and crash replays of the current book")
    stress.add_argument("--json", action="store_true", help="print the JSON contract documented in README")
    stress.add_argument(
        "--date", dest="dates", type=date.fromisoformat, action="append", default=[], help="also replay this day"
    )
    stress.add_argument(
        "--assumed-iv-shock",
        type=float,
        default=ASSUMED_IV_SHOCK_1987 * _PERCENT,
        help="relative IV shock in %% for days without a VIX close (1987); default %(default)s, flagged as assumed",
    )
    stress.add_argument("--vol-rule", choices=[r.value for r in VolRule], default=VolRule.STICKY_STRIKE.value)
    stress.set_defaults(run=_run_stress)

    var = sub.add_parser("var", help="1-day VaR and expected shortfall: historical, parametric, Monte Carlo")
    var.add_argument("--json", action="store_true", help="print the JSON contract documented in README")
    var.add_argument("--window", type=int, default=DEFAULT_WINDOW_DAYS, help="trading days of history")
    var.add_argument("--paths", type=int, default=DEFAULT_MC_PATHS, help="Monte Carlo paths")
    var.add_argument("--seed", type=int, default=DEFAULT_MC_SEED, help="Monte Carlo seed")
    var.add_argument("--vol-rule", choices=[r.value for r in VolRule], default=VolRule.STICKY_STRIKE.value)
    var.set_defaults(run=_run_var)


def _emit_json(payload: dict[str, Any], out: TextIO) -> None:
    out.write(json.dumps(payload, indent=2, allow_nan=False) + "\n")


def _run_stress(args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    inputs = demo_inputs(now)
    arrays = to_arrays(inputs.positions, inputs.market, now)
    rule = VolRule(args.vol_rule)
    history = load_spx_vix_closes()
    try:
        days = list(dict.fromkeys([*REPLAY_DATES, *args.dates]))
        moves = [market_move(history, day, assumed_iv_shock=args.assumed_iv_shock / _PERCENT) for day in days]
        grid = stress_grid(arrays, vol_rule=rule)
    except ValueError as exc:
        err.write(f"riskdash stress: {exc}\n")
        return 1
    replays = replay_book(arrays, moves, vol_rule=rule)
    if args.json:
        _emit_json(stress_json(grid, replays, now, inputs.demo), out)
    else:
        out.write(_stress_text(grid, replays, now, inputs.demo) + "\n")
    return 0


def _stress_text(grid: StressGrid, replays: tuple[Replay, ...], now: datetime, demo: bool) -> str:
    """The grid at IV unchanged (rows: index moves in 5 % steps; columns: horizons), the worst cell, the replays."""
    header = f"Stress test of the {'demo ' if demo else ''}book, as of {now.isoformat()} (full revaluation, USD)"
    lines = [header, f"{'index move':>10} " + " ".join(f"{f'+{h:g} d':>14}" for h in grid.horizons_days)]
    vol_zero = int(abs(grid.vol_shocks).argmin())
    for i, shock in enumerate(grid.spot_shocks):
        if round(shock * _PERCENT) % 5 == 0:
            cells = " ".join(f"{grid.pnl_usd[h, i, vol_zero]:>14,.0f}" for h in range(grid.horizons_days.size))
            lines.append(f"{shock * _PERCENT:>+9.0f}% {cells}")
    w = grid.worst
    lines.append(
        f"Worst cell: index {w.spot_shock * _PERCENT:+.0f} %, IV {w.vol_shock * _PERCENT:+.0f} % (relative), "
        f"+{w.horizon_days:g} days: {w.pnl_usd:,.0f} USD"
    )
    worst_error = abs(grid.approximation_error_usd).max()
    lines.append(f"Largest delta-gamma-vega-theta error over the grid: {worst_error:,.0f} USD")
    lines.append("Replays (today's book, real S&P 500 and VIX closes):")
    for r in replays:
        m = r.move
        flag = "  (IV shock assumed)" if m.assumed else ""
        lines.append(
            f"  {m.date}  SPX {m.index_move * _PERCENT:+7.2f} %  VIX {m.vix_change * _PERCENT:+7.1f} %  "
            f"P&L {r.pnl_usd:>14,.0f} USD{flag}"
        )
    if grid.excluded:
        lines.append(f"Excluded (missing inputs): {', '.join(grid.excluded)}")
    return "\n".join(lines)


def _run_var(args: argparse.Namespace, out: TextIO, err: TextIO, now: datetime) -> int:
    inputs = demo_inputs(now)
    arrays = to_arrays(inputs.positions, inputs.market, now)
    history = load_spx_vix_closes()
    rule = VolRule(args.vol_rule)
    try:
        estimates = (
            historical_var(arrays, history, window_days=args.window, vol_rule=rule),
            parametric_var(arrays, history, window_days=args.window, vol_rule=rule),
            monte_carlo_var(arrays, history, paths=args.paths, seed=args.seed, window_days=args.window, vol_rule=rule),
        )
    except ValueError as exc:
        err.write(f"riskdash var: {exc}\n")
        return 1
    if args.json:
        _emit_json(var_json(estimates, now, inputs.demo), out)
    else:
        out.write(_var_text(estimates, now, inputs.demo) + "\n")
    return 0


def _var_text(estimates: tuple[VarEstimate, ...], now: datetime, demo: bool) -> str:
    lines = [
        f"1-day VaR / expected shortfall of the {'demo ' if demo else ''}book, as of {now.isoformat()} (USD losses)",
        f"{'method':<12} {'VaR 95':>12} {'VaR 99':>12} {'ES 95':>12} {'ES 99':>12}  window",
    ]
    for e in estimates:
        extra = f", {e.paths:,} paths, seed {e.seed}" if e.paths is not None else ""
        lines.append(
            f"{e.method:<12} {e.var95_usd:>12,.0f} {e.var99_usd:>12,.0f} {e.es95_usd:>12,.0f} {e.es99_usd:>12,.0f}  "
            f"{e.window_days} days {e.window_start}..{e.as_of}{extra}"
        )
    return "\n".join(lines)
