"""Full revaluation of the book under spot, implied-vol and time scenarios, and its Greeks (Taylor) approximation.

Owns the scenario conventions: how an index shock reaches each underlying (β × shock), how implied vols move
(`VolRule`), how time advances, and the chunking that keeps peak memory bounded. Pure numpy: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

from models.conventions import CALENDAR_DAYS_PER_YEAR, VOL_POINT
from risk_engine.american import american_price_many_spots, american_price_paths
from risk_engine.arrays import PositionArrays
from risk_engine.greeks import BoolArray, FloatArray, compute_greeks, cost_of_carry

__all__ = [
    "VOL_COORDINATED_PIVOT_DAYS",
    "TaylorCoefficients",
    "VolRule",
    "current_values_usd",
    "iv_shock_scale",
    "pct_of_net_liq",
    "revalue",
    "revalue_paths",
    "subset",
    "taylor_coefficients",
    "taylor_pnl",
]

VOL_COORDINATED_PIVOT_DAYS: Final = 30.0
"""VIX measures 30-day implied vol: under the volatility-coordinated rule an option this close to expiry or
closer takes the full IV shock, a longer one the shock × sqrt(30 / days to expiry)."""

# Elements (scenarios × options) priced per call of the pricer along scenario paths: its temporaries and the NaN
# arrays of the Greeks not asked for stay near 1 MB each, so a chunk's peak stays a few tens of MB however many
# paths; on two cores 1 << 17 was faster than 1 << 20 for the VaR benches with American rows, at a fifth of the
# peak memory (bench/bench_scenarios.py).
_CHUNK_ELEMENTS: Final = 1 << 17
# The stress grid's European rows, priced on (row, vol, horizon, spot) axes: 1 << 20 (8 MB per array) took the
# 2,000-position European grid from 58 to 45 ms, its peak from 14 to 29 MB.
_GRID_CHUNK_ELEMENTS: Final = 1 << 20
# An index shock times a high beta can ask for a price at or below zero; a stock then loses its whole value and
# an option is priced at this fraction of today's spot (both pricers are exact there: calls 0, puts their
# deep-in-the-money value).
_MIN_SPOT_FRACTION: Final = 1e-12


class VolRule(StrEnum):
    """How a relative implied-vol shock reaches each option.

    STICKY_STRIKE: every option's IV moves by the same relative shock, IV × (1 + shock), and does not move with
    spot (each strike keeps its own vol). VOL_COORDINATED: as sticky strike, but the shock is scaled down for
    longer expiries by sqrt(30 / days to expiry), capped at 1 — long-dated vols move less than the 30-day VIX.
    """

    STICKY_STRIKE = "sticky_strike"
    VOL_COORDINATED = "vol_coordinated"


def pct_of_net_liq(pnl_usd: FloatArray, net_liquidation_usd: float | None) -> FloatArray | None:
    """P&L as a percentage of net liquidation (−3.5 = −3.5 %), or None when net liquidation is unknown or ≤ 0."""
    if net_liquidation_usd is None or not np.isfinite(net_liquidation_usd) or net_liquidation_usd <= 0.0:
        return None
    pct: FloatArray = np.asarray(pnl_usd, dtype=np.float64) / net_liquidation_usd * 100.0
    return pct


def subset(p: PositionArrays, mask: BoolArray) -> PositionArrays:
    """The positions where `mask` is True, every per-position field filtered alike (SPX level kept).

    Args:
        p: Position arrays.
        mask: Boolean array of length p.size.
    """
    rows = np.flatnonzero(mask)
    changes: dict[str, object] = {}
    for field in fields(p):
        value = getattr(p, field.name)
        if isinstance(value, np.ndarray):
            changes[field.name] = value[rows]
        elif isinstance(value, tuple):
            changes[field.name] = tuple(value[i] for i in rows)
    return replace(p, **changes)  # type: ignore[arg-type]


def iv_shock_scale(p: PositionArrays, vol_rule: VolRule) -> FloatArray:
    """Per-position factor (0..1, dimensionless) applied to a relative IV shock under `vol_rule`.

    Example:
        A 120-day option under VOL_COORDINATED takes sqrt(30 / 120) = 0.5 of the shock: a +40 % VIX move lifts
        its 20 vol to 20 × (1 + 0.4 × 0.5) = 24 vol.
    """
    if vol_rule is VolRule.STICKY_STRIKE:
        return np.ones(p.size)
    days = np.where(np.isfinite(p.t_years), p.t_years, 0.0) * CALENDAR_DAYS_PER_YEAR
    return np.sqrt(VOL_COORDINATED_PIVOT_DAYS / np.maximum(days, VOL_COORDINATED_PIVOT_DAYS))


def _option_rows(p: PositionArrays) -> BoolArray:
    return p.is_option & p.priced


def _linear_rows(p: PositionArrays) -> BoolArray:
    return ~p.is_option & p.priced


def _option_prices(
    p: PositionArrays, rows: npt.NDArray[np.intp], spot: FloatArray, t: FloatArray, iv: FloatArray
) -> FloatArray:
    """Per-unit model prices of the options `rows` at the given (broadcast) spot, time and IV."""
    return compute_greeks(
        p.is_call[rows],
        spot,
        p.strike[rows],
        t,
        p.rate[rows],
        p.div_yield[rows],
        iv,
        model=p.is_black76[rows],
        american=p.is_american[rows],
        greeks=(),
    ).price


def _scenario_prices(
    p: PositionArrays, rows: npt.NDArray[np.intp], spot: FloatArray, t: FloatArray, iv: FloatArray
) -> FloatArray:
    """Per-unit prices of the options `rows` in each scenario, spot, t and iv of shape (scenarios, rows).

    European and Black-76 rows go through `_option_prices`; American rows through `american_price_paths`, whose
    scenarios share exercise boundaries interpolated in vol (within 2e-6 of the strike of the exact pricer).
    """
    american = p.is_american[rows]
    if not american.any():
        return _option_prices(p, rows, spot, t, iv)
    t = np.broadcast_to(t, spot.shape)
    price = np.empty(spot.shape)
    others = np.flatnonzero(~american)
    if others.size:
        price[:, others] = _option_prices(p, rows[others], spot[:, others], t[:, others], iv[:, others])
    am = np.flatnonzero(american)
    rows_am = rows[am]
    carry = cost_of_carry(p.is_black76[rows_am], p.rate[rows_am], p.div_yield[rows_am])
    price[:, am] = american_price_paths(
        p.is_call[rows_am], spot[:, am], p.strike[rows_am], t[:, am], p.rate[rows_am], carry, iv[:, am]
    )
    return price


def current_values_usd(p: PositionArrays) -> FloatArray:
    """Model value of every position in USD (price × quantity × multiplier); 0 where the row is not priced.

    The scenario P&L is measured from these values (not from broker marks), so a zero shock gives zero P&L.
    """
    values = np.zeros(p.size)
    options = np.flatnonzero(_option_rows(p))
    if options.size:
        price = _option_prices(p, options, p.spot[options], p.t_years[options], p.iv[options])
        values[options] = price * p.quantity[options] * p.multiplier[options]
    linear = _linear_rows(p)
    values[linear] = (p.spot * p.quantity * p.multiplier)[linear]
    return values


def _validated(name: str, values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of shocks, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name}: every shock must be a finite number, got {array.tolist()}")
    return array


def _check_moves(vol_shock: FloatArray, horizon: FloatArray) -> None:
    """Raises ValueError naming the axis when a vol shock is <= −100 % or a horizon runs backwards."""
    if np.any(vol_shock <= -1.0):
        raise ValueError(f"vol_shocks: a relative IV shock must be > −1 (−100 %), got min {vol_shock.min()}")
    if np.any(horizon < 0.0):
        raise ValueError(f"horizons_days: the clock only moves forward, got min {horizon.min()}")


def revalue_paths(
    p: PositionArrays,
    *,
    spot_shocks: npt.ArrayLike,
    vol_shocks: npt.ArrayLike,
    horizons_days: npt.ArrayLike,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
    per_position: bool = False,
) -> FloatArray:
    """Full-revaluation P&L in USD of each scenario (spot shock, vol shock, horizon), paired element by element.

    Scenario j moves every underlying by β × spot_shocks[j] (by spot_shocks[j] itself when not beta-weighted),
    every IV by the relative vol_shocks[j] under `vol_rule`, and the clock forward by horizons_days[j] calendar
    days (t_years − days / 365: expiry instants stay exact; an option that expires inside the horizon settles at
    intrinsic value on the shocked price). Options revalue with compute_greeks (Black-Scholes-Merton, Black-76
    for futures options, the American pricer where American); stock and futures rows are linear in their price.
    Rates, dividend yields and betas are held. Rows that are not priced (PositionArrays.priced) contribute 0.

    Args:
        p: Position arrays at the valuation instant.
        spot_shocks: Index (or own) price changes as fractions (−0.07 = −7 %), one per scenario.
        vol_shocks: Relative IV changes as fractions (+0.5 = IV × 1.5), one per scenario; must be > −1.
        horizons_days: Calendar days the clock advances (fractions allowed, ≥ 0), one per scenario or one for all.
        beta_weighted: True: each underlying moves by its beta to SPX times the shock.
        vol_rule: How the vol shock is spread over expiries (see VolRule).
        per_position: True: return P&L per position, shape (n_scenarios, n_positions); else summed, (n_scenarios,).

    Example:
        One long 100-strike call at spot 100 (multiplier 100), +1 % with vol and time held: P&L ≈ Δ·1·100 + ½Γ·100.
    """
    spot_shock = _validated("spot_shocks", spot_shocks)
    vol_shock = _validated("vol_shocks", vol_shocks)
    horizon = np.broadcast_to(_validated("horizons_days", np.atleast_1d(horizons_days)), spot_shock.shape)
    if spot_shock.shape != vol_shock.shape:
        raise ValueError(f"spot_shocks {spot_shock.shape} and vol_shocks {vol_shock.shape} must pair up")
    _check_moves(vol_shock, horizon)
    options = np.flatnonzero(_option_rows(p))
    return _paths_pnl(p, spot_shock, vol_shock, horizon, beta_weighted, vol_rule, per_position, options)


def _paths_pnl(
    p: PositionArrays,
    spot_shock: FloatArray,
    vol_shock: FloatArray,
    horizon: FloatArray,
    beta_weighted: bool,
    vol_rule: VolRule,
    per_position: bool,
    options: npt.NDArray[np.intp],
) -> FloatArray:
    """`revalue_paths` on validated shocks, with only the option rows `options` revalued (the others give 0)."""
    n = spot_shock.size
    beta = p.beta if beta_weighted else np.ones(p.size)
    size = p.quantity * p.multiplier
    pnl = np.zeros((n, p.size)) if per_position else np.zeros(n)

    linear = np.flatnonzero(_linear_rows(p))
    if linear.size:
        # A price cannot fall below zero: a β × shock beyond −100 % loses the whole value, no more.
        move = np.maximum(spot_shock[:, None] * beta[None, linear], -1.0)
        linear_pnl = move * (p.spot * size)[None, linear]
        if per_position:
            pnl[:, linear] = linear_pnl
        else:
            pnl += linear_pnl.sum(axis=1)

    if options.size:
        spot0, t0, iv0 = p.spot[options], p.t_years[options], p.iv[options]
        # Today's values by the scenario pricer itself, so that a zero shock gives exactly zero P&L.
        base = _scenario_prices(p, options, spot0[None, :], t0[None, :], iv0[None, :])[0]
        beta_o, size_o = beta[options], size[options]
        vol_scale = iv_shock_scale(p, vol_rule)[options]
        step = max(1, _CHUNK_ELEMENTS // options.size)
        for start in range(0, n, step):
            part = slice(start, min(start + step, n))
            moves = (spot_shock[part, None], vol_shock[part, None], horizon[part, None])
            spot, iv, t = _moved_inputs((spot0, iv0, t0), beta_o, vol_scale, moves)
            price = _scenario_prices(p, options, spot, t, iv)
            option_pnl = (price - base) * size_o
            if per_position:
                pnl[part, options] = option_pnl
            else:
                pnl[part] += option_pnl.sum(axis=1)
    return pnl


def revalue(
    p: PositionArrays,
    *,
    spot_shocks: npt.ArrayLike,
    vol_shocks: npt.ArrayLike,
    horizons_days: npt.ArrayLike,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
    per_position: bool = False,
) -> FloatArray:
    """Full-revaluation P&L grid in USD, shape (horizon, spot, vol) — (…, position) when per_position.

    Every combination of the three axes is one scenario of `revalue_paths` (see there for the conventions).

    Args:
        p: Position arrays at the valuation instant.
        spot_shocks: Index price changes as fractions (the grid's spot axis).
        vol_shocks: Relative IV changes as fractions (the grid's vol axis), each > −1.
        horizons_days: Calendar days forward (the grid's horizon axis), each ≥ 0.
        beta_weighted: True: each underlying moves by its beta to SPX times the shock.
        vol_rule: How the vol shock is spread over expiries.
        per_position: True: keep the position axis last instead of summing it.
    """
    spot = _validated("spot_shocks", spot_shocks)
    vol = _validated("vol_shocks", vol_shocks)
    horizon = _validated("horizons_days", np.atleast_1d(horizons_days))
    _check_moves(vol, horizon)
    h, s, v = np.meshgrid(horizon, spot, vol, indexing="ij")
    linear_only = np.empty(0, dtype=np.intp)
    pnl = _paths_pnl(p, s.ravel(), v.ravel(), h.ravel(), beta_weighted, vol_rule, per_position, linear_only)
    shape = (horizon.size, spot.size, vol.size)
    pnl = pnl.reshape((*shape, p.size) if per_position else shape)
    beta = p.beta if beta_weighted else np.ones(p.size)
    scale = iv_shock_scale(p, vol_rule)
    options = _option_rows(p)
    # European rows in chunks of about _GRID_CHUNK_ELEMENTS prices; the American call blocks its rows itself.
    european_step = max(1, _GRID_CHUNK_ELEMENTS // (spot.size * vol.size * horizon.size))
    for rows, grid_pnl, step in (
        (np.flatnonzero(options & ~p.is_american), _european_grid_pnl, european_step),
        (np.flatnonzero(options & p.is_american), _american_grid_pnl, p.size),
    ):
        if not rows.size:
            continue
        axes = _grid_axes(p, rows, spot, vol, horizon, beta[rows], scale[rows])
        for start in range(0, rows.size, step):
            part = slice(start, start + step)
            option_pnl = grid_pnl(p, rows[part], replace(axes, spot=axes.spot[part], iv=axes.iv[part], t=axes.t[part]))
            if per_position:
                pnl[..., rows[part]] = option_pnl
            else:
                pnl += option_pnl.sum(axis=-1)
    return pnl


@dataclass(frozen=True)
class _GridAxes:
    """The grid's scenarios of some option rows, row axis first: spot (row, spot) in currency, IV (row, vol) as a
    decimal, years to expiry (row, horizon); by `_moved_inputs`, as `_paths_pnl`, so that both price a scenario alike.
    """

    spot: FloatArray
    iv: FloatArray
    t: FloatArray
    zero: tuple[int, int, int] | None  # (spot, vol, horizon) place of the cell without any move, if there is one


def _grid_axes(
    p: PositionArrays,
    rows: npt.NDArray[np.intp],
    spot_shock: FloatArray,
    vol_shock: FloatArray,
    horizon: FloatArray,
    beta: FloatArray,
    vol_scale: FloatArray,
) -> _GridAxes:
    today = (p.spot[rows][:, None], p.iv[rows][:, None], p.t_years[rows][:, None])
    moves = (spot_shock[None, :], vol_shock[None, :], horizon[None, :])
    at_zero = [np.flatnonzero(axis == 0.0) for axis in (spot_shock, vol_shock, horizon)]
    zero = (int(at_zero[0][0]), int(at_zero[1][0]), int(at_zero[2][0])) if all(a.size for a in at_zero) else None
    return _GridAxes(*_moved_inputs(today, beta[:, None], vol_scale[:, None], moves), zero=zero)


def _base_prices(price: FloatArray, zero: tuple[int, int, int] | None, today: Callable[[], FloatArray]) -> FloatArray:
    """Today's prices of the rows of a price grid of shape (row, vol, horizon, spot): its cell without any move where
    it has one, so that cell is zero P&L by construction (its inputs are today's exactly), else `today()`."""
    if zero is None:
        return today()
    spot, vol, horizon = zero
    base: FloatArray = price[:, vol, horizon, spot]
    return base


def _moved_inputs(
    today: tuple[FloatArray, FloatArray, FloatArray],
    beta: FloatArray,
    vol_scale: FloatArray,
    moves: tuple[FloatArray, FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(spot, IV, years to expiry) after an index shock, a relative vol shock and days forward, all broadcast: the
    one place that says how a scenario moves a position's pricing inputs."""
    spot, iv, t = today
    spot_shock, vol_shock, days = moves
    factor = np.maximum(1.0 + spot_shock * beta, _MIN_SPOT_FRACTION)
    return spot * factor, iv * (1.0 + vol_shock * vol_scale), t - days / CALENDAR_DAYS_PER_YEAR


def _european_grid_pnl(p: PositionArrays, rows: npt.NDArray[np.intp], axes: _GridAxes) -> FloatArray:
    """P&L in USD of the European and Black-76 option `rows` over the grid, shape (horizon, spot, vol, row).

    Priced on axes (row, vol, horizon, spot): what depends on the row, vol and horizon alone (sqrt T, discount
    factors, drift) is computed once per spot axis instead of once per scenario.
    """
    column = (p.is_call, p.strike, p.rate, p.div_yield, p.is_black76)
    call, strike, rate, div, black76 = (a[rows].reshape(-1, 1, 1, 1) for a in column)
    spot, iv, t = axes.spot[:, None, None, :], axes.iv[:, :, None, None], axes.t[:, None, :, None]
    price = compute_greeks(call, spot, strike, t, rate, div, iv, model=black76, greeks=()).price
    base = _base_prices(price, axes.zero, lambda: _option_prices(p, rows, p.spot[rows], p.t_years[rows], p.iv[rows]))
    pnl = (price - base[:, None, None, None]) * (p.quantity * p.multiplier)[rows, None, None, None]
    return pnl.transpose(2, 3, 1, 0)


def _american_grid_pnl(p: PositionArrays, rows: npt.NDArray[np.intp], axes: _GridAxes) -> FloatArray:
    """P&L in USD of the American option `rows` over the grid, shape (horizon, spot, vol, row).

    The same spot, IV and time arithmetic as `revalue_paths` and the same American pricer, but each (row, vol shock)
    solves its exercise boundary once for the whole spot axis, which it does not depend on, and its later horizons
    take that boundary cut to their shorter expiries (`american_price_many_spots` with expiry groups).
    """
    carry0 = cost_of_carry(p.is_black76[rows], p.rate[rows], p.div_yield[rows])
    # Options ordered (row, vol, horizon) and grouped by (row, vol): one contract's horizons share its boundary.
    n_vol, n_horizon, n_spot = axes.iv.shape[1], axes.t.shape[1], axes.spot.shape[1]
    grid = (rows.size, n_vol, n_horizon)
    per_row = (p.is_call[rows], p.strike[rows], p.rate[rows], carry0)
    call, strike, rate, carry = (np.broadcast_to(a[:, None, None], grid).ravel() for a in per_row)
    t, iv = (np.broadcast_to(a, grid).ravel() for a in (axes.t[:, None, :], axes.iv[:, :, None]))
    spots = np.broadcast_to(axes.spot[:, None, None, :], (*grid, n_spot)).reshape(-1, n_spot)
    same_row_and_vol = np.repeat(np.arange(rows.size * n_vol), n_horizon)
    price = american_price_many_spots(call, spots, strike, t, rate, carry, iv, expiry_group=same_row_and_vol)
    price = price.reshape(*grid, n_spot)
    today = (p.is_call[rows], p.spot[rows][:, None], p.strike[rows], p.t_years[rows], p.rate[rows], carry0, p.iv[rows])
    base = _base_prices(price, axes.zero, lambda: american_price_many_spots(*today)[:, 0])
    size = (p.quantity * p.multiplier)[rows, None, None, None]
    pnl = (price - base[:, None, None, None]) * size
    return pnl.transpose(2, 3, 1, 0)


@dataclass(frozen=True)
class TaylorCoefficients:
    """The book's second-order Greeks expansion in the scenario variables, all in USD.

    P&L ≈ delta_usd · s + ½ · gamma_usd · s² + vega_usd · v + theta_usd_per_day · days, for an index shock s
    (fraction), a relative vol shock v (fraction) and a horizon in calendar days: delta_usd = Σ Δ·q·m·β·S (USD per
    1.00 of index return), gamma_usd = Σ Γ·q·m·(β·S)² (USD per unit squared return), vega_usd = Σ ν·q·m·IV·scale
    / 0.01 (USD per 1.00 relative vol shock), theta_usd_per_day = Σ θ·q·m.
    """

    delta_usd: float
    gamma_usd: float
    vega_usd: float
    theta_usd_per_day: float


def taylor_coefficients(
    p: PositionArrays, *, beta_weighted: bool = True, vol_rule: VolRule = VolRule.STICKY_STRIKE
) -> TaylorCoefficients:
    """The delta-gamma-vega-theta coefficients of the book at the valuation instant (see TaylorCoefficients).

    Args:
        p: Position arrays at the valuation instant.
        beta_weighted: True: an index shock s moves each underlying by β·s.
        vol_rule: The vol rule whose scale applies to the vega term.
    """
    beta = p.beta if beta_weighted else np.ones(p.size)
    size = p.quantity * p.multiplier
    delta = np.where(_linear_rows(p), 1.0, 0.0)
    gamma = np.zeros(p.size)
    vega = np.zeros(p.size)
    theta = np.zeros(p.size)
    options = np.flatnonzero(_option_rows(p))
    if options.size:
        g = compute_greeks(
            p.is_call[options],
            p.spot[options],
            p.strike[options],
            p.t_years[options],
            p.rate[options],
            p.div_yield[options],
            p.iv[options],
            model=p.is_black76[options],
            american=p.is_american[options],
            greeks=("delta", "gamma", "vega", "theta"),
        )
        delta[options], gamma[options], vega[options], theta[options] = g.delta, g.gamma, g.vega, g.theta
    priced = p.priced
    move_usd = np.where(priced, beta * p.spot, 0.0)  # price change per 1.00 of index return
    iv_scaled = np.where(_option_rows(p), p.iv * iv_shock_scale(p, vol_rule), 0.0)
    return TaylorCoefficients(
        delta_usd=float((delta * size * move_usd).sum()),
        gamma_usd=float((gamma * size * move_usd * move_usd).sum()),
        vega_usd=float((vega * size * iv_scaled).sum() / VOL_POINT),
        theta_usd_per_day=float((theta * size).sum()),
    )


def taylor_pnl(
    coefficients: TaylorCoefficients,
    *,
    spot_shocks: npt.ArrayLike,
    vol_shocks: npt.ArrayLike,
    horizons_days: npt.ArrayLike,
) -> FloatArray:
    """Greeks-approximated P&L grid in USD, shape (horizon, spot, vol), the counterpart of `revalue`.

    Args:
        coefficients: The book's expansion (taylor_coefficients).
        spot_shocks: Index price changes as fractions.
        vol_shocks: Relative IV changes as fractions.
        horizons_days: Calendar days forward.
    """
    c = coefficients
    s = _validated("spot_shocks", spot_shocks)[None, :, None]
    v = _validated("vol_shocks", vol_shocks)[None, None, :]
    h = _validated("horizons_days", np.atleast_1d(horizons_days))[:, None, None]
    pnl: FloatArray = c.delta_usd * s + 0.5 * c.gamma_usd * s * s + c.vega_usd * v + c.theta_usd_per_day * h
    return pnl
