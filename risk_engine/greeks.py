"""Option prices and Greeks over numpy arrays: Black-Scholes-Merton and Black-76, in riskdash units.

Owns the closed-form European kernel and the public `compute_greeks` entry point. Pure numpy: no I/O, no
clock, no per-option Python loop. Units come from models/conventions.py (vega per vol point, theta per
calendar day, rho per 1 % rate).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from models.conventions import CALENDAR_DAYS_PER_YEAR, RATE_POINT, VOL_POINT

__all__ = [
    "GREEK_NAMES",
    "BoolArray",
    "FloatArray",
    "GreekName",
    "Greeks",
    "Model",
    "black76_rows",
    "broadcast_option_inputs",
    "compute_greeks",
    "cost_of_carry",
    "european_greeks",
    "not_computed",
    "run_in_blocks",
    "wanted_greeks",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Model = Literal["bsm", "black76"]

GreekName = Literal["price", "delta", "gamma", "vega", "theta", "rho", "vanna", "charm", "vomma"]
GREEK_NAMES: tuple[GreekName, ...] = ("price", "delta", "gamma", "vega", "theta", "rho", "vanna", "charm", "vomma")

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)
# Beyond |d| = 40, N(d) is exactly 0 or 1 and the density exp(−d²/2) exactly 0 in float64: clipping d there
# changes no result, and keeps products such as d1·d2/σ or d2/(2T) from overflowing into 0 · inf = NaN.
_D_MAX = 40.0
# Below these a Greek's 1/(σ sqrt T) or 1/T factor would overflow float64: the option then takes its
# deterministic value (its time value is below 1e-200 of the forward anyway).
_MIN_WIDTH = 1e-200
_MIN_T = 1e-305
# Elements per block: the kernels' few dozen float64 temporaries of one block stay within a core's L2 cache.
_BLOCK = 1 << 15
_MAX_WORKERS = 2


def run_in_blocks(kernel: Callable[[slice], None], n: int, block: int = _BLOCK) -> None:
    """Runs kernel(slice) over [0, n) in cache-sized blocks, on two threads when there is more than one block.

    numpy and scipy.special ufuncs release the GIL, so an elementwise kernel runs in parallel; each block writes
    only its own slice of the output, so the result does not depend on the blocking.

    Args:
        kernel: Elementwise computation of the slice it is given, writing its results into preallocated arrays.
        n: Number of elements.
        block: Elements per block.
    """
    if n <= block:
        kernel(slice(0, n))
        return
    blocks = [slice(start, min(start + block, n)) for start in range(0, n, block)]
    workers = min(_MAX_WORKERS, os.cpu_count() or 1)
    if workers < 2:
        for part in blocks:
            kernel(part)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(kernel, blocks):
            pass


@dataclass(frozen=True)
class Greeks:
    """Per-unit price and Greeks, arrays of the broadcast input shape (riskdash units).

    price in premium currency; delta per $1 of underlying; gamma per $1 squared; vega per vol point;
    theta per calendar day (instantaneous, −∂V/∂T / 365); rho per 1 % rate (dividend yield held fixed;
    Black-76 holds the futures price fixed). Second order, for scenario work: vanna = change of delta per
    vol point; charm = change of delta per calendar day; vomma = change of vega (per vol point) per vol point.
    A Greek left out of a `greeks=` subset is NaN (not computed; a read-only array), never a stale or zero value.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray
    vanna: FloatArray
    charm: FloatArray
    vomma: FloatArray


def _european_block(
    call: BoolArray,
    s: FloatArray,
    k: FloatArray,
    t: FloatArray,
    r: FloatArray,
    b: FloatArray,
    v: FloatArray,
    hold_f: BoolArray,
    out: dict[str, FloatArray],
) -> None:
    """Writes the wanted Greeks (the keys of `out`) into `out`, in riskdash units; inputs broadcast against each other.

    Each input keeps its own shape, so what depends only on per-option inputs (sqrt T, discount factors) is
    computed once per option even when the spot varies along another axis.
    """
    omega = np.asarray(2.0 * call - 1.0, dtype=np.float64)  # +1 call, −1 put
    t_live = np.maximum(t, 0.0)
    # Rows that are not live compute garbage here (0/0, log of a zero spot, inf - inf at an infinite expiry): the
    # deterministic values or NaN below replace every one of their outputs.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        sqrt_t = np.sqrt(t_live)
        width = v * sqrt_t
        r_t = r * t_live
        df_r = np.exp(-r_t)
        df_q = np.exp(b * t_live - r_t)
        forward_value = s * df_q  # S·e^{-qT}: present value of receiving the underlying at expiry
        strike_value = k * df_r  # K·e^{-rT}
        live = (width > _MIN_WIDTH) & (t_live > _MIN_T) & (t_live < np.inf)
        all_live = bool(live.all())
        d1 = (np.log(s / k) + (b + 0.5 * v * v) * t_live) / width
        d2 = np.clip(d1 - width, -_D_MAX, _D_MAX)
        np.clip(d1, -_D_MAX, _D_MAX, out=d1)
        n_d1 = ndtr(omega * d1)
        n_d2 = ndtr(omega * d2)
        if set(out) - {"price", "delta"}:  # every other Greek needs the density
            pdf_d1 = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
        fv_n1 = forward_value * n_d1
        kv_n2 = strike_value * n_d2
        # The two terms nearly cancel out of the money and near expiry: keep the rounding from leaving the
        # no-arbitrage range [discounted forward intrinsic, ∞).
        price = np.maximum(omega * (fv_n1 - kv_n2), np.maximum(omega * (forward_value - strike_value), 0.0))
        values: dict[str, FloatArray] = {"price": price}
        if "delta" in out or "charm" in out:
            values["delta"] = omega * df_q * n_d1
        if "gamma" in out:
            values["gamma"] = df_q * pdf_d1 / (s * width)
        if "vega" in out or "vomma" in out:
            vega_unit = forward_value * pdf_d1 * sqrt_t
            values["vega"] = vega_unit * VOL_POINT
        if "theta" in out:
            decay = -forward_value * pdf_d1 * v / (2.0 * sqrt_t)
            theta_year = decay - omega * ((b - r) * fv_n1 + r * kv_n2)
            values["theta"] = theta_year / CALENDAR_DAYS_PER_YEAR
        if "rho" in out:
            values["rho"] = omega * t_live * kv_n2 * RATE_POINT
        if "vanna" in out:
            values["vanna"] = -df_q * pdf_d1 * d2 / v * VOL_POINT
        if "charm" in out:
            d_d1_d_t = b / width - d2 / (2.0 * t_live)
            values["charm"] = -((b - r) * values["delta"] + df_q * pdf_d1 * d_d1_d_t) / CALENDAR_DAYS_PER_YEAR
        if "vomma" in out:
            values["vomma"] = vega_unit * d1 * d2 / v * (VOL_POINT * VOL_POINT)
    if not all_live:
        # Expired rows (any vol) and zero-vol rows take their deterministic value; a missing or negative input
        # on a row that is not live gives NaN, never a made-up intrinsic value.
        # An infinite expiry has no finite value to speak of (0, S or K depending on rates): NaN, like a missing one.
        shape = values["price"].shape  # the broadcast shape: the price depends on every input but hold_f
        dead_inputs = (s, k, t, r, b, v, omega, df_q, forward_value, strike_value, t_live, live)
        fs, fk, ft, fr, fb, fv, f_omega, f_df_q, f_forward, f_strike, f_t_live, f_live = (
            np.broadcast_to(a, shape).reshape(-1) for a in dead_inputs
        )
        flat = {name: np.array(np.broadcast_to(value, shape)).reshape(-1) for name, value in values.items()}
        dead = ~f_live
        known = np.isfinite(fs) & np.isfinite(fk) & np.isfinite(fr) & np.isfinite(fb) & ~np.isnan(ft) & (ft < np.inf)
        with np.errstate(invalid="ignore"):
            settled = dead & known & ((ft <= 0.0) | (fv >= 0.0))
        _deterministic_limit(settled, f_omega, ft, fr, fb, f_df_q, f_forward, f_strike, f_t_live, flat)
        unknown = np.flatnonzero(dead & ~settled)
        for value in flat.values():
            value[unknown] = np.nan
        values = {name: value.reshape(shape) for name, value in flat.items()}
    if "rho" in out and hold_f.any():
        # Black-76 rows: with the futures price held fixed only the discount factor moves, rho = −T·price.
        values["rho"] = np.where(hold_f, -t_live * values["price"] * RATE_POINT, values["rho"])
    for name, target in out.items():
        target[...] = values[name]


def _deterministic_limit(
    dead: BoolArray,
    omega: FloatArray,
    t: FloatArray,
    r: FloatArray,
    b: FloatArray,
    df_q: FloatArray,
    forward_value: FloatArray,
    strike_value: FloatArray,
    t_live: FloatArray,
    values: dict[str, FloatArray],
) -> None:
    """Overwrites `values` on `dead` rows (expired or zero volatility) with the discounted forward intrinsic."""
    rows = np.flatnonzero(dead)
    w, tt, carry_minus_r = omega[rows], t[rows], b[rows] - r[rows]
    fv, kv = forward_value[rows], strike_value[rows]
    in_money = w * (fv - kv) > 0.0
    delta = np.where(in_money, w * df_q[rows], 0.0)
    limit = {
        "price": np.where(in_money, w * (fv - kv), 0.0),
        "delta": delta,
        "gamma": np.zeros(rows.size),
        "vega": np.zeros(rows.size),
        "theta": np.where(in_money & (tt > 0.0), w * (-carry_minus_r * fv - r[rows] * kv), 0.0)
        / CALENDAR_DAYS_PER_YEAR,
        "rho": np.where(in_money, w * t_live[rows] * kv, 0.0) * RATE_POINT,
        "vanna": np.zeros(rows.size),
        "charm": -carry_minus_r * delta * (tt > 0.0) / CALENDAR_DAYS_PER_YEAR,
        "vomma": np.zeros(rows.size),
    }
    for name, value in values.items():
        value[rows] = limit[name]


def _kernel_arrays(inputs: tuple[npt.ArrayLike, ...]) -> list[npt.NDArray[Any]]:
    """The eight kernel inputs (is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward) as arrays of their
    own shapes: bools for the flags, float64 for the numbers."""
    call, *numbers, hold = inputs
    values = [np.asarray(a, dtype=np.float64) for a in numbers]
    return [np.asarray(call, dtype=bool), *values, np.asarray(hold, dtype=bool)]


def broadcast_option_inputs(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
    rho_holds_forward: npt.ArrayLike,
) -> tuple[npt.NDArray[Any], ...]:
    """The eight kernel inputs as arrays of one broadcast shape (see `_kernel_arrays`)."""
    return np.broadcast_arrays(*_kernel_arrays((is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward)))


def european_greeks(
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
    """European price and Greeks under the generalised Black-Scholes model with cost of carry `carry`.

    carry = r − q gives Black-Scholes-Merton with a continuous dividend yield q; carry = 0 with `spot` the
    futures price gives Black-76. Options at or past expiry (t_years <= 0) and options with zero volatility
    take their deterministic value (intrinsic of the discounted forward), without warnings or NaN; as T or σ
    tends to 0 every Greek stays finite and tends to that limit. A missing (NaN) or negative input gives NaN,
    except that an expired option is worth its intrinsic value whatever its volatility. Large inputs are
    evaluated in cache-sized blocks on two threads; the result is bit for bit that of one pass.

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price (Black-76: futures price), currency.
        strike: Strike, currency.
        t_years: Years to expiry, Actual/365 (see models.conventions.t_years).
        rate: Continuously compounded risk-free rate, decimal.
        carry: Cost of carry b, decimal (r − q for BSM, 0 for Black-76).
        vol: Volatility, decimal per sqrt(year).
        rho_holds_forward: True where rho is taken with the forward fixed (Black-76: rho = −T·price).
        greeks: Names of the Greeks to compute (default all); the others come back NaN. The price is always
            computed.

    Example:
        Hull's textbook call, S = 42, K = 40, T = 0.5, r = 10 %, σ = 20 %, no dividend, is worth 4.76:
        >>> g = european_greeks(True, 42.0, 40.0, 0.5, 0.10, 0.10, 0.20)
        >>> round(float(g.price), 2), round(float(g.delta), 4)
        (4.76, 0.7791)
    """
    wanted = wanted_greeks(greeks)
    arrays = _kernel_arrays((is_call, spot, strike, t_years, rate, carry, vol, rho_holds_forward))
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    out: dict[GreekName, FloatArray] = {name: np.empty(shape) for name in wanted}
    targets: dict[GreekName, FloatArray] = out
    # Blocks of whole leading-axis rows; inputs that do not vary along that axis are passed whole.
    row_size = int(np.prod(shape[1:]))
    if len(shape) == 0 or row_size > _BLOCK:
        arrays = [np.broadcast_to(a, shape).reshape(-1) for a in arrays]
        targets = {name: value.reshape(-1) for name, value in out.items()}
        rows, row_size = max(1, int(np.prod(shape))), 1
    else:
        arrays = [a.reshape((1,) * (len(shape) - a.ndim) + a.shape) for a in arrays]
        rows = shape[0]

    def kernel(part: slice) -> None:
        call, s, k, t, r, b, v, hold_f = (a if a.shape[0] == 1 else a[part] for a in arrays)
        _european_block(call, s, k, t, r, b, v, hold_f, {name: value[part] for name, value in targets.items()})

    run_in_blocks(kernel, rows, block=max(1, _BLOCK // row_size))
    return Greeks(**{name: out[name] if name in out else not_computed(shape) for name in GREEK_NAMES})


def not_computed(shape: tuple[int, ...]) -> FloatArray:
    """NaN of the given shape for a Greek left out of a subset: a read-only view that allocates nothing.

    Filling a fresh array costs more than computing a Greek (first-touch page faults, ~2 ms per 1e6 values here).
    """
    return np.broadcast_to(np.float64(np.nan), shape)


def wanted_greeks(greeks: Collection[GreekName] | None) -> tuple[GreekName, ...]:
    """The Greeks to compute, in GREEK_NAMES order, price always included; rejects unknown names."""
    if greeks is None:
        return GREEK_NAMES
    unknown = set(greeks) - set(GREEK_NAMES)
    if unknown:
        raise ValueError(f"greeks: unknown name(s) {sorted(unknown)}; expected a subset of {GREEK_NAMES}")
    return tuple(name for name in GREEK_NAMES if name == "price" or name in greeks)


def black76_rows(model: Model | npt.ArrayLike) -> BoolArray:
    """True on Black-76 rows, from a model name or a per-row boolean array; rejects unknown model names."""
    if isinstance(model, str):
        if model not in ("bsm", "black76"):
            raise ValueError(f"model must be 'bsm' or 'black76', got {model!r}")
        return np.asarray(model == "black76")
    return np.asarray(model, dtype=bool)


def cost_of_carry(is_black76: npt.ArrayLike, rate: npt.ArrayLike, div_yield: npt.ArrayLike) -> FloatArray:
    """Cost of carry b, decimal: r − q for Black-Scholes-Merton rows, 0 for Black-76 (futures options) rows."""
    return np.where(is_black76, 0.0, np.asarray(rate, dtype=np.float64) - np.asarray(div_yield, dtype=np.float64))


def compute_greeks(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    div_yield: npt.ArrayLike,
    vol: npt.ArrayLike,
    model: Model | npt.ArrayLike = "bsm",
    american: bool | npt.ArrayLike = False,
    *,
    greeks: Collection[GreekName] | None = None,
) -> Greeks:
    """Per-unit price and Greeks for every option, inputs broadcast (riskdash units, see `Greeks`).

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price; for Black-76 rows the futures price.
        strike: Strike.
        t_years: Years to the exact expiry instant (models.conventions.t_years); <= 0 means expired.
        rate: Risk-free rate, continuous decimal.
        div_yield: Continuous dividend yield, decimal (ignored by Black-76 rows).
        vol: Implied volatility, decimal.
        model: "bsm", "black76", or a boolean array that is True on Black-76 rows (a mixed book in one call).
        american: True (scalar or per element) for American exercise (risk_engine.american).
        greeks: Names of the Greeks to compute (default all nine); the others come back NaN. On American rows a
            subset also saves work: rho, vega and vanna/vomma each cost a re-solve of the exercise boundary.

    Example:
        The golden textbook put (QuantLib, shared/golden row G01995: 6.209049, delta −0.426940):
        >>> g = compute_greeks(False, 100.0, 100.0, 0.5, 0.05, 0.02, 0.25)
        >>> round(float(g.price), 6), round(float(g.delta), 6)
        (6.209049, -0.42694)
    """
    is_black76 = black76_rows(model)
    r = np.asarray(rate, dtype=np.float64)
    carry = cost_of_carry(is_black76, r, div_yield)
    result = european_greeks(is_call, spot, strike, t_years, r, carry, vol, rho_holds_forward=is_black76, greeks=greeks)
    if not np.any(american):
        return result
    inputs = (is_call, spot, strike, t_years, r, carry, vol, is_black76)
    return _with_american(result, american, inputs, greeks)


def _with_american(
    european: Greeks,
    american: bool | npt.ArrayLike,
    inputs: tuple[npt.ArrayLike, ...],
    greeks: Collection[GreekName] | None,
) -> Greeks:
    """`european` with the American rows replaced by the American engine's values (same shapes)."""
    # Imported here because risk_engine.american builds on this module's European kernel.
    from risk_engine.american import american_greeks

    shape = european.price.shape
    mask = np.broadcast_to(np.asarray(american, dtype=bool), shape)
    rows = [np.broadcast_to(np.asarray(value), shape)[mask] for value in inputs]
    is_call, spot, strike, t, r, carry, vol, hold_forward = rows
    am = american_greeks(is_call, spot, strike, t, r, carry, vol, rho_holds_forward=hold_forward, greeks=greeks)
    merged: dict[str, FloatArray] = {}
    for name in GREEK_NAMES:
        values = np.array(np.broadcast_to(getattr(european, name), shape), dtype=np.float64)
        values[mask] = getattr(am, name)
        merged[name] = values
    return Greeks(**merged)
