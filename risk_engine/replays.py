"""Historical replays: a real day's S&P 500 and VIX moves applied to today's book by full revaluation.

Owns the list of crash days, how a day's move is read from daily closes (handed in; this module reads no files)
and the assumption used where no VIX close exists (1987). Pure numpy over PositionArrays.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

import numpy as np
import numpy.typing as npt

from risk_engine.arrays import PositionArrays
from risk_engine.greeks import FloatArray
from risk_engine.scenarios import VolRule, pct_of_net_liq, revalue_paths

__all__ = [
    "ASSUMED_IV_SHOCK_1987",
    "BLACK_MONDAY_1987",
    "REPLAY_DATES",
    "CloseHistory",
    "MarketMove",
    "Replay",
    "market_move",
    "replay_book",
]

BLACK_MONDAY_1987: Final = datetime.date(1987, 10, 19)
REPLAY_DATES: Final = (
    BLACK_MONDAY_1987,
    datetime.date(2008, 9, 29),  # House rejects TARP
    datetime.date(2008, 10, 15),
    datetime.date(2010, 5, 6),  # flash crash
    datetime.date(2011, 8, 8),  # US downgrade
    datetime.date(2015, 8, 24),  # China devaluation selloff
    datetime.date(2018, 2, 5),  # Volmageddon
    datetime.date(2020, 3, 12),
    datetime.date(2020, 3, 16),  # record VIX close
    datetime.date(2022, 6, 13),
    datetime.date(2024, 8, 5),  # yen carry unwind
)
"""The crash days replayed by default (New York trading dates)."""

ASSUMED_IV_SHOCK_1987: Final = 1.0
"""Relative IV shock (+100 %: implied vols double) assumed for a day without a VIX close; VIX starts in 1990.
An assumption, not data: every replay that uses it says so (MarketMove.assumed)."""


class CloseHistory(Protocol):
    """Daily closes by day, with the previous trading day's (adapters.market_history.SpxVixCloses fits)."""

    @property
    def dates(self) -> npt.NDArray[np.datetime64]: ...
    @property
    def previous_dates(self) -> npt.NDArray[np.datetime64]: ...
    @property
    def spx_close(self) -> FloatArray: ...
    @property
    def spx_previous_close(self) -> FloatArray: ...
    @property
    def vix_close(self) -> FloatArray: ...
    @property
    def vix_previous_close(self) -> FloatArray: ...


@dataclass(frozen=True)
class MarketMove:
    """One trading day's move: S&P 500 close-to-close change and the relative IV shock used for it.

    index_move and vix_change are fractions (−0.2047 = −20.47 %). vix_change is the real VIX close-to-close
    change unless `assumed`, in which case it is the assumed IV shock and `note` says why.
    """

    date: datetime.date
    previous_date: datetime.date
    spx_close: float
    spx_previous_close: float
    vix_close: float | None
    vix_previous_close: float | None
    index_move: float
    vix_change: float
    assumed: bool
    note: str


@dataclass(frozen=True)
class Replay:
    """Today's book under one day's move: P&L in USD and in % of net liquidation (None when unknown)."""

    move: MarketMove
    pnl_usd: float
    pnl_pct_net_liq: float | None


def _as_date(day: np.datetime64) -> datetime.date:
    value = day.astype("datetime64[D]").astype(object)
    assert isinstance(value, datetime.date)
    return value


def market_move(
    history: CloseHistory, day: datetime.date, *, assumed_iv_shock: float = ASSUMED_IV_SHOCK_1987
) -> MarketMove:
    """The real S&P 500 move (and VIX move, or the flagged assumption) of `day` over the previous trading day.

    Args:
        history: Daily SPX and VIX closes with the previous day's (see CloseHistory).
        day: A trading date in the history.
        assumed_iv_shock: Relative IV shock (fraction, > −1) to use when that day or the one before has no VIX.

    Raises:
        ValueError: `day` is not a day of the history; names the range and the nearest days before and after.

    Example:
        Black Monday: SPX 282.70 → 224.84, index_move = 224.84 / 282.70 − 1 = −0.2047 (−20.47 %).
    """
    target = np.datetime64(day, "D")
    at = int(np.searchsorted(history.dates, target))
    if at == history.dates.size or history.dates[at] != target:
        before = str(_as_date(history.dates[at - 1])) if at > 0 else "none"
        after = str(_as_date(history.dates[at])) if at < history.dates.size else "none"
        raise ValueError(
            f"replay date {day.isoformat()} has no S&P 500 close in the shipped history "
            f"({_as_date(history.dates[0])} to {_as_date(history.dates[-1])}); nearest trading days: "
            f"before {before}, after {after}"
        )
    spx, spx_before = float(history.spx_close[at]), float(history.spx_previous_close[at])
    vix, vix_before = float(history.vix_close[at]), float(history.vix_previous_close[at])
    has_vix = math.isfinite(vix) and math.isfinite(vix_before)
    previous = _as_date(history.previous_dates[at])
    if has_vix:
        vix_change, note = vix / vix_before - 1.0, "real SPX and VIX closes"
    else:
        vix_change = assumed_iv_shock
        note = (
            f"real SPX closes; no VIX close on {previous} or {day} (VIX starts 1990-01-02): "
            f"IV shock {assumed_iv_shock:+.0%} is an assumption"
        )
    return MarketMove(
        date=day,
        previous_date=previous,
        spx_close=spx,
        spx_previous_close=spx_before,
        vix_close=vix if math.isfinite(vix) else None,
        vix_previous_close=vix_before if math.isfinite(vix_before) else None,
        index_move=spx / spx_before - 1.0,
        vix_change=vix_change,
        assumed=not has_vix,
        note=note,
    )


def replay_book(
    p: PositionArrays,
    moves: Sequence[MarketMove],
    *,
    net_liquidation_usd: float | None = None,
    horizon_days: float = 0.0,
    beta_weighted: bool = True,
    vol_rule: VolRule = VolRule.STICKY_STRIKE,
) -> tuple[Replay, ...]:
    """Full-revaluation P&L in USD of today's book under each day's move, in the order given.

    Each underlying moves by β × the day's S&P 500 change; every option's IV by the day's relative VIX change
    (scaled per `vol_rule`); the move is instantaneous unless `horizon_days` > 0.

    Args:
        p: Position arrays at the valuation instant.
        moves: The days to replay (market_move).
        net_liquidation_usd: Net liquidation in USD for the % column (None: no %).
        horizon_days: Calendar days the clock advances with the move.
        beta_weighted: True: each underlying moves by β × the index move.
        vol_rule: How the vol shock spreads over expiries.
    """
    if not moves:
        return ()
    pnl = revalue_paths(
        p,
        spot_shocks=np.array([m.index_move for m in moves]),
        vol_shocks=np.array([m.vix_change for m in moves]),
        horizons_days=np.array([horizon_days]),
        beta_weighted=beta_weighted,
        vol_rule=vol_rule,
    )
    pct = pct_of_net_liq(pnl, net_liquidation_usd)
    return tuple(
        Replay(move=move, pnl_usd=float(pnl[i]), pnl_pct_net_liq=None if pct is None else float(pct[i]))
        for i, move in enumerate(moves)
    )
