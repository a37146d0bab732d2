"""The standard normal CDF by Taylor expansion about tabulated points, for the premium quadrature's millions of nodes.

scipy's `ndtr` spends ~13 ns per element on this machine; `tabulated_normal_cdf` takes ~4.3 ns from a 2.4 MB table
built once from `ndtr` itself. Within ±_LIMIT it matches `ndtr` to 4e-16 absolute and 1e-13 relative (tested on a
dense grid); beyond, it returns N(±_LIMIT), off by at most N(-9) ~ 1.1e-19 absolute. Use it where an absolute error
of that size is harmless (a weighted sum of CDFs of order one), not where a far tail's relative accuracy matters.
"""

from __future__ import annotations

from math import factorial
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

from risk_engine.greeks import FloatArray

__all__ = ["STEPS_PER_UNIT", "TABLE_ORIGIN", "normal_cdf_at_coordinate", "tabulated_normal_cdf"]

_LIMIT: Final = 9.0
STEPS_PER_UNIT: Final = 4096
TABLE_ORIGIN: Final = _LIMIT * STEPS_PER_UNIT  # the coordinate of x = 0
_ORDER: Final = 3  # remainder (h/2)^4 / 4! · max|He_2 φ| ~ 6e-17 for h = 1/4096


def _taylor_table() -> tuple[FloatArray, ...]:
    """Coefficients c_k(g) · h^k of N(g + h u) = Σ c_k u^k at the grid points g, one array per power k = 0…_ORDER.

    The k-th derivative of N is (-1)^(k-1) He_{k-1}(g) φ(g) for k ≥ 1 (probabilists' Hermite polynomials).
    """
    h = 1.0 / STEPS_PER_UNIT
    g = -_LIMIT + h * np.arange(int(2 * _LIMIT * STEPS_PER_UNIT) + 1)
    phi = np.exp(-0.5 * g * g) / np.sqrt(2.0 * np.pi)
    hermite = [np.ones_like(g), g]
    for k in range(2, _ORDER):
        hermite.append(g * hermite[-1] - (k - 1) * hermite[-2])
    terms = [ndtr(g)]
    for k in range(1, _ORDER + 1):
        terms.append((-1) ** (k - 1) * hermite[k - 1] * phi * h**k / factorial(k))
    return tuple(np.ascontiguousarray(t) for t in terms)


_TABLE: Final = _taylor_table()


def normal_cdf_at_coordinate(u: FloatArray) -> FloatArray:
    """N(x) from x's table coordinate u = x · STEPS_PER_UNIT + TABLE_ORIGIN, elementwise (NaN stays NaN); overwrites
    u. A caller whose x is an affine function folds that scaling into its own coefficients (saving two passes)."""
    flat = u.reshape(-1)
    np.clip(flat, 0.0, 2.0 * TABLE_ORIGIN, out=flat)
    nearest = np.rint(flat)
    flat -= nearest  # within half a step of the nearest point; NaN stays NaN and makes the value NaN
    with np.errstate(invalid="ignore"):  # NaN to an integer: an arbitrary index, clipped below
        point = nearest.astype(np.intp)
    value = np.take(_TABLE[-1], point, mode="clip")
    for coefficient in _TABLE[-2::-1]:
        value *= flat
        value += np.take(coefficient, point, mode="clip")
    result: FloatArray = value.reshape(u.shape)
    return result


def tabulated_normal_cdf(x: npt.ArrayLike) -> FloatArray:
    """N(x), the standard normal CDF, elementwise (NaN stays NaN); see the module docstring for its accuracy.

    >>> round(float(tabulated_normal_cdf(1.959963984540054)), 12)
    0.975
    """
    u = np.asarray(x, dtype=np.float64) * float(STEPS_PER_UNIT)
    u += TABLE_ORIGIN
    return normal_cdf_at_coordinate(np.asarray(u))  # asarray: a 0-d input gives a numpy scalar here
