"""Session-state bookkeeping of the page: the refresh nonce (manual and automatic refresh) and the auto-refresh clock.

Owns the keys it writes in a session-state mapping (st.session_state in the app, a dict in tests).
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Final

__all__ = [
    "AUTO_REFRESH_CHOICES",
    "auto_refresh_due",
    "bump_refresh",
    "format_interval",
    "mark_page_run",
    "nonce",
    "request_refresh",
]

AUTO_REFRESH_CHOICES: Final = (0, 30, 60, 300)
"""Auto-refresh intervals offered, in seconds (0 = off)."""

_NONCE: Final = "session.refresh_nonce"
_LAST_RUN: Final = "session.last_run_s"


def nonce(state: MutableMapping[Any, Any]) -> int:
    """How many refreshes were asked for in this session (part of the data cache key)."""
    value = state.get(_NONCE, 0)
    return value if isinstance(value, int) else 0


def bump_refresh(state: MutableMapping[Any, Any]) -> int:
    """Ask for fresh data on the next run; returns the new nonce."""
    state[_NONCE] = nonce(state) + 1
    return nonce(state)


def request_refresh(state: MutableMapping[Any, Any]) -> None:
    """The refresh button's callback: fresh data on the next run."""
    bump_refresh(state)


def mark_page_run(state: MutableMapping[Any, Any], monotonic_s: float) -> None:
    """Record that the whole page ran at `monotonic_s` (time.monotonic seconds)."""
    state[_LAST_RUN] = monotonic_s


def auto_refresh_due(state: MutableMapping[Any, Any], monotonic_s: float, interval_s: float) -> bool:
    """True (and a refresh is asked for) when `interval_s` seconds have passed since the page last ran.

    The fragment that calls this also runs inline with every page run, right after mark_page_run, so it
    returns False then; only its timed runs can find the interval elapsed.
    """
    last = state.get(_LAST_RUN)
    if interval_s <= 0 or not isinstance(last, float) or monotonic_s - last < interval_s:
        return False
    bump_refresh(state)
    return True


def format_interval(seconds: int) -> str:
    """`off`, `30 s`, `1 min`, `5 min`."""
    if seconds <= 0:
        return "off"
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min"
