"""The stress grid: full-revaluation P&L over index × implied-vol × horizon shocks, and where the Greeks lie.

Owns the default grid (index −20…+20 %, IV −50…+100 % relative, now/+1/+7 days), the worst cell and the
delta-gamma-vega-theta approximation error. Pure numpy over PositionArrays; no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from risk_engine.arrays import PositionArrays
from risk_engine.greeks import FloatArray
from risk_engine.scenarios import VolRule, pct_of_net_liq, revalue, taylor_coefficients, taylor_pnl

__all__ = [
    "DEFAULT_HORIZONS_DAYS",
    "DEFAULT_SPOT_SHOCKS",
    "DEFAULT_VOL_SHOCKS",
    "StressGrid",
    "WorstCell",
    "stress_grid",
]

DEFAULT_SPOT_SHOCKS: Final = np.round(np.linspace(-0.20, 0.20, 41), 10)
"""Index moves −20 %…+20 % in 1 % steps (41, zero included), as fractions."""
DEFAULT_VOL_SHOCKS: Final = np.array([-0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
"""Relative IV moves −50 %…+100 % (11): 10 % steps down, 20 % steps up, so that 'unchanged' is a column."""
DEFAULT_HORIZONS_DAYS: Final = np.array([0.0, 1.0, 7.0])
"""Now, +1 and +7 calendar days."""


@dataclass(frozen=True)
class WorstCell:
    """The grid cell with the lowest P&L: its shocks (fractions), horizon (days) and P&L (USD, % of net liq)."""

    horizon_days: float
    spot_shock: float
    vol_shock: float
    pnl_usd: float
    pnl_pct_net_liq: float | None


@dataclass(frozen=True)
class StressGrid:
    """Stress P&L of the book; grids have shape (horizon, spot, vol).

    pnl_usd is the full revaluation; approx_pnl_usd the delta-gamma-vega-theta expansion at today's Greeks;
    approximation_error_usd = approx − full (positive where the Greeks promise more than the book delivers).
    pnl_pct_net_liq is P&L / net liquidation × 100, None when net liquidation is unknown. excluded lists the
    keys of positions left out because an input is missing (PositionArrays.issues says which).
    """

    spot_shocks: FloatArray
    vol_shocks: FloatArray
    horizons_days: FloatArray
    pnl_usd: FloatArray
    pnl_pct_net_liq: FloatArray | None
    approx_pnl_usd: FloatArray
    approximation_error_usd: FloatArray
    worst: WorstCell
    net_liquidation_usd: float | None
    beta_weighted: bool
    vol_rule: VolRule
    excluded: tuple[str, ...]


def stress_grid(
    p: PositionArrays,
    *,
    net_liquidation_usd: float | None = None,
    spot_shocks: npt.ArrayLike = DEFAULT_SPOT_SHOCKS,
    vol_shocks: npt.ArrayLike = DEFAULT_VOL_SHOCKS,
    horizons_days: npt.ArrayLike = DEFAULT_HORIZONS_DAYS,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
) -> StressGrid:
    """Full-revaluation stress grid of the book in USD, with its worst cell and the Greeks' error per cell.

    Args:
        p: Position arrays at the valuation instant.
        net_liquidation_usd: Net liquidation of the accounts holding the book, USD (None: no % column).
        spot_shocks: Index moves as fractions (default −20…+20 %, 41 steps).
        vol_shocks: Relative IV moves as fractions, each > −1 (default −50…+100 %, 11 steps).
        horizons_days: Calendar days forward (default 0, 1, 7).
        beta_weighted: True: each underlying moves by β × the index move.
        vol_rule: How the vol shock spreads over expiries (scenarios.VolRule).
    """
    spot = np.asarray(spot_shocks, dtype=np.float64)
    vol = np.asarray(vol_shocks, dtype=np.float64)
    horizon = np.asarray(horizons_days, dtype=np.float64)
    pnl = revalue(
        p, spot_shocks=spot, vol_shocks=vol, horizons_days=horizon, beta_weighted=beta_weighted, vol_rule=vol_rule
    )
    coefficients = taylor_coefficients(p, beta_weighted=beta_weighted, vol_rule=vol_rule)
    approx = taylor_pnl(coefficients, spot_shocks=spot, vol_shocks=vol, horizons_days=horizon)
    pct = pct_of_net_liq(pnl, net_liquidation_usd)
    h, s, v = np.unravel_index(int(np.argmin(pnl)), pnl.shape)
    worst = WorstCell(
        horizon_days=float(horizon[h]),
        spot_shock=float(spot[s]),
        vol_shock=float(vol[v]),
        pnl_usd=float(pnl[h, s, v]),
        pnl_pct_net_liq=None if pct is None else float(pct[h, s, v]),
    )
    return StressGrid(
        spot_shocks=spot,
        vol_shocks=vol,
        horizons_days=horizon,
        pnl_usd=pnl,
        pnl_pct_net_liq=pct,
        approx_pnl_usd=approx,
        approximation_error_usd=approx - pnl,
        worst=worst,
        net_liquidation_usd=net_liquidation_usd,
        beta_weighted=beta_weighted,
        vol_rule=vol_rule,
        excluded=tuple(key for key, priced in zip(p.keys, p.priced.tolist(), strict=True) if not priced),
    )
