"""Rescaled American put values (K = 1, T = 1) at many volatilities per (r T, q T): boundaries interpolated in vol.

Internal to `risk_engine.american` (`american_price_paths`). Pure numpy; no per-option Python loop.

Why: in a VaR run every scenario has its own implied vol, so the exact pricer solves one exercise boundary per
(scenario, option), ~80 % of its time. The boundary (ln B at the collocation nodes) is a smooth function of
v = sigma sqrt T for fixed r T, q T, unlike the price, which has a kink in v where B(T) crosses the spot. So per
(option, horizon, scheme) group the boundary is solved at `_NODES` Chebyshev points in ln v spanning the group's
vols and interpolated (barycentric) to every element's v; the premium is then evaluated exactly at the element's
own x and v with that boundary (on the scheme's price rule, `Scheme.price_grid`), so the kink is where it
belongs. FP-A and FP-B groups are kept apart (the scheme
switch at beta = 10 is a jump of the discrete solver, not of the boundary).

Error control, a posteriori per group: the boundary is also solved at the `_NODES - 1` angle midpoints, where the
interpolation error of a Chebyshev interpolant peaks. The premium's derivative in ln B(u) is e^{-rs} phi(d-) (r - q B)
/ (v sqrt s), whose integral over s is below 0.8 (r + |q|) / v, so a boundary error e moves the price by at most
0.8 (r + |q|) e / v of K. A group whose midpoint error bound exceeds `_PRICE_TOLERANCE` (2e-7 K, a tenth of the
scenario tolerance) is priced exactly instead, as are groups too small to gain. The check is what makes this
safe: without it (8 nodes, no fallback) the golden rows with r T, q T ~ 1e-4..1e-3 and 4:1 vol ranges miss the
bound, because the discrete solver's own y(v) is rough there (3 QD+ Newton steps, clipping); with it they fall back.
Measured against the exact pricer (`american_price`) on all 705 golden American rows (shared/golden) under 96
random scenarios each of spot x 0.6..1.4 and vol x 0.5..2, horizons 0, 1, 7 days and past expiry
(tests/risk_engine/test_american_scenarios.py, which asserts 2e-6 K): max |error| 2.5e-8 K; over all elements
p99 2.6e-10 K, p99.9 4.4e-9 K. On the bench book (bench/bench_scenarios.py) 1.5 % of historical-VaR elements and
none of the Monte Carlo ones fall back; historical VaR 4,000 days x 200 positions went from ~1,090 ms to
~260 ms, Monte Carlo 10,000 paths from ~3,080 ms to ~500 ms (2 cores, loaded machine).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from risk_engine.american_boundary import SCHEMES, chebyshev_interpolation, scheme_index
from risk_engine.american_premium import (
    premium_table,
    premium_weights,
    solve_boundaries,
    table_values,
    values_on_boundaries,
)
from risk_engine.greeks import BoolArray, FloatArray, run_in_blocks

__all__ = ["values_on_interpolated_boundaries"]

# Chebyshev points in ln v per group; a 2:1 vol range needs ~6 for 1e-9 in ln B (measured), 8 leaves margin.
_NODES = 8
# A group shares solves only when it has at least this many elements (2 _NODES - 1 solves are spent on it).
_MIN_GROUP = 4 * _NODES
# Allowed price error of the interpolated boundary per unit strike, from the midpoint check (see module docstring).
_PRICE_TOLERANCE = 2e-7
# Bound on int_0^1 phi(d-) / (v sqrt s) ds times v: 2 / sqrt(2 pi).
_DENSITY_BOUND = 0.8
# Elements per block of the per-element premium (tables of shape (block, premium nodes) stay cache-sized).
_BLOCK = 1 << 11


def _chebyshev_points(count: int) -> FloatArray:
    """Chebyshev extreme points cos(pi k / (count - 1)) on [-1, 1], k = 0..count-1."""
    return np.asarray(np.cos(np.pi * np.arange(count) / (count - 1)), dtype=np.float64)


def _groups(
    key: npt.NDArray[np.intp], ln_v: FloatArray
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], FloatArray, FloatArray]:
    """(group of each element, first element of each group, min ln v, max ln v per group) for integer keys."""
    _, first, group, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    group = group.ravel()
    lo = np.full(first.size, np.inf)
    hi = np.full(first.size, -np.inf)
    np.minimum.at(lo, group, ln_v)
    np.maximum.at(hi, group, ln_v)
    return group, np.where(counts >= _MIN_GROUP, first, -1), lo, hi


def values_on_interpolated_boundaries(
    x: FloatArray, key: npt.NDArray[np.intp], r: FloatArray, q: FloatArray, v: FloatArray, euro: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Rescaled put values g(x) (K = 1) and exercise flags; elements with equal `key` share r T and q T.

    Within the stated tolerance (2e-6 K, see the module docstring) of `values_on_boundaries` with one boundary
    per element; groups that fail the midpoint check or are small are priced exactly.

    Args:
        x: Spot over strike, shape (E,).
        key: Non-negative integer per element; equal keys must have equal r and q (e.g. option x horizon).
        r, q, v: Rescaled r T (> 0), q T and sigma sqrt T (> 0) of each element, shape (E,).
        euro: Rescaled European put price of each element, shape (E,).
    """
    scheme = scheme_index(r, q, v)
    ln_v = np.log(v)
    group, first, lo, hi = _groups(key * len(SCHEMES) + scheme, ln_v)
    shared = np.flatnonzero(first >= 0)
    ok = np.zeros(first.size, dtype=bool)
    n_nodes = max(s.grid.sqrt_tau.size for s in SCHEMES)
    node_y = np.zeros((first.size, _NODES, n_nodes))
    node_lim = np.zeros(first.size)
    weights = np.zeros((2, first.size, max(s.price_grid.zp.size for s in SCHEMES)))
    nodes = _chebyshev_points(_NODES)
    checks = np.cos(np.pi * (np.arange(_NODES - 1) + 0.5) / (_NODES - 1))
    to_checks = chebyshev_interpolation(nodes, checks)
    mid = 0.5 * (hi + lo)
    half = np.maximum(0.5 * (hi - lo), 1e-9)  # a single vol: nodes 1e-9 apart still interpolate exactly
    for index, sch in enumerate(SCHEMES):
        groups = shared[scheme[first[shared]] == index]
        if not groups.size:
            continue
        n = sch.grid.sqrt_tau.size
        points = np.concatenate([nodes, checks])
        vs = np.exp(mid[groups, None] + half[groups, None] * points[None, :])  # (G, 2 _NODES - 1)
        rg = np.repeat(r[first[groups]], points.size)[:, None]
        qg = np.repeat(q[first[groups]], points.size)[:, None]
        y, ln_lim = solve_boundaries(rg, qg, vs.reshape(-1, 1), sch)
        y = y.reshape(groups.size, points.size, n)
        at_checks = np.einsum("ck,gkn->gcn", to_checks, y[:, :_NODES])
        error = np.max(np.abs(at_checks - y[:, _NODES:]), axis=(1, 2))
        r_g, q_g = r[first[groups]], q[first[groups]]
        bound = _DENSITY_BOUND * (r_g + np.abs(q_g)) * error / np.exp(lo[groups])
        ok[groups] = np.isfinite(bound) & (bound <= _PRICE_TOLERANCE)
        node_y[groups, :, :n] = y[:, :_NODES]
        node_lim[groups] = ln_lim.reshape(groups.size, points.size)[:, 0]
        weights[:, groups, : sch.price_grid.zp.size] = premium_weights(r_g[:, None], q_g[:, None], sch.price_grid)

    value = np.zeros_like(x)
    exercised = np.zeros(x.shape, dtype=bool)
    fast = ok[group]
    exact = np.flatnonzero(~fast)
    if exact.size:
        value[exact], exercised[exact] = values_on_boundaries(
            x[exact], np.arange(exact.size), r[exact], q[exact], v[exact], euro[exact]
        )
    for index, sch in enumerate(SCHEMES):
        rows = np.flatnonzero(fast & (scheme == index))
        n = sch.grid.sqrt_tau.size

        def kernel(part: slice, rows: npt.NDArray[np.intp] = rows, n: int = n, grid_index: int = index) -> None:
            e = rows[part]
            g = group[e]
            grid = SCHEMES[grid_index].price_grid
            interp = chebyshev_interpolation(nodes, np.clip((ln_v[e] - mid[g]) / half[g], -1.0, 1.0))
            y = np.einsum("ek,ekn->en", interp, node_y[g, :, :n])
            r2, q2, v2, lim = r[e, None], q[e, None], v[e, None], node_lim[g, None]
            rate_w, div_w = (w[g, : grid.zp.size] for w in weights)
            table = premium_table(r2, q2, v2, y, lim, grid, (rate_w, div_w))
            value[e], exercised[e] = table_values(x[e], table, None, euro[e])

        run_in_blocks(kernel, rows.size, block=_BLOCK)
    return value, exercised
