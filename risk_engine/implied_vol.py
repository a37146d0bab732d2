"""Implied volatility over numpy arrays: European (BSM, Black-76) and American options, with a reason per element.

European prices are inverted with Jäckel's "Let's Be Rational" (2015) on the normalised Black function; American
prices with a safeguarded secant solve on `risk_engine.american.american_price`. Pure numpy: no I/O, no per-option
Python loop, and no exception or wrong finite number for a bad price — NaN plus an `IVReason` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from scipy.special import erfcx, erfinv, ndtr, ndtri

from risk_engine.american import american_price
from risk_engine.greeks import BoolArray, FloatArray, Model, black76_rows, run_in_blocks

__all__ = ["IVReason", "IVResult", "implied_vol", "implied_vol_array"]

Int8Array = npt.NDArray[np.int8]


class IVReason(IntEnum):
    """Why an implied volatility is (or is not) available; the first failing check wins, in this order."""

    OK = 0
    INVALID_INPUT = 1  # a non-finite input, spot or strike <= 0
    EXPIRED = 2  # t_years <= 0: the price holds no volatility
    NON_POSITIVE_PRICE = 3  # price <= 0
    BELOW_INTRINSIC = 4  # below the lower no-arbitrage bound (European: discounted forward intrinsic)
    ABOVE_UPPER_BOUND = 5  # at or above the upper bound (S e^{-qT} / K e^{-rT}; American S / K): needs infinite vol
    NO_TIME_VALUE = 6  # equal to the lower bound within rounding: no volatility information
    NOT_CONVERGED = 7  # the solver did not certify a root


@dataclass(frozen=True)
class IVResult:
    """Implied volatilities (decimal per sqrt(year), NaN where none fits) and an `IVReason` code per element."""

    vol: FloatArray
    reason: Int8Array

    @property
    def ok(self) -> BoolArray:
        """True where `vol` is a solved implied volatility."""
        return np.asarray(self.reason == IVReason.OK)


_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
_SQRT_2PI = np.sqrt(2.0 * np.pi)
_SQRT_HALF = np.sqrt(0.5)
_SQRT_3 = np.sqrt(3.0)
_LOWER_MAP_SCALE = 2.0 * np.pi / (3.0 * np.sqrt(3.0))
_EPS = float(np.finfo(np.float64).eps)
# A price within this many ulps of its bound (relative to the forward and strike values it is made of) carries no
# volatility information: the bound itself is only known to a few ulps.
_BOUND_NOISE_ULPS = 4.0
# Householder(3) converges with order four, so a step of 1e-5 relative leaves an error far below 1e-16.
_STEP_CONVERGED = 1e-5
_MAX_ITERATIONS = 12
# American solve: stop when the price is matched to rounding (2 ulps of S + K) or a secant step is below 1e-12
# relative.
_AMERICAN_PRICE_TOLERANCE = 2.0 * _EPS
_AMERICAN_VOL_TOLERANCE = 1e-12
_MAX_AMERICAN_EVALUATIONS = 40
_MAX_SHAPE = 1e6  # largest rational-cubic shape parameter: beyond it the interpolant is linear to rounding
_MIN_NODE_FRACTION = 1e-3
_LN_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)


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


def _normalised_total_vol(beta: FloatArray, x: FloatArray) -> tuple[FloatArray, BoolArray]:
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


# ---------------------------------------------------------------------------------------------------------------
# Prices in currency: bounds, reasons, and the normalised problem.
# ---------------------------------------------------------------------------------------------------------------


def _first_reason(checks: list[tuple[BoolArray, IVReason]]) -> Int8Array:
    """Reason code per element: that of the first check that is True, OK where none is."""
    failed = checks[0][0].copy()
    for mask, _ in checks[1:]:
        failed |= mask
    reason = np.zeros(failed.size, dtype=np.int8)
    rows = np.flatnonzero(failed)  # usually few: decide them alone rather than sweep np.where over every row
    if rows.size:
        reason[rows] = np.select([mask[rows] for mask, _ in checks], [code for _, code in checks])
    return reason


def _european_iv(
    price: FloatArray,
    call: BoolArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    rate: FloatArray,
    carry: FloatArray,
) -> tuple[FloatArray, Int8Array]:
    """European implied volatility and reason code of 1-D inputs (carry = r − q, or 0 for Black-76)."""
    valid = np.isfinite(price) & np.isfinite(spot) & np.isfinite(strike) & np.isfinite(t)
    valid &= np.isfinite(rate) & np.isfinite(carry)
    # Rows that fail a check compute garbage below, which their reason code then discards.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        valid &= (spot > 0.0) & (strike > 0.0)
        rt = rate * t
        forward_value = spot * np.exp(carry * t - rt)  # S e^{-qT} = DF · F
        strike_value = strike * np.exp(-rt)  # DF · K
        intrinsic = (2.0 * call - 1.0) * (forward_value - strike_value)
        noise = _BOUND_NOISE_ULPS * _EPS * (forward_value + strike_value)
        lower_noise = (intrinsic > 0.0) * noise
        time_value = price - np.maximum(intrinsic, 0.0)
        x = -np.abs(np.log(forward_value / strike_value))
        # In-the-money prices become out-of-the-money calls by parity: beta is the time value over DF sqrt(F K),
        # and the upper bound (S e^{-qT} for calls, K e^{-rT} for puts) becomes b_max = e^{x/2} for every row.
        scale = np.sqrt(forward_value * strike_value)
        beta = time_value / scale
        reason = _first_reason(
            [
                (~(valid & np.isfinite(beta) & np.isfinite(x)), IVReason.INVALID_INPUT),
                (t <= 0.0, IVReason.EXPIRED),
                (price <= 0.0, IVReason.NON_POSITIVE_PRICE),
                (time_value < -lower_noise, IVReason.BELOW_INTRINSIC),
                (~(beta < np.exp(0.5 * x) - noise / scale), IVReason.ABOVE_UPPER_BOUND),
                (time_value <= lower_noise, IVReason.NO_TIME_VALUE),
            ]
        )
    vol = np.full(price.size, np.nan)
    solve = np.flatnonzero(reason == IVReason.OK)
    if solve.size == price.size:
        total, converged = _normalised_total_vol(beta, x)
        vol = np.where(converged, total / np.sqrt(t), np.nan)
    elif solve.size:
        total, converged = _normalised_total_vol(beta[solve], x[solve])
        vol[solve] = np.where(converged, total / np.sqrt(t[solve]), np.nan)
    else:
        return vol, reason
    reason[solve[~converged]] = IVReason.NOT_CONVERGED
    return vol, reason


def implied_vol(
    price: npt.ArrayLike,
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    div_yield: npt.ArrayLike,
    model: Model | npt.ArrayLike = "bsm",
    american: bool | npt.ArrayLike = False,
) -> IVResult:
    """Implied volatility (decimal per sqrt(year)) of every option price, NaN plus a reason where none fits.

    Inputs broadcast. European rows are solved to machine precision in the normalised total volatility (two
    Householder steps from Jäckel's rational guess; a step-size test certifies each root): the 420 European
    golden rows come back within 1e-11, and price -> vol -> price round trips within 1e-8 wherever vega exceeds
    1e-8 per vol point; beyond that the price's own rounding (a few ulps of S + K, over vega) is the limit.
    American rows invert `risk_engine.american.american_price` exactly (see `_american_iv`). A price outside
    the no-arbitrage bounds, at its lower bound, expired, or non-positive gets NaN and the matching `IVReason`;
    large inputs run in blocks on two threads.

    Args:
        price: Option premium per unit, currency.
        is_call: True for calls, False for puts.
        spot: Underlying price (Black-76 rows: futures price), currency.
        strike: Strike, currency.
        t_years: Years to expiry (models.conventions.t_years); <= 0 is expired.
        rate: Continuously compounded risk-free rate, decimal.
        div_yield: Continuous dividend yield, decimal (ignored on Black-76 rows).
        model: "bsm", "black76", or a boolean array that is True on Black-76 rows.
        american: True (scalar or per element) for American exercise.

    Example:
        The golden row IV00002 (QuantLib): a call worth 0.5591901572207072 has a volatility of 10.4976 %:
        >>> r = implied_vol(0.5591901572207072, True, 7.1988, 6.6365, 0.058011222415402255, 0.019884, 0.025863)
        >>> round(float(r.vol), 6), IVReason(int(r.reason))
        (0.104976, <IVReason.OK: 0>)
    """
    is_black76 = black76_rows(model)
    arrays = np.broadcast_arrays(
        np.asarray(price, dtype=np.float64),
        np.asarray(is_call, dtype=bool),
        np.asarray(spot, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t_years, dtype=np.float64),
        np.asarray(rate, dtype=np.float64),
        np.asarray(div_yield, dtype=np.float64),
        is_black76,
        np.asarray(american, dtype=bool),
    )
    shape = arrays[0].shape
    # 1-D (possibly stride-0 broadcast) views slice without copying; other shapes flatten once.
    p, c, s, k, t, r, q, b76, amer = (a if a.ndim == 1 else a.reshape(-1) for a in arrays)
    with np.errstate(invalid="ignore"):
        carry = np.where(b76, 0.0, r - q)
    vol = np.empty(p.size)
    reason = np.empty(p.size, dtype=np.int8)

    def european_block(block: slice) -> None:
        vol[block], reason[block] = _european_iv(
            p[block], c[block], s[block], k[block], t[block], r[block], carry[block]
        )

    run_in_blocks(european_block, p.size)
    if np.any(amer):
        rows = np.flatnonzero(amer)
        vol[rows], reason[rows] = _american_iv(p[rows], c[rows], s[rows], k[rows], t[rows], r[rows], carry[rows])
    return IVResult(vol=vol.reshape(shape), reason=reason.reshape(shape))


def implied_vol_array(
    price: npt.ArrayLike,
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    div_yield: npt.ArrayLike,
    model: Model | npt.ArrayLike = "bsm",
    american: bool | npt.ArrayLike = False,
) -> FloatArray:
    """Implied volatility, decimal, NaN where none fits: `implied_vol(...).vol` (see there for the arguments)."""
    return implied_vol(price, is_call, spot, strike, t_years, rate, div_yield, model, american).vol


def _american_iv(
    price: FloatArray,
    call: BoolArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    rate: FloatArray,
    carry: FloatArray,
) -> tuple[FloatArray, Int8Array]:
    """American implied volatility and reason code of 1-D inputs, by a bracketed secant on `american_price`.

    Rows where early exercise cannot pay (a call with carry >= r, a put with r <= 0) are European and solved as
    such. The others are screened against the American bounds — below: the zero-volatility value, which is at
    least intrinsic; above: S (call) or K (put) — then solved from the European implied volatility of the
    de-Americanised price, P − (American − European at the European IV of P).
    """
    vol, reason = _european_iv(price, call, spot, strike, t, rate, carry)
    with np.errstate(invalid="ignore"):
        early = np.where(call, rate - carry > 0.0, rate > 0.0) & (t > 0.0)
    screened_out = (
        (reason == IVReason.INVALID_INPUT) | (reason == IVReason.EXPIRED) | (reason == IVReason.NON_POSITIVE_PRICE)
    )
    rows = np.flatnonzero(early & ~screened_out)
    if rows.size == 0:
        return vol, reason
    p, c, s, k, tt, r, b = price[rows], call[rows], spot[rows], strike[rows], t[rows], rate[rows], carry[rows]
    lower = np.maximum(american_price(c, s, k, tt, r, b, 0.0), np.maximum(np.where(c, s - k, k - s), 0.0))
    upper = np.where(c, np.maximum(s, s * np.exp(-(r - b) * tt)), np.maximum(k, k * np.exp(-r * tt)))
    noise = _BOUND_NOISE_ULPS * _EPS * (s + k)
    lower_noise = (lower > 0.0) * noise
    verdict = _first_reason(
        [
            (p < lower - lower_noise, IVReason.BELOW_INTRINSIC),
            (p >= upper - noise, IVReason.ABOVE_UPPER_BOUND),
            (p <= lower + lower_noise, IVReason.NO_TIME_VALUE),
        ]
    )
    solve = np.flatnonzero(verdict == IVReason.OK)
    result = np.full(rows.size, np.nan)
    if solve.size:
        european_vol = np.where(reason[rows[solve]] == IVReason.OK, vol[rows[solve]], np.nan)
        result[solve], converged = _american_secant(
            p[solve], c[solve], s[solve], k[solve], tt[solve], r[solve], b[solve], european_vol
        )
        verdict[solve[~converged]] = IVReason.NOT_CONVERGED
    vol[rows] = np.where(verdict == IVReason.OK, result, np.nan)
    reason[rows] = verdict
    return vol, reason


def _american_secant(
    price: FloatArray,
    call: BoolArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    rate: FloatArray,
    carry: FloatArray,
    european_vol: FloatArray,
) -> tuple[FloatArray, BoolArray]:
    """Volatility with american_price = price, strictly between the American bounds; (vol, converged).

    The American price rises with volatility, so every evaluation narrows a bracket [lo, hi] around the root;
    a secant step that leaves it is replaced by bisection (or by doubling while no upper end is known).
    """

    def excess(rows: npt.NDArray[np.intp], sigma: FloatArray) -> FloatArray:
        return (
            american_price(call[rows], spot[rows], strike[rows], t[rows], rate[rows], carry[rows], sigma) - price[rows]
        )

    n = price.size
    everyone = np.arange(n)
    lo = np.zeros(n)
    hi = np.full(n, np.inf)
    # The European IV of the American price overstates the root (American >= European at any volatility);
    # where the price exceeds the European cap it does not exist, and a total volatility of 1 starts instead.
    known = np.isfinite(european_vol)
    sigma_a = np.where(known, european_vol, 1.0 / np.sqrt(t))
    f_a = excess(everyone, sigma_a)
    # De-Americanise: remove the early-exercise premium seen at sigma_a, and invert that as a European price.
    sigma_b = _european_iv(price - f_a, call, spot, strike, t, rate, carry)[0]
    sigma_b = np.where(np.isfinite(sigma_b) & known, sigma_b, np.where(f_a > 0.0, 0.5, 2.0) * sigma_a)
    f_b = excess(everyone, sigma_b)
    vol = sigma_b.copy()
    converged = np.zeros(n, dtype=bool)
    active = everyone
    for _ in range(_MAX_AMERICAN_EVALUATIONS):
        for sigma, f in ((sigma_a, f_a), (sigma_b, f_b)):
            hi[active] = np.where(f >= 0.0, np.minimum(hi[active], sigma), hi[active])
            lo[active] = np.where(f < 0.0, np.maximum(lo[active], sigma), lo[active])
        # A residual at the engine's rounding level cannot be improved on; otherwise the secant step measures
        # the remaining error (superlinear convergence), so a tiny step inside the bracket certifies the root.
        matched = np.abs(f_b) <= _AMERICAN_PRICE_TOLERANCE * (spot[active] + strike[active])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = sigma_b - f_b * (sigma_b - sigma_a) / (f_b - f_a)
        l_a, h_a = lo[active], hi[active]
        inside = np.isfinite(new) & (new > l_a) & (new < h_a)
        new = np.where(inside, new, np.where(np.isfinite(h_a), 0.5 * (l_a + h_a), 2.0 * np.maximum(sigma_b, l_a)))
        done = matched | (inside & (np.abs(new - sigma_b) <= _AMERICAN_VOL_TOLERANCE * new))
        vol[active] = np.where(matched, sigma_b, new)
        converged[active[done]] = True
        keep = ~done
        active = active[keep]
        if active.size == 0:
            break
        sigma_a, f_a, sigma_b = sigma_b[keep], f_b[keep], new[keep]
        f_b = excess(active, sigma_b)
    return vol, converged
