"""JSON-ready views of scenario results: the documented `riskdash stress|var --json` contract and graph data.

Shocks and moves are fractions (−0.2 = −20 %), P&L and VaR in USD (losses positive in VaR/ES), percentages of
net liquidation in percent; every payload says so in its "units" and carries an as-of. NaN never appears (null).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from agent_tools.serialize import finite_or_none
from risk_engine.greeks import FloatArray
from risk_engine.replays import Replay
from risk_engine.risk_graph import RiskGraph
from risk_engine.stress import StressGrid
from risk_engine.var import VarEstimate

__all__ = [
    "STRESS_UNITS",
    "VAR_UNITS",
    "replay_json",
    "risk_graph_json",
    "stress_json",
    "var_estimate_json",
    "var_json",
]

STRESS_UNITS = {
    "spot_shocks": "index move, fraction (-0.2 = -20 %); each underlying moves by beta x this",
    "vol_shocks": "relative implied-vol change, fraction (1.0 = IV doubles)",
    "horizons_days": "calendar days forward",
    "pnl": "USD, full revaluation, [horizon][spot][vol]",
    "pnl_pct_net_liq": "percent of net liquidation (null when unknown)",
    "approximation_error": "USD, delta-gamma-vega-theta estimate minus full revaluation",
    "replays.index_move": "S&P 500 close-to-close change, fraction",
    "replays.vix_change": "VIX close-to-close relative change, fraction (the assumed IV shock when assumed)",
    "replays.pnl": "USD",
}
VAR_UNITS = {
    "var95": "USD loss exceeded on 5 % of days (negative: a gain)",
    "var99": "USD loss exceeded on 1 % of days",
    "es95": "USD mean loss beyond var95",
    "es99": "USD mean loss beyond var99",
    "window": "trading days of SPX/VIX history",
    "horizon_days": "calendar days",
}


def _clean(values: FloatArray) -> Any:
    """A nested list of the array's shape: floats, null where a value is NaN or infinite."""
    cells = np.asarray(values, dtype=np.float64).astype(object)
    cells[~np.isfinite(values)] = None
    return cells.tolist()


def replay_json(replay: Replay) -> dict[str, Any]:
    """One replay: date, index_move, vix_change, pnl, assumed, and the closes it was computed from."""
    move = replay.move
    return {
        "date": move.date.isoformat(),
        "previous_date": move.previous_date.isoformat(),
        "index_move": move.index_move,
        "vix_change": move.vix_change,
        "pnl": finite_or_none(replay.pnl_usd),
        "pnl_pct_net_liq": finite_or_none(replay.pnl_pct_net_liq),
        "assumed": move.assumed,
        "spx_close": move.spx_close,
        "spx_previous_close": move.spx_previous_close,
        "vix_close": move.vix_close,
        "vix_previous_close": move.vix_previous_close,
        "note": move.note,
    }


def stress_json(grid: StressGrid, replays: Sequence[Replay], as_of: datetime, demo: bool) -> dict[str, Any]:
    """The `riskdash stress --json` contract: spot_shocks[41], vol_shocks[11], horizons_days[3], pnl[3][41][11],
    worst, approximation_error[3][41][11], replays[], plus as_of, demo, units, net liquidation and exclusions.
    """
    worst = grid.worst
    return {
        "as_of": as_of.isoformat(),
        "demo": demo,
        "spot_shocks": grid.spot_shocks.tolist(),
        "vol_shocks": grid.vol_shocks.tolist(),
        "horizons_days": grid.horizons_days.tolist(),
        "pnl": _clean(grid.pnl_usd),
        "pnl_pct_net_liq": None if grid.pnl_pct_net_liq is None else _clean(grid.pnl_pct_net_liq),
        "worst": {
            "horizon_days": worst.horizon_days,
            "spot_shock": worst.spot_shock,
            "vol_shock": worst.vol_shock,
            "pnl": finite_or_none(worst.pnl_usd),
            "pnl_pct_net_liq": finite_or_none(worst.pnl_pct_net_liq),
        },
        "approximation_error": _clean(grid.approximation_error_usd),
        "replays": [replay_json(r) for r in replays],
        "net_liquidation": finite_or_none(grid.net_liquidation_usd),
        "beta_weighted": grid.beta_weighted,
        "vol_rule": grid.vol_rule.value,
        "excluded_positions": list(grid.excluded),
        "units": STRESS_UNITS,
    }


def var_estimate_json(estimate: VarEstimate) -> dict[str, Any]:
    """One method: var95, var99, es95, es99 (USD), window (days), and paths/seed for Monte Carlo."""
    payload: dict[str, Any] = {
        "var95": finite_or_none(estimate.var95_usd),
        "var99": finite_or_none(estimate.var99_usd),
        "es95": finite_or_none(estimate.es95_usd),
        "es99": finite_or_none(estimate.es99_usd),
        "window": estimate.window_days,
        "window_start": estimate.window_start.isoformat(),
        "as_of": estimate.as_of.isoformat(),
        "horizon_days": estimate.horizon_days,
        "note": estimate.note,
    }
    if estimate.paths is not None:
        payload |= {"paths": estimate.paths, "seed": estimate.seed}
    return payload


def var_json(estimates: Sequence[VarEstimate], as_of: datetime, demo: bool) -> dict[str, Any]:
    """The `riskdash var --json` contract: {"historical": {...}, "parametric": {...}, "monte_carlo": {...}}."""
    payload: dict[str, Any] = {"as_of": as_of.isoformat(), "demo": demo}
    payload |= {e.method: var_estimate_json(e) for e in estimates}
    return payload | {"units": VAR_UNITS}


def risk_graph_json(graph: RiskGraph) -> dict[str, Any]:
    """One risk graph: prices, current price, curves (label, horizon_days, pnl_usd[], breakevens, 1σ/2σ bands)."""
    return {
        "underlying": graph.underlying,
        "current_price": graph.current_price,
        "prices": graph.prices.tolist(),
        "band_iv": finite_or_none(graph.band_iv),
        "positions": graph.positions,
        "excluded_positions": list(graph.excluded),
        "curves": [
            {
                "label": curve.label,
                "horizon_days": curve.horizon_days,
                "pnl_usd": _clean(curve.pnl_usd),
                "breakevens": list(curve.breakevens),
                "band_1sd": None if curve.band_1sd is None else list(curve.band_1sd),
                "band_2sd": None if curve.band_2sd is None else list(curve.band_2sd),
            }
            for curve in graph.curves
        ],
    }
