"""Early-exercise boundary of the rescaled American put (K = 1, T = 1): QD+ first guess and ALO fixed-point sweeps.

Internal to `risk_engine.american` (see its docstring for the method and why). Pure numpy; the options lie on the
first axis, collocation and quadrature nodes on the others. Knows nothing of spot: the boundary does not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.polynomial.legendre import leggauss
from scipy.special import beta as beta_function
from scipy.special import betainc, ndtr

from risk_engine.greeks import FloatArray

__all__ = [
    "CHUNK_ELEMENTS",
    "INV_SQRT_2PI",
    "SCHEMES",
    "Grid",
    "QdPlus",
    "Scheme",
    "chebyshev_interpolation",
    "fixed_point",
    "limit",
    "negative_root",
    "premium_rule",
    "product_in_chunks",
    "qdplus",
    "qdplus_nodes",
    "qdplus_residual",
    "qdplus_solve",
    "restricted_boundary",
    "scheme_index",
]

# FP-A grid: 6 collocation nodes, 10 quadrature nodes each, 2 sweeps. Against a 24-node, 32-quadrature, 16-sweep
# solve of 30,000 random options (golden ranges plus 10 % at vol 1-5 % and 20 % under a week) the price error stays
# below 0.3 of the tolerance, and at the 99.9th percentile vega is at 0.06, theta 0.14 and rho 0.52 of
# theirs (12 quadrature nodes: 0.03 / 0.14 / 0.51 at 20 % more sweep time; 5 collocation nodes: rho 1.05). The
# worst rows lie within 1e-7 S of the exercise value, where theta and rho of both solves disagree (the golden file
# nudges such rows away). FP-B (beta >= 10) needs the finer grid for 0.5 (6 nodes: 0.9 on beta in [20, 50)).
_FAST_NODES, _FAST_QUAD, _FAST_SWEEPS = 6, 10, 2
_FINE_NODES, _FINE_QUAD, _FINE_SWEEPS = 12, 24, 4
# Premium rules (nodes, a, b): Gauss-Legendre in t with s = I_t(a, b) (see make_grid). Errors of the premium per unit
# strike against the converged integral (256 nodes), measured on the golden American rows x 64 scenarios (spot x
# 0.6-1.4, vol x 0.5-2) / on 2,400 random options x 41 spots (tests/risk_engine/test_american_many_spots.py, vol
# 0.5-120 %, T to 3 years, rates to 15 %) / on the bench book's stress grid:
#   the former rule, 32 nodes on z = t^2 (48 for FP-B):  3.0e-6 / 8.6e-6 / 2.1e-7
#   Greeks, I_t(8, 3), 32 nodes (FP-B: I_t(6, 4), 48):   4.1e-8 / 1.1e-6 / -
#   scenario prices, I_t(4, 3), 20 nodes:                 2.5e-7 / 4.7e-6 / 1.6e-8
# The Greeks need the dense start: against the golden rows, I_t(8, 3) with 32 nodes leaves the worst theta at 0.30
# and gamma at 0.023 of the tolerance (the former rule: 0.23 and 0.013; the price improves from 0.067 to
# 0.030), while I_t(4, 4) with 24 nodes misses theta by 6x. Prices alone do with 20 nodes, which takes the stress
# grid's premium from ~165 ms to ~135 ms of CPU.
_GREEKS_RULE_FAST = (32, 8, 3)
_GREEKS_RULE_FINE = (48, 6, 4)
_PRICE_RULE = (20, 4, 3)
_QD_NEWTON_STEPS = 3
_FP_A_MAX_BETA = 10.0
# The QD+ root lies within ~9 standard deviations of X even for r T ~ 1e-12 (short-expiry asymptote).
_QD_MAX_XI = 12.0
# Elements per cache-sized chunk of the (rows, nodes, quadrature) arrays.
CHUNK_ELEMENTS = 1 << 15
INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class Grid:
    """Nodes and weights of the rescaled problem (K = 1, T = 1): the same for every option."""

    cheb: FloatArray  # (n + 1,) Chebyshev extreme points 2 sqrt(tau_i) - 1, i = 0..n: H's interpolation nodes
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


def chebyshev_interpolation(nodes: FloatArray, points: FloatArray) -> FloatArray:
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


def restricted_boundary(y: FloatArray, ln_lim: FloatArray, ratio: FloatArray, grid: Grid) -> FloatArray:
    """ln B at the collocation nodes of `grid` for the shorter expiries ratio T (0 < ratio <= 1), from y, the
    boundary of the same r, q, sigma with expiry T; y of shape (G, n), ln_lim and ratio (G, 1).

    B depends on the time to expiry tau alone, not on the expiry. Its H = ln(X / B)^2 is interpolated as a
    polynomial of degree n in sqrt(tau) with H(0) = 0, which in the shorter problem's variable sqrt(tau / ratio) is
    again such a polynomial: its values at that problem's nodes reproduce it exactly, up to rounding and the floor
    at H = 0 that `premium_table` applies anyway.
    """
    points = np.sqrt(ratio) * (1.0 + grid.cheb[1:]) - 1.0  # (G, n)
    matrix = chebyshev_interpolation(grid.cheb, points.ravel()).reshape(*points.shape, grid.cheb.size)
    gap = y - ln_lim
    nodes_h = np.concatenate([np.zeros_like(ln_lim), gap * gap], axis=1)
    h = np.einsum("gk,gik->gi", nodes_h, matrix)
    restricted: FloatArray = ln_lim - np.sqrt(np.maximum(h, 0.0))
    return restricted


def premium_rule(nodes: int, a: int, b: int) -> tuple[FloatArray, FloatArray]:
    """(s_j, w_j): nodes and weights of int_0^1 f(s) ds, Gauss-Legendre in t with s = I_t(a, b) (regularized
    incomplete beta), so s ~ t^a near 0 and 1 - s ~ (1 - t)^b near 1."""
    y, w = leggauss(nodes)
    t = (1.0 + y) / 2.0
    density = t ** (a - 1) * (1.0 - t) ** (b - 1) / beta_function(a, b)
    return betainc(a, b, t), 0.5 * w * density  # dt = dy / 2


def make_grid(n_nodes: int, n_quad: int, rule: tuple[int, int, int]) -> Grid:
    """The grid with n_nodes collocation nodes, n_quad Gauss-Legendre nodes per collocation node and the premium
    rule (nodes, a, b) of `premium_rule`.

    The premium integrand has a layer at each end of s in [0, 1]: near s = 0 it switches off within
    z ~ ln(S / B(T)) / sigma of the spot when the spot is near the boundary, and near s = 1 the boundary
    ln(X / B(u)) ~ u^(1/4) (H is a polynomial in sqrt(u) with H(0) = 0) is not smooth in u = 1 - s. The graded rule
    takes both: s ~ t^a and 1 - s ~ (1 - t)^b, so that with ds/dt the u^(1/4) term becomes (1 - t)^(5 b / 4 - 1) in
    t, which vanishes with its first two derivatives at t = 1 for b = 3 (errors measured above `_GREEKS_RULE_FAST`).
    """
    cheb = -np.cos(np.arange(n_nodes + 1) * np.pi / n_nodes)  # sqrt(tau) = (1 + cheb) / 2
    sqrt_tau = (1.0 + cheb[1:]) / 2.0
    y, wy = leggauss(n_quad)
    frac = (1.0 + y) / 2.0
    z = sqrt_tau[:, None] * frac[None, :]
    sqrt_u = sqrt_tau[:, None] * np.sqrt(1.0 - frac[None, :] ** 2)
    sp, wp_ds = premium_rule(*rule)
    zp = np.sqrt(sp)
    return Grid(
        cheb=cheb,
        sqrt_tau=sqrt_tau,
        z=z,
        inv_z=1.0 / z,
        s=z * z,
        w_ds=wy[None, :] * z * sqrt_tau[:, None],  # ds = 2 z dz, dz = sqrt(tau_i) / 2 dy
        w_ds_sqrt=wy[None, :] * sqrt_tau[:, None] * np.ones_like(z),
        interp=chebyshev_interpolation(cheb, (2.0 * sqrt_u - 1.0).ravel()).T.copy(),
        zp=zp,
        sp=sp,
        wp_ds=wp_ds,
        wp_ds_sqrt=wp_ds / zp,
        interp_p=chebyshev_interpolation(cheb, 2.0 * np.sqrt(1.0 - sp) - 1.0).T.copy(),
    )


@dataclass(frozen=True)
class Scheme:
    """A grid, its fixed-point system (FP-A: smooth pasting, FP-B: value matching) and sweep counts."""

    grid: Grid
    price_grid: Grid  # the same boundary grid with the price rule: scenario prices, no Greeks
    smooth_pasting: bool
    sweeps: int
    shared_sweeps: int  # the last sweeps, which the bumped scenarios of the Greeks repeat (see _sensitivities)


SCHEMES = (
    Scheme(
        make_grid(_FAST_NODES, _FAST_QUAD, _GREEKS_RULE_FAST),
        make_grid(_FAST_NODES, _FAST_QUAD, _PRICE_RULE),
        True,
        _FAST_SWEEPS,
        _FAST_SWEEPS,
    ),
    # beta >= _FP_A_MAX_BETA (r >> sigma^2): FP-B contracts slowly, so every sweep is repeated per scenario.
    Scheme(
        make_grid(_FINE_NODES, _FINE_QUAD, _GREEKS_RULE_FINE),
        make_grid(_FINE_NODES, _FINE_QUAD, _PRICE_RULE),
        False,
        _FINE_SWEEPS,
        _FINE_SWEEPS,
    ),
)


def scheme_index(r: FloatArray, q: FloatArray, v: FloatArray) -> npt.NDArray[np.intp]:
    """Which of SCHEMES solves each option, from beta = 2 (r - q) / sigma^2 of its base parameters."""
    return np.where(2.0 * (r - q) < _FP_A_MAX_BETA * v * v, 0, 1)


def negative_root(alpha: FloatArray, beta: FloatArray) -> FloatArray:
    """Negative root of lam^2 + (beta - 1) lam - alpha = 0 (alpha > 0), without cancellation."""
    gap = beta - 1.0
    root = np.sqrt(gap * gap + 4.0 * alpha)
    # For beta < 1 the textbook form subtracts nearly equal numbers when alpha is small: use the product form.
    # The unused branch must not divide by zero either: root + |gap| > 0 on both sides of gap = 0.
    return np.where(gap > 0.0, -0.5 * (gap + root), -2.0 * alpha / (root + np.abs(gap)))


@dataclass(frozen=True)
class QdPlus:
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


def qdplus(r: FloatArray, q: FloatArray, v: FloatArray, ln_lim: FloatArray, grid: Grid) -> QdPlus:
    """QD+ coefficients for rescaled r T (> 0), q T, sigma sqrt T (> 0) and ln X, all of shape (N, 1)."""
    tau = grid.sqrt_tau**2
    vs = v * grid.sqrt_tau
    h = -np.expm1(-r * tau)
    alpha = 2.0 * r / (v * v)
    beta = 2.0 * (r - q) / (v * v)
    lam = negative_root(alpha / h, beta)
    root = -(2.0 * lam + beta - 1.0)  # sqrt((beta - 1)^2 + 4 alpha / h) > 0
    d_lam = alpha / (h * h * root)
    k1 = (1.0 - h) * alpha / root
    df_r = np.exp(-r * tau)
    lam_inf = negative_root(alpha, beta)
    ln_b_inf = np.log(np.maximum(lam_inf / (lam_inf - 1.0), 1e-300))
    return QdPlus(
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


def qdplus_residual(e: QdPlus, xi: FloatArray) -> tuple[FloatArray, FloatArray]:
    """QD+ residual at xi and its exact derivative in xi (c0 depends on B, so it is not frozen)."""
    vs, r, q, df_q, df_r = e.vs, e.r, e.q, e.df_q, e.df_r
    y = e.ln_lim - xi * vs
    b = np.exp(y)
    dp = (y + (r - q) * e.tau) / vs + 0.5 * vs
    n_mp = ndtr(-dp)
    n_mm = ndtr(vs - dp)
    phi = INV_SQRT_2PI * np.exp(-0.5 * dp * dp)
    half_v = 0.5 * e.v / np.sqrt(e.tau)
    bq_n = b * df_q * n_mp
    theta = r * df_r * n_mm - q * bq_n - half_v * b * df_q * phi
    f = b - bq_n + e.lin * (1.0 - b - df_r * n_mm + bq_n) - e.k1_theta * theta
    d_theta = -df_q * ((r - q) * phi / vs + q * n_mp + half_v * phi * (1.0 - dp / vs))
    d_f = -((1.0 - df_q * n_mp) * (1.0 - e.lin) + df_q * phi / vs - e.k1_theta * d_theta) * b * vs
    return f, d_f


def qdplus_solve(e: QdPlus) -> FloatArray:
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
        f, d_f = qdplus_residual(e, xi)
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


def qdplus_nodes(e: QdPlus, xi: FloatArray) -> FloatArray:
    """ln B at the nodes for distances xi, kept between the perpetual boundary and X."""
    return np.clip(e.ln_lim - xi * e.vs, e.ln_b_inf, e.ln_lim)


def product_in_chunks(a: FloatArray, b: FloatArray) -> FloatArray:
    """a @ b for 2-D a and b, at most about CHUNK_ELEMENTS output elements per product.

    Why: from about 5e5 multiply-adds the bundled OpenBLAS runs a product on threads of its own, which then spin for
    some 50 ms and take a core from the caller's thread blocks (+40 ms on the American stress grid, measured).
    """
    out = np.empty((a.shape[0], b.shape[1]))
    rows = max(CHUNK_ELEMENTS // b.shape[1], 1)
    for start in range(0, a.shape[0], rows):
        np.matmul(a[start : start + rows], b, out=out[start : start + rows])
    return out


def limit(r: FloatArray, q: FloatArray) -> FloatArray:
    """ln X, X = min(1, r / q): the put boundary's limit at expiry (K = 1)."""
    above = q > r
    return np.where(above, np.log(r / np.where(above, q, 1.0)), 0.0)


def fixed_point(
    y: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, e: QdPlus, scheme: Scheme, sweeps: int
) -> FloatArray:
    """ln B at the nodes after `sweeps` Jacobi sweeps of ALO's FP-A or FP-B system from y; shape (N, n).

    Rows go through in chunks that keep their (rows, nodes, quadrature) temporaries in cache over all sweeps.
    """
    if sweeps == 0:
        return y
    out = np.empty_like(y)
    chunk = max(CHUNK_ELEMENTS // scheme.grid.z.size, 1)
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
    scheme: Scheme,
    sweeps: int,
) -> FloatArray:
    """`fixed_point` for one chunk; iterates stay between the perpetual boundary (ln_floor) and X."""
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
    weight_phi = df_q_s * g.w_ds_sqrt * (inv_v3 * INV_SQRT_2PI)
    inv_lim = np.exp(-ln_lim)
    if not scheme.smooth_pasting:  # FP-B's extra terms: a full pass of exp over the quadrature grid
        df_r = np.exp(-r * tau)
        v_z = v[:, :, None] * g.z
        weight_big_phi_r = np.exp(-r[:, :, None] * g.s) * g.w_ds
    height = (n_opt, n_nodes, -1)
    nodes_h = np.zeros((n_opt, n_nodes + 1))
    for _ in range(sweeps):
        gap = y - ln_lim
        np.multiply(gap, gap, out=nodes_h[:, 1:])
        # sqrt(H(u)) = ln X - ln B(u) at every quadrature point; H >= 0 but interpolation can undershoot.
        depth = nodes_h @ g.interp
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
            phi0 = INV_SQRT_2PI * np.exp(-0.5 * d0 * d0) * df_q / vs
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
