"""The pre-trade check: hypothetical legs added to the book, every limit before and after, and a verdict.

Nothing is sent anywhere: the legs become positions of source `what_if` only inside this computation.
A leg leaves out what the trader would not type (multiplier, exercise style, settlement, IV); those terms are
taken from the book's own positions on the same underlying, and each borrowed term is stated in the result.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from config.risk_matrix import RiskMatrix
from models.conventions import (
    EQUITY_OPTION_MULTIPLIER,
    NEW_YORK,
    SHARE_MULTIPLIER,
    SettlementTime,
    expiry_instant,
    t_years,
)
from models.market import MarketSnapshot
from models.option_classes import INDEX_OPTION_CLASSES, WEEKLY_CLASS_OF
from models.positions import ExerciseStyle, InstrumentKind, Source, UnifiedPosition
from models.trade import TradeLeg
from risk_engine.limits import LimitCheck, LimitStatus
from risk_engine.report import RiskReport, build_risk_report

__all__ = ["LegProblem", "LimitChange", "Verdict", "WhatIfResult", "legs_to_positions", "what_if"]


class Verdict(StrEnum):
    """The pre-trade answer: pass (no limit breached after), improves (fewer or shallower breaches), fail."""

    PASS = "pass"
    IMPROVES = "improves"
    FAIL = "fail"


@dataclass(frozen=True)
class LegProblem:
    """A leg that could not be valued: its index in the request, the field at fault, and why."""

    leg: int
    field: str
    reason: str


@dataclass(frozen=True)
class LimitChange:
    """One limit before and after the trade (values in the limit's unit, utilization as a fraction)."""

    name: str
    unit: str
    limit_before: float
    limit_after: float
    value_before: float | None
    value_after: float | None
    utilization_before: float | None
    utilization_after: float | None
    status_before: LimitStatus
    status_after: LimitStatus


@dataclass(frozen=True)
class WhatIfResult:
    """Before/after reports of the book with the legs, the per-limit changes, the verdict and its reasons."""

    before: RiskReport
    after: RiskReport
    legs: tuple[UnifiedPosition, ...]
    problems: tuple[LegProblem, ...]
    assumptions: tuple[str, ...]
    changes: tuple[LimitChange, ...]
    verdict: Verdict
    reasons: tuple[str, ...]


def _root(position: UnifiedPosition) -> str:
    """The option class of a position: the OCC root (first token of the symbol), else the underlying."""
    head = position.symbol.split()[0] if position.symbol.strip() else position.underlying
    return head.lstrip(".") if position.kind is not InstrumentKind.FUTURE_OPTION else position.underlying


def _templates(leg: TradeLeg, book: Sequence[UnifiedPosition]) -> list[UnifiedPosition]:
    same = [p for p in book if p.is_option and p.underlying == leg.underlying]
    if leg.root is not None:
        same = [p for p in same if _root(p) == leg.root]
    return same


def _nearest(leg: TradeLeg, expiry: datetime, now: datetime, options: Sequence[UnifiedPosition]) -> UnifiedPosition:
    """The book option closest to the leg in log-strike and time, the one whose IV best stands in for it."""
    assert leg.strike is not None
    strike, t_leg = leg.strike, max(t_years(expiry, now), 0.0)

    def distance(p: UnifiedPosition) -> float:
        assert p.strike is not None
        assert p.expiry is not None
        return abs(math.log(p.strike / strike)) + abs(max(t_years(p.expiry, now), 0.0) - t_leg)

    return min(options, key=distance)


def _default_terms(leg: TradeLeg) -> tuple[InstrumentKind, float, ExerciseStyle, SettlementTime, str] | str:
    """(kind, multiplier, style, settlement, root) for a leg the book has no template for, or why none fits."""
    root = leg.root or WEEKLY_CLASS_OF.get(leg.underlying, leg.underlying)
    if root in INDEX_OPTION_CLASSES:
        index, settlement = INDEX_OPTION_CLASSES[root]
        if index != leg.underlying:
            return f"class {root} is an option on {index}, not {leg.underlying}"
        return InstrumentKind.INDEX_OPTION, EQUITY_OPTION_MULTIPLIER, ExerciseStyle.EUROPEAN, settlement, root
    if leg.underlying.startswith("/"):
        return f"no {leg.underlying} option in the book to take the contract terms from; give kind and multiplier"
    return InstrumentKind.EQUITY_OPTION, EQUITY_OPTION_MULTIPLIER, ExerciseStyle.AMERICAN, SettlementTime.PM, root


def _option_leg(
    index: int, leg: TradeLeg, book: Sequence[UnifiedPosition], snapshot: MarketSnapshot, now: datetime
) -> tuple[UnifiedPosition, list[str]] | LegProblem:
    assert leg.expiry is not None
    assert leg.strike is not None
    assert leg.right is not None
    notes: list[str] = []
    templates = _templates(leg, book)
    if templates:
        first = templates[0]
        assert first.exercise_style is not None
        assert first.settlement is not None
        kind, multiplier, style, settlement, root = (
            first.kind,
            first.multiplier,
            first.exercise_style,
            first.settlement,
            _root(first),
        )
        notes.append(
            f"leg {index}: contract terms of {first.symbol.strip()} (×{multiplier:g}, {style.value}, "
            f"{settlement.value}-settled)"
        )
    else:
        terms = _default_terms(leg)
        if isinstance(terms, str):
            return LegProblem(index, "underlying", terms)
        kind, multiplier, style, settlement, root = terms
        notes.append(
            f"leg {index}: no {leg.underlying} option in the book; standard terms assumed "
            f"(×{multiplier:g}, {style.value}, {settlement.value}-settled)"
        )
    kind = leg.kind or kind
    multiplier = leg.multiplier or multiplier
    style = leg.exercise_style or style
    expiry = expiry_instant(leg.expiry, settlement)
    if expiry <= now:
        return LegProblem(index, "expiry", f"{leg.expiry.isoformat()} has already expired at {now.isoformat()}")
    iv = leg.iv
    if iv is None:
        with_iv = [p for p in templates if (p.iv or (p.broker_greeks.iv if p.broker_greeks else None))]
        if with_iv:
            near = _nearest(leg, expiry, now, with_iv)
            iv = near.iv or (near.broker_greeks.iv if near.broker_greeks else None)
            notes.append(f"leg {index}: IV {iv:.4f} of {near.symbol.strip()}, the nearest strike/expiry in the book")
        elif (quote := snapshot.underlying(leg.underlying).iv) is not None:
            iv = quote.value
            notes.append(f"leg {index}: IV {iv:.4f} = {leg.underlying} IV of the market snapshot ({quote.source})")
        else:
            return LegProblem(index, "iv", f"no IV known for {leg.underlying}: give the leg an iv")
    day = leg.expiry.strftime("%y%m%d")
    symbol = f"{root:<6}{day}{leg.right.value}{round(leg.strike * 1000):08d}"
    position = UnifiedPosition(
        source=Source.WHAT_IF,
        broker="what-if",
        account=leg.account,
        symbol=symbol,
        kind=kind,
        underlying=leg.underlying,
        quantity=leg.quantity,
        multiplier=multiplier,
        expiry=expiry,
        strike=leg.strike,
        right=leg.right,
        exercise_style=style,
        settlement=settlement,
        iv=iv,
        description=f"what-if {leg.quantity:+g} {root} {expiry.astimezone(NEW_YORK):%d%b%y} {leg.strike:g} "
        f"{leg.right.value}".upper(),
        as_of=now,
    )
    return position, notes


def _share_leg(leg: TradeLeg, now: datetime) -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.WHAT_IF,
        broker="what-if",
        account=leg.account,
        symbol=leg.underlying,
        kind=InstrumentKind.STOCK,
        underlying=leg.underlying,
        quantity=leg.quantity,
        multiplier=leg.multiplier or SHARE_MULTIPLIER,
        description=f"what-if {leg.quantity:+g} {leg.underlying}",
        as_of=now,
    )


def legs_to_positions(
    legs: Sequence[TradeLeg], book: Sequence[UnifiedPosition], snapshot: MarketSnapshot, now: datetime
) -> tuple[list[UnifiedPosition], list[LegProblem], list[str]]:
    """Positions for the legs that can be valued, a LegProblem for each that cannot, and the borrowed terms.

    Args:
        legs: The hypothetical trade.
        book: The current book; its options on the same underlying lend contract terms and IV.
        snapshot: Market inputs (an underlying's IV when the book has none to lend).
        now: Valuation instant, tz-aware.
    """
    positions: list[UnifiedPosition] = []
    problems: list[LegProblem] = []
    notes: list[str] = []
    for index, leg in enumerate(legs):
        if not leg.is_option:
            positions.append(_share_leg(leg, now))
            continue
        made = _option_leg(index, leg, book, snapshot, now)
        if isinstance(made, LegProblem):
            problems.append(made)
        else:
            positions.append(made[0])
            notes.extend(made[1])
    return positions, problems, notes


def _change(before: LimitCheck, after: LimitCheck) -> LimitChange:
    return LimitChange(
        name=before.name,
        unit=before.unit,
        limit_before=before.limit,
        limit_after=after.limit,
        value_before=before.value,
        value_after=after.value,
        utilization_before=before.utilization,
        utilization_after=after.utilization,
        status_before=before.status,
        status_after=after.status,
    )


def _deeper(change: LimitChange) -> bool:
    """True when a limit breached before is breached further after (by utilization, else by |value|)."""
    if change.utilization_before is not None and change.utilization_after is not None:
        return change.utilization_after > change.utilization_before + 1e-12
    before, after = change.value_before, change.value_after
    return before is not None and after is not None and abs(after) > abs(before) + 1e-12


def _how(change: LimitChange) -> str:
    return "unchanged" if change.value_after == change.value_before else "less deep"


def _verdict(changes: Sequence[LimitChange], problems: Sequence[LegProblem]) -> tuple[Verdict, list[str]]:
    breach = LimitStatus.BREACH
    new = [c for c in changes if c.status_after is breach and c.status_before is not breach]
    deeper = [c for c in changes if c.status_after is breach and c.status_before is breach and _deeper(c)]
    unknown = [c for c in changes if c.status_after is LimitStatus.UNKNOWN]
    cured = [c for c in changes if c.status_before is breach and c.status_after is not breach]
    remaining = [c for c in changes if c.status_after is breach and c not in deeper]
    reasons = [f"leg {p.leg} not valued ({p.field}): {p.reason}" for p in problems]
    reasons += [f"{c.name}: would breach ({c.status_before.value} → breach)" for c in new]
    reasons += [f"{c.name}: breach deepens" for c in deeper]
    reasons += [f"{c.name}: cannot be checked after the trade (value missing)" for c in unknown]
    reasons += [f"{c.name}: breach cured" for c in cured]
    reasons += [f"{c.name}: still in breach ({_how(c)})" for c in remaining if c not in new]
    reasons += [
        f"{c.name}: {c.status_after.value} after the trade"
        for c in changes
        if c.status_after in (LimitStatus.WARN, LimitStatus.ALERT)
    ]
    if problems or new or deeper or unknown:
        return Verdict.FAIL, reasons
    if remaining:
        return Verdict.IMPROVES, reasons
    return Verdict.PASS, reasons or ["every limit ok after the trade"]


def what_if(
    book: Sequence[UnifiedPosition],
    legs: Sequence[TradeLeg],
    snapshot: MarketSnapshot,
    matrix: RiskMatrix,
    now: datetime,
) -> WhatIfResult:
    """Every limit of the book before and after adding `legs`, and whether the trade may be done.

    A leg that cannot be valued fails the check (the trade would be judged on part of itself otherwise).
    The regime's allowed strategies are not checked here: a leg list does not name its strategy.

    Args:
        book: Current positions.
        legs: The hypothetical trade (empty = no change).
        snapshot: Market inputs of the current refresh.
        matrix: The risk matrix whose regime limits apply.
        now: Valuation instant, tz-aware.
    """
    positions, problems, notes = legs_to_positions(legs, book, snapshot, now)
    before = build_risk_report(book, snapshot, matrix, now)
    after = build_risk_report([*book, *positions], snapshot, matrix, now) if positions else before
    changes = tuple(_change(b, a) for b, a in zip(before.limits, after.limits, strict=True))
    verdict, reasons = _verdict(changes, problems)
    return WhatIfResult(
        before=before,
        after=after,
        legs=tuple(positions),
        problems=tuple(problems),
        assumptions=tuple(notes),
        changes=changes,
        verdict=verdict,
        reasons=tuple(reasons),
    )
