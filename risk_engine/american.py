"""American option prices and Greeks over numpy arrays, in riskdash units (Andersen-Lake-Offengenden method).

Owns the early-exercise boundary and premium; the European part comes from `risk_engine.greeks`. Pure numpy: no
I/O, no per-option Python loop (options on one axis, collocation and quadrature nodes on the others).

Method: ALO (2015), "High-performance American option pricing", for the put of put-call symmetry C(S, K, r, q) =
P(K, S, q, r), after the exact rescaling (r, q, sigma, T, K) -> (r T, q T, sigma sqrt T, 1, 1):
1. the exercise boundary B(tau) at Chebyshev nodes in sqrt(tau), stored as H = ln(B / X)^2, X = min(1, r / q);
   first guess from Li's QD+ equation, then Jacobi sweeps of ALO's fixed-point system (FP-A, smooth pasting,
   where beta = 2 (r - q) / sigma^2 < 10; FP-B, value matching, on a finer grid where beta >= 10: FP-A diverges
   there and FP-B crawls at small 2 r / sigma^2), Gauss-Legendre in sqrt(tau - u) for the integrals, B(u) by one
   fixed barycentric interpolation matrix;
2. price = European + early-exercise premium integral. The boundary does not depend on spot, so delta, gamma and
   speed are exact derivatives of that integral; theta and charm come from the Black-Scholes PDE in the
   continuation region; vega, vomma, vanna (central) and rho (one-sided) re-solve the boundary at bumped sigma
   and rate, sharing the last sweeps with the base solve so the differences are smooth.

Why: against all 705 American rows of shared/golden/greeks_public.csv (QuantLib QdFp high precision) the worst
error over the issue's tolerance is 0.074 for the price, 0.009 for delta, 0.013 for gamma, 0.048 for vega and
0.23 for theta (p99 <= 0.016), and 0.89 for rho where its finite-difference stencil is clear of the r = q and
r = 0 kinks; that costs ~23 us of CPU per option for the price and all nine Greeks, ~6 us for the price alone
(bench/bench_american.py; a QuantLib QdFp loop takes ~170 us per price). Bjerksund-Stensland (2002) misses the
published exact values by up to 0.04 on a 5.3 option (Haug's S = 42 call: 7e-3, fourteen times the 5e-4 price
tolerance), so it is not used.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt
from numpy.polynomial.legendre import leggauss
from scipy.special import ndtr

from models.conventions import CALENDAR_DAYS_PER_YEAR, RATE_POINT, VOL_POINT
from risk_engine.greeks import (
    BoolArray,
    FloatArray,
    GreekName,
    Greeks,
    broadcast_option_inputs,
    european_greeks,
    run_in_blocks,
)

__all__ = ["american_greeks", "american_price"]

# FP-A grid: 6 collocation nodes, 12 quadrature nodes each, 2 sweeps. Against a 24-node, 16-sweep solve of 20,000
# random options (golden ranges plus 10 % at vol 1-5 %) its price error stays below 0.3 of the 5e-4 tolerance, vega
# and rho below 1.0; FP-B (beta >= 10) needs the finer grid for 0.5 (6 nodes: 0.9 on beta in [20, 50)).
_FAST_NODES, _FAST_QUAD, _FAST_SWEEPS = 6, 12, 2
_FINE_NODES, _FINE_QUAD, _FINE_SWEEPS = 12, 24, 4
# 32 premium nodes on z = t^2: 24 already triples the theta error of options near the exercise boundary.
_PRICE_NODES = 32
_PRICE_GRADING = 2.0
_QD_NEWTON_STEPS = 4
_FP_A_MAX_BETA = 10.0
# The QD+ root lies within ~9 standard deviations of X even for r T ~ 1e-12 (short-expiry asymptote).
_QD_MAX_XI = 12.0
# Central differences in v = sigma sqrt T, step h v: the price varies on the scale of v, so the truncation error
# is ~ h^2 relative, while rounding (~1e-15 of K in a fixed-iteration solve) costs 1e-15 / (h v) for vega and
# 4e-15 / (h v)^2 for vomma. h = 1e-3 keeps both below 1e-6 of their scale down to v = 1e-4.
_VOL_BUMP = 1e-3
# One-sided rate step 1e-6 max(|rT| + |qT|, v^2), at least 1e-9: the premium bends on the scale of r ~ sigma^2 / 2,
# so the truncation error is ~1e-6 relative, and rounding (~1e-15 of K) / step stays below 1e-6 of rho's scale
# K T. Without the floor a 1-hour 5 % vol option's rho carried 2.6e-5 of its scale in rounding noise.
_RATE_BUMP = 1e-6
_MIN_RATE_STEP = 1e-9
# Below this sigma sqrt T (sigma = 20 %: the last 0.1 s) the deterministic zero-volatility value is used.
_MIN_TOTAL_VOL = 1e-5
# At r T <= 1e-12 the early-exercise premium (< K r T) is below rounding: such rows are priced European.
_MIN_RATE_TIME = 1e-12
# Options per thread block, and elements per cache-sized chunk of the (rows, nodes, quadrature) arrays.
_BLOCK_OPTIONS = 2048
_CHUNK_ELEMENTS = 1 << 15

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_NAMES = ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "charm", "vomma")
_PRICE_ONLY: tuple[GreekName, ...] = ("price",)
_EUROPEAN_PARTS: tuple[GreekName, ...] = ("price", "delta", "gamma")  # what the premium adds to


@dataclass(frozen=True)
class _Grid:
    """Nodes and weights of the rescaled problem (K = 1, T = 1): the same for every option."""

    sqrt_tau: FloatArray  # (n,) sqrt of the collocation times tau_i, i = 1..n (tau_0 = 0, where B = X)
    z: FloatArray  # (n, l) sqrt(tau_i - u) at the quadrature nodes of node i
    inv_z: FloatArray
    s: FloatArray  # (n, l) tau_i - u
    w_ds: FloatArray  # (n, l) weights of int_0^tau_i f(s) ds
    w_ds_sqrt: FloatArray  # (n, l) weights of int_0^tau_i f(s) / sqrt(s) ds
    interp: FloatArray  # (n + 1, n l): H at the nodes -> H at every u = tau_i - s
    zp: FloatArray  # (lp,) sqrt(1 - u) at the premium nodes
    sp: FloatArray  # (lp,) 1 - u
    wp_ds: FloatArray
    wp_ds_sqrt: FloatArray
    interp_p: FloatArray  # (n + 1, lp)


def _chebyshev_interpolation(nodes: FloatArray, points: FloatArray) -> FloatArray:
    """Barycentric interpolation matrix (points x nodes) on Chebyshev extreme points."""
    weights = (-1.0) ** np.arange(nodes.size)
    weights[[0, -1]] *= 0.5
    diff = points[:, None] - nodes[None, :]
    hit = diff == 0.0
    terms = weights / np.where(hit, 1.0, diff)
    matrix: FloatArray = terms / terms.sum(axis=1, keepdims=True)
    rows = hit.any(axis=1)
    matrix[rows] = hit[rows].astype(np.float64)
    return matrix


def _make_grid(n_nodes: int, n_quad: int, n_price: int) -> _Grid:
    """The grid with n_nodes collocation nodes, n_quad and n_price Gauss-Legendre nodes.

    The premium integral runs over z = sqrt(T - u) = t^_PRICE_GRADING, t Gauss-Legendre on [0, 1]: near the
    exercise boundary its integrand switches off within z ~ ln(S / B(T)) / sigma, a layer uniform nodes miss.
    """
    cheb = -np.cos(np.arange(n_nodes + 1) * np.pi / n_nodes)  # sqrt(tau) = (1 + cheb) / 2
    sqrt_tau = (1.0 + cheb[1:]) / 2.0
    y, wy = leggauss(n_quad)
    frac = (1.0 + y) / 2.0
    z = sqrt_tau[:, None] * frac[None, :]
    sqrt_u = sqrt_tau[:, None] * np.sqrt(1.0 - frac[None, :] ** 2)
    yp, wp = leggauss(n_price)
    tp = (1.0 + yp) / 2.0
    zp = tp**_PRICE_GRADING
    grading = _PRICE_GRADING
    return _Grid(
        sqrt_tau=sqrt_tau,
        z=z,
        inv_z=1.0 / z,
        s=z * z,
        w_ds=wy[None, :] * z * sqrt_tau[:, None],  # ds = 2 z dz, dz = sqrt(tau_i) / 2 dy
        w_ds_sqrt=wy[None, :] * sqrt_tau[:, None] * np.ones_like(z),
        interp=_chebyshev_interpolation(cheb, (2.0 * sqrt_u - 1.0).ravel()).T.copy(),
        zp=zp,
        sp=zp * zp,
        wp_ds=wp * grading * tp ** (2.0 * grading - 1.0),  # ds = 2 z dz with z = t^grading, dt = dy / 2
        wp_ds_sqrt=wp * grading * tp ** (grading - 1.0),
        interp_p=_chebyshev_interpolation(cheb, 2.0 * np.sqrt(1.0 - zp * zp) - 1.0).T.copy(),
    )


@dataclass(frozen=True)
class _Scheme:
    """A grid, its fixed-point system (FP-A: smooth pasting, FP-B: value matching) and sweep counts."""

    grid: _Grid
    smooth_pasting: bool
    sweeps: int
    shared_sweeps: int  # the last sweeps, which the bumped scenarios of the Greeks repeat (see _sensitivities)


_SCHEMES = (
    _Scheme(_make_grid(_FAST_NODES, _FAST_QUAD, _PRICE_NODES), True, _FAST_SWEEPS, _FAST_SWEEPS),
    # beta >= _FP_A_MAX_BETA (r >> sigma^2): FP-B contracts slowly, so every sweep is repeated per scenario.
    _Scheme(_make_grid(_FINE_NODES, _FINE_QUAD, 48), False, _FINE_SWEEPS, _FINE_SWEEPS),
)


def _scheme_index(r: FloatArray, q: FloatArray, v: FloatArray) -> npt.NDArray[np.intp]:
    """Which of _SCHEMES solves each option, from beta = 2 (r - q) / sigma^2 of its base parameters."""
    return np.where(2.0 * (r - q) < _FP_A_MAX_BETA * v * v, 0, 1)


def _negative_root(alpha: FloatArray, beta: FloatArray) -> FloatArray:
    """Negative root of lam^2 + (beta - 1) lam - alpha = 0 (alpha > 0), without cancellation."""
    gap = beta - 1.0
    root = np.sqrt(gap * gap + 4.0 * alpha)
    # For beta < 1 the textbook form subtracts nearly equal numbers when alpha is small: use the product form.
    return np.where(gap > 0.0, -0.5 * (gap + root), -2.0 * alpha / (root - gap))


@dataclass(frozen=True)
class _QdPlus:
    """Li's (2005) QD+ boundary equation of a K = 1 put at the collocation nodes, coefficients of shape (N, n).

    B (1 - e^{-q tau} N(-d+)) + (lam + c0)(1 - B - p_E(B)) = 0 is written without the 1 / (1 - B - p_E) of c0,
    so it has no pole, and is solved for xi = ln(X / B) / (v sqrt tau): the distance below X in standard
    deviations.
    """

    r: FloatArray
    q: FloatArray
    v: FloatArray
    tau: FloatArray
    vs: FloatArray
    lin: FloatArray
    k1_theta: FloatArray
    df_q: FloatArray
    df_r: FloatArray
    ln_lim: FloatArray
    ln_b_inf: FloatArray  # the perpetual boundary: a floor for B
    xi_max: FloatArray


def _qdplus(r: FloatArray, q: FloatArray, v: FloatArray, ln_lim: FloatArray, grid: _Grid) -> _QdPlus:
    """QD+ coefficients for rescaled r T (> 0), q T, sigma sqrt T (> 0) and ln X, all of shape (N, 1)."""
    tau = grid.sqrt_tau**2
    vs = v * grid.sqrt_tau
    h = -np.expm1(-r * tau)
    alpha = 2.0 * r / (v * v)
    beta = 2.0 * (r - q) / (v * v)
    lam = _negative_root(alpha / h, beta)
    root = -(2.0 * lam + beta - 1.0)  # sqrt((beta - 1)^2 + 4 alpha / h) > 0
    d_lam = alpha / (h * h * root)
    k1 = (1.0 - h) * alpha / root
    df_r = np.exp(-r * tau)
    lam_inf = _negative_root(alpha, beta)
    ln_b_inf = np.log(np.maximum(lam_inf / (lam_inf - 1.0), 1e-300))
    return _QdPlus(
        r=r,
        q=q,
        v=v,
        tau=tau,
        vs=vs,
        lin=lam + k1 * (1.0 / h - d_lam / root),
        k1_theta=k1 / (r * df_r),
        df_q=np.exp(-q * tau),
        df_r=df_r,
        ln_lim=ln_lim,
        ln_b_inf=ln_b_inf,
        xi_max=np.minimum((ln_lim - ln_b_inf) / vs, _QD_MAX_XI),
    )


def _qdplus_residual(e: _QdPlus, xi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """QD+ residual at xi and its exact derivative in xi (c0 depends on B, so it is not frozen)."""
    vs, r, q, df_q, df_r = e.vs, e.r, e.q, e.df_q, e.df_r
    y = e.ln_lim - xi * vs
    b = np.exp(y)
    dp = (y + (r - q) * e.tau) / vs + 0.5 * vs
    n_mp = ndtr(-dp)
    n_mm = ndtr(vs - dp)
    phi = _INV_SQRT_2PI * np.exp(-0.5 * dp * dp)
    half_v = 0.5 * e.v / np.sqrt(e.tau)
    bq_n = b * df_q * n_mp
    theta = r * df_r * n_mm - q * bq_n - half_v * b * df_q * phi
    f = b - bq_n + e.lin * (1.0 - b - df_r * n_mm + bq_n) - e.k1_theta * theta
    d_theta = -df_q * ((r - q) * phi / vs + q * n_mp + half_v * phi * (1.0 - dp / vs))
    d_f = -((1.0 - df_q * n_mp) * (1.0 - e.lin) + df_q * phi / vs - e.k1_theta * d_theta) * b * vs
    return f, d_f


def _qdplus_solve(e: _QdPlus) -> FloatArray:
    """xi solving the QD+ equation after _QD_NEWTON_STEPS safeguarded Newton steps; shape (N, n).

    The residual decays like a Gaussian tail in xi, where Newton in xi crawls, so beyond xi = 0.5 the steps are
    Newton steps in w = exp(-xi^2 / 2), in which it is nearly linear. A bisection bracket on [0, xi_max] catches
    steps that leave it. The start is the larger of a Barone-Adesi-Whaley style interpolation between X and the
    perpetual boundary and the short-expiry asymptote (sqrt(2 ln(v^2 / (8 pi r^2 tau))) if q <= r, 0.9 if q > r).
    """
    r, q, v, tau, vs = e.r, e.q, e.v, e.tau, e.vs
    b_inf = np.exp(e.ln_b_inf)
    lim = np.exp(e.ln_lim)
    seed = b_inf + (lim - b_inf) * np.exp(np.minimum(((r - q) * tau - 2.0 * vs) * lim / (lim - b_inf), 0.0))
    short = np.sqrt(2.0 * np.log(np.maximum(v * v / (8.0 * np.pi * r * r * tau), 1.0)))
    xi: FloatArray = np.clip(np.maximum((e.ln_lim - np.log(seed)) / vs, np.where(q > r, 0.9, short)), 0.05, e.xi_max)
    lo = np.zeros_like(xi)
    hi = np.array(e.xi_max, copy=True)
    for _ in range(_QD_NEWTON_STEPS):
        f, d_f = _qdplus_residual(e, xi)
        above = f > 0.0  # the residual decreases in xi: positive means the root lies further out
        lo = np.where(above, xi, lo)
        hi = np.where(above, hi, xi)
        slope = np.where(d_f < 0.0, d_f, -1.0)
        ratio = 1.0 + f * xi / slope
        # Newton in w is degenerate at xi = 0 (w = 1 is a fixed point of its step): plain Newton in xi there.
        xi_new = np.where(
            xi > 0.5, np.sqrt(np.maximum(xi * xi - 2.0 * np.log(np.maximum(ratio, 1e-300)), 0.0)), xi - f / slope
        )
        # Accept round-off beyond the bracket: bisecting a converged iterate would throw it away.
        slack = 1e-9 * (1.0 + xi)
        inside = (xi_new >= lo - slack) & (xi_new <= hi + slack) & (ratio > 0.0) & (d_f < 0.0)
        xi = np.where(inside, xi_new, 0.5 * (lo + hi))
    return xi


def _qdplus_nodes(e: _QdPlus, xi: FloatArray) -> FloatArray:
    """ln B at the nodes for distances xi, kept between the perpetual boundary and X."""
    return np.clip(e.ln_lim - xi * e.vs, e.ln_b_inf, e.ln_lim)


def _limit(r: FloatArray, q: FloatArray) -> FloatArray:
    """ln X, X = min(1, r / q): the put boundary's limit at expiry (K = 1)."""
    above = q > r
    return np.where(above, np.log(r / np.where(above, q, 1.0)), 0.0)


def _fixed_point(
    y: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, e: _QdPlus, scheme: _Scheme, sweeps: int
) -> FloatArray:
    """ln B at the nodes after `sweeps` Jacobi sweeps of ALO's FP-A or FP-B system from y; shape (N, n).

    Rows go through in chunks that keep their (rows, nodes, quadrature) temporaries in cache over all sweeps.
    """
    if sweeps == 0:
        return y
    out = np.empty_like(y)
    chunk = max(_CHUNK_ELEMENTS // scheme.grid.z.size, 1)
    for start in range(0, y.shape[0], chunk):
        rows = slice(start, start + chunk)
        out[rows] = _sweep(y[rows], r[rows], q[rows], v[rows], e.ln_lim[rows], e.ln_b_inf[rows], scheme, sweeps)
    return out


def _sweep(
    y: FloatArray,
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    ln_lim: FloatArray,
    ln_floor: FloatArray,
    scheme: _Scheme,
    sweeps: int,
) -> FloatArray:
    """`_fixed_point` for one chunk; iterates stay between the perpetual boundary (ln_floor) and X."""
    g = scheme.grid
    n_opt, n_nodes = y.shape
    tau = g.sqrt_tau**2
    vs = v * g.sqrt_tau
    inv_v = 1.0 / v
    mu_plus = r - q + 0.5 * v * v
    drift_tau = mu_plus * tau
    df_q = np.exp(-q * tau)
    inv_v3 = inv_v[:, :, None]
    w_pt = inv_v3 * g.inv_z  # 1 / (v sqrt s)
    drift = (mu_plus * inv_v)[:, :, None] * g.z  # mu+ s / (v sqrt s)
    df_q_s = np.exp(-q[:, :, None] * g.s)
    weight_big_phi = df_q_s * g.w_ds
    weight_phi = df_q_s * g.w_ds_sqrt * (inv_v3 * _INV_SQRT_2PI)
    inv_lim = np.exp(-ln_lim)
    df_r = np.exp(-r * tau)
    v_z = v[:, :, None] * g.z
    weight_big_phi_r = np.exp(-r[:, :, None] * g.s) * g.w_ds
    height = (n_opt, n_nodes, -1)
    nodes_h = np.zeros((n_opt, n_nodes + 1))
    for _ in range(sweeps):
        gap = y - ln_lim
        np.multiply(gap, gap, out=nodes_h[:, 1:])
        # sqrt(H(u)) = ln X - ln B(u) at every quadrature point; H >= 0 but interpolation can undershoot.
        depth = np.einsum("ij,jk->ik", nodes_h, g.interp)
        np.maximum(depth, 0.0, out=depth)
        np.sqrt(depth, out=depth)
        depth = depth.reshape(height)
        dp = depth + gap[:, :, None]
        dp *= w_pt
        dp += drift
        d0 = (y + drift_tau) / vs
        if scheme.smooth_pasting:
            # B_new = B N / D with N = e^{-q tau} phi(d+)/(v sqrt tau) + r int e^{-qs} phi(d+) / (B(u) v sqrt s)
            # and D = e^{-q tau} (phi(d+)/(v sqrt tau) + N(d+)) + q int e^{-qs} (N(d+) + phi(d+) / (v sqrt s)).
            tail = dp * dp
            tail *= -0.5
            np.exp(tail, out=tail)
            tail *= weight_phi
            int_d = np.einsum("ijk,ijk->ij", ndtr(dp), weight_big_phi) + np.einsum("ijk->ij", tail)
            np.minimum(depth, 700.0, out=depth)
            np.exp(depth, out=depth)  # X / B(u)
            int_n = np.einsum("ijk,ijk->ij", tail, depth) * inv_lim
            phi0 = _INV_SQRT_2PI * np.exp(-0.5 * d0 * d0) * df_q / vs
            num = phi0 + r * int_n
            den = phi0 + df_q * ndtr(d0) + q * int_d
            y_new = y + np.log(np.where(num > 0.0, num, 1.0) / np.where(den > 0.0, den, 1.0))
        else:
            # B_new = (e^{-r tau} N(d-) + r int e^{-rs} N(d-)) / (e^{-q tau} N(d+) + q int e^{-qs} N(d+)).
            num = df_r * ndtr(d0 - vs) + r * np.einsum("ijk,ijk->ij", ndtr(dp - v_z), weight_big_phi_r)
            den = df_q * ndtr(d0) + q * np.einsum("ijk,ijk->ij", ndtr(dp), weight_big_phi)
            y_new = np.log(np.where(num > 0.0, num, 1.0) / np.where(den > 0.0, den, 1.0))
        # When sigma sqrt T is tiny next to the drift every density underflows: keep the iterate (~ X there).
        y = np.clip(np.where((num > 0.0) & (den > 0.0), y_new, y), ln_floor, ln_lim)
    return y


@dataclass(frozen=True)
class _PutValue:
    """Rescaled American put g(x) (K = 1, T = 1) and its derivatives in x = S / K."""

    value: FloatArray
    d1: FloatArray
    d2: FloatArray
    d3: FloatArray
    exercised: BoolArray


def _premium(
    x: FloatArray,
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    y: FloatArray,
    ln_lim: FloatArray,
    grid: _Grid,
    order: int,
) -> _PutValue:
    """`_premium_rows` over cache-sized chunks of rows."""
    chunk = max(_CHUNK_ELEMENTS // grid.zp.size, 1)
    parts = [
        _premium_rows(x[rows], r[rows], q[rows], v[rows], y[rows], ln_lim[rows], grid, order)
        for rows in (slice(start, start + chunk) for start in range(0, x.size, chunk))
    ]
    if len(parts) == 1:
        return parts[0]
    return _PutValue(*(np.concatenate([getattr(part, field.name) for part in parts]) for field in fields(_PutValue)))


def _premium_rows(
    x: FloatArray,
    r: FloatArray,
    q: FloatArray,
    v: FloatArray,
    y: FloatArray,
    ln_lim: FloatArray,
    grid: _Grid,
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
        order: 0 value only, 1 adds delta, 3 adds gamma and speed (zeros where not computed).
    """
    exercised = np.log(np.maximum(x, 1e-300)) <= y[:, -1]
    xl = np.where(exercised, 1.0, x)
    x2 = xl[:, None]
    gap = y - ln_lim
    nodes_h = np.concatenate([np.zeros_like(r), gap * gap], axis=1)
    depth = np.sqrt(np.maximum(np.einsum("ij,jk->ik", nodes_h, grid.interp_p), 0.0))  # ln X - ln B(1 - s)
    inv_v = 1.0 / v
    w = inv_v / grid.zp
    dp = (np.log(x2) - ln_lim + depth) * w + (r - q + 0.5 * v * v) * inv_v * grid.zp
    df_q = np.exp(-q * grid.sp)
    n_mp = ndtr(-dp)
    premium = r * np.exp(-r * grid.sp) * ndtr(v * grid.zp - dp) - q * x2 * df_q * n_mp
    r1, q1, v1 = r[:, 0], q[:, 0], v[:, 0]
    euro = european_greeks(False, xl, 1.0, 1.0, r1, r1 - q1, v1, greeks=_EUROPEAN_PARTS)
    # No-arbitrage floor: the quadrature can leave a premium of -1e-16 where the true one is 0.
    floor = np.where(exercised, 1.0 - x, np.maximum(1.0 - x, euro.price))
    value = np.where(exercised, floor, np.maximum(euro.price + premium @ grid.wp_ds, floor))
    zeros = np.zeros_like(x)
    if order == 0:
        return _PutValue(value, zeros, zeros, zeros, exercised)
    phi = _INV_SQRT_2PI * np.exp(-0.5 * dp * dp) * df_q
    c = (r * np.exp(np.minimum(depth, 700.0) - ln_lim) - q) * w  # (r / B(u) - q) / (v sqrt s)
    d1 = np.where(exercised, -1.0, euro.delta - (q * df_q * n_mp + phi * c) @ grid.wp_ds)
    if order == 1:
        return _PutValue(value, d1, zeros, zeros, exercised)
    qdc = q + dp * c
    p2 = (phi * qdc * inv_v) @ grid.wp_ds_sqrt / xl
    p3 = (phi * (c * w - qdc * (1.0 + dp * w)) * inv_v) @ grid.wp_ds_sqrt / (xl * xl)
    d_1 = (np.log(xl) + r1 - q1 + 0.5 * v1 * v1) / v1
    speed = -euro.gamma / xl * (1.0 + d_1 / v1)
    return _PutValue(
        value, d1, np.where(exercised, 0.0, euro.gamma + p2), np.where(exercised, 0.0, speed + p3), exercised
    )


def _put_value(x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, scheme: _Scheme) -> _PutValue:
    """Rescaled American put value g(x) for 1-D x = S / K, r T (> 0), q T, sigma sqrt T (> 0)."""
    r2, q2, v2 = r[:, None], q[:, None], v[:, None]
    ln_lim = _limit(r2, q2)
    qd = _qdplus(r2, q2, v2, ln_lim, scheme.grid)
    y = _fixed_point(_qdplus_nodes(qd, _qdplus_solve(qd)), r2, q2, v2, qd, scheme, scheme.sweeps)
    return _premium(x, r2, q2, v2, y, ln_lim, scheme.grid, 0)


@dataclass(frozen=True)
class _Sensitivities:
    """Rescaled put value, its x-derivatives and its derivatives in v = sigma sqrt T and in the rate."""

    value: FloatArray
    d1: FloatArray
    d2: FloatArray
    d3: FloatArray
    d_vol: FloatArray
    d2_vol: FloatArray
    d1_d_vol: FloatArray  # d(dg/dx) / dv
    d_rate: FloatArray  # dg / d(rate T) along the bump (dr, dq)
    exercised: BoolArray


def _sensitivities(
    x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, dr: FloatArray, dq: FloatArray, scheme: _Scheme
) -> _Sensitivities:
    """g, its x-derivatives, its derivatives in v (central) and along (dr, dq) (one-sided), for 1-D inputs.

    The four scenarios (base, v (1 + h), v (1 - h), rate bump) share the last `scheme.shared_sweeps` sweeps: the
    bumped ones start from the base iterate moved by the change of the QD+ root, estimated by one unguarded
    Newton step from the base root (smooth in the bump and exactly zero for the base). The shared sweeps then
    resolve the boundary's own sensitivity; with FP-A two sweeps bring it to ~1e-3 of itself.

    Args:
        x, r, q, v: Spot over strike and rescaled r T (> 0), q T, sigma sqrt T (> 0).
        dr, dq: Signed rate bumps of r T and q T (see _rate_bump).
        scheme: The solver of these options.
    """
    n = x.size
    h = _VOL_BUMP * v
    r2, q2, v2 = r[:, None], q[:, None], v[:, None]
    qd = _qdplus(r2, q2, v2, _limit(r2, q2), scheme.grid)
    xi = _qdplus_solve(qd)
    y = _fixed_point(_qdplus_nodes(qd, xi), r2, q2, v2, qd, scheme, scheme.sweeps - scheme.shared_sweeps)
    rs = np.concatenate([r2, r2, r2, r2 + dr[:, None]])
    qs = np.concatenate([q2, q2, q2, q2 + dq[:, None]])
    vs = np.concatenate([v2, v2 + h[:, None], v2 - h[:, None], v2])
    qds = _qdplus(rs, qs, vs, _limit(rs, qs), scheme.grid)
    xi4 = np.tile(xi, (4, 1))
    f, d_f = _qdplus_residual(qds, xi4)
    moved = _qdplus_nodes(qds, xi4 - f / np.where(d_f < 0.0, d_f, -1.0))
    start = np.clip(np.tile(y, (4, 1)) + moved - np.tile(moved[:n], (4, 1)), qds.ln_b_inf, qds.ln_lim)
    ys = _fixed_point(start, rs, qs, vs, qds, scheme, scheme.shared_sweeps)
    base, vol, bumped = slice(0, n), slice(n, 3 * n), slice(3 * n, 4 * n)
    grid = scheme.grid
    p0 = _premium(x, r2, q2, v2, ys[base], qds.ln_lim[base], grid, 3)
    pv = _premium(np.tile(x, 2), rs[vol], qs[vol], vs[vol], ys[vol], qds.ln_lim[vol], grid, 1)
    pr = _premium(x, rs[bumped], qs[bumped], vs[bumped], ys[bumped], qds.ln_lim[bumped], grid, 0)
    g_up, g_down = pv.value[:n], pv.value[n:]
    return _Sensitivities(
        value=p0.value,
        d1=p0.d1,
        d2=p0.d2,
        d3=p0.d3,
        d_vol=(g_up - g_down) / (2.0 * h),
        d2_vol=(g_up - 2.0 * p0.value + g_down) / (h * h),
        d1_d_vol=(pv.d1[:n] - pv.d1[n:]) / (2.0 * h),
        d_rate=(pr.value - p0.value) / np.where(dr != 0.0, dr, dq),
        exercised=p0.exercised,
    )


def _rate_bump(
    r: FloatArray, q: FloatArray, v: FloatArray, bump_r: BoolArray, bump_q: BoolArray
) -> tuple[FloatArray, FloatArray]:
    """Signed one-sided bumps (dr, dq) of r T and q T for rho; a futures option moves both."""
    step = np.maximum(_RATE_BUMP * np.maximum(np.abs(r) + np.abs(q), v * v), _MIN_RATE_STEP)
    # Stay on the side of r = q the base lies on (X = min(1, r / q) has a kink there) and keep r > 0.
    down = np.where(bump_r & bump_q, False, np.where(bump_r, r < q, q <= r))
    step = np.where(down & bump_r, np.minimum(step, 0.5 * r), step)
    signed = np.where(down, -step, step)
    return np.where(bump_r, signed, 0.0), np.where(bump_q, signed, 0.0)


def _by_scheme(
    x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, dr: FloatArray, dq: FloatArray
) -> _Sensitivities:
    """`_sensitivities` with each option solved by the scheme its base parameters select."""
    which = _scheme_index(r, q, v)
    out = {field.name: np.empty_like(x) for field in fields(_Sensitivities) if field.name != "exercised"}
    exercised = np.zeros(x.shape, dtype=bool)
    for i, scheme in enumerate(_SCHEMES):
        rows = np.flatnonzero(which == i)
        if rows.size:
            part = _sensitivities(x[rows], r[rows], q[rows], v[rows], dr[rows], dq[rows], scheme)
            for name, values in out.items():
                values[rows] = getattr(part, name)
            exercised[rows] = part.exercised
    return _Sensitivities(exercised=exercised, **out)


def _price_by_scheme(x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray) -> tuple[FloatArray, BoolArray]:
    """`_put_value` (value, exercised) with each option solved by the scheme its parameters select."""
    which = _scheme_index(r, q, v)
    value = np.empty_like(x)
    exercised = np.zeros(x.shape, dtype=bool)
    for i, scheme in enumerate(_SCHEMES):
        rows = np.flatnonzero(which == i)
        if rows.size:
            part = _put_value(x[rows], r[rows], q[rows], v[rows], scheme)
            value[rows], exercised[rows] = part.value, part.exercised
    return value, exercised


def _deterministic(x: FloatArray, r: FloatArray, q: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Zero-volatility put (K = 1, T = 1): value max_t (e^{-r t} - x e^{-q t})^+ and the best exercise time."""
    waiting = (q > r) & (q * x > r)  # the exercise value still rises at t = 0: the best time is interior
    with np.errstate(divide="ignore", invalid="ignore"):
        t_inner = np.log(np.where(waiting, q * x / r, 1.0)) / np.where(waiting, q - r, 1.0)
    times = np.stack([np.zeros_like(x), np.ones_like(x), np.clip(t_inner, 0.0, 1.0)])
    values = np.exp(-r * times) - x * np.exp(-q * times)
    best = np.argmax(values, axis=0)[None]
    return np.maximum(np.take_along_axis(values, best, 0)[0], 0.0), np.take_along_axis(times, best, 0)[0]


@dataclass(frozen=True)
class _PutFrame:
    """Inputs as the put of put-call symmetry C(S, K, r, q) = P(K, S, q, r), flattened to 1-D."""

    shape: tuple[int, ...]
    call: BoolArray
    spot: FloatArray  # S for puts, K for calls
    strike: FloatArray  # K for puts, S for calls
    t: FloatArray
    rate: FloatArray  # r for puts, q for calls
    div: FloatArray  # q for puts, r for calls
    vol: FloatArray
    hold_forward: BoolArray  # rho with the forward held fixed (Black-76): r and q move together
    early: BoolArray  # rows where early exercise can pay; the others are European
    floored: BoolArray  # European rows that may still be exercised (r T tiny): at least the exercise value


def _put_frame(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
    rho_holds_forward: npt.ArrayLike,
) -> _PutFrame:
    """The broadcast inputs in the put frame."""
    arrays = broadcast_option_inputs(is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward)
    call, s, k, t, r, b, v, hold = (a.ravel() for a in arrays)
    q = r - b
    put_rate = np.where(call, q, r)
    put_spot = np.where(call, k, s)
    put_strike = np.where(call, s, k)
    # A put with r <= 0 (a call with q <= 0, i.e. carry >= r) is never exercised early, nor is a put struck at 0
    # (a call on a worthless underlying): those rows are European. So are rows with r T below _MIN_RATE_TIME, whose
    # early-exercise premium is below K r T. NaN inputs also go there and stay NaN.
    exercisable = (t > 0.0) & (put_rate > 0.0) & (put_strike > 0.0) & (put_spot >= 0.0) & (v >= 0.0)
    exercisable &= np.isfinite(put_spot) & np.isfinite(put_strike) & np.isfinite(t) & np.isfinite(q) & np.isfinite(v)
    early = exercisable & (put_rate * t > _MIN_RATE_TIME)
    return _PutFrame(
        shape=arrays[0].shape,
        call=call,
        spot=put_spot,
        strike=put_strike,
        t=t,
        rate=put_rate,
        div=np.where(call, r, q),
        vol=v,
        hold_forward=hold,
        early=early,
        floored=exercisable & ~early,
    )


def _early_greeks(frame: _PutFrame, rows: npt.NDArray[np.intp]) -> dict[str, FloatArray]:
    """Price and Greeks (riskdash units) of the rows of `frame` where early exercise can pay."""
    sp, kp, t, rp, qp, sig = (a[rows] for a in (frame.spot, frame.strike, frame.t, frame.rate, frame.div, frame.vol))
    call, hold = frame.call[rows], frame.hold_forward[rows]
    sqrt_t = np.sqrt(t)
    r, q, v, x = rp * t, qp * t, sig * sqrt_t, sp / kp
    bump_r, bump_q = hold | ~call, hold | call  # a put's rho moves r; a call's moves r, i.e. the put-frame q
    # Rescaled put-frame results; the defaults are those of immediate exercise (zero put-frame spot).
    g, g1 = 1.0 - x, -np.ones_like(x)
    g2, g3, d_vol, d2_vol, d1_d_vol, d_rate, theta_year, d_delta_d_t = (np.zeros_like(x) for _ in range(8))
    exercised = x == 0.0

    live = (v >= _MIN_TOTAL_VOL) & (x > 0.0)
    if live.any():
        rl, ql, vl = r[live], q[live], v[live]
        s = _by_scheme(x[live], rl, ql, vl, *_rate_bump(rl, ql, vl, bump_r[live], bump_q[live]))
        g[live], g1[live], g2[live], g3[live] = s.value, s.d1, s.d2, s.d3
        d_vol[live], d2_vol[live], d1_d_vol[live], d_rate[live] = s.d_vol, s.d2_vol, s.d1_d_vol, s.d_rate
        # Continuation region: the Black-Scholes PDE gives dV/dT, and differentiated in S, dDelta/dT.
        xl, var, r_year, q_year = x[live], sig[live] ** 2, rp[live], qp[live]
        dv_dt = 0.5 * var * xl * xl * s.d2 + (r_year - q_year) * xl * s.d1 - r_year * s.value
        dd_dt = var * xl * s.d2 + 0.5 * var * xl * xl * s.d3 + (r_year - q_year) * (s.d1 + xl * s.d2) - r_year * s.d1
        theta_year[live] = np.where(s.exercised, 0.0, -kp[live] * dv_dt)
        d_delta_d_t[live] = np.where(s.exercised, 0.0, dd_dt)
        exercised[live] = s.exercised

    flat = v < _MIN_TOTAL_VOL
    if flat.any():
        xf, rf, qf = x[flat], r[flat], q[flat]
        value, when = _deterministic(xf, rf, qf)
        worth = value > 0.0
        at_expiry = worth & (when == 1.0)
        g[flat] = value
        exercised[flat] = worth & (when == 0.0)
        g1[flat] = np.where(worth, -np.exp(-qf * when), 0.0)
        d_rate[flat] = np.where(worth, xf * when * np.exp(-qf * when) * bump_q[flat], 0.0)
        d_rate[flat] -= np.where(worth, when * np.exp(-rf * when) * bump_r[flat], 0.0)
        decay = kp[flat] * (rp[flat] * np.exp(-rf) - qp[flat] * xf * np.exp(-qf))
        theta_year[flat] = np.where(at_expiry, decay, 0.0)
        d_delta_d_t[flat] = np.where(at_expiry, qp[flat] * np.exp(-qf), 0.0)

    price = np.where(exercised, kp - sp, kp * g)  # the exercise value exactly, not K (1 - S / K)
    vega = kp * sqrt_t * d_vol
    vanna = sqrt_t * d1_d_vol
    # Calls through C(S, K) = P(K, S): degree-1 homogeneity turns the put's derivatives in its spot (= K) into
    # derivatives in its strike (= S): dC/dS = (P - K dP/dK) / S, d2C/dS2 = K^2 d2P/dK2 / S^2.
    return {
        "price": price,
        "delta": np.where(call, (price - sp * g1) / kp, g1),
        "gamma": np.where(call, sp * sp * g2 / kp**3, g2 / kp),
        "vega": vega * VOL_POINT,
        "theta": theta_year / CALENDAR_DAYS_PER_YEAR,
        "rho": kp * t * d_rate * RATE_POINT,
        "vanna": np.where(call, (vega - sp * vanna) / kp, vanna) * VOL_POINT,
        "charm": np.where(call, (theta_year + sp * d_delta_d_t) / kp, -d_delta_d_t) / CALENDAR_DAYS_PER_YEAR,
        "vomma": kp * t * d2_vol * VOL_POINT * VOL_POINT,
    }


def american_greeks(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
    rho_holds_forward: npt.ArrayLike = False,
) -> Greeks:
    """American price and Greeks in riskdash units (see `Greeks`), inputs broadcast as in `european_greeks`.

    Rows where early exercise cannot pay (a call with carry >= r, a put with r <= 0, expired rows) are exactly
    `european_greeks`. Inside the exercise region the price is the exercise value, delta -1 / +1 and the other
    Greeks 0. Below sigma sqrt T = 1e-5 the deterministic optimal-exercise value is used.

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price (Black-76: futures price), currency.
        strike: Strike, currency.
        t_years: Years to expiry, Actual/365 (models.conventions.t_years); <= 0 means expired (intrinsic).
        rate: Continuously compounded risk-free rate, decimal.
        carry: Cost of carry b, decimal (r - q for BSM, 0 for Black-76).
        vol: Volatility, decimal per sqrt(year).
        rho_holds_forward: True where rho is taken with the forward fixed (futures options): r and q move together.

    Example:
        The golden textbook American put G01998 (QuantLib QdFp: 6.352863, delta -0.441057, theta -0.015450):
        >>> g = american_greeks(False, 100.0, 100.0, 0.5, 0.05, 0.03, 0.25)
        >>> round(float(g.price), 3), round(float(g.delta), 4), round(float(g.theta), 5)
        (6.353, -0.4411, -0.01545)
    """
    frame = _put_frame(is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward)
    euro = european_greeks(is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward)
    out = {
        name: np.array(np.broadcast_to(getattr(euro, name), frame.shape), dtype=np.float64).ravel() for name in _NAMES
    }
    rows = np.flatnonzero(frame.early)

    def kernel(part: slice) -> None:
        block = rows[part]
        for name, values in _early_greeks(frame, block).items():
            out[name][block] = values

    run_in_blocks(kernel, rows.size, block=_BLOCK_OPTIONS)
    exercise = frame.floored & (frame.strike - frame.spot > out["price"])
    if exercise.any():
        out["price"][exercise] = (frame.strike - frame.spot)[exercise]
        out["delta"][exercise] = np.where(frame.call[exercise], 1.0, -1.0)
        for name in _NAMES[2:]:
            out[name][exercise] = 0.0
    return Greeks(**{name: out[name].reshape(frame.shape) for name in _NAMES})


def american_price(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
) -> FloatArray:
    """American option price in premium currency, inputs broadcast; the price of `american_greeks`, cheaper.

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price (Black-76: futures price), currency.
        strike: Strike, currency.
        t_years: Years to expiry, Actual/365; <= 0 means expired (intrinsic).
        rate: Continuously compounded risk-free rate, decimal.
        carry: Cost of carry b, decimal (r - q for BSM, 0 for Black-76).
        vol: Volatility, decimal per sqrt(year).

    Example:
        >>> round(float(american_price(False, 100.0, 100.0, 0.5, 0.05, 0.03, 0.25)), 3)
        6.353
    """
    frame = _put_frame(is_call, spot, strike, t_years, rate, carry, vol, False)
    euro_price = european_greeks(is_call, spot, strike, t_years, rate, carry, vol, greeks=_PRICE_ONLY).price
    out = np.array(np.broadcast_to(euro_price, frame.shape), dtype=np.float64).ravel()
    rows = np.flatnonzero(frame.early)

    def kernel(part: slice) -> None:
        block = rows[part]
        sp, kp, t = frame.spot[block], frame.strike[block], frame.t[block]
        x, r, q, v = sp / kp, frame.rate[block] * t, frame.div[block] * t, frame.vol[block] * np.sqrt(t)
        g = 1.0 - x
        exercised = x == 0.0
        live = (v >= _MIN_TOTAL_VOL) & (x > 0.0)
        if live.any():
            g[live], exercised[live] = _price_by_scheme(x[live], r[live], q[live], v[live])
        flat = v < _MIN_TOTAL_VOL
        if flat.any():
            g[flat], when = _deterministic(x[flat], r[flat], q[flat])
            exercised[flat] = (g[flat] > 0.0) & (when == 0.0)
        out[block] = np.where(exercised, kp - sp, kp * g)  # the exercise value exactly, not K (1 - S / K)

    run_in_blocks(kernel, rows.size, block=_BLOCK_OPTIONS)
    exercise = frame.floored & (frame.strike - frame.spot > out)
    out[exercise] = (frame.strike - frame.spot)[exercise]
    return out.reshape(frame.shape)
