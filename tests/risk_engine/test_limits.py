"""Limit statuses at the thresholds, floors and zero limits (crisis_mode)."""

from __future__ import annotations

import math

import pytest

from config.risk_matrix import RiskMatrix, load_risk_matrix
from risk_engine.aggregation import BookTotals
from risk_engine.limits import LimitCheck, LimitStatus, check_limits


@pytest.fixture(scope="module")
def matrix() -> RiskMatrix:
    return load_risk_matrix()


def _totals(delta: float = 0.0, gamma: float = 0.0, theta: float = 1e9, vega: float = 0.0) -> BookTotals:
    return BookTotals(
        beta_weighted_delta=delta,
        beta_weighted_gamma=gamma,
        theta_per_day=theta,
        vega_per_vol_point=vega,
        dollar_delta_usd=0.0,
        rho_per_pct=0.0,
        theta_vega_ratio=None,
        positions=1,
        priced_positions=1,
    )


def _check(matrix: RiskMatrix, regime: str, totals: BookTotals, name: str) -> LimitCheck:
    checks = check_limits(totals, matrix.regimes[regime].limits, matrix.status_thresholds)
    return next(c for c in checks if c.name == name)


# Utilization 79 / 80 / 90 / 100 / 101 % of the neutral limits (300 deltas, −1200 vega, 300 theta, 35 gamma).
EXPECTED = [
    (0.79, LimitStatus.OK),
    (0.80, LimitStatus.WARN),
    (0.90, LimitStatus.ALERT),
    (1.00, LimitStatus.ALERT),
    (1.01, LimitStatus.BREACH),
]
IDS = ["79pct-ok", "80pct-warn", "90pct-alert", "100pct-at-limit-alert", "101pct-breach"]


@pytest.mark.parametrize(("fraction", "status"), EXPECTED, ids=IDS)
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["long", "short"])
def test_beta_delta_ceiling_bounds_the_absolute_value(
    matrix: RiskMatrix, fraction: float, status: LimitStatus, sign: float
) -> None:
    check = _check(matrix, "neutral_volatility", _totals(delta=sign * 300.0 * fraction), "max_beta_delta")
    assert check.status is status
    assert check.utilization == pytest.approx(fraction)


@pytest.mark.parametrize(("fraction", "status"), EXPECTED, ids=IDS)
def test_gamma_ceiling(matrix: RiskMatrix, fraction: float, status: LimitStatus) -> None:
    check = _check(matrix, "neutral_volatility", _totals(gamma=-35.0 * fraction), "max_gamma")
    assert check.status is status


@pytest.mark.parametrize(("fraction", "status"), EXPECTED, ids=IDS)
def test_vega_floor_uses_up_short_vega(matrix: RiskMatrix, fraction: float, status: LimitStatus) -> None:
    check = _check(matrix, "neutral_volatility", _totals(vega=-1200.0 * fraction), "max_negative_vega")
    assert check.status is status
    assert check.utilization == pytest.approx(fraction)


@pytest.mark.parametrize(("fraction", "status"), EXPECTED, ids=IDS)
def test_theta_floor_utilization_is_floor_over_theta(matrix: RiskMatrix, fraction: float, status: LimitStatus) -> None:
    check = _check(matrix, "neutral_volatility", _totals(theta=300.0 / fraction), "min_daily_theta")
    assert check.status is status
    assert check.utilization == pytest.approx(fraction)


def test_long_vega_never_uses_the_vega_floor(matrix: RiskMatrix) -> None:
    check = _check(matrix, "neutral_volatility", _totals(vega=5000.0), "max_negative_vega")
    assert (check.status, check.utilization) == (LimitStatus.OK, 0.0)


@pytest.mark.parametrize("theta", [0.0, -150.0], ids=["zero-theta", "paying-theta"])
def test_non_positive_theta_breaches_a_positive_floor_without_dividing_by_zero(
    matrix: RiskMatrix, theta: float
) -> None:
    check = _check(matrix, "neutral_volatility", _totals(theta=theta), "min_daily_theta")
    assert check.status is LimitStatus.BREACH
    assert check.utilization is None
    assert check.utilization_note


@pytest.mark.parametrize(
    ("field", "name", "value", "status"),
    [
        ("delta", "max_beta_delta", 0.0, LimitStatus.OK),
        ("delta", "max_beta_delta", 0.5, LimitStatus.BREACH),
        ("delta", "max_beta_delta", -0.5, LimitStatus.BREACH),
        ("vega", "max_negative_vega", -0.01, LimitStatus.BREACH),
        ("vega", "max_negative_vega", 250.0, LimitStatus.OK),
        ("theta", "min_daily_theta", -1.0, LimitStatus.BREACH),
        ("theta", "min_daily_theta", 0.0, LimitStatus.OK),
    ],
    ids=["flat-delta", "long-delta", "short-delta", "short-vega", "long-vega", "paying-theta", "zero-theta"],
)
def test_crisis_zero_limits_make_any_exposure_on_their_side_a_breach(
    matrix: RiskMatrix, field: str, name: str, value: float, status: LimitStatus
) -> None:
    check = _check(matrix, "crisis_mode", _totals(**{field: value}), name)
    assert check.status is status
    if status is LimitStatus.BREACH:
        assert check.utilization is None
        assert "0" in check.reason
    else:
        assert check.utilization == 0.0


def test_missing_spx_makes_beta_weighted_limits_unknown_not_ok(matrix: RiskMatrix) -> None:
    checks = check_limits(
        _totals(delta=math.nan, gamma=math.nan), matrix.regimes["neutral_volatility"].limits, matrix.status_thresholds
    )
    statuses = {c.name: c.status for c in checks}
    assert statuses["max_beta_delta"] is LimitStatus.UNKNOWN
    assert statuses["max_gamma"] is LimitStatus.UNKNOWN
