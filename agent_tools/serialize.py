"""JSON-ready views of engine results: the documented, stable contract of `riskdash … --json` and the tools.

Keys carry units where they are not obvious; missing numbers are null (never NaN or Infinity).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from risk_engine.limits import LimitCheck
from risk_engine.regime import RegimeResult
from risk_engine.report import RiskReport

__all__ = ["finite_or_none", "limit_json", "regime_json", "summary_json"]


def finite_or_none(value: float | None) -> float | None:
    """The value as a JSON number, or None when it is missing or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return float(value)


def _instant(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def regime_json(result: RegimeResult) -> dict[str, Any]:
    """`{"regime", "inputs": {vix, vix3m, vvix, term_structure, recession_prob}, "decided_by", "missing_inputs"}`."""
    return {
        "regime": result.regime,
        "inputs": {key: finite_or_none(value) for key, value in result.inputs.items()},
        "decided_by": result.decided_by,
        "missing_inputs": list(result.missing_inputs),
        "limits_regime": result.limits_regime,
        "reason": result.reason,
        "description": result.description,
        "allowed_strategies": list(result.allowed_strategies),
    }


def limit_json(check: LimitCheck) -> dict[str, Any]:
    """One limit: name, value, limit, utilization (fraction, null when undefined), status, reason, unit."""
    return {
        "name": check.name,
        "value": finite_or_none(check.value),
        "limit": check.limit,
        "utilization": finite_or_none(check.utilization),
        "status": check.status.value,
        "reason": check.reason,
        "unit": check.unit,
        "utilization_note": check.utilization_note,
    }


def summary_json(report: RiskReport) -> dict[str, Any]:
    """The `riskdash summary --json` contract (README): demo flag, as_of, regime, totals, limits, positions."""
    regime = regime_json(report.regime)
    regime["inputs_as_of"] = {q.name: _instant(q.as_of) for q in report.regime_quotes}
    regime["inputs_source"] = {q.name: q.source for q in report.regime_quotes}
    totals = report.totals
    return {
        "demo": report.demo,
        "as_of": report.as_of.isoformat(),
        "regime": regime,
        "totals": {
            "beta_weighted_delta": finite_or_none(totals.beta_weighted_delta),
            "beta_weighted_gamma": finite_or_none(totals.beta_weighted_gamma),
            "theta_per_day": finite_or_none(totals.theta_per_day),
            "vega_per_vol_point": finite_or_none(totals.vega_per_vol_point),
            "theta_vega_ratio": finite_or_none(totals.theta_vega_ratio),
        },
        "units": {
            "beta_weighted_delta": "SPX share equivalents",
            "beta_weighted_gamma": "SPX deltas per SPX point",
            "theta_per_day": "USD per calendar day",
            "vega_per_vol_point": "USD per vol point",
            "theta_vega_ratio": "|theta| / |vega|",
        },
        "limits": [limit_json(check) for check in report.limits],
        "positions": totals.positions,
        "priced_positions": totals.priced_positions,
    }
