"""Broker Greeks cross-check: our Greeks recomputed from the broker's own IV and inputs, minus the broker's.

Owns the divergence arithmetic, the flag thresholds and their summary. Pure numpy: no I/O, no clock, no
per-position loop; broker Greeks arrive already in riskdash units (models/conventions.py converters).

Vendor conventions, measured on the real files in tests/fixtures/vendor/ (tests/risk_engine/test_crosscheck.py
re-derives each fact):

SPY end-of-day chain of 2015-01-05 (spy_eod_option_chain_2015-01-05_with_greeks.csv, 2,764 standard rows):
- No underlying column, but Black-Scholes gives vega = σ·S²·T·Γ whatever r and q, and vega/(σ·Γ) is
  proportional to calendar days to the *Friday* (not the Saturday OCC date of 2015-01-17 and 2015-12-19) on
  every expiry: S = 201.72 (rows with Γ > 1e-4 span 201.716–201.724), SPY's close that day.
- Day count: whole calendar days from the trade date to the Friday expiry / 365 (11 days for January), with
  no DST hour: riskdash's 16:00-to-16:00 instants are one hour shorter for expiries in EDT (|ΔT| ≤ 1/24 day).
- Units are already riskdash's: delta per $1, gamma per $1², vega per vol point, rho per 1 % rate, theta per
  calendar day (vendor/ours medians 1.00000 for vega, rho, gamma and 1.00007 for theta; not ×365, ×252/365).
- Rates: least squares on delta and rho over all rows gives r = −0.000000004 ± 0.000000007 and an effective
  dividend yield q = −0.0012000·T (± 4e-9; rms residual 1e-6 in delta and rho, max 6e-6), i.e. the forward
  is S·e^{0.0012·T²} and nothing is discounted. The best constant (r, q) = (0.013 %, −0.26 %) leaves 0.021
  in delta and rho. Mid prices of expiries from 74 days on are best repriced with q ≈ 0 and r rising about
  0.12 % per year of T (0.12 % at 0.95 y, 0.20 % at 1.7 y): the Greeks are those of the undiscounted premium.
  SPY's ~1.9 % dividend yield is not used: with r = 0.2 %, q = 1.9 % the median delta divergence is 0.008 and
  89 % of rows are flagged.
- Deltas beyond ±1 (1.0044) follow from that negative effective yield (e^{0.0012·T²} > 1), not from noise.
- Theta matches the Black-Scholes partial −∂V/∂T/365 to a median 1e-5 a day; the residual grows with T to
  2.6e-4 a day (up to 7 % on far out-of-the-money 2016–2017 calls) and is close to −0.0029·∂V/∂σ·ln(S/K)/365:
  it looks like a vol-surface roll-down term in the vendor's theta, not a unit difference.
- 186 rows carry the placeholder IV 0.113826 (IV not solvable, deep in the money); 42 of them (long-dated
  deep-ITM calls) report all-zero Greeks, which this cross-check flags (delta off by ~1).
- European or American: the closed form reproduces gamma, vega, rho to 6e-6 and vega/(σΓS²T) is constant
  to 1e-5, which an American lattice does not give; with r = 0 and q ≤ 0 early exercise is worthless anyway.

tastytrade GET /market-data/by-type, two SPY calls of 2025-07-01 at 2025-06-27T23:59:39Z
(market_data_by_type_equity_option_SPY_250701.json; numbers are strings; no underlying price):
- A joint fit of (S, T, r, q, theta year) to delta, gamma, vega, rho, theo-price and theta of both calls:
  S = 613.3800, r = 0.000001 ± 0.000001, q = 0.000001 ± 0.000001 (no rate, no dividend, no discounting: the
  theo-price is the undiscounted Black-Scholes value to 5e-7), relative residuals ≤ 6e-8.
- T = 0.0105315 years = `updated-at` to 2025-07-01 16:15:02 New York on a 365-day year: time runs to SPY's
  16:15 last trade, 15 minutes past riskdash's 16:00 expiry instant (0.27 % of T here).
- volatility is decimal, vega per vol point, rho per 1 %, gamma per $1²; theta is −∂V/∂T divided by
  365.24222 ± 0.00003 (the mean tropical year, models.conventions.theta_per_day_from_tropical_day), not 365.
- Both calls with no dividend before expiry and r = 0: American and European values coincide.
Consequence: cross-check tastytrade Greeks with r = q = 0 and its spot; with a 4.3 % rate and 1.2 % yield
both calls are flagged (delta +0.006/+0.010, theta 14 %/10 %).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

import numpy as np
import numpy.typing as npt

from risk_engine.greeks import BoolArray, FloatArray, Greeks, Model, compute_greeks

__all__ = [
    "DELTA_ABS_TOL",
    "THETA_FLOOR",
    "THETA_REL_TOL",
    "VEGA_FLOOR",
    "VEGA_REL_TOL",
    "CrossCheck",
    "cross_check_greeks",
    "divergence_summary",
]

DELTA_ABS_TOL: Final = 0.01
"""Flag a row when |our delta − broker delta| exceeds this (delta per $1 of underlying)."""

THETA_REL_TOL: Final = 0.05
"""Flag a row when |our theta − broker theta| exceeds this fraction of max(|broker theta|, THETA_FLOOR)."""

VEGA_REL_TOL: Final = 0.05
"""Flag a row when |our vega − broker vega| exceeds this fraction of max(|broker vega|, VEGA_FLOOR)."""

THETA_FLOOR: Final = 1e-4
"""USD per calendar day per unit of underlying (0.01 USD a day on a 100-lot contract): below it a relative theta
difference is vendor rounding (six decimals), not a convention error."""

VEGA_FLOOR: Final = 1e-4
"""USD per vol point per unit of underlying (0.01 USD per point on a 100-lot contract), as THETA_FLOOR."""

_PERCENT: Final = 100.0  # reasons show relative differences in percent
_FP_SLACK: Final = 1e-9
# A difference equal to a threshold up to float rounding (ours − (ours − 0.01) is not exactly 0.01) is not flagged.


@dataclass(frozen=True)
class CrossCheck:
    """Per-row divergence between our Greeks and the broker's, riskdash units, one element per input row.

    `d_*` are ours − broker (delta per $1, gamma per $1², theta USD per calendar day, vega USD per vol point);
    `rel_*` are |ours − broker| / max(|broker|, floor). A divergence is NaN where the row is not comparable
    (`comparable` False: missing or non-positive IV, spot or strike, missing rate or yield, expired) or the
    broker sent no value for that Greek; NaN is never flagged. `reasons[i]` says in words why row i is flagged
    or not comparable, and is "" for a row that agrees. `ours` holds our Greeks (NaN where not comparable).
    """

    ours: Greeks
    d_delta: FloatArray
    d_gamma: FloatArray
    d_theta: FloatArray
    d_vega: FloatArray
    rel_theta: FloatArray
    rel_vega: FloatArray
    comparable: BoolArray
    flag_delta: BoolArray
    flag_theta: BoolArray
    flag_vega: BoolArray
    flagged: BoolArray
    reasons: tuple[str, ...]


def _over(excess: FloatArray, tolerance: float) -> BoolArray:
    # NaN compares False: a Greek the broker did not send is never flagged.
    return np.asarray(excess > tolerance * (1.0 + _FP_SLACK), dtype=bool)


def _relative(diff: FloatArray, broker: FloatArray, floor: float) -> FloatArray:
    return np.asarray(np.abs(diff) / np.maximum(np.abs(broker), floor), dtype=np.float64)


def _part(mask: BoolArray, template: str, values: FloatArray) -> npt.NDArray[np.str_]:
    # Format only where the part applies, so NaN never reaches the text.
    text = np.char.mod(template, np.where(mask, values, 0.0))
    return np.where(mask, text, "")


def cross_check_greeks(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    div_yield: npt.ArrayLike,
    broker_iv: npt.ArrayLike,
    broker_delta: npt.ArrayLike,
    broker_gamma: npt.ArrayLike,
    broker_theta: npt.ArrayLike,
    broker_vega: npt.ArrayLike,
    model: Model | npt.ArrayLike = "bsm",
    american: bool | npt.ArrayLike = False,
    *,
    delta_tol: float = DELTA_ABS_TOL,
    theta_rel_tol: float = THETA_REL_TOL,
    vega_rel_tol: float = VEGA_REL_TOL,
    theta_floor: float = THETA_FLOOR,
    vega_floor: float = VEGA_FLOOR,
) -> CrossCheck:
    """Per-row divergence of our Greeks (from the broker's IV and inputs) from the broker's, riskdash units.

    Inputs broadcast to one 1-D row axis; missing values are NaN. Our Greeks come from `compute_greeks` with
    the broker's IV, so a divergence measures convention and model differences, not a different volatility.
    A row is flagged when |Δdelta| > delta_tol, or theta or vega differ by more than their relative tolerance
    of max(|broker value|, floor); a divergence exactly at a threshold is not flagged.

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price the broker used, USD (Black-76: futures price).
        strike: Strike, USD.
        t_years: Years to the expiry instant, Actual/365 (models.conventions.t_years); <= 0 is not comparable.
        rate: Risk-free rate, continuous decimal.
        div_yield: Continuous dividend yield, decimal.
        broker_iv: The broker's implied volatility, decimal.
        broker_delta: Broker delta per $1 of underlying.
        broker_gamma: Broker gamma per $1 of underlying, per $1.
        broker_theta: Broker theta, USD per calendar day per unit (converted by the adapter).
        broker_vega: Broker vega, USD per vol point per unit.
        model: "bsm", "black76" or a per-row boolean array True on Black-76 rows (see `compute_greeks`).
        american: True (scalar or per row) for American exercise, passed to `compute_greeks`.
        delta_tol: Absolute delta tolerance.
        theta_rel_tol: Relative theta tolerance (0.05 = 5 %).
        vega_rel_tol: Relative vega tolerance.
        theta_floor: Smallest |broker theta| a relative theta difference is taken of, USD per day.
        vega_floor: Smallest |broker vega| a relative vega difference is taken of, USD per vol point.

    Example:
        A broker vega sent per 1.00 of volatility (19.64) instead of per vol point (0.1964) is caught; the call
        is S = K = 100, T = 0.25, r = 5 %, q = 0, σ = 20 % (Hull: delta 0.5695, theta −0.0287 a day):
        >>> c = cross_check_greeks(True, 100.0, 100.0, 0.25, 0.05, 0.0, 0.2, 0.5695, 0.0393, -0.0287, 19.64)
        >>> bool(c.flagged[0]), c.reasons[0]
        (True, 'vega -19.4436 (99.0 % > 5 %)')
    """
    call, s, k, t, r, q, iv, b_delta, b_gamma, b_theta, b_vega = (
        np.atleast_1d(a)
        for a in np.broadcast_arrays(
            np.asarray(is_call, dtype=bool),
            *(
                np.asarray(x, dtype=np.float64)
                for x in (
                    spot,
                    strike,
                    t_years,
                    rate,
                    div_yield,
                    broker_iv,
                    broker_delta,
                    broker_gamma,
                    broker_theta,
                    broker_vega,
                )
            ),
        )
    )
    with np.errstate(invalid="ignore"):
        comparable = np.asarray(
            (s > 0.0) & (k > 0.0) & (iv > 0.0) & (t > 0.0) & np.isfinite(r) & np.isfinite(q) & np.isfinite(iv),
            dtype=bool,
        )
    # Placeholders on rows that are not comparable keep the kernel finite; their results are masked to NaN.
    ours_raw = compute_greeks(
        call,
        np.where(comparable, s, 1.0),
        np.where(comparable, k, 1.0),
        np.where(comparable, t, 1.0),
        np.where(comparable, r, 0.0),
        np.where(comparable, q, 0.0),
        np.where(comparable, iv, 0.2),
        model=model,
        american=american,
    )
    ours = Greeks(**{f.name: np.where(comparable, getattr(ours_raw, f.name), np.nan) for f in fields(ours_raw)})
    d_delta = ours.delta - b_delta
    d_gamma = ours.gamma - b_gamma
    d_theta = ours.theta - b_theta
    d_vega = ours.vega - b_vega
    rel_theta = _relative(d_theta, b_theta, theta_floor)
    rel_vega = _relative(d_vega, b_vega, vega_floor)
    flag_delta = _over(np.abs(d_delta), delta_tol)
    flag_theta = _over(rel_theta, theta_rel_tol)
    flag_vega = _over(rel_vega, vega_rel_tol)
    flagged = flag_delta | flag_theta | flag_vega

    parts = (
        _part(flag_delta, f"delta %+.4f (> {delta_tol:g})", d_delta),
        _part(flag_theta, "theta %+.5f/day", d_theta),
        _part(flag_theta, f" (%.1f %% > {theta_rel_tol * _PERCENT:g} %%)", rel_theta * _PERCENT),
        _part(flag_vega, "vega %+.4f", d_vega),
        _part(flag_vega, f" (%.1f %% > {vega_rel_tol * _PERCENT:g} %%)", rel_vega * _PERCENT),
    )
    sep_theta = np.where(flag_delta & flag_theta, "; ", "")
    sep_vega = np.where((flag_delta | flag_theta) & flag_vega, "; ", "")
    text = parts[0]
    for piece in (sep_theta, parts[1], parts[2], sep_vega, parts[3], parts[4]):
        text = np.char.add(text, piece)
    no_broker_value = np.isnan(b_delta) & np.isnan(b_gamma) & np.isnan(b_theta) & np.isnan(b_vega)
    text = np.where(no_broker_value, "not comparable: the broker sent no Greeks", text)
    text = np.where(comparable, text, "not comparable: missing or non-positive IV, price or strike, or expired")
    return CrossCheck(
        ours=ours,
        d_delta=d_delta,
        d_gamma=d_gamma,
        d_theta=d_theta,
        d_vega=d_vega,
        rel_theta=rel_theta,
        rel_vega=rel_vega,
        comparable=comparable,
        flag_delta=flag_delta,
        flag_theta=flag_theta,
        flag_vega=flag_vega,
        flagged=flagged,
        reasons=tuple(str(reason) for reason in text.tolist()),
    )


def divergence_summary(check: CrossCheck) -> dict[str, dict[str, float]]:
    """Median, 95th percentile and max of |ours − broker| per Greek, with row counts; units as in `CrossCheck`.

    Keys "delta", "gamma", "theta", "vega" (absolute differences) and "rel_theta", "rel_vega" (fractions).
    Each maps to {"median", "p95", "max", "compared", "not_comparable", "flagged"}; statistics are NaN when no
    row is comparable for that Greek ("not_comparable" counts rows with no input or no broker value).
    """
    columns = {
        "delta": (check.d_delta, check.flag_delta),
        "gamma": (check.d_gamma, np.zeros_like(check.flagged)),
        "theta": (check.d_theta, check.flag_theta),
        "vega": (check.d_vega, check.flag_vega),
        "rel_theta": (check.rel_theta, check.flag_theta),
        "rel_vega": (check.rel_vega, check.flag_vega),
    }
    summary: dict[str, dict[str, float]] = {}
    for name, (values, flags) in columns.items():
        finite = np.abs(values[np.isfinite(values)])
        stats = (
            (float(np.median(finite)), float(np.percentile(finite, 95.0)), float(finite.max()))
            if finite.size
            else (float("nan"),) * 3
        )
        summary[name] = {
            "median": stats[0],
            "p95": stats[1],
            "max": stats[2],
            "compared": float(finite.size),
            "not_comparable": float(values.size - finite.size),
            "flagged": float(np.count_nonzero(flags)),
        }
    return summary
