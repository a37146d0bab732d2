"""`to_arrays`: the engine's only per-position loop, turning positions + market snapshot into struct-of-arrays.

Owns the choice of each position's pricing inputs (underlying price, IV, rate, dividend yield, beta) and the
flags that say which inputs were missing or assumed. Pure: the valuation instant `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from models.conventions import t_years
from models.market import BetaSource, MarketSnapshot
from models.positions import ExerciseStyle, InstrumentKind, Right, UnifiedPosition
from risk_engine.greeks import BoolArray, FloatArray

__all__ = ["PositionArrays", "to_arrays"]

IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

_NO_VALUE = float("nan")


@dataclass(frozen=True)
class PositionArrays:
    """Equal-length 1-D arrays, one element per position; NaN marks a missing number.

    `priced` is True where every input needed for Greeks is present; `issues[i]` lists in words what was
    missing (excluded from totals) and `assumptions[i]` what was assumed (still included, flagged).
    """

    keys: tuple[str, ...]
    underlying: StrArray
    account: StrArray
    broker: StrArray
    source: StrArray
    kind: StrArray
    is_option: BoolArray
    is_call: BoolArray
    cp: FloatArray  # +1 call, −1 put, 0 not an option
    is_black76: BoolArray
    is_american: BoolArray
    quantity: FloatArray
    multiplier: FloatArray
    strike: FloatArray
    t_years: FloatArray
    dte_days: IntArray  # calendar days to expiry; meaningful only where has_expiry
    has_expiry: BoolArray
    spot: FloatArray
    iv: FloatArray
    rate: FloatArray
    div_yield: FloatArray
    beta: FloatArray
    beta_source: StrArray
    spx: float
    mark: FloatArray
    broker_iv: FloatArray
    broker_delta: FloatArray
    broker_gamma: FloatArray
    broker_theta: FloatArray
    broker_vega: FloatArray
    priced: BoolArray
    issues: tuple[tuple[str, ...], ...]
    assumptions: tuple[tuple[str, ...], ...]

    @property
    def size(self) -> int:
        """Number of positions."""
        return len(self.keys)


def _quote_value(quote: object) -> float:
    value = getattr(quote, "value", None)
    return _NO_VALUE if value is None else float(value)


def to_arrays(positions: Sequence[UnifiedPosition], snapshot: MarketSnapshot, now: datetime) -> PositionArrays:
    """Struct-of-arrays view of `positions` priced against `snapshot` at instant `now`.

    The underlying price is always the underlying's (snapshot spot, else the broker's underlying price), never
    the option's mark or strike (a share or future's own mark is its underlying's price). A missing IV,
    underlying price or expiry excludes the row from Greeks and says so; a missing beta is 1.0 flagged as
    default; a missing dividend yield or rate is 0 flagged as assumed.

    Args:
        positions: Open positions in riskdash conventions.
        snapshot: Market inputs of the same refresh.
        now: Valuation instant (tz-aware).
    """
    rate = _quote_value(snapshot.risk_free_rate)
    rate_known = not np.isnan(rate)
    spx = _quote_value(snapshot.spx)
    if np.isnan(spx):
        spx = _quote_value(snapshot.underlying("SPX").spot)

    cols: dict[str, list[object]] = {name: [] for name in _COLUMNS}
    issues: list[tuple[str, ...]] = []
    assumptions: list[tuple[str, ...]] = []
    for p in positions:
        market = snapshot.underlying(p.underlying)
        missing: list[str] = []
        assumed: list[str] = []
        if p.currency != "USD":
            # Totals are in USD; without an FX rate a non-USD row would be summed as if it were dollars.
            missing.append(f"{p.currency} position: no FX rate to USD, excluded from USD totals")
        spot = _quote_value(market.spot)
        if np.isnan(spot) and p.underlying_price is not None:
            spot = p.underlying_price
        if np.isnan(spot) and not p.is_option and p.mark is not None and p.mark > 0:
            # Shares and futures are their own underlying: their mark is the underlying's price.
            spot = p.mark
        if np.isnan(spot):
            missing.append(f"no price for underlying {p.underlying}")
        beta = market.beta
        if beta is None or beta.source is BetaSource.DEFAULT:
            assumed.append(f"beta of {p.underlying} unknown: 1.0 assumed")
        iv = _NO_VALUE
        t = _NO_VALUE
        div = 0.0
        if p.is_option:
            iv = p.iv if p.iv is not None else (p.broker_greeks.iv if p.broker_greeks else None) or _NO_VALUE
            if np.isnan(iv) or iv <= 0.0:
                missing.append("no implied volatility")
            assert p.expiry is not None  # guaranteed by UnifiedPosition's validator for option kinds
            t = t_years(p.expiry, now)
            dividend = _quote_value(market.dividend_yield)
            if p.kind is not InstrumentKind.FUTURE_OPTION:
                if np.isnan(dividend):
                    assumed.append(f"dividend yield of {p.underlying} unknown: 0 assumed")
                else:
                    div = dividend
            if not rate_known:
                assumed.append("risk-free rate unknown: 0 assumed")
        bg = p.broker_greeks
        cols["underlying"].append(p.underlying)
        cols["account"].append(p.account)
        cols["broker"].append(p.broker)
        cols["source"].append(p.source.value)
        cols["kind"].append(p.kind.value)
        cols["is_option"].append(p.is_option)
        cols["is_call"].append(p.right is Right.CALL)
        cols["cp"].append(0.0 if not p.is_option else (1.0 if p.right is Right.CALL else -1.0))
        cols["is_black76"].append(p.kind is InstrumentKind.FUTURE_OPTION)
        cols["is_american"].append(p.exercise_style is ExerciseStyle.AMERICAN)
        cols["quantity"].append(p.quantity)
        cols["multiplier"].append(p.multiplier)
        cols["strike"].append(_NO_VALUE if p.strike is None else p.strike)
        cols["t_years"].append(t)
        cols["dte_days"].append(0 if p.dte is None else p.dte)
        cols["has_expiry"].append(p.expiry is not None)
        cols["spot"].append(spot)
        cols["iv"].append(iv)
        cols["rate"].append(rate if rate_known else 0.0)
        cols["div_yield"].append(div)
        cols["beta"].append(1.0 if beta is None else beta.value)
        cols["beta_source"].append(BetaSource.DEFAULT.value if beta is None else beta.source.value)
        cols["mark"].append(_NO_VALUE if p.mark is None else p.mark)
        for name in ("iv", "delta", "gamma", "theta", "vega"):
            value = getattr(bg, name) if bg is not None else None
            cols[f"broker_{name}"].append(_NO_VALUE if value is None else value)
        issues.append(tuple(missing))
        assumptions.append(tuple(assumed))

    columns: dict[str, Any] = {name: np.asarray(cols[name], dtype=np.float64) for name in _FLOAT_COLUMNS}
    columns |= {name: np.asarray(cols[name], dtype=bool) for name in _BOOL_COLUMNS}
    columns |= {name: np.asarray(cols[name], dtype=np.str_) for name in _STR_COLUMNS}
    return PositionArrays(
        keys=tuple(p.key for p in positions),
        dte_days=np.asarray(cols["dte_days"], dtype=np.int64),
        spx=spx,
        priced=np.array([not row for row in issues], dtype=bool),
        issues=tuple(issues),
        assumptions=tuple(assumptions),
        **columns,
    )


_FLOAT_COLUMNS = (
    "cp",
    "quantity",
    "multiplier",
    "strike",
    "t_years",
    "spot",
    "iv",
    "rate",
    "div_yield",
    "beta",
    "mark",
    "broker_iv",
    "broker_delta",
    "broker_gamma",
    "broker_theta",
    "broker_vega",
)
_BOOL_COLUMNS = ("is_option", "is_call", "is_black76", "is_american", "has_expiry")
_STR_COLUMNS = ("underlying", "account", "broker", "source", "kind", "beta_source")
_COLUMNS = (*_FLOAT_COLUMNS, *_BOOL_COLUMNS, *_STR_COLUMNS, "dte_days")
