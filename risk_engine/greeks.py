"""Option prices and Greeks over numpy arrays: Black-Scholes-Merton and Black-76, in riskdash units.

Owns the closed-form European kernel and the public `compute_greeks` entry point. Pure numpy: no I/O, no
clock, no per-option Python loop. Units come from models/conventions.py (vega per vol point, theta per
calendar day, rho per 1 % rate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from models.conventions import CALENDAR_DAYS_PER_YEAR, RATE_POINT, VOL_POINT

__all__ = ["BoolArray", "FloatArray", "Greeks", "Model", "compute_greeks", "european_greeks"]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
Model = Literal["bsm", "black76"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


@dataclass(frozen=True)
class Greeks:
    """Per-unit price and Greeks, arrays of the broadcast input shape (riskdash units).

    price in premium currency; delta per $1 of underlying; gamma per $1 squared; vega per vol point;
    theta per calendar day (instantaneous, −∂V/∂T / 365); rho per 1 % rate (dividend yield held fixed;
    Black-76 holds the futures price fixed). Second order, for scenario work: vanna = change of delta per
    vol point; charm = change of delta per calendar day; vomma = change of vega (per vol point) per vol point.
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


def european_greeks(
    is_call: npt.ArrayLike,
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    t_years: npt.ArrayLike,
    rate: npt.ArrayLike,
    carry: npt.ArrayLike,
    vol: npt.ArrayLike,
    rho_holds_forward: npt.ArrayLike = False,
) -> Greeks:
    """European price and Greeks under the generalised Black-Scholes model with cost of carry `carry`.

    carry = r − q gives Black-Scholes-Merton with a continuous dividend yield q; carry = 0 with `spot` the
    futures price gives Black-76. Options at or past expiry (t_years <= 0) and options with zero volatility
    take their deterministic value (intrinsic of the discounted forward), without warnings or NaN.

    Args:
        is_call: True for calls, False for puts.
        spot: Underlying price (Black-76: futures price), currency.
        strike: Strike, currency.
        t_years: Years to expiry, Actual/365 (see models.conventions.t_years).
        rate: Continuously compounded risk-free rate, decimal.
        carry: Cost of carry b, decimal (r − q for BSM, 0 for Black-76).
        vol: Volatility, decimal per sqrt(year).
        rho_holds_forward: True where rho is taken with the forward fixed (Black-76: rho = −T·price).

    Example:
        Hull's textbook call, S = 42, K = 40, T = 0.5, r = 10 %, σ = 20 %, no dividend, is worth 4.76:
        >>> g = european_greeks(True, 42.0, 40.0, 0.5, 0.10, 0.10, 0.20)
        >>> round(float(g.price), 2), round(float(g.delta), 4)
        (4.76, 0.7791)
    """
    call, s, k, t, r, b, v, hold_f = np.broadcast_arrays(
        np.asarray(is_call, dtype=bool),
        np.asarray(spot, dtype=np.float64),
        np.asarray(strike, dtype=np.float64),
        np.asarray(t_years, dtype=np.float64),
        np.asarray(rate, dtype=np.float64),
        np.asarray(carry, dtype=np.float64),
        np.asarray(vol, dtype=np.float64),
        np.asarray(rho_holds_forward, dtype=bool),
    )
    omega = np.where(call, 1.0, -1.0)
    t_live = np.maximum(t, 0.0)
    sqrt_t = np.sqrt(t_live)
    sigma_sqrt_t = v * sqrt_t
    df_r = np.exp(-r * t_live)
    df_q = np.exp((b - r) * t_live)
    forward_value = s * df_q  # S·e^{-qT}: present value of receiving the underlying at expiry
    strike_value = k * df_r  # K·e^{-rT}
    live = sigma_sqrt_t > 0.0

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        safe_width = np.where(live, sigma_sqrt_t, 1.0)
        d1 = (np.log(s / k) + (b + 0.5 * v * v) * t_live) / safe_width
        d2 = d1 - sigma_sqrt_t
        n_d1 = ndtr(omega * d1)
        n_d2 = ndtr(omega * d2)
        pdf_d1 = _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
        price = omega * (forward_value * n_d1 - strike_value * n_d2)
        delta = omega * df_q * n_d1
        gamma = df_q * pdf_d1 / (s * safe_width)
        vega_unit = forward_value * pdf_d1 * sqrt_t
        decay = -forward_value * pdf_d1 * v / (2.0 * np.where(live, sqrt_t, 1.0))
        theta_year = decay - omega * (b - r) * forward_value * n_d1 - omega * r * strike_value * n_d2
        rho_unit = omega * k * t_live * df_r * n_d2
        vanna_unit = -df_q * pdf_d1 * d2 / np.where(live, v, 1.0)
        d_d1_d_t = b / safe_width - d2 / (2.0 * np.where(live, t_live, 1.0))
        d_delta_d_t = (b - r) * delta + df_q * pdf_d1 * d_d1_d_t
        vomma_unit = vega_unit * d1 * d2 / np.where(live, v, 1.0)

    # Deterministic limit (expired, or zero volatility): the option is worth its discounted forward intrinsic.
    in_money = omega * (forward_value - strike_value) > 0.0
    det_price = np.where(in_money, omega * (forward_value - strike_value), 0.0)
    det_delta = np.where(in_money, omega * df_q, 0.0)
    det_theta = np.where(in_money & (t > 0.0), omega * (-(b - r) * forward_value - r * strike_value), 0.0)
    det_rho = np.where(in_money, omega * k * t_live * df_r, 0.0)

    price = np.where(live, price, det_price)
    delta = np.where(live, delta, det_delta)
    rho_unit = np.where(live, rho_unit, det_rho)
    rho_unit = np.where(hold_f, -t_live * price, rho_unit)
    return Greeks(
        price=price,
        delta=delta,
        gamma=np.where(live, gamma, 0.0),
        vega=np.where(live, vega_unit, 0.0) * VOL_POINT,
        theta=np.where(live, theta_year, det_theta) / CALENDAR_DAYS_PER_YEAR,
        rho=rho_unit * RATE_POINT,
        vanna=np.where(live, vanna_unit, 0.0) * VOL_POINT,
        charm=-np.where(live, d_delta_d_t, (b - r) * delta * (t > 0.0)) / CALENDAR_DAYS_PER_YEAR,
        vomma=np.where(live, vomma_unit, 0.0) * VOL_POINT * VOL_POINT,
    )


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
        american: True (scalar or per element) for American exercise.

    Example:
        The golden textbook put (QuantLib, shared/golden row G01995: 6.209049, delta −0.426940):
        >>> g = compute_greeks(False, 100.0, 100.0, 0.5, 0.05, 0.02, 0.25)
        >>> round(float(g.price), 6), round(float(g.delta), 6)
        (6.209049, -0.42694)
    """
    if isinstance(model, str):
        if model not in ("bsm", "black76"):
            raise ValueError(f"model must be 'bsm' or 'black76', got {model!r}")
        is_black76: npt.NDArray[np.bool_] = np.asarray(model == "black76")
    else:
        is_black76 = np.asarray(model, dtype=bool)
    if np.any(american):
        raise NotImplementedError("American exercise is not available in this engine yet")
    r = np.asarray(rate, dtype=np.float64)
    carry = np.where(is_black76, 0.0, r - np.asarray(div_yield, dtype=np.float64))
    return european_greeks(is_call, spot, strike, t_years, r, carry, vol, rho_holds_forward=is_black76)
