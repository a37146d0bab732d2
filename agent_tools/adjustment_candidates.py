"""Candidate adjustments for one limit: each a changed copy of the book plus what was changed and assumed.

Builds books only; agent_tools.adjustments rebuilds each candidate's report and ranks it. Nothing here is an
order: proposed legs are positions that exist only inside the computation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from adapters.listed_expiries import monthly_expiry_date
from agent_tools.registry import ToolContext
from models.conventions import (
    EQUITY_OPTION_MULTIPLIER,
    NEW_YORK,
    VOL_POINT,
    SettlementTime,
    expiry_instant,
)
from models.positions import ExerciseStyle, InstrumentKind, Right, UnifiedPosition
from risk_engine.greeks import FloatArray

__all__ = ["MAX_HEDGE_CONTRACTS", "Candidate", "Leg", "contributions", "generate_candidates"]

HEDGE_TARGET_DTE_DAYS = 45
"""Hedges are bought near this many days out: the monthly expiry closest to it (Sebastian's 30–60 day window)."""
ROLL_MIN_EXTRA_DAYS = 21
"""A roll moves a leg at least this many days further out."""
LONG_PUT_MONEYNESS = 0.95
SHORT_PUT_MONEYNESS = 0.90
MAX_HEDGE_CONTRACTS = 500
_TOP = 3


@dataclass(frozen=True)
class Leg:
    """One change a candidate makes: what to do with how many units of which instrument."""

    action: str
    quantity: float
    symbol: str
    underlying: str
    right: str | None = None
    strike: float | None = None
    expiry: str | None = None
    iv: float | None = None


@dataclass(frozen=True)
class Candidate:
    """A changed book: kind, one-line description, the legs changed, the strategy it opens (None = reduces risk)."""

    kind: str
    description: str
    legs: tuple[Leg, ...]
    positions: tuple[UnifiedPosition, ...]
    opens_strategy: str | None = None
    assumptions: tuple[str, ...] = field(default=())


def contributions(ctx: ToolContext, limit: str) -> FloatArray:
    """Per position, how much it pushes `limit` towards breach, in the limit's unit (> 0 = contributes)."""
    g, totals = ctx.report.greeks, ctx.report.totals
    if limit == "max_beta_delta":
        return np.asarray(g.bw_delta * np.sign(totals.beta_weighted_delta), dtype=np.float64)
    if limit == "max_gamma":
        return np.asarray(g.bw_gamma * np.sign(totals.beta_weighted_gamma), dtype=np.float64)
    if limit == "max_negative_vega":
        return np.asarray(-g.vega_usd_per_vol_point, dtype=np.float64)
    return np.asarray(-g.theta_usd_per_day, dtype=np.float64)


def _exit_action(quantity: float) -> str:
    return "sell to close" if quantity > 0 else "buy to close"


def _leg(p: UnifiedPosition, action: str, quantity: float) -> Leg:
    return Leg(
        action=action,
        quantity=quantity,
        symbol=p.symbol,
        underlying=p.underlying,
        right=None if p.right is None else p.right.value,
        strike=p.strike,
        expiry=None if p.expiry is None else p.expiry.isoformat(),
        iv=p.iv,
    )


def _without(positions: Sequence[UnifiedPosition], drop: set[int]) -> tuple[UnifiedPosition, ...]:
    return tuple(p for i, p in enumerate(positions) if i not in drop)


def _close(ctx: ToolContext, order: list[int]) -> list[Candidate]:
    out = []
    for i in order:
        p = ctx.positions[i]
        leg = _leg(p, _exit_action(p.quantity), abs(p.quantity))
        text = f"close {p.symbol} ({p.quantity:g} x {p.multiplier:g}) in {p.account}"
        out.append(Candidate("close", text, (leg,), _without(ctx.positions, {i})))
    return out


def _reduce(ctx: ToolContext, order: list[int], contribution: FloatArray, excess: float) -> list[Candidate]:
    """Reduce each top contributor by the whole units that remove the excess (Greeks are linear in quantity)."""
    out = []
    for i in order:
        p = ctx.positions[i]
        per_unit = contribution[i] / abs(p.quantity)
        units = min(math.ceil(excess / per_unit), abs(p.quantity)) if per_unit > 0 else 0
        if units <= 0 or units >= abs(p.quantity):
            continue
        kept = p.model_copy(update={"quantity": p.quantity - math.copysign(units, p.quantity)})
        positions = tuple(kept if j == i else q for j, q in enumerate(ctx.positions))
        text = f"reduce {p.symbol} by {units:g} of {abs(p.quantity):g} in {p.account}"
        out.append(Candidate("reduce", text, (_leg(p, _exit_action(p.quantity), units),), positions))
    return out


def _short_wings(ctx: ToolContext, order: list[int], contribution: FloatArray) -> list[Candidate]:
    """Buy back the short out-of-the-money options of the underlyings that contribute most."""
    a = ctx.report.arrays
    out = []
    for underlying in dict.fromkeys(str(a.underlying[i]) for i in order):
        otm = np.where(a.cp > 0, a.strike > a.spot, a.strike < a.spot)
        wings = a.is_option & (a.quantity < 0) & (a.underlying == underlying) & otm & (contribution > 0)
        drop = {int(i) for i in np.flatnonzero(wings)}
        if len(drop) < 2:
            continue  # a single wing is already the "close" candidate
        legs = tuple(_leg(ctx.positions[i], "buy to close", abs(ctx.positions[i].quantity)) for i in sorted(drop))
        text = f"buy back the {len(drop)} short out-of-the-money {underlying} options"
        out.append(Candidate("buy_back_short_wings", text, legs, _without(ctx.positions, drop)))
    return out


def _hedge_underlying(ctx: ToolContext) -> tuple[str, float, float, list[str]] | None:
    """(underlying, spot, IV, assumptions) of the index hedge: SPX if the snapshot prices it, else SPY."""
    vix = ctx.market.vix
    for name in ("SPX", "SPY"):
        market = ctx.market.underlying(name)
        if market.spot is None:
            continue
        if market.iv is not None:
            return name, market.spot.value, market.iv.value, []
        if vix is not None:
            note = f"{name} IV not in the snapshot: VIX {vix.value:g} used as its implied volatility (no skew)"
            return name, market.spot.value, vix.value * VOL_POINT, [note]
    return None


def _monthly_near(now: datetime, days: int) -> date:
    target = now.astimezone(NEW_YORK).date() + timedelta(days=days)
    candidates = [
        monthly_expiry_date(y, m)
        for y, m in ((target.year + (target.month + k - 2) // 12, (target.month + k - 2) % 12 + 1) for k in range(3))
    ]
    return min(candidates, key=lambda d: abs((d - target).days))


def _option(
    ctx: ToolContext, template: UnifiedPosition, underlying: str, right: Right, strike: float, expiry: date, iv: float
) -> UnifiedPosition:
    index = underlying == "SPX"
    root = "SPXW" if index else underlying
    return UnifiedPosition(
        source=template.source,
        broker=template.broker,
        account=template.account,
        symbol=f"PROPOSED {root} {expiry.isoformat()} {strike:g}{right.value}",
        kind=InstrumentKind.INDEX_OPTION if index else InstrumentKind.EQUITY_OPTION,
        underlying=underlying,
        quantity=0.0,
        multiplier=EQUITY_OPTION_MULTIPLIER,
        expiry=expiry_instant(expiry, SettlementTime.PM),
        strike=strike,
        right=right,
        exercise_style=ExerciseStyle.EUROPEAN if index else ExerciseStyle.AMERICAN,
        settlement=SettlementTime.PM,
        iv=iv,
        description="proposed hedge leg (not an order)",
        as_of=ctx.now,
    )


def _grid(spot: float, moneyness: float) -> float:
    step = 5.0 if spot >= 1000.0 else 1.0  # SPX strikes every 5 points; SPY every dollar
    return float(round(spot * moneyness / step) * step)


SizeFn = Callable[[tuple[UnifiedPosition, ...]], float | None]


def _hedges(ctx: ToolContext, template: UnifiedPosition, size: SizeFn) -> list[Candidate]:
    """Long puts and a put debit spread on the index, sized by `size` (contracts per unit of structure)."""
    found = _hedge_underlying(ctx)
    if found is None:
        return []
    underlying, spot, iv, assumed = found
    expiry = _monthly_near(ctx.now, HEDGE_TARGET_DTE_DAYS)
    assumed = [*assumed, f"expiry {expiry} is the standard monthly nearest {HEDGE_TARGET_DTE_DAYS} days out"]
    long_put = _option(ctx, template, underlying, Right.PUT, _grid(spot, LONG_PUT_MONEYNESS), expiry, iv)
    short_put = _option(ctx, template, underlying, Right.PUT, _grid(spot, SHORT_PUT_MONEYNESS), expiry, iv)
    out = []
    for kind, strategy, legs in (
        ("add_long_puts", "Long Puts", ((long_put, 1.0),)),
        ("add_put_spread", "Debit Spreads", ((long_put, 1.0), (short_put, -1.0))),
    ):
        unit = tuple(p.model_copy(update={"quantity": sign}) for p, sign in legs)
        contracts = size(unit)
        if contracts is None:
            continue
        built = tuple(p.model_copy(update={"quantity": sign * contracts}) for p, sign in legs)
        what = " / ".join(f"{'buy' if q.quantity > 0 else 'sell'} {abs(q.quantity):g} {q.symbol}" for q in built)
        leg_rows = tuple(_leg(q, "buy" if q.quantity > 0 else "sell", abs(q.quantity)) for q in built)
        out.append(Candidate(kind, what, leg_rows, (*ctx.positions, *built), strategy, tuple(assumed)))
    return out


def _rolls(ctx: ToolContext, order: list[int]) -> list[Candidate]:
    """Roll the expiry group of each top contributing option out to a later monthly, same strikes and IVs."""
    a = ctx.report.arrays
    out = []
    seen: set[tuple[str, str]] = set()
    for i in order:
        p = ctx.positions[i]
        if not p.is_option or p.expiry is None or p.kind is InstrumentKind.FUTURE_OPTION:
            continue
        group = (p.underlying, p.expiry.isoformat())
        if group in seen:
            continue
        seen.add(group)
        new_day = _monthly_near(p.expiry, ROLL_MIN_EXTRA_DAYS + 14)
        if (new_day - p.expiry.astimezone(NEW_YORK).date()).days < ROLL_MIN_EXTRA_DAYS:
            new_day = _monthly_near(p.expiry, ROLL_MIN_EXTRA_DAYS + 35)
        same = [
            j
            for j in range(a.size)
            if ctx.positions[j].underlying == p.underlying and ctx.positions[j].expiry == p.expiry
        ]
        new_expiry = expiry_instant(new_day, p.settlement or SettlementTime.PM)
        rolled = {j: ctx.positions[j].model_copy(update={"expiry": new_expiry}) for j in same}
        positions = tuple(rolled.get(j, q) for j, q in enumerate(ctx.positions))
        legs = tuple(
            _leg(ctx.positions[j], "roll to " + new_day.isoformat(), abs(ctx.positions[j].quantity)) for j in same
        )
        text = f"roll the {len(same)} {p.underlying} legs expiring {p.expiry.date()} out to {new_day}"
        note = f"{new_day} taken as a listed monthly expiry; IVs kept as they are (term structure not modelled)"
        out.append(Candidate("roll_out", text, legs, positions, None, (note,)))
    return out


def _synthetics(ctx: ToolContext) -> list[Candidate]:
    """Passarelli's equivalents: covered call (long shares + short call) ↔ short put at the same strike and expiry."""
    out = []
    for i, call in enumerate(ctx.positions):
        if not (
            call.is_option
            and call.right is Right.CALL
            and call.quantity < 0
            and call.kind is InstrumentKind.EQUITY_OPTION
        ):
            continue
        shares = next(
            (
                j
                for j, s in enumerate(ctx.positions)
                if s.kind is InstrumentKind.STOCK
                and s.underlying == call.underlying
                and s.account == call.account
                and s.quantity >= abs(call.quantity) * call.multiplier
            ),
            None,
        )
        if shares is None:
            continue
        stock = ctx.positions[shares]
        covered = abs(call.quantity) * call.multiplier
        put = call.model_copy(
            update={
                "right": Right.PUT,
                "symbol": f"PROPOSED {call.underlying} short put for {call.symbol}",
                "description": "proposed synthetic leg (not an order)",
            }
        )
        kept_stock = stock.model_copy(update={"quantity": stock.quantity - covered})
        drop_stock = kept_stock.quantity == 0
        kept = (kept_stock if j == shares else q for j, q in enumerate(ctx.positions) if j != i)
        positions = (*(q for q in kept if not (drop_stock and q is kept_stock)), put)
        legs = (
            _leg(call, "buy to close", abs(call.quantity)),
            _leg(stock, "sell", covered),
            _leg(put, "sell to open", abs(call.quantity)),
        )
        text = (
            f"swap the covered call {call.symbol} for a short put at the same strike and expiry (synthetic equivalent)"
        )
        note = "put IV taken equal to the call's (put-call parity); differences come from carry and early exercise"
        out.append(
            Candidate("synthetic_short_put", text, legs, positions, "Short Put (synthetic covered call)", (note,))
        )
    return out


def generate_candidates(ctx: ToolContext, limit: str, excess: float, size: SizeFn) -> list[Candidate]:
    """Every candidate for `limit`: close/reduce top contributors, buy back wings, hedges, rolls, synthetics.

    Args:
        ctx: The current book and its report.
        limit: Limit name being cured.
        excess: How far past target it is, in the limit's unit (> 0).
        size: Contracts of a one-lot hedge structure needed to cure the excess, or None when it does not help.
    """
    contribution = contributions(ctx, limit)
    order = [int(i) for i in np.argsort(-contribution, kind="stable")[:_TOP] if contribution[i] > 0]
    if not order:
        return []
    template = ctx.positions[order[0]]
    return [
        *_close(ctx, order),
        *_reduce(ctx, order, contribution, excess),
        *_short_wings(ctx, order, contribution),
        *_hedges(ctx, template, size),
        *_rolls(ctx, order),
        *_synthetics(ctx),
    ]
