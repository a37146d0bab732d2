"""One-day value at risk and expected shortfall of the book, three ways: historical, parametric, Monte Carlo.

Owns the risk factors (S&P 500 return, relative VIX change, from daily closes handed in), the tail statistics and
the Cornish–Fisher expansion. Historical and Monte Carlo revalue the book in full; no I/O, no clock.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
from scipy.special import ndtri

from risk_engine.arrays import PositionArrays
from risk_engine.greeks import BoolArray, FloatArray
from risk_engine.replays import CloseHistory
from risk_engine.scenarios import VolRule, revalue_paths, taylor_coefficients

__all__ = [
    "DEFAULT_MC_PATHS",
    "DEFAULT_MC_SEED",
    "DEFAULT_WINDOW_DAYS",
    "MIN_WINDOW_DAYS",
    "FactorWindow",
    "VarEstimate",
    "cornish_fisher_quantile",
    "factor_window",
    "historical_var",
    "monte_carlo_var",
    "parametric_var",
    "quadratic_cumulants",
    "tail_losses",
]

DEFAULT_WINDOW_DAYS: Final = 500
"""About two years of trading days."""
MIN_WINDOW_DAYS: Final = 100
"""A 99 % quantile needs at least 100 observations to be more than the single worst day."""
DEFAULT_MC_PATHS: Final = 10_000
DEFAULT_MC_SEED: Final = 20_260_101
_ES_NODES: Final = 4_000


@dataclass(frozen=True)
class FactorWindow:
    """Daily risk-factor moves over a window, oldest first: S&P 500 return and VIX relative change (fractions)."""

    dates: np.ndarray
    index_moves: FloatArray
    vix_changes: FloatArray

    @property
    def start(self) -> datetime.date:
        """First day of the window."""
        return _as_date(self.dates[0])

    @property
    def end(self) -> datetime.date:
        """Last day of the window: the as-of date of the market data."""
        return _as_date(self.dates[-1])


@dataclass(frozen=True)
class VarEstimate:
    """VaR and ES of the book's P&L in USD, as positive losses (a negative value is a gain at that quantile).

    var95_usd is the loss exceeded on 5 % of days, es95_usd the mean loss on those days; likewise at 99 %.
    window_days/window_start/as_of describe the history used; paths and seed are set for Monte Carlo only.
    """

    method: str
    var95_usd: float
    var99_usd: float
    es95_usd: float
    es99_usd: float
    horizon_days: float
    window_days: int
    window_start: datetime.date
    as_of: datetime.date
    paths: int | None
    seed: int | None
    note: str


def _as_date(day: np.datetime64) -> datetime.date:
    value = day.astype("datetime64[D]").astype(object)
    assert isinstance(value, datetime.date)
    return value


def factor_window(
    history: CloseHistory, window_days: int = DEFAULT_WINDOW_DAYS, end: datetime.date | None = None
) -> FactorWindow:
    """The last `window_days` daily moves with both SPX and VIX closes, up to `end` (inclusive).

    A day counts only when its VIX close and the previous trading day's both exist, so no move spans a gap.

    Args:
        history: Daily SPX and VIX closes with the previous day's.
        window_days: Number of daily moves (≥ MIN_WINDOW_DAYS).
        end: Last date of the window (default: the last day with a VIX close).

    Raises:
        ValueError: the window is shorter than MIN_WINDOW_DAYS or the history has fewer days before `end`.
    """
    if window_days < MIN_WINDOW_DAYS:
        raise ValueError(f"window_days: {window_days} is too short for a 99 % tail; use ≥ {MIN_WINDOW_DAYS}")
    usable: BoolArray = np.isfinite(history.vix_close) & np.isfinite(history.vix_previous_close)
    if end is not None:
        usable &= history.dates <= np.datetime64(end, "D")
    rows = np.flatnonzero(usable)
    if rows.size < window_days:
        last = "the end of the history" if end is None else end.isoformat()
        raise ValueError(f"window_days: {window_days} requested, only {rows.size} SPX+VIX days up to {last}")
    rows = rows[-window_days:]
    return FactorWindow(
        dates=history.dates[rows],
        index_moves=history.spx_close[rows] / history.spx_previous_close[rows] - 1.0,
        vix_changes=history.vix_close[rows] / history.vix_previous_close[rows] - 1.0,
    )


def _tail_count(n: int, level: float) -> int:
    # n × (1 − level) is an integer for the usual n but not in floating point (500 × 0.05 = 25.000000000000004).
    return max(1, math.ceil(round(n * (1.0 - level), 9)))


def tail_losses(pnl_usd: FloatArray) -> tuple[float, float, float, float]:
    """(VaR95, VaR99, ES95, ES99) in USD of a P&L sample: VaR = k-th worst loss, ES = mean of the k worst.

    k = ceil(n × (1 − level)); so VaR99 ≥ VaR95 and ES ≥ VaR hold for every sample.

    Example:
        P&L −1, −2, …, −100 (n = 100): VaR95 = 96 (5th worst), ES95 = (100 + … + 96) / 5 = 98, VaR99 = ES99 = 100.
    """
    ordered = np.sort(pnl_usd)
    k95, k99 = _tail_count(ordered.size, 0.95), _tail_count(ordered.size, 0.99)
    return (
        float(-ordered[k95 - 1]),
        float(-ordered[k99 - 1]),
        float(-ordered[:k95].mean()),
        float(-ordered[:k99].mean()),
    )


def _revalued_losses(
    p: PositionArrays,
    spot_shocks: FloatArray,
    vol_shocks: FloatArray,
    horizon_days: float,
    beta_weighted: bool,
    vol_rule: VolRule,
) -> tuple[float, float, float, float]:
    """(VaR95, VaR99, ES95, ES99) in USD of the book revalued in full on each (spot, vol) shock pair."""
    pnl = revalue_paths(
        p,
        spot_shocks=spot_shocks,
        vol_shocks=vol_shocks,
        horizons_days=np.array([horizon_days]),
        beta_weighted=beta_weighted,
        vol_rule=vol_rule,
    )
    return tail_losses(pnl)


def _estimate(
    method: str,
    losses: tuple[float, float, float, float],
    window: FactorWindow,
    horizon_days: float,
    note: str,
    *,
    paths: int | None = None,
    seed: int | None = None,
) -> VarEstimate:
    """The VarEstimate of `losses` = (VaR95, VaR99, ES95, ES99) in USD over `window`."""
    var95, var99, es95, es99 = losses
    return VarEstimate(
        method=method,
        var95_usd=var95,
        var99_usd=var99,
        es95_usd=es95,
        es99_usd=es99,
        horizon_days=horizon_days,
        window_days=window.index_moves.size,
        window_start=window.start,
        as_of=window.end,
        paths=paths,
        seed=seed,
        note=note,
    )


def historical_var(
    p: PositionArrays,
    history: CloseHistory,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    end: datetime.date | None = None,
    horizon_days: float = 1.0,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
) -> VarEstimate:
    """Historical-simulation VaR/ES in USD: today's book revalued in full under each real day's SPX and VIX move.

    Args:
        p: Position arrays at the valuation instant.
        history: Daily SPX and VIX closes with the previous day's.
        window_days: Number of past daily moves.
        end: Last date of the window (default: the last in the history).
        horizon_days: Calendar days the clock advances (1: one day's theta is in every scenario).
        beta_weighted: True: each underlying moves by β × the index move.
        vol_rule: How the vol shock spreads over expiries.
    """
    window = factor_window(history, window_days, end)
    losses = _revalued_losses(p, window.index_moves, window.vix_changes, horizon_days, beta_weighted, vol_rule)
    return _estimate(
        "historical",
        losses,
        window,
        horizon_days,
        "full revaluation under each day's real S&P 500 return (× beta) and relative VIX change",
    )


def quadratic_cumulants(c: FloatArray, g: FloatArray, cov: FloatArray) -> tuple[float, float, float, float]:
    """First four cumulants of P = cᵀx + ½ xᵀGx for x ~ N(0, cov) (units of P, P², P³, P⁴).

    κ1 = ½ tr(GΣ); κr = ½ (r−1)! tr((GΣ)^r) + ½ r! cᵀΣ(GΣ)^(r−2)c for r ≥ 2.

    Example:
        c = (1,), G = 0, Σ = (σ²): a normal, cumulants (0, σ², 0, 0).
    """
    gs = g @ cov
    gs2 = gs @ gs
    sc = cov @ c
    k1 = 0.5 * float(np.trace(gs))
    k2 = float(c @ sc) + 0.5 * float(np.trace(gs2))
    k3 = 3.0 * float(sc @ g @ sc) + float(np.trace(gs2 @ gs))
    k4 = 12.0 * float(sc @ g @ cov @ g @ sc) + 3.0 * float(np.trace(gs2 @ gs2))
    return k1, k2, k3, k4


def cornish_fisher_quantile(
    probability: FloatArray, mean: float, std: float, skew: float, excess_kurtosis: float
) -> FloatArray:
    """Quantiles (units of the mean) of a distribution from its first four moments, Cornish–Fisher to 3rd order.

    Example:
        With skew 0 and excess kurtosis 0 it is the normal quantile: probability 0.05 → mean − 1.6449 std.
    """
    z = ndtri(probability)
    w = (
        z
        + (z * z - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * excess_kurtosis / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0
    )
    quantile: FloatArray = mean + std * w
    return quantile


def parametric_var(
    p: PositionArrays,
    history: CloseHistory,
    *,
    window_days: int = DEFAULT_WINDOW_DAYS,
    end: datetime.date | None = None,
    horizon_days: float = 1.0,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
) -> VarEstimate:
    """Delta-gamma-vega VaR/ES in USD with a Cornish–Fisher tail, index and VIX moves jointly normal.

    P&L ≈ Δ·s + ½Γ·s² + ν·v + θ·days (scenarios.TaylorCoefficients) with (s, v) ~ N(0, Σ), Σ the sample
    covariance of the window's daily moves. The P&L's exact cumulants (quadratic_cumulants) give the
    Cornish–Fisher quantiles; ES is the mean of the quantile function over the tail.

    Args:
        p: Position arrays at the valuation instant.
        history: Daily SPX and VIX closes with the previous day's.
        window_days: Number of past daily moves for Σ.
        end: Last date of the window.
        horizon_days: Calendar days of theta in the mean.
        beta_weighted: True: each underlying moves by β × the index move.
        vol_rule: How the vol shock spreads over expiries.
    """
    window = factor_window(history, window_days, end)
    coefficients = taylor_coefficients(p, beta_weighted=beta_weighted, vol_rule=vol_rule)
    cov = np.cov(np.vstack([window.index_moves, window.vix_changes]))
    c = np.array([coefficients.delta_usd, coefficients.vega_usd])
    g = np.array([[coefficients.gamma_usd, 0.0], [0.0, 0.0]])
    k1, k2, k3, k4 = quadratic_cumulants(c, g, cov)
    mean = k1 + coefficients.theta_usd_per_day * horizon_days
    note = "delta-gamma-vega(-theta) P&L, joint normal SPX/VIX moves, Cornish–Fisher quantiles"
    if k2 <= 0.0:
        var95 = var99 = es95 = es99 = -mean
    else:
        std, skew, kurt = math.sqrt(k2), k3 / k2**1.5, k4 / (k2 * k2)
        var95, var99 = (-float(q) for q in cornish_fisher_quantile(np.array([0.05, 0.01]), mean, std, skew, kurt))
        es95, es99 = (
            -float(
                cornish_fisher_quantile((np.arange(_ES_NODES) + 0.5) / _ES_NODES * tail, mean, std, skew, kurt).mean()
            )
            for tail in (0.05, 0.01)
        )
        grid = cornish_fisher_quantile(np.linspace(1e-6, 0.05, 512), mean, std, skew, kurt)
        if np.any(np.diff(grid) < 0.0):
            note += f"; warning: the expansion is not monotone in the tail (skew {skew:.2f}, kurtosis {kurt:.2f})"
    return _estimate("parametric", (var95, var99, es95, es99), window, horizon_days, note)


def monte_carlo_var(
    p: PositionArrays,
    history: CloseHistory,
    *,
    paths: int = DEFAULT_MC_PATHS,
    seed: int = DEFAULT_MC_SEED,
    window_days: int = DEFAULT_WINDOW_DAYS,
    end: datetime.date | None = None,
    horizon_days: float = 1.0,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
) -> VarEstimate:
    """Monte Carlo VaR/ES in USD: the book revalued in full on correlated lognormal SPX and VIX moves.

    Daily log changes of SPX and VIX are drawn jointly normal with zero mean and the window's sample covariance
    (numpy PCG64 generator seeded with `seed`: the same seed gives the same numbers); the shocks are
    exp(x) − 1, so no price or vol goes negative.

    Args:
        p: Position arrays at the valuation instant.
        history: Daily SPX and VIX closes with the previous day's.
        paths: Number of simulated days (≥ MIN_WINDOW_DAYS).
        seed: Random seed.
        window_days: Number of past daily moves for the covariance.
        end: Last date of the window.
        horizon_days: Calendar days the clock advances.
        beta_weighted: True: each underlying moves by β × the index move.
        vol_rule: How the vol shock spreads over expiries.
    """
    if paths < MIN_WINDOW_DAYS:
        raise ValueError(f"paths: {paths} is too few for a 99 % tail; use ≥ {MIN_WINDOW_DAYS}")
    window = factor_window(history, window_days, end)
    log_moves = np.log1p(np.vstack([window.index_moves, window.vix_changes]))
    factor = np.linalg.cholesky(np.cov(log_moves))
    draws = np.random.default_rng(seed).standard_normal((paths, 2)) @ factor.T
    shocks = np.expm1(draws)
    losses = _revalued_losses(p, shocks[:, 0], shocks[:, 1], horizon_days, beta_weighted, vol_rule)
    return _estimate(
        "monte_carlo",
        losses,
        window,
        horizon_days,
        "full revaluation on correlated lognormal SPX/VIX daily moves (window covariance, zero mean)",
        paths=paths,
        seed=seed,
    )
