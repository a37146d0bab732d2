"""Rescaled American put value (K = 1, T = 1) from its boundary: European part + early-exercise premium integral.

Internal to `risk_engine.american`. Owns the premium quadrature, its spot derivatives, and the bumped-boundary
sensitivities in volatility and rate. Pure numpy, options on the first axis. Scenario prices go through
`PremiumTable` on each scheme's price rule (`Scheme.price_grid`, 20 nodes instead of the Greeks' 28, see
risk_engine.american_boundary): what the quadrature needs apart from spot is computed once per boundary (with 41 spots
per boundary this took the stress grid's premium from 0.55 s to 0.29 s of CPU), and `table_premium` takes its
normal CDFs from a Taylor table (`risk_engine.normal_cdf`, a third of scipy's time at 4e-16 absolute).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from risk_engine.american_boundary import (
    CHUNK_ELEMENTS,
    INV_SQRT_2PI,
    SCHEMES,
    Grid,
    Scheme,
    fixed_point,
    limit,
    product_in_chunks,
    qdplus,
    qdplus_nodes,
    qdplus_residual,
    qdplus_solve,
    restricted_boundary,
    scheme_index,
)
from risk_engine.greeks import BoolArray, FloatArray, GreekName, european_greeks, run_in_blocks
from risk_engine.normal_cdf import STEPS_PER_UNIT, TABLE_ORIGIN, normal_cdf_at_coordinate

__all__ = [
    "Boundaries",
    "Needs",
    "PremiumTable",
    "Sensitivities",
    "deterministic",
    "needs_for",
    "premium_table",
    "premium_weights",
    "rate_bump",
    "sensitivities",
    "sensitivities_by_scheme",
    "solve_boundaries",
    "solved_boundaries",
    "table_premium",
    "table_values",
    "values_on_boundaries",
    "values_on_solved",
]

# Central differences in v = sigma sqrt T, step h v: the premium varies on the scale of v, so the truncation error
# is ~ h^2 relative, while rounding (~1e-15 of K in a fixed-iteration solve) costs 1e-15 / (h v) for vega and
# 4e-15 / (h v)^2 for vomma. h = 1e-3 keeps both below 1e-6 of their scale down to v = 1e-4.
_VOL_BUMP = 1e-3
# Forward difference (vega without vomma or vanna): truncation ~ h v / 2 of the premium's own curvature (the European
# part is analytic), rounding 1e-15 / (h v); h = 2e-5 keeps both below 1e-6 of vega's scale for v >= 1e-4.
_VOL_BUMP_FORWARD = 2e-5
# One-sided rate step 1e-6 max(|rT| + |qT|, v^2), at least 1e-9: the premium bends on the scale of r ~ sigma^2 / 2,
# so the truncation error is ~1e-6 relative, and rounding (~1e-15 of K) / step stays below 1e-6 of rho's scale
# K T. Without the floor a 1-hour 5 % vol option's rho carried 2.6e-5 of its scale in rounding noise.
_RATE_BUMP = 1e-6
_MIN_RATE_STEP = 1e-9
# Below this many boundaries per thread a parallel solve or tabulation runs on one thread (thread start-up outweighs
# the gain).
_MIN_PARALLEL_SOLVES = 256
_EUROPEAN_PARTS: tuple[GreekName, ...] = ("price", "delta", "gamma")  # what the premium adds to


@dataclass(frozen=True)
class Needs:
    """What a `greeks=` subset asks of the engine: spot derivatives, volatility and rate scenarios."""

    order: int  # x-derivatives of the value: 0 none, 1 delta, 2 gamma (and theta by the PDE), 3 speed (charm)
    vol: int  # 0 none, 1 forward difference (vega), 2 central (vega, vomma, vanna)
    rate: bool  # rho
    forward_slope: bool = False  # with vol 1: also d(dg/dx)/dv, by a forward difference


def needs_for(greeks: Collection[GreekName]) -> Needs:
    """The cheapest `Needs` that yields every Greek in `greeks`."""
    wanted = set(greeks)
    order = 3 if "charm" in wanted else 2 if wanted & {"gamma", "theta"} else 1 if "delta" in wanted else 0
    vol = 2 if wanted & {"vanna", "vomma"} else 1 if "vega" in wanted else 0
    return Needs(order=order, vol=vol, rate="rho" in wanted)


@dataclass(frozen=True)
class _PutValue:
    """Rescaled American put g(x) and its derivatives in x = S / K, with the European parts they contain."""

    value: FloatArray
    d1: FloatArray
    d2: FloatArray
    d3: FloatArray
    european: FloatArray  # European price at the same x (1 where exercised)
    european_d1: FloatArray
    exercised: BoolArray


def _premium_rows(
    x: FloatArray,
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    y: FloatArray,
    ln_lim: FloatArray,
    grid: Grid,
    order: int,
) -> _PutValue:
    """Rescaled put g(x) = European + early-exercise premium, and its first `order` derivatives in x.

    The premium is int_0^1 (r e^{-rs} N(-d-) - q x e^{-qs} N(-d+)) ds with d+- = d+-(s, x / B(1 - s)); holding B
    fixed, its x-derivatives are exact (the boundary does not depend on spot).

    Args:
        x: Spot over strike, shape (N,).
        r, q, v: Rescaled parameters, shape (N, 1).
        y: ln B at the collocation nodes, shape (N, n).
        ln_lim: ln X, shape (N, 1).
        grid: The grid y lives on.
        order: 0 value only, 1 adds delta, 2 gamma, 3 speed (zeros where not computed).
    """
    exercised = np.log(np.maximum(x, 1e-300)) <= y[:, -1]
    xl = np.where(exercised, 1.0, x)
    x2 = xl[:, None]
    gap = y - ln_lim
    nodes_h = np.concatenate([np.zeros_like(r), gap * gap], axis=1)
    depth = np.sqrt(np.maximum(nodes_h @ grid.interp_p, 0.0))  # ln X - ln B(1 - s)
    inv_v = 1.0 / v
    w = inv_v / grid.zp
    dp = (np.log(x2) - ln_lim + depth) * w + (r - q + 0.5 * v * v) * inv_v * grid.zp
    df_q = np.exp(-q * grid.sp)
    n_mp = ndtr(-dp)
    premium = r * np.exp(-r * grid.sp) * ndtr(v * grid.zp - dp) - q * x2 * df_q * n_mp
    r1, q1, v1 = r[:, 0], q[:, 0], v[:, 0]
    # At x itself even where exercised: the premium P = value - european of a bumped scenario must be the
    # American-minus-European of that scenario, also when the bump moves the boundary past x.
    euro = european_greeks(False, x, 1.0, 1.0, r1, r1 - q1, v1, greeks=_EUROPEAN_PARTS)
    # No-arbitrage floor: the quadrature can leave a premium of -1e-16 where the true one is 0.
    floor = np.where(exercised, 1.0 - x, np.maximum(1.0 - x, euro.price))
    value = np.where(exercised, floor, np.maximum(euro.price + premium @ grid.wp_ds, floor))
    zeros = np.zeros_like(x)
    if order == 0:
        return _PutValue(value, zeros, zeros, zeros, euro.price, euro.delta, exercised)
    phi = INV_SQRT_2PI * np.exp(-0.5 * dp * dp) * df_q
    c = (r * np.exp(np.minimum(depth, 700.0) - ln_lim) - q) * w  # (r / B(u) - q) / (v sqrt s)
    d1 = np.where(exercised, -1.0, euro.delta - (q * df_q * n_mp + phi * c) @ grid.wp_ds)
    if order == 1:
        return _PutValue(value, d1, zeros, zeros, euro.price, euro.delta, exercised)
    qdc = q + dp * c
    p2 = (phi * qdc * inv_v) @ grid.wp_ds_sqrt / xl
    d2 = np.where(exercised, 0.0, euro.gamma + p2)
    if order == 2:
        return _PutValue(value, d1, d2, zeros, euro.price, euro.delta, exercised)
    p3 = (phi * (c * w - qdc * (1.0 + dp * w)) * inv_v) @ grid.wp_ds_sqrt / (xl * xl)
    d_1 = (np.log(xl) + r1 - q1 + 0.5 * v1 * v1) / v1
    speed = -euro.gamma / xl * (1.0 + d_1 / v1)
    return _PutValue(value, d1, d2, np.where(exercised, 0.0, speed + p3), euro.price, euro.delta, exercised)


@dataclass(frozen=True)
class Sensitivities:
    """Rescaled put value, its x-derivatives and its derivatives in v = sigma sqrt T and in the rate.

    Entries a `Needs` did not ask for are zero.
    """

    value: FloatArray
    d1: FloatArray
    d2: FloatArray
    d3: FloatArray
    d_vol: FloatArray
    d2_vol: FloatArray
    d1_d_vol: FloatArray  # d(dg/dx) / dv
    d_rate: FloatArray  # dg / d(rate T) along the bump (dr, dq)
    exercised: BoolArray


def _european_sensitivities(
    x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, dr: FloatArray, dq: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """European put (K = 1, T = 1) dP/dv, d2P/dv2, d2P/dx dv and dP along the rate bump (dr, dq) per unit step."""
    d1 = (np.log(x) + r - q + 0.5 * v * v) / v
    d2 = d1 - v
    density = np.exp(-q) * INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    vega = x * density
    step = np.where(dr != 0.0, dr, dq)
    d_rate = (-dr * np.exp(-r) * ndtr(-d2) + dq * x * np.exp(-q) * ndtr(-d1)) / step
    return vega, vega * d1 * d2 / v, -density * d2 / v, d_rate


def sensitivities(
    x: FloatArray,
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    dr: FloatArray,
    dq: FloatArray,
    scheme: Scheme,
    needs: Needs,
) -> Sensitivities:
    """g, its x-derivatives, its derivatives in v and along (dr, dq) (one-sided), as `needs` asks, for 1-D inputs.

    The European part of every v and rate derivative is analytic; only the premium's is a difference of re-solved
    boundaries. The bumped scenarios (v (1 + h), [v (1 - h)], rate bump) share the last `scheme.shared_sweeps`
    sweeps with the base: they start from the base iterate moved by the change of the QD+ root, estimated by one
    unguarded Newton step from the base root (smooth in the bump and exactly zero for the base). The shared sweeps
    then resolve the boundary's own sensitivity; with FP-A two sweeps bring it to ~1e-3 of itself.

    Args:
        x, r, q, v: Spot over strike and rescaled r T (> 0), q T, sigma sqrt T (> 0).
        dr, dq: Signed rate bumps of r T and q T (see rate_bump).
        scheme: The solver of these options.
        needs: Which derivatives to compute.
    """
    n = x.size
    h = (_VOL_BUMP if needs.vol == 2 else _VOL_BUMP_FORWARD) * v
    r2, q2, v2 = r[:, None], q[:, None], v[:, None]
    qd = qdplus(r2, q2, v2, limit(r2, q2), scheme.grid)
    xi = qdplus_solve(qd)
    y = fixed_point(qdplus_nodes(qd, xi), r2, q2, v2, qd, scheme, scheme.sweeps - scheme.shared_sweeps)
    scenarios = [(r2, q2, v2)]
    if needs.vol:
        scenarios.append((r2, q2, v2 + h[:, None]))
    if needs.vol == 2:
        scenarios.append((r2, q2, v2 - h[:, None]))
    if needs.rate:
        scenarios.append((r2 + dr[:, None], q2 + dq[:, None], v2))
    rs, qs, vs = (np.concatenate(parts) for parts in zip(*scenarios, strict=True))
    qds = qdplus(rs, qs, vs, limit(rs, qs), scheme.grid)
    count = len(scenarios)
    start = np.tile(y, (count, 1))
    if count > 1:
        xi_k = np.tile(xi, (count, 1))
        f, d_f = qdplus_residual(qds, xi_k)
        moved = qdplus_nodes(qds, xi_k - f / np.where(d_f < 0.0, d_f, -1.0))
        start = np.clip(start + moved - np.tile(moved[:n], (count, 1)), qds.ln_b_inf, qds.ln_lim)
    ys = fixed_point(start, rs, qs, vs, qds, scheme, scheme.shared_sweeps)

    def premium_at(scenario: int, order: int, consecutive: int = 1) -> _PutValue:
        """_premium_rows of `consecutive` scenarios from `scenario` on, over cache-sized chunks of rows."""
        rows = slice(scenario * n, (scenario + consecutive) * n)
        xs, r_s, q_s, v_s, y_s, lim = np.tile(x, consecutive), rs[rows], qs[rows], vs[rows], ys[rows], qds.ln_lim[rows]
        step = max(CHUNK_ELEMENTS // scheme.grid.zp.size, 1)
        chunks = (slice(first, first + step) for first in range(0, consecutive * n, step))
        parts = [_premium_rows(xs[c], r_s[c], q_s[c], v_s[c], y_s[c], lim[c], scheme.grid, order) for c in chunks]
        if len(parts) == 1:
            return parts[0]
        return _PutValue(*(np.concatenate([getattr(part, f.name) for part in parts]) for f in fields(_PutValue)))

    p0 = premium_at(0, needs.order)
    base = p0.value - p0.european  # the premium (and the floor's excess over the European value)
    live = ~p0.exercised  # inside the exercise region every sensitivity below is 0
    d_vol, d2_vol, d1_d_vol, d_rate = (np.zeros_like(x) for _ in range(4))
    if needs.vol or needs.rate:
        e_vega, e_vomma, e_vanna, e_rate = _european_sensitivities(x, r, q, v, dr, dq)
    if needs.vol == 1:
        pv = premium_at(1, int(needs.forward_slope))
        d_vol = np.where(live, e_vega + (pv.value - pv.european - base) / h, 0.0)
        if needs.forward_slope:
            slope_step = (pv.d1 - pv.european_d1) - (p0.d1 - p0.european_d1)
            d1_d_vol = np.where(live, e_vanna + slope_step / h, 0.0)
    elif needs.vol == 2:
        pv = premium_at(1, 1, consecutive=2)
        up, down = np.split(pv.value - pv.european, 2)
        slope_up, slope_down = np.split(pv.d1 - pv.european_d1, 2)
        d_vol = np.where(live, e_vega + (up - down) / (2.0 * h), 0.0)
        d2_vol = np.where(live, e_vomma + (up - 2.0 * base + down) / (h * h), 0.0)
        d1_d_vol = np.where(live, e_vanna + (slope_up - slope_down) / (2.0 * h), 0.0)
        # Less volatility moves the boundary up: where it passes x within the step, the value has a kink between
        # the base and the down scenario and the central differences mean nothing. Upward differences are right
        # there (the boundary only moves away from x): vega and vanna by the forward step, and vomma, which needs
        # both sides, is not computed (NaN).
        kink = np.flatnonzero(pv.exercised[n:] & live)
        if kink.size:
            upward = Needs(order=1, vol=1, rate=False, forward_slope=True)
            fwd = sensitivities(x[kink], r[kink], q[kink], v[kink], dr[kink], dq[kink], scheme, upward)
            d_vol[kink], d1_d_vol[kink], d2_vol[kink] = fwd.d_vol, fwd.d1_d_vol, np.nan
    if needs.rate:
        pr = premium_at(len(scenarios) - 1, 0)
        d_rate = np.where(live, e_rate + (pr.value - pr.european - base) / np.where(dr != 0.0, dr, dq), 0.0)
    return Sensitivities(p0.value, p0.d1, p0.d2, p0.d3, d_vol, d2_vol, d1_d_vol, d_rate, p0.exercised)


def rate_bump(
    r: FloatArray, q: FloatArray, v: FloatArray, bump_r: BoolArray, bump_q: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Signed one-sided bumps (dr, dq) of r T and q T for rho; a futures option moves both."""
    step = np.maximum(_RATE_BUMP * np.maximum(np.abs(r) + np.abs(q), v * v), _MIN_RATE_STEP)
    # Stay on the side of r = q the base lies on (X = min(1, r / q) has a kink there) and keep r > 0.
    down = np.where(bump_r & bump_q, False, np.where(bump_r, r < q, q <= r))
    step = np.where(down & bump_r, np.minimum(step, 0.5 * r), step)
    signed = np.where(down, -step, step)
    return np.where(bump_r, signed, 0.0), np.where(bump_q, signed, 0.0)


def _rows_by_scheme(r: FloatArray, q: FloatArray, v: FloatArray) -> list[tuple[Scheme, npt.NDArray[np.intp]]]:
    """The options each of SCHEMES solves (selected by their base parameters), schemes without options left out."""
    which = scheme_index(r, q, v)
    pairs = [(scheme, np.flatnonzero(which == i)) for i, scheme in enumerate(SCHEMES)]
    return [(scheme, rows) for scheme, rows in pairs if rows.size]


def sensitivities_by_scheme(
    x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, dr: FloatArray, dq: FloatArray, needs: Needs
) -> Sensitivities:
    """`sensitivities` with each option solved by the scheme its base parameters select."""
    out = {field.name: np.zeros_like(x) for field in fields(Sensitivities) if field.name != "exercised"}
    exercised = np.zeros(x.shape, dtype=bool)
    for scheme, rows in _rows_by_scheme(r, q, v):
        part = sensitivities(x[rows], r[rows], q[rows], v[rows], dr[rows], dq[rows], scheme, needs)
        for name, values in out.items():
            values[rows] = getattr(part, name)
        exercised[rows] = part.exercised
    return Sensitivities(exercised=exercised, **out)


@dataclass(frozen=True)
class PremiumTable:
    """Per solved boundary, the premium quadrature's spot-free parts, shapes (G, L) over the premium nodes s_j.

    At spot ratio x, d+(s_j) = ln x / (v z_j) - ln B(1 - s_j) / (v z_j) + (r - q + v^2 / 2) z_j / v and d-(s_j) =
    d+(s_j) - v z_j, and the premium is sum_j rate_w_j N(-d-(s_j)) - x sum_j div_w_j N(-d+(s_j)): two normal CDFs
    per node are all that depend on x. Their arguments are kept in `risk_engine.normal_cdf`'s table coordinate
    c(a) = a S + O (S = STEPS_PER_UNIT, O = TABLE_ORIGIN): c(-d+) = ln x * slope_j + offset_j, c(-d-) = c(-d+) + vz_j.
    """

    ln_b: FloatArray  # (G,) ln B(T): at or below it the put is exercised
    slope: FloatArray  # -S / (v z_j)
    offset: FloatArray  # O - S d+(s_j) at x = 1
    vz: FloatArray  # S v z_j
    rate_w: FloatArray  # r e^{-r s_j} w_j
    div_w: FloatArray  # q e^{-q s_j} w_j


def premium_weights(r: FloatArray, q: FloatArray, grid: Grid) -> tuple[FloatArray, FloatArray]:
    """(r e^{-r s_j} w_j, q e^{-q s_j} w_j) over the premium nodes of `grid`, for r, q of shape (G, 1)."""
    return r * np.exp(-r * grid.sp) * grid.wp_ds, q * np.exp(-q * grid.sp) * grid.wp_ds


def premium_table(
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    y: FloatArray,
    ln_lim: FloatArray,
    grid: Grid,
    weights: tuple[FloatArray, FloatArray] | None = None,
) -> PremiumTable:
    """The `PremiumTable` of boundaries y (ln B at the collocation nodes, shape (G, n)); r, q, v, ln_lim (G, 1).

    The same arithmetic as `_premium_rows`, done once per boundary instead of once per spot; `weights` are
    `premium_weights(r, q, grid)` when the caller already has them.
    """
    gap = y - ln_lim
    nodes_h = np.concatenate([np.zeros_like(r), gap * gap], axis=1)
    depth = product_in_chunks(nodes_h, grid.interp_p)
    np.maximum(depth, 0.0, out=depth)
    np.sqrt(depth, out=depth)  # ln X - ln B(1 - s)
    inv_v = 1.0 / v
    slope = inv_v / grid.zp
    depth -= ln_lim
    depth *= slope
    depth += (r - q + 0.5 * v * v) * inv_v * grid.zp  # d+ at x = 1
    rate_w, div_w = premium_weights(r, q, grid) if weights is None else weights
    return PremiumTable(
        ln_b=y[:, -1],
        slope=slope * -float(STEPS_PER_UNIT),
        offset=TABLE_ORIGIN - float(STEPS_PER_UNIT) * depth,
        vz=v * grid.zp * float(STEPS_PER_UNIT),
        rate_w=rate_w,
        div_w=div_w,
    )


def table_values(
    x: FloatArray, table: PremiumTable, b: npt.NDArray[np.intp] | None, euro: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Rescaled put values g(x) (K = 1) and exercise flags, option i on boundary b[i] of `table`; x shape (E,).

    Equals `_premium_rows(..., order=0)` up to rounding: the European part, the premium quadrature and the
    no-arbitrage floor are the same; the premium is only evaluated off the exercise region, where it is used.

    Args:
        x: Spot over strike, shape (E,).
        table: The boundaries.
        b: Row of `table` of each option; None: row i for option i.
        euro: The rescaled European put price at x, shape (E,).
    """
    ln_x = np.log(np.maximum(x, 1e-300))
    ln_b = table.ln_b if b is None else table.ln_b[b]
    exercised = ln_x <= ln_b
    value = 1.0 - x
    live = np.flatnonzero(~exercised)
    if live.size:
        bl = live if b is None else b[live]
        xl = x[live]
        premium = table_premium(ln_x[live], table, bl)
        euro_l = euro[live]
        floor = np.maximum(1.0 - xl, euro_l)
        value[live] = np.maximum(euro_l + premium, floor)
    return value, exercised


def table_premium(ln_x: FloatArray, table: PremiumTable, b: npt.NDArray[np.intp]) -> FloatArray:
    """The premium quadrature at ln x on boundary b[i] of `table` (no floor, any x); shapes (E,).

    Both CDFs come from the Taylor table of `risk_engine.normal_cdf`, every node of every element in one call per
    term, so that the threads of `american_price_many_spots` spend their time in large numpy calls. Where q = 0 (a
    put without dividends: a quarter of the stress grid's premium nodes) the dividend term is zero and is not
    evaluated.

    Args:
        ln_x: ln of spot over strike, shape (E,).
        table: The boundaries.
        b: Row of `table` of each element.
    """
    minus_d_plus = np.take(table.slope, b, axis=0)  # in the table coordinate, as all arguments here
    minus_d_plus *= ln_x[:, None]
    minus_d_plus += np.take(table.offset, b, axis=0)
    minus_d_minus = np.take(table.vz, b, axis=0)
    minus_d_minus += minus_d_plus
    rate_cdf = normal_cdf_at_coordinate(minus_d_minus)
    premium: FloatArray = np.einsum("ij,ij->i", rate_cdf, np.take(table.rate_w, b, axis=0))
    rows = np.flatnonzero(np.take(table.div_w[:, 0] != 0.0, b))
    if rows.size:
        div_cdf = normal_cdf_at_coordinate(minus_d_plus if rows.size == b.size else minus_d_plus[rows])
        div_terms = np.einsum("ij,ij->i", div_cdf, np.take(table.div_w, b[rows], axis=0))
        premium[rows] -= np.exp(ln_x[rows]) * div_terms
    return premium


def solve_boundaries(r: FloatArray, q: FloatArray, v: FloatArray, scheme: Scheme) -> tuple[FloatArray, FloatArray]:
    """(y, ln X): ln B at the collocation nodes of `scheme`, shape (G, n), for rescaled r, q, v of shape (G, 1).

    The steps of `sensitivities` for the base scenario: QD+ start, then all of the scheme's sweeps.
    """
    qd = qdplus(r, q, v, limit(r, q), scheme.grid)
    y = fixed_point(qdplus_nodes(qd, qdplus_solve(qd)), r, q, v, qd, scheme, scheme.sweeps - scheme.shared_sweeps)
    return fixed_point(y, r, q, v, qd, scheme, scheme.shared_sweeps), qd.ln_lim


@dataclass(frozen=True)
class Boundaries:
    """Solved exercise boundaries as premium tables: boundary g is row local[g] of tables[scheme[g]] (the table of
    SCHEMES[scheme[g]]; None for a scheme without boundaries)."""

    scheme: npt.NDArray[np.intp]
    local: npt.NDArray[np.intp]
    tables: tuple[PremiumTable | None, ...]


def _block_size(count: int, parallel: bool) -> int:
    """The `run_in_blocks` block that runs `count` boundaries in two halves when `parallel` (and worth it)."""
    return max(-(-count // 2), _MIN_PARALLEL_SOLVES) if parallel else max(count, 1)


def _solve_into(
    y: FloatArray,
    ln_lim: FloatArray,
    rows: npt.NDArray[np.intp],
    rqv: tuple[FloatArray, ...],
    scheme: Scheme,
    parallel: bool,
) -> None:
    """`solve_boundaries` of the boundaries `rows` of rqv = (r, q, v), into y and ln_lim at those rows."""
    r, q, v = rqv

    def kernel(part: slice) -> None:
        at = rows[part]
        y[at], ln_lim[at] = solve_boundaries(r[at, None], q[at, None], v[at, None], scheme)

    run_in_blocks(kernel, rows.size, block=_block_size(rows.size, parallel))


def _tables_of(
    y: FloatArray,
    ln_lim: FloatArray,
    bounds: npt.NDArray[np.intp],
    taken: BoolArray,
    rqv: tuple[FloatArray, ...],
    shared: tuple[npt.NDArray[np.intp], FloatArray],
    scheme: Scheme,
    parallel: bool,
) -> PremiumTable:
    """The premium table of the boundaries `bounds`, those `taken` first set from their sources (cut to their own
    expiry where shorter); the solved ones are already in y and ln_lim."""
    r, q, v = rqv
    source, ratio = shared
    parts: dict[int, PremiumTable] = {}

    def kernel(part: slice) -> None:
        rows = bounds[part]
        restricted = rows[taken[part]]
        y[restricted], ln_lim[restricted] = y[source[restricted]], ln_lim[source[restricted]]
        cut = restricted[ratio[restricted] < 1.0]
        if cut.size:
            y[cut] = restricted_boundary(y[cut], ln_lim[cut], ratio[cut, None], scheme.grid)
        rqv_rows = (r[rows, None], q[rows, None], v[rows, None])
        parts[part.start] = premium_table(*rqv_rows, y[rows], ln_lim[rows], scheme.price_grid)

    run_in_blocks(kernel, bounds.size, block=_block_size(bounds.size, parallel))
    if len(parts) == 1:
        return parts[0]
    ordered = [parts[start] for start in sorted(parts)]
    return PremiumTable(*(np.concatenate([getattr(t, f.name) for t in ordered]) for f in fields(PremiumTable)))


def solved_boundaries(
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    shared: tuple[npt.NDArray[np.intp], FloatArray] | None = None,
    *,
    parallel: bool = False,
) -> Boundaries:
    """The exercise boundaries of rescaled r T (> 0), q T, sigma sqrt T (> 0), shapes (G,), as premium tables on
    each scheme's price rule (`Scheme.price_grid`), by the same steps as `sensitivities` with no Greeks asked.

    Args:
        r, q, v: Rescaled parameters of each boundary, shape (G,).
        shared: (source, ratio), shapes (G,): boundary g is boundary source[g] of the same r, q, sigma per year,
            cut to the expiry ratio[g] T (0 < ratio <= 1; `restricted_boundary`, or as it is where ratio is 1),
            instead of a solve of its own; source[g] = g for the boundaries that are solved. A source on another
            scheme, or not solved itself, is not used.
        parallel: Solve, cut and tabulate on two threads (for a caller that is not itself running in threads).
    """
    which = scheme_index(r, q, v)
    source, ratio = (np.arange(r.size), np.ones_like(r)) if shared is None else shared
    local = np.zeros(r.shape, dtype=np.intp)
    tables: list[PremiumTable | None] = []
    for index, scheme in enumerate(SCHEMES):
        bounds = np.flatnonzero(which == index)
        if not bounds.size:
            tables.append(None)
            continue
        src = source[bounds]
        taken = (src != bounds) & (which[src] == index) & (source[src] == src)
        y = np.empty((r.size, scheme.grid.sqrt_tau.size))
        ln_lim = np.empty((r.size, 1))
        _solve_into(y, ln_lim, bounds[~taken], (r, q, v), scheme, parallel)
        tables.append(_tables_of(y, ln_lim, bounds, taken, (r, q, v), (source, ratio), scheme, parallel))
        local[bounds] = np.arange(bounds.size)
    return Boundaries(which, local, tuple(tables))


def values_on_solved(
    x: FloatArray, owner: npt.NDArray[np.intp], boundaries: Boundaries, euro: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Rescaled put values g(x) (K = 1) and exercise flags, option i on boundary owner[i] of `boundaries`.

    Args:
        x: Spot over strike of each option, shape (E,).
        owner: Boundary of each option, shape (E,).
        boundaries: The solved boundaries (`solved_boundaries`).
        euro: Rescaled European put price of each option, shape (E,).
    """
    value = np.zeros_like(x)
    exercised = np.zeros(x.shape, dtype=bool)
    option_scheme = boundaries.scheme[owner]
    for index, table in enumerate(boundaries.tables):
        if table is None:
            continue
        options = np.flatnonzero(option_scheme == index)
        # Few large calls: the threads of american_price_many_spots contend for the GIL between numpy calls.
        step = max(16 * CHUNK_ELEMENTS // table.slope.shape[1], 1)
        for first in range(0, options.size, step):
            rows = options[first : first + step]
            value[rows], exercised[rows] = table_values(x[rows], table, boundaries.local[owner[rows]], euro[rows])
    return value, exercised


def values_on_boundaries(
    x: FloatArray,
    owner: npt.NDArray[np.intp],
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    euro: FloatArray,
    shared: tuple[npt.NDArray[np.intp], FloatArray] | None = None,
) -> tuple[FloatArray, BoolArray]:
    """Rescaled put values g(x) (K = 1) and exercise flags, option i on the boundary of (r, q, v)[owner[i]].

    Each boundary is solved once however many options share it (the boundary does not depend on x), by the same
    steps as `sensitivities` with no Greeks asked; the premium is integrated on the scheme's price rule
    (`Scheme.price_grid`). With the Greeks' rule in its place every value would equal
    `sensitivities_by_scheme(...).value` up to the skipped nodes (`table_premium`; tested to 1e-12 K).

    Args:
        x: Spot over strike of each option, shape (E,).
        owner: Index into r, q, v of each option's boundary, shape (E,).
        r, q, v: Rescaled r T (> 0), q T, sigma sqrt T (> 0) of each boundary, shape (G,).
        euro: Rescaled European put price of each option, shape (E,).
        shared: As in `solved_boundaries`.
    """
    return values_on_solved(x, owner, solved_boundaries(r, q, v, shared), euro)


def deterministic(x: FloatArray, r: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Zero-volatility put (K = 1, T = 1): value max_t (e^{-r t} - x e^{-q t})^+ and the best exercise time."""
    waiting = (q > r) & (q * x > r)  # the exercise value still rises at t = 0: the best time is interior
    with np.errstate(divide="ignore", invalid="ignore"):
        t_inner = np.log(np.where(waiting, q * x / r, 1.0)) / np.where(waiting, q - r, 1.0)
    times = np.stack([np.zeros_like(x), np.ones_like(x), np.clip(t_inner, 0.0, 1.0)])
    values = np.exp(-r * times) - x * np.exp(-q * times)
    best = np.argmax(values, axis=0)[None]
    return np.maximum(np.take_along_axis(values, best, 0)[0], 0.0), np.take_along_axis(times, best, 0)[0]
