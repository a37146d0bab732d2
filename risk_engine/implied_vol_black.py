"""Total volatility of the normalised Black function by Jäckel's "Let's Be Rational" (2015), over numpy arrays.

Internal to `risk_engine.implied_vol`, which turns prices in currency into the normalised problem and back. Owns the
four-branch rational initial guess and the Householder(3) iteration; pure numpy, no per-option Python loop.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import erfcx, erfinv, ndtr, ndtri

from risk_engine.greeks import BoolArray, FloatArray

__all__ = ["normalised_total_vol"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_SQRT_HALF = np.sqrt(0.5)
_SQRT_3 = np.sqrt(3.0)
_LOWER_MAP_SCALE = 2.0 * np.pi / (3.0 * np.sqrt(3.0))
_LN_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)
# Householder(3) converges with order four, so a step of 1e-5 relative leaves an error far below 1e-16.
_STEP_CONVERGED = 1e-5
_MAX_ITERATIONS = 12
_MAX_SHAPE = 1e6  # largest rational-cubic shape parameter: beyond it the interpolant is linear to rounding
_MIN_NODE_FRACTION = 1e-3


# ---------------------------------------------------------------------------------------------------------------
# Rational cubic interpolation (Delbourgo & Gregory 1985) with a shape parameter fitted to a second derivative.
# Parametrised from a "near" end, where the second derivative is known, to a "far" end; the width may be negative.
# ---------------------------------------------------------------------------------------------------------------


def _rational_cubic(
    at: FloatArray,
    x_n: FloatArray,
    x_f: FloatArray,
    y_n: FloatArray,
    y_f: FloatArray,
    d_n: FloatArray,
    d_f: FloatArray,
    second_n: FloatArray,
) -> FloatArray:
    """Value at `at` of the rational cubic through (x_n, y_n), (x_f, y_f) with end slopes d_n, d_f.

    The shape parameter r makes the second derivative at the near end equal `second_n`, raised where needed
    to keep the interpolant monotone and convex (or concave) like its data; r = 3 is the cubic Hermite.
    """
    width = x_f - x_n
    slope = (y_f - y_n) / width
    # y''(x_n) = 2 (r (slope − d_n) − (d_f − d_n)) / width, solved for r.
    shape = (0.5 * width * second_n + (d_f - d_n)) / (slope - d_n)
    # Floors that keep the interpolant monotone, (d_n + d_f) / slope, and convex or concave like the data,
    # |d_f − d_n| / min(|slope − d_n|, |d_f − slope|). The data here always have that shape; where rounding breaks
    # it the floors only push r up, towards the secant line, which is still a valid first guess.
    shape = np.fmax(shape, (d_n + d_f) / slope)
    shape = np.fmax(shape, np.abs(d_f - d_n) / np.minimum(np.abs(slope - d_n), np.abs(d_f - slope)))
    shape = np.fmax(np.fmin(shape, _MAX_SHAPE), 0.0)  # fmin turns a NaN (degenerate data) into the linear limit
    u = (at - x_n) / width
    v = 1.0 - u
    numerator = (
        y_f * u * u * u
        + (shape * y_f - width * d_f) * u * u * v
        + (shape * y_n + width * d_n) * u * v * v
        + y_n * v * v * v
    )
    return np.asarray(numerator / (1.0 + (shape - 3.0) * u * v))


# ---------------------------------------------------------------------------------------------------------------
# Let's Be Rational: four-branch rational initial guess, then Householder(3) steps on a per-branch objective.
# All of it works on the normalised Black function of an out-of-the-money call, x = ln(F/K) <= 0,
# s = sigma sqrt(T): b(x, s) = e^{x/2} N(x/s + s/2) − e^{−x/2} N(x/s − s/2), the price over DF · sqrt(F K).
# With h = x/s, t = s/2: b' = exp(−(h² + t²)/2) / sqrt(2π), b''/b' = x²/s³ − s/4,
# b'''/b' = (b''/b')² − 3x²/s⁴ − 1/4.
# ---------------------------------------------------------------------------------------------------------------

_LOW, _MIDDLE, _HIGH = 0, 1, 2  # objective: 1/ln b (lowest branch), b (two middle branches), ln(e^{x/2} − b)


def _initial_guess(
    beta: FloatArray, x: FloatArray, b_max: FloatArray
) -> tuple[FloatArray, npt.NDArray[np.int8], FloatArray, FloatArray]:
    """Rational initial guess of s for 0 < beta < b_max = e^{x/2}, x < 0: (s, objective, bracket lo, hi).

    The tangent to b(s) at its inflection point s_c = sqrt(2|x|) meets zero at s_l and the cap at s_u; they cut
    the range of beta into four branches. Below b(s_l) a rational cubic interpolates the lower map of beta, above
    b(s_u) the upper map, and in between s itself; each interpolant matches b's slope at both ends and its
    curvature at s_l or s_u (the "near" end; the far end is the inflection point, or beta = 0, or the cap).
    """
    s_c = np.sqrt(-2.0 * x)
    b_c = 0.5 * b_max - ndtr(-s_c) / b_max
    v_c = _INV_SQRT_2PI * b_max  # b'(s_c)
    below = beta < b_c
    s_n = s_c + (~below * b_max - b_c) / v_c
    # s_l > 0 by convexity, but rounds to 0 for tiny |x|: any smaller node serves, the iteration does the rest.
    s_n = np.where(s_n > 0.0, s_n, _MIN_NODE_FRACTION * s_c)
    h, t = x / s_n, 0.5 * s_n
    half_x = 0.5 * x
    b_n = np.exp(half_x) * ndtr(h + t) - np.exp(-half_x) * ndtr(h - t)
    v_n = _INV_SQRT_2PI * np.exp(-0.5 * (h * h + t * t))
    h2_n = x * x / (s_n * s_n * s_n) - 0.25 * s_n
    d_n = 1.0 / v_n
    s = _rational_cubic(beta, b_n, b_c, s_n, s_c, d_n, 1.0 / v_c, -h2_n * d_n * d_n)
    lo = np.minimum(s_n, s_c)
    hi = np.maximum(s_n, s_c)
    outer = (beta < b_n) == below
    outer &= beta != b_n
    objective = (_MIDDLE + outer * (~below * (_HIGH - _MIDDLE) + below * (_LOW - _MIDDLE))).astype(np.int8)
    idx = np.flatnonzero(outer)
    if idx.size:
        s[idx], lo[idx], hi[idx] = _outer_guess(
            beta[idx], x[idx], b_max[idx], below[idx], s_n[idx], b_n[idx], v_n[idx], h2_n[idx]
        )
    return s, objective, lo, hi


def _outer_guess(
    beta: FloatArray,
    x: FloatArray,
    b_max: FloatArray,
    low: BoolArray,
    s_n: FloatArray,
    b_n: FloatArray,
    v_n: FloatArray,
    h2_n: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Initial guess and bracket in the lowest (`low`) and highest branches, through the lower and upper maps.

    Lower map f(s) = (2π|x|/3√3) N(x/(√3 s))³, the small-s asymptote of b (slope 1 at beta = 0); upper map
    f(s) = N(−s/2), which tends to (e^{x/2} − b)/2 (slope −1/2 at the cap). Both invert in closed form.
    """
    scale = -_LOWER_MAP_SCALE * x
    z = x / (_SQRT_3 * s_n)
    arg = np.where(low, z, -0.5 * s_n)
    cdf = ndtr(arg)
    pdf = _INV_SQRT_2PI * np.exp(-0.5 * arg * arg)
    f_n = np.where(low, scale * cdf * cdf * cdf, cdf)
    f1 = np.where(low, -3.0 * scale * cdf * cdf * pdf * z / s_n, -0.5 * pdf)
    f2 = np.where(
        low, 3.0 * scale * cdf * pdf * z / (s_n * s_n) * (2.0 * pdf * z + cdf * (2.0 - z * z)), -0.25 * s_n * f1
    )
    # Chain rule from s to beta: df/dbeta = f'/b', d2f/dbeta2 = (f'' − f' b''/b') / b'^2.
    d_n = f1 / v_n
    second = (f2 - f1 * h2_n) / (v_n * v_n)
    x_f = np.where(low, 0.0, b_max)
    f = _rational_cubic(beta, b_n, x_f, f_n, np.zeros_like(beta), d_n, np.where(low, 1.0, -0.5), second)
    ratio = beta / b_n
    # Rounding can push the interpolant to <= 0 at extreme x: fall back to simpler curves through the same ends.
    fallback = np.where(low, (f_n * ratio + b_n * (1.0 - ratio)) * ratio, 0.5 * (b_max - beta))
    f = np.where(f > 0.0, f, fallback)
    root = ndtri(np.where(low, np.cbrt(f / scale), np.minimum(f, f_n)))
    s = np.where(low, x / (_SQRT_3 * root), -2.0 * root)
    lo = np.where(low, 0.0, s_n)
    hi = np.where(low, s_n, np.inf)
    return np.clip(s, lo, hi), lo, hi


def _householder_step(objective: int, x: FloatArray, s: FloatArray, target: FloatArray) -> FloatArray:
    """One Householder(3) step in s on the branch objective; `target` is ln beta, beta, or ln(e^{x/2} − beta)."""
    x2 = x * x
    s2 = s * s
    h2 = x2 / (s2 * s) - 0.25 * s  # b''/b'
    h3 = h2 * h2 - 3.0 * x2 / (s2 * s2) - 0.25  # b'''/b'
    h, t = x / s, 0.5 * s
    if objective == _LOW:
        # b / b' from scaled complementary error functions: N(z) = erfcx(−z/√2) e^{−z²/2} / 2, and
        # e^{±x/2} e^{−(h±t)²/2} = e^{−(h²+t²)/2} since x = 2ht, so nothing underflows however small b is.
        ratio = 0.5 * _SQRT_2PI * (erfcx(-_SQRT_HALF * (h + t)) - erfcx(-_SQRT_HALF * (h - t)))
        ln_b = np.log(ratio) - 0.5 * (h * h + t * t) - _LN_SQRT_2PI
        u = 1.0 / ratio  # b'/b
        # g = 1/ln b − 1/ln beta: nearly linear in s where b vanishes like exp(−x²/2s²).
        newton = ln_b * (target - ln_b) / (target * u)
        g2 = h2 - u - 2.0 * u / ln_b
        g3 = h3 - 3.0 * u * h2 + 2.0 * u * u - 6.0 * u * (h2 - u) / ln_b + 6.0 * u * u / (ln_b * ln_b)
    else:
        half_x = 0.5 * x
        vega = _INV_SQRT_2PI * np.exp(-0.5 * (h * h + t * t))
        if objective == _MIDDLE:
            b = np.exp(half_x) * ndtr(h + t) - np.exp(-half_x) * ndtr(h - t)
            newton = (target - b) / vega
            g2, g3 = h2, h3
        else:
            # e^{x/2} − b as a sum of two tails: accurate however close b is to its cap.
            complement = np.exp(half_x) * ndtr(-h - t) + np.exp(-half_x) * ndtr(h - t)
            w = vega / complement
            # g = ln(e^{x/2} − beta) − ln(e^{x/2} − b): nearly linear in s as b approaches its cap.
            newton = (np.log(complement) - target) / w
            g2 = h2 + w
            g3 = h3 + 3.0 * w * h2 + 2.0 * w * w
    factor = (1.0 + 0.5 * g2 * newton) / (1.0 + newton * (g2 + g3 * newton / 6.0))
    # Far from the root the Householder factor can misbehave; Newton's step is then the safer one.
    return np.asarray(np.where(np.isfinite(factor) & (factor > 0.0), newton * factor, newton))


def _iterate(
    objective: int, x: FloatArray, s: FloatArray, target: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """One bracketed Householder step: (new s, relative step size)."""
    new = s + _householder_step(objective, x, s, target)
    # A step out of the bracket is halved towards the bound it crossed (the root lies inside the bracket).
    new = np.where(new < lo, 0.5 * (s + lo), np.where(new > hi, 0.5 * (s + hi), new))
    return new, np.abs(new - s) / new


def _solve_branch(
    objective: int, beta: FloatArray, x: FloatArray, s: FloatArray, lo: FloatArray, hi: FloatArray
) -> tuple[FloatArray, BoolArray]:
    """Two Householder steps (Jäckel's machine-precision count), more where the last step was still large."""
    if objective == _LOW:
        target = np.log(beta)
    elif objective == _HIGH:
        target = np.log(np.exp(0.5 * x) - beta)
    else:
        target = beta
    s, _ = _iterate(objective, x, s, target, lo, hi)
    s, step = _iterate(objective, x, s, target, lo, hi)
    converged = step <= _STEP_CONVERGED
    active = np.flatnonzero(~converged & np.isfinite(s))
    for _ in range(_MAX_ITERATIONS):
        if active.size == 0:
            break
        s[active], step_a = _iterate(objective, x[active], s[active], target[active], lo[active], hi[active])
        done = step_a <= _STEP_CONVERGED
        converged[active[done]] = True
        active = active[~done & np.isfinite(s[active])]
    return s, converged


def normalised_total_vol(beta: FloatArray, x: FloatArray) -> tuple[FloatArray, BoolArray]:
    """Total volatility s = sigma sqrt(T) with b(x, s) = beta, for x <= 0 and 0 < beta < e^{x/2}; (s, converged)."""
    # Degenerate corners (a node at s = 0, a zero-width interpolation interval) are resolved by np.where and the
    # bracket, and a non-finite s is reported as not converged; their transient warnings carry no information.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        b_max = np.exp(0.5 * x)
        s, objective, lo, hi = _initial_guess(beta, x, b_max)
        at_the_money = x == 0.0
        if np.any(at_the_money):
            # b(0, s) = erf(s / (2√2)) inverts in closed form.
            s[at_the_money] = 2.0 / _SQRT_HALF * erfinv(beta[at_the_money])
        converged = np.zeros(beta.size, dtype=bool)
        for kind in (_LOW, _MIDDLE, _HIGH):
            mask = objective == kind
            if mask.all():
                s, converged = _solve_branch(kind, beta, x, s, lo, hi)
                break
            idx = np.flatnonzero(mask)
            if idx.size:
                s[idx], converged[idx] = _solve_branch(kind, beta[idx], x[idx], s[idx], lo[idx], hi[idx])
    return s, converged & np.isfinite(s) & (s > 0.0)
