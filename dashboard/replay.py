"""Historical regime replay: the regime the risk matrix gives any trading day of the shipped CBOE history.

Owns pairing one day's closes (adapters.market_history) with the classifier; no recession odds exist for
past days, so clauses needing them count as not holding and the result says the input is missing.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from adapters.market_history import RegimeDay, history_range, regime_day
from config.risk_matrix import RiskMatrix
from dashboard.format import format_number, format_term_structure, regime_label
from risk_engine.regime import RegimeInputs, RegimeResult, classify_regime

__all__ = ["Replay", "replay_bounds", "replay_regime"]


@dataclass(frozen=True)
class Replay:
    """One replayed day: its closes with their sources, the classified regime, and display lines."""

    day: RegimeDay
    result: RegimeResult

    @property
    def title(self) -> str:
        """`2020-03-16: Crisis Mode`."""
        return f"{self.day.date.isoformat()}: {regime_label(self.result.regime)}"

    @property
    def inputs_text(self) -> str:
        """VIX, VIX3M (with the term structure's shape) and VVIX closes in index points, as one line."""
        d = self.day
        ratio = self.result.inputs.get("term_structure")
        return (
            f"VIX {format_number(d.vix, 'pts')} · VIX3M {format_number(d.vix3m, 'pts')} "
            f"(VIX3M/VIX {format_term_structure(ratio)}) · VVIX {format_number(d.vvix, 'pts')} · CBOE daily closes"
        )


def replay_bounds() -> tuple[datetime.date, datetime.date]:
    """First and last trading day the replay accepts (both inclusive)."""
    return history_range()


def replay_regime(day: datetime.date, matrix: RiskMatrix) -> Replay:
    """The regime of `day` from its CBOE closes (no recession odds: missing for past days).

    Raises:
        HistoryError: `day` is not a trading day of the history; names the nearest trading days.
    """
    closes = regime_day(day)
    inputs = RegimeInputs(vix=closes.vix, vix3m=closes.vix3m, vvix=closes.vvix, recession_prob=None)
    return Replay(day=closes, result=classify_regime(matrix, inputs))
