"""The sidebar's source switch: which book and market inputs one refresh uses, and every source's health.

Owns choosing and calling the loaders (demo, uploaded files, the live refresh when adapters.refresh exists) and
turning their outcome into status lines; a failed source is reported by name, never turned into an empty book.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Final

from adapters.demo import load_demo_book, load_demo_snapshot
from adapters.errors import AdapterError
from adapters.file_import import import_file
from adapters.refresh import (
    IBKR_SOURCE,
    MARKET_OFF_NOTE,
    TASTYTRADE_SOURCE,
    Refresh,
    SourceReport,
    Sources,
    SourceState,
    configured_sources,
    market_for_import,
    refresh,
)
from adapters.results import FetchResult
from adapters.snapshot_store import SnapshotStore
from config.settings import Settings
from dashboard.book import BookInputs
from dashboard.format import format_age, format_stale_since
from models.account import AccountValues
from models.market import MarketSnapshot

__all__ = [
    "LIVE_CHOICES",
    "SOURCE_CHOICES",
    "Gathered",
    "SourceChoice",
    "SourceHealth",
    "SourceStatus",
    "StatusLine",
    "account_names",
    "gather",
    "import_upload",
    "select_accounts",
    "status_lines",
]


class SourceChoice(StrEnum):
    """What the sidebar's data-source switch offers."""

    DEMO = "Demo"
    IBKR = "IBKR"
    TASTYTRADE = "Tastytrade"
    ALL = "All configured"
    FILE = "Imported file"


SOURCE_CHOICES: Final = tuple(choice.value for choice in SourceChoice)
LIVE_CHOICES: Final = (SourceChoice.IBKR.value, SourceChoice.TASTYTRADE.value, SourceChoice.ALL.value)
"""The choices served by adapters.refresh (they need the snapshot store)."""

Upload = tuple[str, bytes]
"""An uploaded file: its name as the user chose it, and its bytes."""

OK_COLOUR: Final = "#2e7d32"
STALE_COLOUR: Final = "#ef6c00"  # orange, as the issue asks for "stale since …"
FAILED_COLOUR: Final = "#c62828"
OFF_COLOUR: Final = "#616161"


class SourceHealth(StrEnum):
    """Outcome of a source's last attempt."""

    OK = "ok"
    STALE = "stale"
    FAILED = "failed"
    OFF = "off"


@dataclass(frozen=True)
class SourceStatus:
    """One source's outcome: its name, health, the as-of of what it delivered, and what failed."""

    name: str
    health: SourceHealth
    as_of: datetime | None
    stale_since: datetime | None = None
    error: str | None = None


@dataclass(frozen=True)
class StatusLine:
    """A status line for the sidebar: text with its as-of or failure, colour, and whether it is stale."""

    text: str
    colour: str
    stale: bool
    failed: bool


@dataclass(frozen=True)
class Gathered:
    """What one refresh gathered: the book inputs, every source's status, and account values."""

    inputs: BookInputs
    statuses: tuple[SourceStatus, ...]
    accounts: tuple[AccountValues, ...] = ()
    notices: tuple[str, ...] = ()

    @property
    def failures(self) -> tuple[SourceStatus, ...]:
        """The sources whose last attempt failed (stale ones included: they serve old data); not those off."""
        return tuple(s for s in self.statuses if s.health in (SourceHealth.STALE, SourceHealth.FAILED))

    @property
    def has_book(self) -> bool:
        """True when at least one positions source delivered (fresh or stale)."""
        return bool(self.inputs.fetches)


def _fetch_status(fetch: FetchResult) -> SourceStatus:
    # A file's positions are as of its statement, not of the import: the oldest position's as-of is the data's.
    as_of = min((p.as_of for p in fetch.positions), default=fetch.fetched_at)
    if fetch.stale:
        return SourceStatus(fetch.source, SourceHealth.STALE, as_of, fetch.stale_since, fetch.error)
    return SourceStatus(fetch.source, SourceHealth.OK, as_of)


def _market_status(market: MarketSnapshot) -> SourceStatus:
    name = "demo snapshot (market)" if market.demo else "market data"
    return SourceStatus(name, SourceHealth.OK, market.as_of)


def import_upload(name: str, data: bytes, now: datetime) -> FetchResult:
    """Positions of an uploaded book file (IBKR Flex XML or thinkorswim CSV), messages naming the upload.

    Args:
        name: The file name the user uploaded (only its last path part is used).
        data: The file's bytes.
        now: tz-aware instant of the import.

    Raises:
        AdapterError: the file is unreadable, of neither format, or broken as a whole; names the upload.
    """
    shown = Path(name).name or "upload"
    with tempfile.TemporaryDirectory(prefix="riskdash-upload-") as folder:
        path = Path(folder) / shown
        path.write_bytes(data)
        try:
            result = import_file(path, now)
        except AdapterError as exc:
            raise type(exc)(str(exc).replace(str(path), shown)) from exc
    notes = tuple(note.replace(str(path), shown) for note in result.notes)
    return result.model_copy(update={"source": f"file {shown}", "notes": notes})


_NOT_CONFIGURED: Final = {
    SourceChoice.IBKR: "not configured (set IBKR_PORT in .env)",
    SourceChoice.TASTYTRADE: "not configured (set TASTYTRADE_PROVIDER_SECRET and TASTYTRADE_REFRESH_TOKEN in .env)",
}


def _live_brokers(choice: SourceChoice, settings: Settings) -> list[SourceChoice]:
    if choice is SourceChoice.ALL:
        picked = [SourceChoice.IBKR] if settings.ibkr_configured else []
        return picked + ([SourceChoice.TASTYTRADE] if settings.tastytrade_configured else [])
    return [choice]


_BROKER_SOURCE: Final = {SourceChoice.IBKR: IBKR_SOURCE, SourceChoice.TASTYTRADE: TASTYTRADE_SOURCE}
_HEALTH: Final = {
    SourceState.OK: SourceHealth.OK,
    SourceState.STALE: SourceHealth.STALE,
    SourceState.FAILED: SourceHealth.FAILED,
}


def _status(r: SourceReport) -> SourceStatus:
    if r.state is SourceState.FAILED and r.error == MARKET_OFF_NOTE:
        return SourceStatus(r.source, SourceHealth.OFF, None, error=r.error)
    return SourceStatus(r.source, _HEALTH[r.state], r.as_of, r.stale_since, r.error)


def _from_refresh(result: Refresh) -> Gathered:
    statuses = tuple(_status(r) for r in result.statuses)
    return Gathered(BookInputs(result.fetches, result.market), statuses, result.accounts)


def _gather_files(
    uploads: Sequence[Upload], settings: Settings, now: datetime, store: SnapshotStore | None, sources: Sources | None
) -> Gathered:
    fetches: list[FetchResult] = []
    statuses: list[SourceStatus] = []
    for name, data in uploads:
        try:
            fetch = import_upload(name, data, now)
        except AdapterError as exc:
            statuses.append(SourceStatus(f"file {Path(name).name}", SourceHealth.FAILED, None, error=str(exc)))
            continue
        fetches.append(fetch)
        statuses.append(_fetch_status(fetch))
    if not uploads:
        statuses.append(
            SourceStatus("Imported file", SourceHealth.FAILED, None, error="no file uploaded yet (Flex XML or CSV)")
        )
    priced = market_for_import(settings, now, fetches, store=store, sources=sources)
    market_statuses = tuple(_status(r) for r in priced.statuses)
    notices: list[str] = []
    if any(s.health is SourceHealth.OFF for s in market_statuses):
        notices.append(f"Imported book without market data: {MARKET_OFF_NOTE}.")
    if priced.market.vix is None or priced.market.vix.value is None:
        notices.append("No VIX in the market snapshot: the regime is unknown; its limits are not today's.")
    return Gathered(BookInputs(tuple(fetches), priced.market), (*statuses, *market_statuses), notices=tuple(notices))


def _gather_live(
    choice: SourceChoice, settings: Settings, now: datetime, store: SnapshotStore | None, sources: Sources | None
) -> Gathered:
    brokers = _live_brokers(choice, settings)
    configured = {SourceChoice.IBKR: settings.ibkr_configured, SourceChoice.TASTYTRADE: settings.tastytrade_configured}
    missing = [b for b in brokers if not configured[b]]
    if not brokers or missing or store is None:
        market = load_demo_snapshot(now)
        if not brokers:
            failed = [
                SourceStatus("All configured", SourceHealth.FAILED, None, error="no live source is configured in .env")
            ]
        elif missing:
            failed = [SourceStatus(b.value, SourceHealth.FAILED, None, error=_NOT_CONFIGURED[b]) for b in missing]
        else:
            failed = [
                SourceStatus(choice.value, SourceHealth.FAILED, None, error="no snapshot store to keep last good data")
            ]
        return Gathered(BookInputs((), market), (*failed, _market_status(market)))
    plan = configured_sources(settings) if sources is None else sources
    wanted = {_BROKER_SOURCE[b] for b in brokers}
    plan = replace(plan, brokers=tuple(b for b in plan.brokers if b.name in wanted))
    return _from_refresh(refresh(settings, now, store=store, sources=plan))


def gather(
    choice: SourceChoice | str,
    settings: Settings,
    now: datetime,
    *,
    uploads: Sequence[Upload] = (),
    store: SnapshotStore | None = None,
    sources: Sources | None = None,
) -> Gathered:
    """The inputs of one refresh for the sidebar's choice, with every source's status.

    Demo: the bundled book and snapshot. Imported file: every upload read by adapters.file_import (a broken
    file is a failed source named by its file; the others still count), priced by adapters.refresh's
    market_for_import: live market data when enabled, else the last stored live snapshot, else each
    position's own underlying price and IV with the regime unknown (a notice says so) — never the demo market.
    IBKR / Tastytrade / All configured: adapters.refresh over the chosen configured brokers (plus market
    data and Polymarket when enabled); an unconfigured choice is a failure that says what to set. A failed
    source is stale (its last good snapshot) or failed by name, never an empty book that looks flat.

    Args:
        choice: One of SOURCE_CHOICES.
        settings: The app's Settings.
        now: tz-aware instant of the refresh.
        uploads: (file name, bytes) of the uploaded book files (Imported file only).
        store: The snapshot store live refreshes save to and fall back on (required for live choices; for files,
            where live market snapshots are saved and read).
        sources: The live sources to use instead of `configured_sources(settings)` (tests inject callables).
    """
    choice = SourceChoice(choice)
    if choice is SourceChoice.DEMO:
        book, market = load_demo_book(now), load_demo_snapshot(now)
        return Gathered(BookInputs((book,), market), (_fetch_status(book), _market_status(market)))
    if choice is SourceChoice.FILE:
        return _gather_files(uploads, settings, now, store, sources)
    return _gather_live(choice, settings, now, store, sources)


def account_names(inputs: BookInputs) -> list[str]:
    """Every account holding a position, sorted, for the accounts multi-select."""
    return sorted({p.account for p in inputs.positions})


def select_accounts(inputs: BookInputs, accounts: Sequence[str]) -> BookInputs:
    """The inputs restricted to positions of `accounts` (rejected rows kept: they belong to no account yet)."""
    chosen = set(accounts)
    fetches = tuple(
        fetch.model_copy(update={"positions": tuple(p for p in fetch.positions if p.account in chosen)})
        for fetch in inputs.fetches
    )
    return replace(inputs, fetches=fetches)


def status_lines(statuses: Sequence[SourceStatus], now: datetime, staleness_minutes: int) -> tuple[StatusLine, ...]:
    """One coloured line per source: ok with its as-of, orange "stale since …" past the threshold, red failures.

    Args:
        statuses: The sources' outcomes.
        now: tz-aware instant the page is drawn.
        staleness_minutes: The risk matrix's staleness threshold (config staleness_minutes).
    """
    limit = timedelta(minutes=staleness_minutes)
    lines: list[StatusLine] = []
    for s in statuses:
        if s.health is SourceHealth.OFF:
            lines.append(StatusLine(f"– {s.name}: off — {s.error}", OFF_COLOUR, stale=False, failed=False))
        elif s.health is SourceHealth.FAILED:
            lines.append(StatusLine(f"✗ {s.name}: failed — {s.error}", FAILED_COLOUR, stale=False, failed=True))
        elif s.health is SourceHealth.STALE:
            text = f"⚠ {s.name}: {format_stale_since(s.stale_since or s.as_of, now)} — {s.error or 'refresh failed'}"
            lines.append(StatusLine(text, STALE_COLOUR, stale=True, failed=False))
        elif s.as_of is not None and now - s.as_of > limit:
            text = f"⚠ {s.name}: {format_stale_since(s.as_of, now)} (older than {staleness_minutes} min)"
            lines.append(StatusLine(text, STALE_COLOUR, stale=True, failed=False))
        else:
            lines.append(StatusLine(f"✓ {s.name}: {format_age(s.as_of, now)}", OK_COLOUR, stale=False, failed=False))
    return tuple(lines)
