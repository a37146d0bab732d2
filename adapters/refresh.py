"""One refresh: every configured source fetched concurrently, each bounded, merged into one book and market.

Owns the order of the sources, their timeouts, the fallback to each source's last good snapshot and the
per-source status. It never shows an empty book that looks flat: a failed source is stale or visibly failed.
Nothing configured gives the bundled demo book and market, offline.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final, Generic, TypeVar

from pydantic import SecretStr

from adapters.demo import load_demo_book, load_demo_snapshot
from adapters.market_data import MARKET_DATA_SOURCE, MarketData, fetch_market_data
from adapters.polymarket import POLYMARKET_SOURCE, RecessionOdds, fetch_recession_probability, to_quote
from adapters.results import FetchResult, RejectedRow
from adapters.snapshot_store import SnapshotKind, SnapshotStore, SnapshotStoreError, mark_stale
from config.settings import Settings
from models.account import AccountValues
from models.base import RiskdashModel
from models.market import Beta, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import InstrumentKind, UnifiedPosition

__all__ = [
    "DEMO_SOURCE_NAME",
    "IBKR_SOURCE",
    "TASTYTRADE_SOURCE",
    "BrokerFetch",
    "MarketFetch",
    "RecessionFetch",
    "Refresh",
    "SourceReport",
    "SourceState",
    "Sources",
    "TimedSource",
    "configured_sources",
    "market_for_import",
    "refresh",
]

logger = logging.getLogger(__name__)

IBKR_SOURCE: Final = "ibkr"
TASTYTRADE_SOURCE: Final = "tastytrade"
DEMO_SOURCE_NAME: Final = "demo"
MARKET_OFF_NOTE: Final = (
    "market data is off (MARKET_DATA_ENABLED is not set) and no live market snapshot is stored: each position is "
    "priced on its own underlying price and IV from the file (rows without them are excluded), there is no VIX, "
    "so the regime is unknown"
)

_GRACE_S: Final = 5.0
"""Slack over a source's own timeouts (connect + Greeks wait) before the refresh stops waiting for it."""
_MARKET_DATA_BOUND_S: Final = 30.0
"""Whole yfinance download of a year of bars for ~20 tickers; each request also has its own timeout."""
_POLYMARKET_GRACE_S: Final = 3.0
_REDACTED: Final = "[redacted]"
_MIN_SECRET_CHARS: Final = 4
"""Shorter "secrets" would match ordinary text and corrupt it when scrubbed."""

BrokerFetch = Callable[[Settings, datetime], FetchResult]
"""(settings, now) -> positions, rejected rows, accounts and broker market data of one broker."""
MarketFetch = Callable[[Settings, datetime, tuple[str, ...]], MarketData]
"""(settings, now, book underlyings) -> the market snapshot of one batched download."""
RecessionFetch = Callable[[Settings, datetime], RecessionOdds]
"""(settings, now) -> the US-recession probability."""

FetchT = TypeVar("FetchT")


@dataclass(frozen=True)
class TimedSource(Generic[FetchT]):
    """A source's name, its fetch callable, and how long the refresh waits for it (s)."""

    name: str
    fetch: FetchT
    timeout_s: float

    def __post_init__(self) -> None:
        if not self.timeout_s > 0:
            raise ValueError(f"source {self.name!r}: timeout_s must be positive, got {self.timeout_s}")


@dataclass(frozen=True)
class Sources:
    """What one refresh fetches: brokers (positions), market data (yfinance), recession odds (Polymarket)."""

    brokers: tuple[TimedSource[BrokerFetch], ...] = ()
    market: TimedSource[MarketFetch] | None = None
    recession: TimedSource[RecessionFetch] | None = None

    def __post_init__(self) -> None:
        names = [source.name for source in self.brokers]
        if len(set(names)) != len(names):
            raise ValueError(f"broker sources must have distinct names, got {names}")

    @property
    def nothing_live(self) -> bool:
        """True when no broker is configured: the book (and so the market) is the bundled demo."""
        return not self.brokers


class SourceState(StrEnum):
    """What a source gave this refresh: fresh data, its last good data, or nothing."""

    OK = "ok"
    STALE = "stale"
    FAILED = "failed"


class SourceReport(RiskdashModel):
    """How one source did in one refresh; `label` is the text the page and CLI show."""

    source: str
    state: SourceState
    as_of: datetime | None = None
    stale_since: datetime | None = None
    error: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """ "ok", "stale since 2026-07-22 14:03 UTC (error)" or "failed: error"."""
        if self.state is SourceState.OK:
            return SourceState.OK.value
        if self.state is SourceState.STALE:
            since = "unknown" if self.stale_since is None else f"{self.stale_since.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
            return f"stale since {since}" + (f" ({self.error})" if self.error else "")
        return f"failed: {self.error or 'no reason given'}"


class Refresh(RiskdashModel):
    """The book, the merged market snapshot and every source's status of one refresh.

    Holds the fields of dashboard.book.BookInputs (`fetches`, `market`): `BookInputs(r.fetches, r.market)`.
    """

    fetches: tuple[FetchResult, ...]
    market: MarketSnapshot
    statuses: tuple[SourceReport, ...]
    as_of: datetime
    demo: bool = False

    @property
    def positions(self) -> tuple[UnifiedPosition, ...]:
        """Every position of every source (stale ones included, each fetch says whether it is stale)."""
        return tuple(position for fetch in self.fetches for position in fetch.positions)

    @property
    def rejected(self) -> tuple[RejectedRow, ...]:
        """Every row a source could not translate: source, row, field, reason."""
        return tuple(row for fetch in self.fetches for row in fetch.rejected)

    @property
    def accounts(self) -> tuple[AccountValues, ...]:
        """Account values of every broker account."""
        return tuple(account for fetch in self.fetches for account in fetch.accounts)

    def status(self, source: str) -> SourceReport | None:
        """The status of `source`, or None if this refresh did not fetch it."""
        return next((report for report in self.statuses if report.source == source), None)


def _adapter_fetch(module_name: str, function_name: str) -> BrokerFetch:
    """A fetch that imports `module_name` on first call, so a broker SDK loads only when that broker is used."""

    def fetch(settings: Settings, now: datetime) -> FetchResult:
        module = importlib.import_module(module_name)
        result = getattr(module, function_name)(settings, now)
        if not isinstance(result, FetchResult):
            raise TypeError(f"{module_name}.{function_name} returned {type(result).__name__}, not a FetchResult")
        return result

    return fetch


def _market_fetch(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
    return fetch_market_data(settings, now, underlyings)


def configured_sources(settings: Settings) -> Sources:
    """The sources `settings` switches on, each with its timeout (its own bounds plus a grace)."""
    brokers: list[TimedSource[BrokerFetch]] = []
    if settings.ibkr_configured:
        bound = settings.ibkr_timeout_s + settings.ibkr_greeks_wait_s + _GRACE_S
        brokers.append(TimedSource(IBKR_SOURCE, _adapter_fetch("adapters.ibkr", "fetch_ibkr"), bound))
    if settings.tastytrade_configured:
        bound = settings.tastytrade_timeout_s + settings.tastytrade_greeks_wait_s + _GRACE_S
        brokers.append(TimedSource(TASTYTRADE_SOURCE, _adapter_fetch("adapters.tastytrade", "fetch_tastytrade"), bound))
    market: TimedSource[MarketFetch] | None = None
    if settings.market_data_enabled:
        market = TimedSource(MARKET_DATA_SOURCE, _market_fetch, _MARKET_DATA_BOUND_S)
    recession: TimedSource[RecessionFetch] | None = None
    if settings.polymarket_enabled:
        bound = settings.polymarket_timeout_s + _POLYMARKET_GRACE_S
        recession = TimedSource(POLYMARKET_SOURCE, fetch_recession_probability, bound)
    return Sources(brokers=tuple(brokers), market=market, recession=recession)


class _NoAnswer(Exception):
    """The source did not answer by its deadline (its own TimeoutError is reported as the source raised it)."""


class _Scrubber:
    """Replaces the Settings' secret values in any text that leaves a fetch (errors, notes, logs)."""

    def __init__(self, settings: Settings) -> None:
        values = (getattr(settings, name) for name in type(settings).model_fields)
        secrets = {v.get_secret_value() for v in values if isinstance(v, SecretStr)}
        self._secrets = sorted((s for s in secrets if len(s) >= _MIN_SECRET_CHARS), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, _REDACTED)
        return text

    def error(self, source: str, exc: BaseException, timeout_s: float) -> str:
        if isinstance(exc, _NoAnswer):
            return f"{source}: no answer within {timeout_s:g} s"
        text = str(exc) or type(exc).__name__
        if source not in text:
            text = f"{source}: {type(exc).__name__}: {text}"
        return self(text)


def _wait(future: Future[FetchT], deadline: float) -> FetchT:
    """The future's result; _NoAnswer once the monotonic `deadline` passes without one."""
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        if future.done():
            raise
        raise _NoAnswer from None


ResultT = TypeVar("ResultT")


class _Ledger:
    """The snapshot store as one refresh uses it: a store that fails costs a note, never the refresh."""

    def __init__(self, store: SnapshotStore, scrub: _Scrubber, now: datetime) -> None:
        self.store = store
        self.scrub = scrub
        self.now = now

    def _safely(self, action: Callable[[], ResultT], what: str, notes: list[str]) -> ResultT | None:
        try:
            return action()
        except SnapshotStoreError as exc:
            message = self.scrub(f"snapshot store: cannot {what}: {exc}")
            logger.warning("refresh: %s", message)
            notes.append(message)
            return None

    def failure(self, source: TimedSource[Any], kind: SnapshotKind, exc: Exception, notes: list[str]) -> str:
        """The scrubbed error of `source`'s failed fetch, logged and recorded in the store as its failure."""
        error = self.scrub.error(source.name, exc, source.timeout_s)
        logger.warning("refresh: %s failed: %s", source.name, error)
        self._safely(
            lambda: self.store.record_failure(source.name, kind, error, self.now),
            f"record the failure of {source.name}",
            notes,
        )
        return error

    def last_fetch(self, source: str, notes: list[str]) -> FetchResult | None:
        return self._safely(lambda: self.store.last_fetch(source), f"read the last {source} fetch", notes)

    def last_market(self, source: str, notes: list[str]) -> MarketSnapshot | None:
        return self._safely(lambda: self.store.last_market(source), f"read the last {source} snapshot", notes)

    def save_fetch(self, result: FetchResult, notes: list[str]) -> None:
        self._safely(lambda: self.store.save_fetch(result), f"save the {result.source} fetch", notes)

    def save_market(self, snapshot: MarketSnapshot, source: str, notes: list[str]) -> None:
        self._safely(lambda: self.store.save_market(snapshot, source), f"save the {source} snapshot", notes)


def _stale_copy(last: FetchResult, error: str, now: datetime) -> FetchResult:
    try:
        return mark_stale(last, error, now)
    except ValueError:
        # The stored fetch is stamped after `now` (a clock that went back): still the last good data.
        return last.model_copy(update={"stale": True, "stale_since": last.fetched_at, "error": error})


def _fallback_report(
    source: str, error: str, notes: Sequence[str], as_of: datetime | None, stale_since: datetime | None = None
) -> SourceReport:
    """FAILED when there is no earlier data to show (`as_of` None), else STALE: data of `as_of`, stale since
    `stale_since` (default: `as_of`)."""
    if as_of is None:
        return SourceReport(source=source, state=SourceState.FAILED, error=error, notes=tuple(notes))
    return SourceReport(
        source=source,
        state=SourceState.STALE,
        as_of=as_of,
        stale_since=stale_since or as_of,
        error=error,
        notes=tuple(notes),
    )


@dataclass
class _Gathered:
    fetches: list[FetchResult] = field(default_factory=list)
    statuses: list[SourceReport] = field(default_factory=list)


def _broker_outcome(
    source: TimedSource[BrokerFetch], future: Future[FetchResult], deadline: float, ledger: _Ledger, into: _Gathered
) -> None:
    notes: list[str] = []
    try:
        result = _wait(future, deadline)
        if result.source != source.name:
            raise ValueError(f"{source.name}: the fetch returned positions of source {result.source!r}")
    except Exception as exc:
        error = ledger.failure(source, SnapshotKind.POSITIONS, exc, notes)
        last = ledger.last_fetch(source.name, notes)
        if last is None:
            into.statuses.append(_fallback_report(source.name, error, notes, None))
            return
        stale = _stale_copy(last, error, ledger.now)
        into.fetches.append(stale)
        into.statuses.append(_fallback_report(source.name, error, notes, stale.fetched_at, stale.stale_since))
        return
    notes.extend(ledger.scrub(note) for note in result.notes)
    if result.stale:
        # The adapter already fell back to its own last good result: not a new good fetch to store.
        error = ledger.scrub(result.error or f"{source.name}: stale")
        into.fetches.append(result.model_copy(update={"error": error, "notes": tuple(notes)}))
        into.statuses.append(_fallback_report(source.name, error, notes, result.fetched_at, result.stale_since))
        return
    ledger.save_fetch(result, notes)
    into.fetches.append(result)
    into.statuses.append(
        SourceReport(source=source.name, state=SourceState.OK, as_of=result.fetched_at, notes=tuple(notes))
    )


def _market_outcome(
    source: TimedSource[MarketFetch], future: Future[MarketData], deadline: float, ledger: _Ledger
) -> tuple[MarketSnapshot | None, SourceReport]:
    notes: list[str] = []
    try:
        data = _wait(future, deadline)
    except Exception as exc:
        error = ledger.failure(source, SnapshotKind.MARKET, exc, notes)
        last = ledger.last_market(source.name, notes)
        return last, _fallback_report(source.name, error, notes, None if last is None else last.as_of)
    notes.extend(ledger.scrub(note) for note in data.notes)
    ledger.save_market(data.snapshot, source.name, notes)
    return data.snapshot, SourceReport(
        source=source.name, state=SourceState.OK, as_of=data.snapshot.as_of, notes=tuple(notes)
    )


def _recession_outcome(
    source: TimedSource[RecessionFetch], future: Future[RecessionOdds], deadline: float, ledger: _Ledger
) -> tuple[Quote | None, SourceReport]:
    notes: list[str] = []
    try:
        odds = _wait(future, deadline)
    except Exception as exc:
        error = ledger.failure(source, SnapshotKind.MARKET, exc, notes)
        last = ledger.last_market(source.name, notes)
        odds_before = None if last is None else last.recession_prob
        as_of = None if odds_before is None else odds_before.as_of
        return odds_before, _fallback_report(source.name, error, notes, as_of)
    quote = to_quote(odds)
    notes.append(f"{odds.question} ({odds.slug})")
    if odds.stale:
        # The adapter served its cached odds: they were stored when they were fresh.
        error = ledger.scrub(odds.error or f"{source.name}: stale")
        return quote, _fallback_report(source.name, error, notes, odds.as_of, odds.stale_since)
    ledger.save_market(MarketSnapshot(recession_prob=quote, as_of=odds.as_of), source.name, notes)
    return quote, SourceReport(source=source.name, state=SourceState.OK, as_of=odds.as_of, notes=tuple(notes))


def _newer(first: Quote | Beta | None, second: Quote | Beta | None) -> Quote | Beta | None:
    """The more recent of two values; a tie keeps `first` (broker data ranks before market data)."""
    if first is None:
        return second
    if second is None or first.as_of >= second.as_of:
        return first
    return second


def _merge_underlying(ranked: Sequence[UnderlyingMarket]) -> UnderlyingMarket:
    merged: dict[str, Quote | Beta | None] = {}
    for name in UnderlyingMarket.model_fields:
        best: Quote | Beta | None = None
        for market in ranked:
            best = _newer(best, getattr(market, name))
        merged[name] = best
    return UnderlyingMarket.model_validate(merged)


def _merge_market(
    now: datetime,
    fetches: Iterable[FetchResult],
    market: MarketSnapshot | None,
    recession: Quote | None,
) -> MarketSnapshot:
    """One snapshot: yfinance levels, Polymarket odds, and per underlying the newest value of each field."""
    ranked: dict[str, list[UnderlyingMarket]] = {}
    for fetch in fetches:
        for symbol, data in fetch.underlyings.items():
            ranked.setdefault(symbol, []).append(data)
    if market is not None:
        for symbol, data in market.underlyings.items():
            ranked.setdefault(symbol, []).append(data)
    underlyings = {symbol: _merge_underlying(found) for symbol, found in sorted(ranked.items())}
    base = market if market is not None else MarketSnapshot(as_of=now)
    return base.model_copy(
        update={"underlyings": underlyings, "recession_prob": recession, "as_of": now, "demo": False}
    )


_FUTURE_KINDS: Final = frozenset({InstrumentKind.FUTURE, InstrumentKind.FUTURE_OPTION})


def _market_underlyings(fetches: Iterable[FetchResult]) -> tuple[str, ...]:
    """Underlyings of shares and equity/index options, sorted; futures are left to their broker's data.

    A future's underlying is a contract code ("ES", "ESM5") that Yahoo would read as a stock ticker (Eversource).
    """
    return tuple(sorted({p.underlying for fetch in fetches for p in fetch.positions if p.kind not in _FUTURE_KINDS}))


def _demo(now: datetime, notes: Sequence[str]) -> Refresh:
    book = load_demo_book(now)
    report = SourceReport(source=DEMO_SOURCE_NAME, state=SourceState.OK, as_of=now, notes=(*book.notes, *notes))
    return Refresh(fetches=(book,), market=load_demo_snapshot(now), statuses=(report,), as_of=now, demo=True)


def refresh(settings: Settings, now: datetime, *, store: SnapshotStore, sources: Sources | None = None) -> Refresh:
    """The book, merged market snapshot and per-source status of one refresh at `now`.

    Brokers and Polymarket start together; the yfinance download starts once the brokers have answered (or
    timed out), because it needs the book's underlyings and is one batched call. Each source is waited for
    at most its `timeout_s`, so a refresh lasts at most max(broker timeouts) + market timeout. Every good
    result is saved to `store`; a failure serves the source's last good snapshot marked stale, or is a
    visible "failed" when there is none. With no broker configured, the bundled demo book and demo market.

    Args:
        settings: Which sources are configured, their timeouts, and the secrets scrubbed from every message.
        now: tz-aware refresh instant: stamps the snapshot, ages stale data.
        store: Where good results are saved and last good ones read.
        sources: The sources to fetch; `configured_sources(settings)` when omitted (tests inject callables).
    """
    if now.tzinfo is None:
        raise ValueError("refresh: now must be tz-aware")
    plan = configured_sources(settings) if sources is None else sources
    if plan.nothing_live:
        live = [source.name for source in (plan.market, plan.recession) if source is not None]
        notes = [f"{', '.join(live)} configured but no broker: the demo book needs the demo market"] if live else []
        return _demo(now, notes)

    ledger = _Ledger(store, _Scrubber(settings), now)
    gathered = _Gathered()
    market: MarketSnapshot | None = None
    market_report: SourceReport | None = None
    recession: Quote | None = None
    recession_report: SourceReport | None = None
    # One worker per source: a source stuck past its timeout still holds its worker, never another's.
    executor = ThreadPoolExecutor(max_workers=len(plan.brokers) + 2, thread_name_prefix="refresh")
    try:
        started = time.monotonic()
        brokers = [(source, executor.submit(source.fetch, settings, now)) for source in plan.brokers]
        odds_future = None if plan.recession is None else executor.submit(plan.recession.fetch, settings, now)
        for source, future in brokers:
            _broker_outcome(source, future, started + source.timeout_s, ledger, gathered)

        if plan.market is not None:
            underlyings = _market_underlyings(gathered.fetches)
            market_started = time.monotonic()
            market_future = executor.submit(plan.market.fetch, settings, now, underlyings)
            market, market_report = _market_outcome(
                plan.market, market_future, market_started + plan.market.timeout_s, ledger
            )

        if plan.recession is not None and odds_future is not None:
            recession, recession_report = _recession_outcome(
                plan.recession, odds_future, started + plan.recession.timeout_s, ledger
            )
    finally:
        # A source past its timeout keeps its thread until it returns; nobody waits for it.
        executor.shutdown(wait=False, cancel_futures=True)

    statuses = [*gathered.statuses, *(r for r in (market_report, recession_report) if r is not None)]
    return Refresh(
        fetches=tuple(gathered.fetches),
        market=_merge_market(now, gathered.fetches, market, recession),
        statuses=tuple(statuses),
        as_of=now,
        demo=any(fetch.demo for fetch in gathered.fetches),
    )


def market_for_import(
    settings: Settings,
    now: datetime,
    fetches: Sequence[FetchResult],
    *,
    store: SnapshotStore | None,
    sources: Sources | None = None,
) -> Refresh:
    """The market an imported book (Flex XML, thinkorswim CSV) is priced on — never the demo snapshot.

    With market data configured: a live download for the book's underlyings (and the recession odds when
    Polymarket is on), saved to `store`, or the last good snapshot marked stale when the download fails.
    Otherwise the last stored live market snapshot (reported stale since its as-of). Otherwise a snapshot
    without levels or underlyings, so each position's own underlying price and IV from the file are used and
    the regime is unknown; the status says so (MARKET_OFF_NOTE). Files are not saved to the store.

    Args:
        settings: Which market sources are on, their timeouts, and the secrets scrubbed from every message.
        now: tz-aware instant of the import.
        fetches: The imported files' positions.
        store: Where live snapshots are saved and last good ones read (None: neither, and nothing is fetched).
        sources: The market sources to use instead of `configured_sources(settings)` (brokers are ignored).
    """
    if now.tzinfo is None:
        raise ValueError("market_for_import: now must be tz-aware")
    plan = configured_sources(settings) if sources is None else sources
    statuses: list[SourceReport] = []
    market: MarketSnapshot | None = None
    recession: Quote | None = None
    if plan.market is not None and store is not None:
        ledger = _Ledger(store, _Scrubber(settings), now)
        executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="import-market")
        try:
            started = time.monotonic()
            odds_future = None if plan.recession is None else executor.submit(plan.recession.fetch, settings, now)
            market_future = executor.submit(plan.market.fetch, settings, now, _market_underlyings(fetches))
            market, report = _market_outcome(plan.market, market_future, started + plan.market.timeout_s, ledger)
            statuses.append(report)
            if plan.recession is not None and odds_future is not None:
                recession, odds_report = _recession_outcome(
                    plan.recession, odds_future, started + plan.recession.timeout_s, ledger
                )
                statuses.append(odds_report)
        finally:
            executor.shutdown(wait=False, cancel_futures=True)
    elif store is not None:
        notes: list[str] = []
        ledger = _Ledger(store, _Scrubber(settings), now)
        market = ledger.last_market(MARKET_DATA_SOURCE, notes)
        if market is not None:
            recession = market.recession_prob
            off = "market data is off (MARKET_DATA_ENABLED is not set): the last stored live snapshot is used"
            statuses.append(
                SourceReport(
                    source=MARKET_DATA_SOURCE,
                    state=SourceState.STALE,
                    as_of=market.as_of,
                    stale_since=market.as_of,
                    error=off,
                    notes=tuple(notes),
                )
            )
    if market is None and not any(r.source == MARKET_DATA_SOURCE for r in statuses):
        error = MARKET_OFF_NOTE if plan.market is None else "not fetched: no snapshot store to save to and fall back on"
        statuses.append(SourceReport(source=MARKET_DATA_SOURCE, state=SourceState.FAILED, error=error))
    return Refresh(
        fetches=tuple(fetches),
        market=_merge_market(now, fetches, market, recession),
        statuses=tuple(statuses),
        as_of=now,
        demo=any(fetch.demo for fetch in fetches),
    )
