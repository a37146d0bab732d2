"""American option prices and Greeks over numpy arrays, in riskdash units (Andersen-Lake-Offengenden method).

Owns the public American entry points and the choice of which rows need the early-exercise machinery; the boundary
lives in `risk_engine.american_boundary`, the premium and its sensitivities in `risk_engine.american_premium`, the
European part in `risk_engine.greeks`. Pure numpy: no I/O, no per-option Python loop.

Method: ALO (2015), "High-performance American option pricing", for the put of put-call symmetry C(S, K, r, q) =
P(K, S, q, r), after the exact rescaling (r, q, sigma, T, K) -> (r T, q T, sigma sqrt T, 1, 1):
1. the exercise boundary B(tau) at Chebyshev nodes in sqrt(tau), stored as H = ln(B / X)^2, X = min(1, r / q);
   first guess from Li's QD+ equation, then Jacobi sweeps of ALO's fixed-point system (FP-A, smooth pasting,
   where beta = 2 (r - q) / sigma^2 < 10; FP-B, value matching, on a finer grid where beta >= 10: FP-A diverges
   there and FP-B crawls at small 2 r / sigma^2), Gauss-Legendre in sqrt(tau - u) for the integrals, B(u) by one
   fixed barycentric interpolation matrix;
2. price = European + early-exercise premium integral. The boundary does not depend on spot, so delta, gamma and
   speed are exact derivatives of that integral; theta and charm come from the Black-Scholes PDE in the
   continuation region. Volatility and rate move the boundary, and the premium formula is not stationary in it
   (its derivative in B(u) is (r K - q B) times a density, not 0), so holding the boundary fixed would miss a
   first-order term (up to 5x the vega tolerance on the golden rows when only the QD+ guess moves): vega, vomma,
   vanna and rho re-solve the boundary at bumped sigma and rate (sharing the last sweeps with the base solve so the
   differences are smooth) and difference the premium only; the European part of each is analytic. A `greeks=`
   subset runs only the scenarios it needs: vega alone is a forward difference, vomma or vanna need a central one.

Scenario sets: `american_price_many_spots` solves one boundary per option for all its spots, and given expiry groups
(one contract at several horizons) cuts the shorter expiries' boundaries from the longest one's, in three passes:
thread blocks screen the (option, spot) elements (the spot-free screens done once per option), every boundary the
screens ask for is solved in one place on two threads, thread blocks integrate the premium. `american_price_paths`
shares boundaries interpolated in vol across scenarios (see risk_engine.american_scenarios). Both integrate the
premium on the 20-node price rule (risk_engine.american_boundary: within 4.7e-6 K of the converged integral on random
options up to 120 % vol and 3 years, 2.5e-7 K on the golden rows' scenarios, where the Greeks' 32-node rule is within
1.1e-6 K and 4.1e-8 K), so they agree with `american_price` to a few 1e-6 K; the stress grid's American part
(38,379 options x 41 spots) takes 140-165 ms wall on 2 cores, by the machine's minute (bench/bench_scenarios.py
--american); its premium's normal CDFs come from a Taylor table (risk_engine.normal_cdf, within 4e-16 of scipy's).

Rows that cannot need the machinery skip it: calls with q <= 0 and puts with r <= 0 are European exactly; puts
far above X K (calls far below S / X) are European to the rounding of K (see `_negligible_premium`); puts below the
perpetual boundary are exercised at once.

Why: against all 705 American rows of shared/golden/greeks_public.csv (QuantLib QdFp high precision) the worst
error over the issue's tolerance is 0.030 for the price, 0.009 for delta, 0.023 for gamma, ~0.05 for vega and
0.30 for theta (p99 <= 0.016), and ~0.9 for rho where its finite-difference stencil is clear of the r = q and
r = 0 kinks (tests/risk_engine/test_american.py). Price + delta, gamma, vega, theta, rho run at ~10 us of CPU per
option on the bench book (bench/bench_american.py; a QuantLib QdFp loop takes ~170 us per price).
Bjerksund-Stensland (2002) misses the published exact values by up to 0.04 on a 5.3 option (Haug's S = 42 call:
7e-3, fourteen times the 5e-4 price tolerance), so it is not used.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.conventions import CALENDAR_DAYS_PER_YEAR, RATE_POINT, VOL_POINT
from risk_engine.american_boundary import limit, negative_root
from risk_engine.american_premium import (
    deterministic,
    needs_for,
    rate_bump,
    sensitivities_by_scheme,
    solved_boundaries,
    values_on_solved,
)
from risk_engine.american_scenarios import values_on_interpolated_boundaries
from risk_engine.greeks import (
    BoolArray,
    FloatArray,
    GreekName,
    Greeks,
    broadcast_option_inputs,
    european_greeks,
    not_computed,
    run_in_blocks,
    wanted_greeks,
)

__all__ = ["american_greeks", "american_price", "american_price_many_spots", "american_price_paths"]

# Below this sigma sqrt T (sigma = 20 %: the last 0.1 s) the deterministic zero-volatility value is used.
_MIN_TOTAL_VOL = 1e-5
# At r T <= 1e-12 the early-exercise premium (< K r T) is below rounding: such rows are priced European.
_MIN_RATE_TIME = 1e-12
# A put whose spot stays this many standard deviations above X K over its life has a premium below
# K r T N(-8) = 6.2e-16 K r T (q >= 0), under the rounding of a price of size K (see _negligible_premium).
_NEGLIGIBLE_DEPTH = 8.0
# Options per thread block.
_BLOCK_OPTIONS = 2048
# An option whose expiry is at least this fraction of a longer one's with the same rates and vol takes the exercise
# boundary cut from that one's (risk_engine.american_boundary.restricted_boundary) instead of a solve of its own.
_MIN_SHARED_RATIO = 0.5
# Elements (options x spots) per thread block of american_price_many_spots.
_BLOCK_ELEMENTS = 1 << 15
_NAMES: tuple[GreekName, ...] = ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "charm", "vomma")


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


def _negligible_depth(r: FloatArray, q: FloatArray, v: FloatArray) -> FloatArray:
    """The depth ln(x / X) of the rescaled put (r T, q T, sigma sqrt T) from which its premium is negligible (see
    `_negligible_premium`); inf where v < _MIN_TOTAL_VOL or a parameter is NaN.

    d_min rises with the depth L on both of its branches and is continuous where they meet (L = m), so
    d_min >= D (D = _NEGLIGIBLE_DEPTH) is L >= D v - m where m <= D v / 2, and L >= D^2 v^2 / (4 m) where m is larger.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        drift = r - q - 0.5 * v * v
        reach = _NEGLIGIBLE_DEPTH * v
        depth = np.where(drift <= 0.5 * reach, reach - drift, reach * reach / (4.0 * drift))
    return np.where(v >= _MIN_TOTAL_VOL, depth, np.inf)


def _negligible_premium(x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray) -> BoolArray:
    """True where the premium of the rescaled put (x = S / K, r T, q T, sigma sqrt T) is below 6e-16 (r + q-) of K.

    The premium is the expected discounted (r - q S_s) over the times S_s spends below B(T - s) <= X <= 1, and
    r - q S_s lies in [0, r + q-] there (q- = max(-q, 0)), so it is at most (r + q-) max_s P(S_s < X) =
    (r + q-) N(-d_min), d_min = min over s in (0, 1] of
    d-(s) = (L + m s) / (v sqrt s) with L = ln(x / X) > 0, m = r - q - v^2 / 2: (L + m) / v if m <= L, else
    2 sqrt(L m) / v. Its derivatives in x, v, r, q carry the same Gaussian factor times powers of d / v, so at
    d_min >= 8 every Greek of the premium is also far below the engine's own error (tested).
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = np.log(x) - limit(r, q)
    return np.asarray(depth >= _negligible_depth(r, q, v))


def _put_rates(
    call: BoolArray, t: FloatArray, rate: FloatArray, carry: FloatArray, vol: FloatArray
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """(put-frame rate, put-frame dividend yield, whether early exercise can pay as far as these parameters go).

    A put with r <= 0 (a call with q <= 0, i.e. carry >= r) is never exercised early, nor is an expired option:
    those rows are European. NaN inputs stay NaN there.
    """
    with np.errstate(invalid="ignore"):  # inf - inf in a non-finite carry: such rows are not exercisable
        q = rate - carry
    put_rate, put_div = np.where(call, q, rate), np.where(call, rate, q)
    may_exercise = (t > 0.0) & (put_rate > 0.0) & (vol >= 0.0)
    may_exercise &= np.isfinite(t) & np.isfinite(q) & np.isfinite(vol)
    return put_rate, put_div, may_exercise


def _valid_put_spots(put_spot: FloatArray, put_strike: FloatArray) -> BoolArray:
    """Where the put-frame spot and strike admit early exercise: a put struck at 0 (a call on a worthless underlying)
    is European, and so is a row with a missing price."""
    valid: BoolArray = (put_strike > 0.0) & (put_spot >= 0.0) & np.isfinite(put_spot) & np.isfinite(put_strike)
    return valid


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
    put_rate, put_div, may_exercise = _put_rates(call, t, r, b, v)
    put_spot = np.where(call, k, s)
    put_strike = np.where(call, s, k)
    exercisable = may_exercise & _valid_put_spots(put_spot, put_strike)
    early = exercisable & (put_rate * t > _MIN_RATE_TIME)
    rows = np.flatnonzero(early)
    tr, sqrt_t = t[rows], np.sqrt(t[rows])
    x = put_spot[rows] / put_strike[rows]
    early[rows] = ~_negligible_premium(x, put_rate[rows] * tr, put_div[rows] * tr, v[rows] * sqrt_t)
    return _PutFrame(
        shape=arrays[0].shape,
        call=call,
        spot=put_spot,
        strike=put_strike,
        t=t,
        rate=put_rate,
        div=put_div,
        vol=v,
        hold_forward=hold,
        early=early,
        floored=exercisable & (put_rate * t <= _MIN_RATE_TIME),
    )


def _perpetual_ln_boundary(r: FloatArray, q: FloatArray, v: FloatArray) -> FloatArray:
    """ln of the perpetual put boundary (K = 1), which lies below B(tau) for every tau: a put at or below it is
    exercised at once; -inf where v < _MIN_TOTAL_VOL (no boundary is solved there)."""
    v2 = np.where(v >= _MIN_TOTAL_VOL, v * v, 1.0)
    lam = negative_root(2.0 * r / v2, 2.0 * (r - q) / v2)
    # The same floor as the boundary solver's, so that these rows are exactly those it would find exercised.
    return np.where(v >= _MIN_TOTAL_VOL, np.log(np.maximum(lam / (lam - 1.0), 1e-300)), -np.inf)


def _surely_exercised(x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray) -> BoolArray:
    """True where x = S / K is at or below the perpetual put boundary (see `_perpetual_ln_boundary`)."""
    return np.asarray(np.log(x) <= _perpetual_ln_boundary(r, q, v))


def _exercise_screen(x: FloatArray, v: FloatArray, exercised_at_once: BoolArray) -> tuple[BoolArray, BoolArray]:
    """(exercised, live): rows exercised at once (zero put-frame spot, or `exercised_at_once` where a boundary would
    be solved), and the rows left that need the exercise boundary (enough total vol, not exercised at once)."""
    live = (v >= _MIN_TOTAL_VOL) & (x > 0.0)
    at_once = live & exercised_at_once
    return (x == 0.0) | at_once, live & ~at_once


def _settle_floored(floored: BoolArray, strike: FloatArray, spot: FloatArray, price: FloatArray) -> BoolArray:
    """Sets `price` (put frame, in place) to the exercise value where a floored row (r T below _MIN_RATE_TIME, priced
    as European) is worth more exercised at once; returns those rows."""
    exercise: BoolArray = floored & (strike - spot > price)
    price[exercise] = (strike - spot)[exercise]
    return exercise


def _early_greeks(frame: _PutFrame, rows: npt.NDArray[np.intp], wanted: tuple[GreekName, ...]) -> dict[str, FloatArray]:
    """Price and the `wanted` Greeks (riskdash units) of the rows of `frame` where early exercise can pay."""
    sp, kp, t, rp, qp, sig = (a[rows] for a in (frame.spot, frame.strike, frame.t, frame.rate, frame.div, frame.vol))
    call, hold = frame.call[rows], frame.hold_forward[rows]
    sqrt_t = np.sqrt(t)
    r, q, v, x = rp * t, qp * t, sig * sqrt_t, sp / kp
    bump_r, bump_q = hold | ~call, hold | call  # a put's rho moves r; a call's moves r, i.e. the put-frame q
    # Rescaled put-frame results; the defaults are those of immediate exercise (zero put-frame spot).
    g, g1 = 1.0 - x, -np.ones_like(x)
    g2, g3, d_vol, d2_vol, d1_d_vol, d_rate, theta_year, d_delta_d_t = (np.zeros_like(x) for _ in range(8))
    exercised, live = _exercise_screen(x, v, _surely_exercised_where_live(x, r, q, v))
    if live.any():
        rl, ql, vl = r[live], q[live], v[live]
        dr, dq = rate_bump(rl, ql, vl, bump_r[live], bump_q[live])
        s = sensitivities_by_scheme(x[live], rl, ql, vl, dr, dq, needs_for(wanted))
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
        value, when = deterministic(xf, rf, qf)
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
    greeks: Collection[GreekName] | None = None,
) -> Greeks:
    """American price and Greeks in riskdash units (see `Greeks`), inputs broadcast as in `european_greeks`.

    Rows where early exercise cannot pay (a call with carry >= r, a put with r <= 0, expired rows) are exactly
    `european_greeks`. Inside the exercise region the price is the exercise value, delta -1 / +1 and the other
    Greeks 0. Below sigma sqrt T = 1e-5 the deterministic optimal-exercise value is used. Where 0.1 % less
    volatility would put the option in the exercise region, vega and vanna come from upward differences and vomma,
    which needs both sides of that kink, is NaN.

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price (Black-76: futures price), currency.
        strike: Strike, currency.
        t_years: Years to expiry, Actual/365 (models.conventions.t_years); <= 0 means expired (intrinsic).
        rate: Continuously compounded risk-free rate, decimal.
        carry: Cost of carry b, decimal (r - q for BSM, 0 for Black-76).
        vol: Volatility, decimal per sqrt(year).
        rho_holds_forward: True where rho is taken with the forward fixed (futures options): r and q move together.
        greeks: Names of the Greeks to compute (default all); the others come back NaN, and cost nothing: without
            rho no rate scenario is solved, without vega, vanna and vomma no volatility scenario, and vega alone
            takes one instead of two. The price is always computed.

    Example:
        The golden textbook American put G01998 (QuantLib QdFp: 6.352863, delta -0.441057, theta -0.015450):
        >>> g = american_greeks(False, 100.0, 100.0, 0.5, 0.05, 0.03, 0.25)
        >>> round(float(g.price), 3), round(float(g.delta), 4), round(float(g.theta), 5)
        (6.353, -0.4411, -0.01545)
    """
    wanted = wanted_greeks(greeks)
    frame = _put_frame(is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward)
    euro = european_greeks(is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward, greeks=wanted)
    out = {
        name: np.array(np.broadcast_to(getattr(euro, name), frame.shape), dtype=np.float64).ravel() for name in wanted
    }
    rows = np.flatnonzero(frame.early)

    def kernel(part: slice) -> None:
        block = rows[part]
        values = _early_greeks(frame, block, wanted)
        for name in wanted:
            out[name][block] = values[name]

    run_in_blocks(kernel, rows.size, block=_BLOCK_OPTIONS)
    exercise = _settle_floored(frame.floored, frame.strike, frame.spot, out["price"])
    if exercise.any():
        if "delta" in out:
            out["delta"][exercise] = np.where(frame.call[exercise], 1.0, -1.0)
        for name in wanted:
            if name not in ("price", "delta"):
                out[name][exercise] = 0.0
    return Greeks(
        **{name: out[name].reshape(frame.shape) if name in out else not_computed(frame.shape) for name in _NAMES}
    )


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
    return american_greeks(is_call, spot, strike, t_years, rate, carry, vol, greeks=()).price


BoundarySharing = Callable[
    [npt.NDArray[np.intp], FloatArray, FloatArray, FloatArray, FloatArray, FloatArray], tuple[FloatArray, BoolArray]
]
"""(keys, x, r T, q T, sigma sqrt T, rescaled European put) -> rescaled put values and exercise flags, with the rows'
boundaries shared as the caller's scenarios allow (exactly per option, or interpolated in vol)."""


@dataclass(frozen=True)
class _EarlyRows:
    """Rows where early exercise can pay, in the put frame, shapes (E,); r, q, v rescaled (r T, q T, sigma sqrt T)."""

    key: npt.NDArray[np.intp]  # what the BoundarySharing groups rows by
    spot: FloatArray
    strike: FloatArray
    r: FloatArray
    q: FloatArray
    v: FloatArray
    at_once: BoolArray  # at or below the perpetual boundary (where a boundary would be solved)


def _surely_exercised_where_live(x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray) -> BoolArray:
    """`_surely_exercised`, evaluated only where a boundary would be solved (False elsewhere)."""
    at_once = np.zeros(x.shape, dtype=bool)
    rows = np.flatnonzero((v >= _MIN_TOTAL_VOL) & (x > 0.0))
    at_once[rows] = _surely_exercised(x[rows], r[rows], q[rows], v[rows])
    return at_once


def _early_rows(frame: _PutFrame, rows: npt.NDArray[np.intp]) -> _EarlyRows:
    """The early-exercise `rows` of `frame`, keyed by their row numbers."""
    sp, kp, t, rp, qp, sig = (a[rows] for a in (frame.spot, frame.strike, frame.t, frame.rate, frame.div, frame.vol))
    r, q, v = rp * t, qp * t, sig * np.sqrt(t)
    return _EarlyRows(rows, sp, kp, r, q, v, _surely_exercised_where_live(sp / kp, r, q, v))


def _early_prices(rows: _EarlyRows, european: FloatArray, values: BoundarySharing) -> FloatArray:
    """Prices of the early-exercise `rows`, whose European prices are `european`; `values` prices the rows that need
    the premium.

    The steps of `_early_greeks` for the price alone: rows exercised at once and zero-volatility rows are settled
    here, the others by `values` on boundaries it shares between rows (the rescaled boundary does not depend on spot;
    for a call the spot is the put-frame strike, which the rescaling divides out).
    """
    sp, kp, r, q, v = rows.spot, rows.strike, rows.r, rows.q, rows.v
    x = sp / kp
    g = 1.0 - x
    exercised, live = _exercise_screen(x, v, rows.at_once)
    if live.any():
        euro = european[live] / kp[live]  # the rescaled European put: C(S, K) = P(K, S) for calls
        g[live], exercised[live] = values(rows.key[live], x[live], r[live], q[live], v[live], euro)
    flat = v < _MIN_TOTAL_VOL
    if flat.any():
        value, when = deterministic(x[flat], r[flat], q[flat])
        g[flat] = value
        exercised[flat] = (value > 0.0) & (when == 0.0)
    price: FloatArray = np.where(exercised, kp - sp, kp * g)
    return price


def _expiry_sources(
    t: FloatArray, group: npt.NDArray[np.intp], rate: FloatArray, div: FloatArray, vol: FloatArray
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """(source, ratio) per option: the option of its group with the same put-frame rate, dividend yield and vol and
    the longest expiry, and t / that expiry; an option is its own source where the ratio is below _MIN_SHARED_RATIO.
    """
    order = np.lexsort((t, vol, div, rate, group))  # the last of each set of equal keys has the longest expiry
    keys = np.stack([group[order], rate[order], div[order], vol[order]])
    ends = np.append(np.any(keys[:, 1:] != keys[:, :-1], axis=0), True)
    of_sorted = np.cumsum(np.append(True, ends[:-1])) - 1  # which set each sorted option belongs to
    source = np.empty(t.size, dtype=np.intp)
    source[order] = order[np.flatnonzero(ends)[of_sorted]]
    ratio = t / t[source]
    mine = ratio < _MIN_SHARED_RATIO
    return np.where(mine, np.arange(t.size), source), np.where(mine, 1.0, ratio)


@dataclass(frozen=True)
class _OptionScreens:
    """What `american_price_many_spots` needs of each option apart from its spots, shapes (options,)."""

    may_exercise: BoolArray  # early exercise can pay as far as rates, expiry and vol go
    rate: FloatArray  # put-frame rate, dividend yield and vol, per year
    div: FloatArray
    vol: FloatArray
    r: FloatArray  # rescaled r T, q T, sigma sqrt T (used only where may_exercise)
    q: FloatArray
    v: FloatArray
    ln_perpetual: FloatArray  # `_perpetual_ln_boundary`


def _option_screens(
    call: BoolArray, t: FloatArray, rate: FloatArray, carry: FloatArray, vol: FloatArray
) -> _OptionScreens:
    """The spot-free screens of options with parameters of shape (options,)."""
    put_rate, put_div, may_exercise = _put_rates(call, t, rate, carry, vol)
    root_t = np.sqrt(np.where(may_exercise, t, 0.0))
    with np.errstate(invalid="ignore"):  # non-finite inputs of options that may not exercise
        r, q, v = put_rate * t, put_div * t, vol * root_t
    return _OptionScreens(may_exercise, put_rate, put_div, vol, r, q, v, _perpetual_ln_boundary(r, q, v))


@dataclass(frozen=True)
class _ScreenedSpots:
    """A block's elements (option, spot) where early exercise can pay: their places in the flattened price array,
    their option, put-frame spot and strike and `_EarlyRows.at_once`, and the options of which at least one element
    needs the boundary. Kept from the screening pass to the premium pass for every block, so the per-option r T,
    q T and sigma sqrt T are not: `early_rows` gathers them when the block's turn comes."""

    index: npt.NDArray[np.intp]
    option: npt.NDArray[np.intp]
    spot: FloatArray
    strike: FloatArray
    at_once: BoolArray
    needing_boundary: npt.NDArray[np.intp]

    def early_rows(self, screens: _OptionScreens) -> _EarlyRows:
        """These elements as `_EarlyRows` keyed by option."""
        o = self.option
        return _EarlyRows(o, self.spot, self.strike, screens.r[o], screens.q[o], screens.v[o], self.at_once)


def _screen_spots(
    part: slice, call: BoolArray, spots: FloatArray, k: FloatArray, screens: _OptionScreens, price: FloatArray
) -> _ScreenedSpots:
    """The early-exercise elements of the options `part`, whose European prices `price` (options, m) holds, and
    sets the floored elements there (`_settle_floored`): the steps of `_put_frame`, what depends on the option
    alone taken from `screens`."""
    m = spots.shape[1]
    options = part.start + np.flatnonzero(screens.may_exercise[part])
    is_call, strike = call[options, None], k[options, None]
    put_spot, put_strike = np.where(is_call, strike, spots[options]), np.where(is_call, spots[options], strike)
    r_o, q_o, v_o = screens.r[options, None], screens.q[options, None], screens.v[options, None]
    valid = _valid_put_spots(put_spot, put_strike)
    floored = valid & (r_o <= _MIN_RATE_TIME)
    with np.errstate(divide="ignore", invalid="ignore"):  # zero or missing spots: not valid, or exercised at once
        x = put_spot / put_strike
        elements = np.flatnonzero(valid & ~floored & ~_negligible_premium(x, r_o, q_o, v_o))
        option = options[elements // m]
        at_once = np.log(x.ravel()[elements]) <= screens.ln_perpetual[option]
    put_spot, put_strike = put_spot.ravel(), put_strike.ravel()
    if floored.any():
        block = price[options]
        _settle_floored(floored.ravel(), put_strike, put_spot, block.reshape(-1))
        price[options] = block
    sp, kp = put_spot[elements], put_strike[elements]
    live = option[_exercise_screen(sp / kp, screens.v[option], at_once)[1]]
    distinct = np.append(live[:1], live[1:][live[1:] != live[:-1]])  # `option` is sorted: np.unique without a sort
    return _ScreenedSpots(option * m + elements % m, option, sp, kp, at_once, distinct)


def _shared_boundaries(
    t: FloatArray, group: npt.NDArray[np.intp] | None, screens: _OptionScreens, needing: npt.NDArray[np.intp]
) -> BoundarySharing:
    """Sharing for rows keyed by option: the boundaries of the options `needing` them (sorted), each cut from its
    source's (`_expiry_sources` within `group`s) where it has one, all solved here, on two threads."""
    source, ratio = np.arange(t.size), np.ones(t.size)
    if group is not None:
        options = np.flatnonzero(screens.may_exercise)
        per_year = (screens.rate[options], screens.div[options])
        of_option, ratio[options] = _expiry_sources(t[options], group[options], *per_year, screens.vol[options])
        source[options] = options[of_option]
    needed = np.union1d(needing, source[needing])
    shared = (np.searchsorted(needed, source[needed]), ratio[needed])
    solved = solved_boundaries(screens.r[needed], screens.q[needed], screens.v[needed], shared, parallel=True)

    def values(
        key: npt.NDArray[np.intp], x: FloatArray, _r: FloatArray, _q: FloatArray, _v: FloatArray, euro: FloatArray
    ) -> tuple[FloatArray, BoolArray]:
        return values_on_solved(x, np.searchsorted(needed, key), solved, euro)

    return values


def _boundaries_interpolated_in_vol(frame: _PutFrame, n_options: int) -> BoundarySharing:
    """Sharing for a flattened (scenarios, options) frame: equal (option, time to expiry) means equal r T and q T,
    so those scenarios share boundaries interpolated in vol (risk_engine.american_scenarios)."""

    def values(
        rows: npt.NDArray[np.intp], x: FloatArray, r: FloatArray, q: FloatArray, v: FloatArray, euro: FloatArray
    ) -> tuple[FloatArray, BoolArray]:
        _, horizon = np.unique(frame.t[rows], return_inverse=True)
        key = horizon.ravel() * n_options + rows % n_options
        return values_on_interpolated_boundaries(x, key, r, q, v, euro)

    return values


def american_price_many_spots(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
    *,
    expiry_group: npt.ArrayLike | None = None,
) -> FloatArray:
    """American prices in premium currency at m spots per option, shape (options, m), each option's exercise
    boundary solved once for all its spots, the premium on the price rule (within 6e-6 K of `american_price`).

    Args:
        is_call: True for calls, False for puts; scalar or shape (options,).
        spot: Underlying prices (Black-76: futures prices), currency, shape (options, m).
        strike: Strike, currency; scalar or shape (options,).
        t_years: Years to expiry, Actual/365; <= 0 means expired (intrinsic); scalar or shape (options,).
        rate: Continuously compounded risk-free rate, decimal; scalar or shape (options,).
        carry: Cost of carry b, decimal (r - q for BSM, 0 for Black-76); scalar or shape (options,).
        vol: Volatility, decimal per sqrt(year); scalar or shape (options,).
        expiry_group: Integer per option, shape (options,), or None. Options of one group with equal rate, carry
            and vol are one contract at several horizons: each whose expiry is at least half the group's longest
            takes the longest one's exercise boundary cut to its own expiry (the boundary depends on the time left,
            not on the expiry; `american_boundary.restricted_boundary`) instead of a solve of its own, so it
            inherits that solve's error instead of its own (see _MIN_SHARED_RATIO). The longest option of a
            group is priced as without groups.

    Example:
        The golden textbook put G01998 (QuantLib QdFp: 6.352863) among two more spots:
        >>> prices = american_price_many_spots(False, [[90.0, 100.0, 110.0]], 100.0, 0.5, 0.05, 0.03, 0.25)
        >>> round(float(prices[0, 1]), 3)
        6.353
    """
    spots = np.asarray(spot, dtype=np.float64)
    if spots.ndim != 2:
        raise ValueError(f"spot: expected shape (options, spots), got {spots.shape}")
    n, m = spots.shape
    try:
        call = np.broadcast_to(np.asarray(is_call, dtype=bool), (n,))
        numbers = (strike, t_years, rate, carry, vol)
        k, t, r, b, v = (np.broadcast_to(np.asarray(a, dtype=np.float64), (n,)) for a in numbers)
        group = None if expiry_group is None else np.broadcast_to(np.asarray(expiry_group, dtype=np.intp), (n,))
    except ValueError as exc:
        raise ValueError(
            f"is_call, strike, t_years, rate, carry, vol, expiry_group: each must be a scalar or of shape ({n},)"
        ) from exc
    screens = _option_screens(call, t, r, b, v)
    price = np.empty((n, m))
    block = max(1, _BLOCK_ELEMENTS // m)
    screened: dict[int, _ScreenedSpots] = {}

    def screen(part: slice) -> None:
        per_option = (a[part, None] for a in (call, k, t, r, b, v))
        is_call, strike, t_o, rate, carry, vol = per_option
        euro = european_greeks(is_call, spots[part], strike, t_o, rate, carry, vol, greeks=())
        price[part] = euro.price
        screened[part.start] = _screen_spots(part, call, spots, k, screens, price)

    # Three passes, so that every boundary is solved in one place: European prices and screens in thread blocks,
    # the boundaries the screens ask for on two threads, the premium in thread blocks. (Solving inside each block
    # repeats the solver's few hundred numpy calls per block, and the threads contend for the GIL between calls.)
    run_in_blocks(screen, n, block=block)
    needing = np.unique(np.concatenate([s.needing_boundary for s in screened.values()]))
    values = _shared_boundaries(t, group, screens, needing)
    flat = price.reshape(-1)

    def settle(part: slice) -> None:
        s = screened[part.start]
        flat[s.index] = _early_prices(s.early_rows(screens), flat[s.index], values)

    run_in_blocks(settle, n, block=block)
    return price


def american_price_paths(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
) -> FloatArray:
    """American prices in premium currency of many scenarios per option, shape (scenarios, options), each within
    2e-6 of the strike of `american_price` (see risk_engine.american_scenarios for the method and measured error).

    Scenarios of one option and time to expiry share exercise boundaries interpolated in volatility, so a VaR run
    with its own vol per scenario solves a few boundaries per option instead of one per scenario.

    Args:
        is_call: True for calls, False for puts; scalar or shape (options,).
        spot: Underlying prices (Black-76: futures prices), currency, shape (scenarios, options).
        strike: Strike, currency; scalar or shape (options,).
        t_years: Years to expiry, Actual/365; <= 0 means expired (intrinsic); broadcast to spot's shape.
        rate: Continuously compounded risk-free rate, decimal; scalar or shape (options,).
        carry: Cost of carry b, decimal (r - q for BSM, 0 for Black-76); scalar or shape (options,).
        vol: Volatility, decimal per sqrt(year); broadcast to spot's shape.

    Example:
        The golden textbook put G01998 (QuantLib QdFp: 6.352863) in two vol scenarios:
        >>> prices = american_price_paths(False, [[100.0], [100.0]], 100.0, 0.5, 0.05, 0.03, [[0.25], [0.3]])
        >>> round(float(prices[0, 0]), 3)
        6.353
    """
    spots = np.asarray(spot, dtype=np.float64)
    if spots.ndim != 2:
        raise ValueError(f"spot: expected shape (scenarios, options), got {spots.shape}")
    n_options = spots.shape[1]
    try:
        columns = [np.broadcast_to(np.asarray(a), (n_options,))[None, :] for a in (is_call, strike, rate, carry)]
        t, v = (np.broadcast_to(np.asarray(a, dtype=np.float64), spots.shape) for a in (t_years, vol))
    except ValueError as exc:
        raise ValueError(
            f"is_call, strike, rate, carry: each a scalar or of shape ({n_options},); t_years, vol: broadcast to "
            f"{spots.shape}"
        ) from exc
    call, k, r, b = columns
    frame = _put_frame(call, spots, k, t, r, b, v, False)
    euro = european_greeks(call, spots, k, t, r, b, v, greeks=())
    price = np.array(np.broadcast_to(euro.price, frame.shape), dtype=np.float64).ravel()
    rows = np.flatnonzero(frame.early)
    price[rows] = _early_prices(
        _early_rows(frame, rows), price[rows], _boundaries_interpolated_in_vol(frame, n_options)
    )
    _settle_floored(frame.floored, frame.strike, frame.spot, price)
    return price.reshape(frame.shape)
