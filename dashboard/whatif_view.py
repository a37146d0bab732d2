"""The what-if form's text and tables: legs typed as lines or from the small form, and the check before/after.

Owns turning the form into TradeLegs (adapters.trade_legs.parse_leg, one leg per line) and the result of
risk_engine.whatif into rows. Read-only: nothing here, nor in the engine, sends anything to a broker.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from adapters.errors import PayloadInvalid
from adapters.trade_legs import parse_leg
from dashboard.format import MISSING, format_number
from models.conventions import NEW_YORK, VOL_POINT
from models.trade import TradeLeg
from risk_engine.aggregation import BookTotals
from risk_engine.whatif import Verdict, WhatIfResult

__all__ = [
    "READ_ONLY_NOTICE",
    "VERDICT_COLOURS",
    "ParsedLegs",
    "form_leg_line",
    "greeks_rows",
    "leg_rows",
    "limit_rows",
    "parse_leg_lines",
    "problem_rows",
    "verdict_html",
    "verdict_text",
]

READ_ONLY_NOTICE: Final = (
    "Read-only pre-trade check: nothing is sent to any broker. The legs exist only inside this computation."
)
VERDICT_COLOURS: Final = {Verdict.PASS: "#2e7d32", Verdict.IMPROVES: "#1565c0", Verdict.FAIL: "#c62828"}


@dataclass(frozen=True)
class ParsedLegs:
    """The legs of the typed lines, in order, and each line that is not a leg: (line number from 1, text, why)."""

    legs: tuple[TradeLeg, ...]
    lines: tuple[str, ...]
    problems: tuple[tuple[int, str, str], ...]


def parse_leg_lines(text: str) -> ParsedLegs:
    """Every non-blank line of `text` read by parse_leg (`#` starts a comment); bad lines listed with the reason."""
    legs: list[TradeLeg] = []
    lines: list[str] = []
    problems: list[tuple[int, str, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            legs.append(parse_leg(line))
        except PayloadInvalid as exc:
            problems.append((number, line, str(exc)))
            continue
        lines.append(line)
    return ParsedLegs(tuple(legs), tuple(lines), tuple(problems))


def form_leg_line(
    underlying: str,
    quantity: float,
    *,
    expiry: date | None = None,
    strike: float | None = None,
    right: str | None = None,
    iv_vol_points: float | None = None,
) -> str:
    """The leg line parse_leg reads for the small form: `SPY 2027-01-15 560 P -3 iv=0.21`, or `SPY 50` for shares.

    Args:
        underlying: Underlying symbol.
        quantity: Signed quantity (+ buy, − sell), contracts or shares.
        expiry: Option expiry date (None with strike and right for shares).
        strike: Option strike.
        right: "C" or "P".
        iv_vol_points: Optional IV in vol points (21 = 0.21); None borrows it from the book.
    """
    words = [underlying.strip().upper()]
    if expiry is not None or strike is not None or right is not None:
        words += [
            "?" if expiry is None else expiry.isoformat(),
            "?" if strike is None else f"{strike:g}",
            right or "?",
        ]
    words.append(f"{quantity:g}")
    if iv_vol_points is not None:
        words.append(f"iv={iv_vol_points * VOL_POINT:g}")
    return " ".join(words)


def verdict_text(result: WhatIfResult) -> str:
    """`Verdict: FAIL — max_beta_delta: would breach (ok → breach); …`."""
    return f"Verdict: {result.verdict.value.upper()} — " + "; ".join(result.reasons)


def verdict_html(result: WhatIfResult) -> str:
    """The verdict as an HTML block in the verdict's colour (text escaped)."""
    colour = VERDICT_COLOURS[result.verdict]
    return (
        f"<div style='border-left:6px solid {colour};padding:0.4rem 0.8rem'>"
        f"<b style='color:{colour}'>{html.escape(verdict_text(result))}</b></div>"
    )


def _change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or not (math.isfinite(before) and math.isfinite(after)):
        return None
    return after - before


_GREEKS: Final = (
    ("Beta-weighted delta", "SPX Δ", "beta_weighted_delta"),
    ("Beta-weighted gamma", "SPX Δ/pt", "beta_weighted_gamma"),
    ("Theta", "$/day", "theta_per_day"),
    ("Vega", "$/vol pt", "vega_per_vol_point"),
    ("Theta / vega", "|θ|/|ν|", "theta_vega_ratio"),
)


def greeks_rows(result: WhatIfResult) -> list[dict[str, object]]:
    """The book's headline Greeks before and after the trade, with the change, each with its unit."""
    before: BookTotals = result.before.totals
    after: BookTotals = result.after.totals
    rows: list[dict[str, object]] = []
    for label, unit, field in _GREEKS:
        b, a = getattr(before, field), getattr(after, field)
        rows.append(
            {
                "figure": label,
                "unit": unit,
                "before": format_number(b),
                "after": format_number(a),
                "change": format_number(_change(b, a)),
            }
        )
    return rows


def _utilization(value: float | None) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:.0%}"


def limit_rows(result: WhatIfResult) -> list[dict[str, object]]:
    """Every limit before and after: value and limit in the limit's unit, utilization, status."""
    return [
        {
            "limit": c.name,
            "value before": format_number(c.value_before, c.unit),
            "value after": format_number(c.value_after, c.unit),
            "limit value": format_number(c.limit_after, c.unit, 0),
            "utilization before": _utilization(c.utilization_before),
            "utilization after": _utilization(c.utilization_after),
            "status before": c.status_before.value.upper(),
            "status after": c.status_after.value.upper(),
        }
        for c in result.changes
    ]


def leg_rows(result: WhatIfResult) -> list[dict[str, object]]:
    """The valued legs as positions: symbol, signed quantity, multiplier, expiry (ET), strike, right, IV."""
    return [
        {
            "symbol": p.symbol,
            "qty": f"{p.quantity:+,g}",
            "mult": f"{p.multiplier:g}",
            "expiry": "" if p.expiry is None else p.expiry.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M ET"),
            "strike": "" if p.strike is None else f"{p.strike:g}",
            "right": "" if p.right is None else p.right.value,
            "IV": "" if p.iv is None else format_number(p.iv / VOL_POINT, "vol pts", 1),
        }
        for p in result.legs
    ]


def problem_rows(parsed: ParsedLegs, result: WhatIfResult | None) -> list[dict[str, object]]:
    """Every leg that cannot be checked: lines that are not legs, then legs the engine could not value.

    `leg` counts legs from 0 in the order typed, as the verdict's reasons do.
    """
    rows: list[dict[str, object]] = [
        {"leg": f"line {number}", "text": text, "field": "(line)", "reason": why}
        for number, text, why in parsed.problems
    ]
    if result is not None:
        rows += [
            {"leg": str(p.leg), "text": _line(parsed.lines, p.leg), "field": p.field, "reason": p.reason}
            for p in result.problems
        ]
    return rows


def _line(lines: Sequence[str], index: int) -> str:
    return lines[index] if 0 <= index < len(lines) else ""
