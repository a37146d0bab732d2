"""Limit compliance: each regime limit against the book's totals → value, limit, utilization, status, reason.

Semantics (also written in config/risk_matrix.yaml): max_beta_delta bounds |SPX-beta-weighted delta|;
max_negative_vega is a floor on book vega (vega ≥ limit); min_daily_theta is a floor on book theta
(theta ≥ limit); max_gamma bounds |SPX-beta-weighted gamma|. Utilization of a ceiling is |value| / limit; of
the vega floor, the short vega used up (vega / limit when vega < 0); of the theta floor, limit / theta (how
close the book's income is to the minimum). A zero limit makes any exposure on its side a breach, and its
utilization is reported as None with a note rather than a division by zero.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from config.risk_matrix import Limits, StatusThresholds
from risk_engine.aggregation import BookTotals

__all__ = ["LimitCheck", "LimitStatus", "check_limits", "status_for"]

# Utilization is a ratio of quoted figures; rounding away float noise keeps exactly-80 % an 80 % warn.
_UTILIZATION_DECIMALS = 12


class LimitStatus(StrEnum):
    """Compliance status of one limit, in order of severity (UNKNOWN when the value is missing)."""

    OK = "ok"
    WARN = "warn"
    ALERT = "alert"
    BREACH = "breach"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class LimitCheck:
    """One limit checked: the book's value and the limit in `unit`, utilization as a fraction (1.0 = at it)."""

    name: str
    value: float | None
    limit: float
    utilization: float | None
    status: LimitStatus
    reason: str
    unit: str
    utilization_note: str | None = None


def status_for(utilization: float, thresholds: StatusThresholds) -> LimitStatus:
    """Status of a utilization: breach strictly past `breach`, alert from `alert`, warn from `warn`, else ok."""
    u = round(utilization, _UTILIZATION_DECIMALS)
    if u > thresholds.breach:
        return LimitStatus.BREACH
    if u >= thresholds.alert:
        return LimitStatus.ALERT
    if u >= thresholds.warn:
        return LimitStatus.WARN
    return LimitStatus.OK


def _measured(name: str, value: float, limit: float, utilization: float, unit: str, what: str) -> LimitCheck:
    return LimitCheck(name, value, limit, utilization, LimitStatus.OK, f"{what} ({utilization:.0%})", unit)


def _graded(check: LimitCheck, th: StatusThresholds) -> LimitCheck:
    assert check.utilization is not None
    return replace(check, status=status_for(check.utilization, th))


def _breach(name: str, value: float, limit: float, unit: str, reason: str, note: str) -> LimitCheck:
    return LimitCheck(name, value, limit, None, LimitStatus.BREACH, reason, unit, note)


_ZERO_LIMIT_NOTE = "limit is zero: utilization undefined"


def _ceiling(name: str, value: float, limit: float, unit: str, th: StatusThresholds) -> LimitCheck:
    if limit == 0.0 and value != 0.0:
        reason = f"limit is 0: any exposure breaches, book has {value:,.2f} {unit}"
        return _breach(name, value, limit, unit, reason, _ZERO_LIMIT_NOTE)
    utilization = abs(value) / limit if limit else 0.0
    what = f"|{value:,.2f}| of {limit:,.0f} {unit}"
    return _graded(_measured(name, value, limit, utilization, unit, what), th)


def _vega_floor(value: float, limit: float, th: StatusThresholds) -> LimitCheck:
    name, unit = "max_negative_vega", "$/vol pt"
    if value < 0.0 and limit == 0.0:
        reason = f"limit is 0: no short vega allowed, book has {value:,.2f} {unit}"
        return _breach(name, value, limit, unit, reason, _ZERO_LIMIT_NOTE)
    utilization = value / limit if value < 0.0 else 0.0
    what = f"vega {value:,.2f} vs floor {limit:,.0f} {unit}"
    return _graded(_measured(name, value, limit, utilization, unit, what), th)


def _theta_floor(value: float, limit: float, th: StatusThresholds) -> LimitCheck:
    name, unit = "min_daily_theta", "$/day"
    if value < limit:
        if limit <= 0.0:
            reason = f"theta {value:,.2f} {unit} is below the floor {limit:,.0f}"
            return _breach(name, value, limit, unit, reason, "floor is not positive: utilization undefined")
        if value <= 0.0:
            reason = f"theta {value:,.2f} {unit} earns nothing against a floor of {limit:,.0f}"
            return _breach(name, value, limit, unit, reason, "book theta is not positive: utilization undefined")
    utilization = limit / value if limit > 0.0 else 0.0
    what = f"theta {value:,.2f} vs floor {limit:,.0f} {unit}"
    return _graded(_measured(name, value, limit, utilization, unit, what), th)


def _missing(name: str, limit: float, unit: str, why: str) -> LimitCheck:
    return LimitCheck(name, None, limit, None, LimitStatus.UNKNOWN, why, unit, "value unavailable")


def check_limits(totals: BookTotals, limits: Limits, thresholds: StatusThresholds) -> tuple[LimitCheck, ...]:
    """Every limit of the regime checked against the book totals, in the YAML's order.

    Args:
        totals: Book totals (beta-weighted delta in SPX shares, gamma in deltas per SPX point, theta in $/day,
            vega in $/vol point).
        limits: The applicable regime's limits.
        thresholds: Warn/alert/breach fractions.
    """
    no_spx = "no SPX level: beta weighting impossible"
    delta, gamma = totals.beta_weighted_delta, totals.beta_weighted_gamma
    return (
        _missing("max_beta_delta", limits.max_beta_delta, "SPX deltas", no_spx)
        if math.isnan(delta)
        else _ceiling("max_beta_delta", delta, limits.max_beta_delta, "SPX deltas", thresholds),
        _vega_floor(totals.vega_per_vol_point, limits.max_negative_vega, thresholds),
        _theta_floor(totals.theta_per_day, limits.min_daily_theta, thresholds),
        _missing("max_gamma", limits.max_gamma, "SPX deltas/pt", no_spx)
        if math.isnan(gamma)
        else _ceiling("max_gamma", gamma, limits.max_gamma, "SPX deltas/pt", thresholds),
    )
