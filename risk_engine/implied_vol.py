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

from risk_engine.american import american_price
from risk_engine.greeks import BoolArray, FloatArray, Model, black76_rows, cost_of_carry, run_in_blocks
from risk_engine.implied_vol_black import normalised_total_vol

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


_EPS = float(np.finfo(np.float64).eps)
# A price within this many ulps of its bound (relative to the forward and strike values it is made of) carries no
# volatility information: the bound itself is only known to a few ulps.
_BOUND_NOISE_ULPS = 4.0
# American solve: stop when the price is matched to rounding (2 ulps of S + K) or a secant step is below 1e-12
# relative.
_AMERICAN_PRICE_TOLERANCE = 2.0 * _EPS
_AMERICAN_VOL_TOLERANCE = 1e-12
_MAX_AMERICAN_EVALUATIONS = 40


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
        total, converged = normalised_total_vol(beta, x)
        vol = np.where(converged, total / np.sqrt(t), np.nan)
    elif solve.size:
        total, converged = normalised_total_vol(beta[solve], x[solve])
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
        carry = cost_of_carry(b76, r, q)
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
