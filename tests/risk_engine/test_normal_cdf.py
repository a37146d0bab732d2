"""The tabulated normal CDF against two independent implementations: scipy's `ndtr` and Python's `math.erfc`."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtr

from risk_engine.normal_cdf import tabulated_normal_cdf

_ABSOLUTE = 4e-16
_RELATIVE_LOWER_HALF = 1e-13  # below 0, where N is small and its relative error is what a weighted sum sees


def _assert_close(x: np.ndarray, reference: np.ndarray, relative: float = _RELATIVE_LOWER_HALF) -> None:
    ours = tabulated_normal_cdf(x)
    error = np.abs(ours - reference)
    assert error.max() <= _ABSOLUTE
    lower = x <= 0.0
    assert (error[lower] / reference[lower]).max() <= relative


def test_matches_scipy_ndtr_on_a_dense_grid_across_the_table() -> None:
    x = np.linspace(-9.0, 9.0, 2_000_001)  # ~110 points per table step, every offset within a step
    _assert_close(x, ndtr(x))


def test_matches_math_erfc_at_random_points() -> None:
    x = np.random.default_rng(7).uniform(-9.0, 9.0, 20_000)
    reference = np.array([0.5 * math.erfc(-value / math.sqrt(2.0)) for value in x])
    # This reference is itself off by up to 1.5e-14 relative near -9 (x / sqrt 2 is rounded before the steep erfc).
    _assert_close(x, reference, relative=_RELATIVE_LOWER_HALF + 2e-14)


def test_known_quantiles() -> None:
    quantiles = np.array([-2.3263478740408408, -1.6448536269514729, 0.0, 1.959963984540054])
    np.testing.assert_allclose(tabulated_normal_cdf(quantiles), [0.01, 0.05, 0.5, 0.975], rtol=1e-14, atol=0.0)


def test_beyond_the_table_it_returns_the_tables_ends() -> None:
    far = np.array([-40.0, -9.5, -np.inf, 9.5, 40.0, np.inf])
    values = tabulated_normal_cdf(far)
    assert np.all(values[:3] == ndtr(-9.0))  # N(-9) ~ 1.1e-19: the stated absolute error out there
    assert np.all(values[3:] == 1.0)


def test_nan_stays_nan_and_the_shape_is_kept() -> None:
    x = np.array([[0.5, np.nan], [np.nan, -0.5]])
    values = tabulated_normal_cdf(x)
    assert values.shape == (2, 2)
    np.testing.assert_array_equal(np.isnan(values), np.isnan(x))
    np.testing.assert_allclose(values[~np.isnan(x)], ndtr(np.array([0.5, -0.5])), rtol=1e-15)
    assert tabulated_normal_cdf(0.0).shape == ()
    assert tabulated_normal_cdf(np.empty(0)).shape == (0,)
