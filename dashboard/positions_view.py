"""The positions table: grouped by underlying and expiry, signed quantities, our vs the broker's Greeks, flags.

Owns the table's rows only; Greeks come from the report, divergences from risk_engine.crosscheck, staleness from
each source's fetch. Per-unit Greeks: delta per $1, theta $/day, vega $/vol pt (models/conventions.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

import numpy as np

from adapters.results import RejectedRow
from dashboard.book import BookInputs
from dashboard.format import MISSING, format_stale_since, format_vol_points
from models.conventions import NEW_YORK
from risk_engine.aggregation import GroupTotals, group_totals
from risk_engine.crosscheck import CrossCheck, cross_check_greeks
from risk_engine.report import RiskReport

__all__ = ["SUBTOTAL", "broker_cross_check", "grouped_position_rows", "position_rows", "rejected_rows"]

SUBTOTAL: Final = "Σ subtotal"
"""The `row` value of a group's subtotal line (position lines say `position`)."""
_SEP: Final = "\x1f"  # joins underlying and expiry into a group key; never part of a symbol


def broker_cross_check(report: RiskReport) -> CrossCheck:
    """Our Greeks recomputed from each row's broker IV and inputs, against the broker's (NaN where none sent)."""
    a = report.arrays
    return cross_check_greeks(
        a.is_call,
        a.spot,
        np.where(a.is_option, a.strike, np.nan),
        a.t_years,
        a.rate,
        a.div_yield,
        a.broker_iv,
        a.broker_delta,
        a.broker_gamma,
        a.broker_theta,
        a.broker_vega,
        model=a.is_black76,
        american=a.is_american,
    )


def _num(value: float, decimals: int) -> str:
    return MISSING if math.isnan(value) else f"{value:,.{decimals}f}"


def _stale_since(inputs: BookInputs, now: datetime, staleness_minutes: int) -> list[datetime | None]:
    limit = timedelta(minutes=staleness_minutes)
    out: list[datetime | None] = []
    for fetch in inputs.fetches:
        for p in fetch.positions:
            if fetch.stale:
                out.append(fetch.stale_since or fetch.fetched_at)
            else:
                out.append(p.as_of if now - p.as_of > limit else None)
    return out


def _keyed_rows(
    report: RiskReport, inputs: BookInputs, now: datetime, staleness_minutes: int
) -> list[tuple[tuple[str, str, str], dict[str, object]]]:
    """Each position's (underlying, expiry text, symbol) sort key and table row, in the book's order."""
    positions = inputs.positions
    if len(positions) != report.arrays.size:
        raise ValueError(f"positions table: {len(positions)} positions but the report has {report.arrays.size} rows")
    a, g = report.arrays, report.greeks
    check = broker_cross_check(report)
    no_broker = np.isnan(a.broker_delta) & np.isnan(a.broker_theta) & np.isnan(a.broker_vega)
    stale = _stale_since(inputs, now, staleness_minutes)
    rows: list[tuple[tuple[str, str, str], dict[str, object]]] = []
    for i, p in enumerate(positions):
        expiry = "" if p.expiry is None else p.expiry.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M ET")
        if stale[i] is not None:
            status = format_stale_since(stale[i], now)
        elif a.issues[i]:
            status = "excluded: " + "; ".join(a.issues[i])
        elif a.assumptions[i]:
            status = "assumed: " + "; ".join(a.assumptions[i])
        else:
            status = "ok"
        if no_broker[i] or not a.is_option[i]:
            divergence = "—"
        else:
            divergence = ("⚠ " + check.reasons[i]) if check.flagged[i] else check.reasons[i] or "agrees"
        option = bool(a.is_option[i])
        row: dict[str, object] = {
            "row": "position",
            "underlying": p.underlying,
            "expiry": expiry,
            "DTE": p.dte,
            "account": f"{p.broker} {p.account}",
            "position": p.description or p.symbol,
            "qty": f"{p.quantity:+,g}",
            "mult": f"{p.multiplier:g}",
            "IV": format_vol_points(float(a.iv[i])) if option else "",
            "Δ/unit ours": _num(float(g.delta[i]), 4) if a.priced[i] else MISSING,
            "Δ/unit broker": _num(float(a.broker_delta[i]), 4) if option else "",
            "θ $/day/unit ours": _num(float(g.theta[i]), 4) if option and a.priced[i] else "",
            "θ $/day/unit broker": _num(float(a.broker_theta[i]), 4) if option else "",
            "ν $/vol pt/unit ours": _num(float(g.vega[i]), 4) if option and a.priced[i] else "",
            "ν $/vol pt/unit broker": _num(float(a.broker_vega[i]), 4) if option else "",
            "Δ shares": _num(float(g.delta_shares[i]), 1),
            "βΔ SPX": _num(float(g.bw_delta[i]), 2),
            "θ $/day": _num(float(g.theta_usd_per_day[i]), 2),
            "ν $/vol pt": _num(float(g.vega_usd_per_vol_point[i]), 2),
            "divergence": divergence,
            "status": status,
        }
        rows.append(((p.underlying, expiry or "~", p.symbol), row))
    return rows


def position_rows(
    report: RiskReport, inputs: BookInputs, now: datetime, staleness_minutes: int
) -> list[dict[str, object]]:
    """One row per position, sorted by underlying then expiry, with our and the broker's per-unit Greeks.

    `divergence` names what differs past risk_engine.crosscheck's tolerances ("" when the broker agrees, "—"
    when it sent no Greeks); `status` says stale since …, excluded (why) or assumed (what), else ok.

    Args:
        report: The report computed from `inputs.positions` (same order).
        inputs: The refresh's inputs, for each position's source freshness.
        now: tz-aware instant the page is drawn.
        staleness_minutes: The risk matrix's staleness threshold.
    """
    return [row for _, row in sorted(_keyed_rows(report, inputs, now, staleness_minutes), key=lambda item: item[0])]


def grouped_position_rows(
    report: RiskReport, inputs: BookInputs, now: datetime, staleness_minutes: int
) -> list[dict[str, object]]:
    """position_rows with a subtotal line after each (underlying, expiry) group: its βΔ, θ and ν totals.

    Subtotals are risk_engine.aggregation.group_totals of the report's position Greeks (beta-weighted delta in
    SPX deltas, theta $/day, vega $/vol pt); a subtotal line has `row` = SUBTOTAL and no per-unit columns.

    Args:
        report: The report computed from `inputs.positions` (same order).
        inputs: The refresh's inputs, for each position's source freshness.
        now: tz-aware instant the page is drawn.
        staleness_minutes: The risk matrix's staleness threshold.
    """
    keyed = _keyed_rows(report, inputs, now, staleness_minutes)
    labels = np.array([f"{key[0]}{_SEP}{key[1]}" for key, _ in keyed], dtype=np.str_)
    totals = group_totals(labels, report.greeks)
    at = {label: i for i, label in enumerate(totals.labels)}
    out: list[dict[str, object]] = []
    group: str | None = None
    last: dict[str, object] = {}
    for key, row in sorted(keyed, key=lambda item: item[0]):
        label = f"{key[0]}{_SEP}{key[1]}"
        if group is not None and label != group:
            out.append(_subtotal(last, totals, at[group]))
        group, last = label, row
        out.append(row)
    if group is not None:
        out.append(_subtotal(last, totals, at[group]))
    return out


def _subtotal(member: dict[str, object], totals: GroupTotals, index: int) -> dict[str, object]:
    """The subtotal line of `member`'s group: the member's columns blanked, its group keys and DTE kept."""
    count = int(totals.count[index])
    return {name: "" for name in member} | {
        "row": SUBTOTAL,
        "underlying": member["underlying"],
        "expiry": member["expiry"],
        "DTE": member["DTE"],
        "position": f"{count} position{'' if count == 1 else 's'}",
        "βΔ SPX": _num(float(totals.beta_weighted_delta[index]), 2),
        "θ $/day": _num(float(totals.theta_per_day[index]), 2),
        "ν $/vol pt": _num(float(totals.vega_per_vol_point[index]), 2),
    }


def rejected_rows(rejected: Sequence[RejectedRow]) -> list[dict[str, str]]:
    """Rows no adapter could translate: source, row, field and the reason (not in the book)."""
    return [{"source": r.source, "row": r.row, "field": r.field, "reason": r.reason} for r in rejected]
