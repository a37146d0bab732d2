"""How far a limit is past its target, and how much of that an adjustment cures per dollar of theta given up.

Pure arithmetic on LimitCheck values (no positions, no I/O): the adjustment tool builds the candidate books and
rebuilds their reports; this module only measures and ranks them, in each limit's own unit.
"""

from __future__ import annotations

from config.risk_matrix import StatusThresholds
from risk_engine.limits import LimitCheck, LimitStatus

__all__ = ["THETA_COST_FLOOR_USD_PER_DAY", "cure_per_theta", "cured_fraction", "limit_excess", "target_utilization"]

THETA_COST_FLOOR_USD_PER_DAY = 1.0
"""Theta given up is counted as at least $1/day, so a free adjustment ranks first without dividing by zero."""


def target_utilization(status: LimitStatus, thresholds: StatusThresholds) -> float:
    """Utilization an adjustment aims for: the limit itself when breached, else just under the warn threshold."""
    return thresholds.breach if status is LimitStatus.BREACH else thresholds.warn


def limit_excess(check: LimitCheck, target: float) -> float | None:
    """How far the book is past `target` × limit, in the limit's unit (≤ 0 = within it); None if unknown.

    Ceilings (max_beta_delta, max_gamma): |value| − target × limit. Vega floor: target × limit − vega.
    Theta floor: limit / target − theta for a positive floor (utilization = limit / theta), else limit − theta.

    Args:
        check: One checked limit (value and limit in its unit).
        target: Utilization aimed for, a fraction (1.0 = at the limit).

    Example:
        Vega −1,581.54 $/vol pt against a −1,200 floor, target 1.0: excess 381.54 $/vol pt.
    """
    if check.value is None:
        return None
    if check.name == "max_negative_vega":
        return target * check.limit - check.value
    if check.name == "min_daily_theta":
        return (check.limit / target if check.limit > 0.0 else check.limit) - check.value
    return abs(check.value) - target * check.limit


def cured_fraction(excess_before: float, excess_after: float) -> float:
    """Share of the excess an adjustment removes, 0..1 (1 = within target after; 0 = no better or worse).

    Example:
        Excess 381.54 before and −10 after: 1.0. Excess 400 before and 100 after: 0.75.
    """
    if excess_before <= 0.0:
        return 0.0
    return min(max((excess_before - max(excess_after, 0.0)) / excess_before, 0.0), 1.0)


def cure_per_theta(fraction: float, theta_before: float, theta_after: float) -> float:
    """Cured fraction per USD/day of theta given up (theta gained counts as the $1/day floor).

    Args:
        fraction: Cured share of the excess, 0..1.
        theta_before: Book theta before, USD per calendar day.
        theta_after: Book theta after, USD per calendar day.
    """
    return fraction / max(theta_before - theta_after, THETA_COST_FLOOR_USD_PER_DAY)
