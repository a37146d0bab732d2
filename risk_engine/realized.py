"""Realised statistics of daily closes: close-to-close historical volatility and beta/correlation to an index.

Pure numpy over close arrays the caller has already aligned; no I/O, no dates, no pandas. The 252-day
annualisation comes from models/conventions.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from models.conventions import TRADING_DAYS_PER_YEAR

__all__ = ["BetaFit", "beta_to_index", "log_returns", "realized_vol"]

FloatArray = npt.NDArray[np.float64]

_SAMPLE_DDOF = 1
"""Sample (n − 1) moments: the usual historical-volatility estimator, unbiased for the variance."""


@dataclass(frozen=True)
class BetaFit:
    """Beta of an asset to an index from daily log returns, its correlation, and how many returns it used."""

    beta: float
    correlation: float
    n_returns: int


def _checked_closes(closes: FloatArray, name: str) -> FloatArray:
    values = np.asarray(closes, dtype=np.float64)
    if values.ndim == 0:
        raise ValueError(f"{name} must be an array of daily closes, got a scalar")
    bad = ~np.isfinite(values) | (values <= 0.0)
    if bad.any():
        first = int(np.flatnonzero(bad.reshape(bad.shape[0], -1).any(axis=1))[0])
        raise ValueError(f"{name} must be finite and positive; row {first} is not (value {values[first]!r})")
    return values


def log_returns(closes: FloatArray) -> FloatArray:
    """Daily log returns ln(Cₜ / Cₜ₋₁) along axis 0; one row fewer than `closes`.

    Args:
        closes: Daily closes, oldest first, shape (n_days, ...); finite and positive.

    Example:
        >>> log_returns(np.array([100.0, 110.0, 100.0])).round(7).tolist()
        [0.0953102, -0.0953102]
    """
    values = _checked_closes(closes, "closes")
    return np.diff(np.log(values), axis=0)


def realized_vol(closes: FloatArray, window: int) -> FloatArray:
    """Annualised close-to-close volatility (decimal, 0.25 = 25 vol) of the last `window` daily log returns.

    Sample standard deviation (n − 1) of the returns around their window mean, times √252.
    HV20 is `realized_vol(closes, 20)`, HV30 `realized_vol(closes, 30)`.

    Args:
        closes: Daily closes, oldest first, shape (n_days,) or (n_days, n_series); at least `window` + 1 rows.
        window: Number of returns (trading days) in the estimate; at least 2.

    Returns:
        Shape closes.shape[1:]: a 0-d array for one series, one value per column otherwise.

    Example:
        Closes alternating 100, 110 give returns ±ln 1.1, whose sample deviation over four returns is
        ln 1.1 × √(4/3) = 0.1100547 a day, × √252 = 1.7470645 a year:
        >>> round(float(realized_vol(np.array([100.0, 110.0, 100.0, 110.0, 100.0]), 4)), 7)
        1.7470645
    """
    if window < 2:
        raise ValueError(f"realized_vol: window must be at least 2 returns, got {window}")
    values = _checked_closes(closes, "closes")
    if values.shape[0] < window + 1:
        raise ValueError(f"realized_vol: {window} returns need {window + 1} closes, got {values.shape[0]}")
    returns = np.diff(np.log(values[-(window + 1) :]), axis=0)
    daily: FloatArray = np.std(returns, axis=0, ddof=_SAMPLE_DDOF)
    return daily * math.sqrt(TRADING_DAYS_PER_YEAR)


def beta_to_index(asset_closes: FloatArray, index_closes: FloatArray) -> BetaFit:
    """Beta (cov/var of daily log returns) of an asset to an index, with the returns' correlation.

    Both arrays hold closes of the same days, oldest first (the caller drops days either series lacks).

    Args:
        asset_closes: Daily closes of the asset, shape (n_days,).
        index_closes: Daily closes of the index (SPX) on the same days, shape (n_days,).

    Example:
        An asset whose every log return is twice the index's has beta 2 and correlation 1:
        >>> index = np.array([100.0, 101.0, 99.0, 102.0])
        >>> fit = beta_to_index(index**2 / 100.0, index)
        >>> round(fit.beta, 12), round(fit.correlation, 12), fit.n_returns
        (2.0, 1.0, 3)
    """
    asset = log_returns(_checked_closes(asset_closes, "asset_closes"))
    index = log_returns(_checked_closes(index_closes, "index_closes"))
    if asset.ndim != 1 or asset.shape != index.shape:
        raise ValueError(
            f"beta_to_index: closes must be 1-D and of equal length, got {np.shape(asset_closes)} "
            f"and {np.shape(index_closes)}"
        )
    if asset.size < 2:
        raise ValueError(f"beta_to_index: needs at least 3 closes of each series, got {asset.size + 1}")
    cov = np.cov(asset, index, ddof=_SAMPLE_DDOF)
    var_asset, covariance, var_index = float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1])
    if var_index <= 0.0:
        raise ValueError("beta_to_index: the index closes never move, so beta is undefined")
    if var_asset <= 0.0:
        raise ValueError("beta_to_index: the asset closes never move, so the correlation is undefined")
    correlation = covariance / math.sqrt(var_asset * var_index)
    # Rounding can put a perfect fit a hair outside [-1, 1].
    return BetaFit(
        beta=covariance / var_index,
        correlation=min(1.0, max(-1.0, correlation)),
        n_returns=int(asset.size),
    )
