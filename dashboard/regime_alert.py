"""The regime-change alert: raised when the regime differs from the previous refresh's, kept until acknowledged.

Owns the alert's state in a session-state mapping (Streamlit's st.session_state in the app, a dict in tests).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from dashboard.format import format_instant, regime_label

__all__ = ["RegimeAlert", "acknowledge", "observe_regime"]

_LAST: Final = "regime_alert.last_regime"
_PENDING: Final = "regime_alert.pending"


@dataclass(frozen=True)
class RegimeAlert:
    """A regime change seen at `seen_at`, from `previous` to `current` (regime names)."""

    previous: str
    current: str
    seen_at: datetime

    @property
    def text(self) -> str:
        """`Regime changed: Neutral Volatility → High Volatility (seen 2026-11-23 15:00:00 UTC)`."""
        return (
            f"Regime changed: {regime_label(self.previous)} → {regime_label(self.current)} "
            f"(seen {format_instant(self.seen_at)}). Limits of the new regime now apply."
        )


def observe_regime(state: MutableMapping[Any, Any], regime: str, now: datetime) -> RegimeAlert | None:
    """The alert to show after this refresh: a new change, else the still-unacknowledged earlier one.

    The first refresh of a session only records the regime. A change back before acknowledging keeps the
    alert and updates it to the latest change (the trader must still see that the regime moved).

    Args:
        state: Session state (kept across reruns).
        regime: This refresh's regime name.
        now: tz-aware instant of this refresh.
    """
    last = state.get(_LAST)
    state[_LAST] = regime
    if last is not None and last != regime:
        pending = state.get(_PENDING)
        previous = pending.previous if isinstance(pending, RegimeAlert) else last
        state[_PENDING] = RegimeAlert(previous=previous, current=regime, seen_at=now)
    pending = state.get(_PENDING)
    return pending if isinstance(pending, RegimeAlert) else None


def acknowledge(state: MutableMapping[Any, Any]) -> None:
    """Clear the pending alert (the trader has seen it)."""
    state.pop(_PENDING, None)
