"""One refresh over injected sources and a real SnapshotStore: ok, failing, timing out, stale, concurrent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.errors import AuthFailed, SourceUnavailable
from adapters.market_data import MarketData
from adapters.polymarket import RecessionOdds
from adapters.refresh import (
    BrokerFetch,
    MarketFetch,
    RecessionFetch,
    Refresh,
    Sources,
    SourceState,
    TimedSource,
    configured_sources,
    refresh,
)
from adapters.results import FetchResult, RejectedRow
from adapters.snapshot_store import SnapshotKind, SnapshotStore
from config.settings import Settings
from dashboard.book import BookInputs
from models.account import AccountValues
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import InstrumentKind, Source, UnifiedPosition

T0 = datetime(2026, 7, 9, 19, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)
BOUND_S = 10.0
"""Generous wall-clock bound for a refresh whose slowest source is cut off after a fraction of a second."""


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(_env_file=None, riskdash_data_dir=tmp_path)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SnapshotStore]:
    with SnapshotStore(tmp_path / "snapshots.sqlite3") as opened:
        yield opened


def _position(source: str, underlying: str, quantity: float, at: datetime) -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.IBKR if source == "ibkr" else Source.TASTYTRADE,
        broker=source,
        account="U0000001",
        symbol=underlying,
        kind=InstrumentKind.STOCK,
        underlying=underlying,
        quantity=quantity,
        multiplier=1.0,
        mark=100.0,
        as_of=at,
    )


def _fetch(source: str, at: datetime, *underlyings: str, **extra: object) -> FetchResult:
    positions = tuple(_position(source, u, 10.0 * (i + 1), at) for i, u in enumerate(underlyings or ("SPY",)))
    return FetchResult.model_validate({"source": source, "positions": positions, "fetched_at": at, **extra})


def _ok(result: FetchResult) -> BrokerFetch:
    return lambda settings, now: result


def _raising(exc: Exception) -> BrokerFetch:
    def fetch(settings: Settings, now: datetime) -> FetchResult:
        raise exc

    return fetch


def _blocking(release: threading.Event) -> BrokerFetch:
    def fetch(settings: Settings, now: datetime) -> FetchResult:
        release.wait(BOUND_S * 3)
        return _fetch("slow", now)

    return fetch


def _broker(name: str, fetch: BrokerFetch, timeout_s: float = 5.0) -> TimedSource[BrokerFetch]:
    return TimedSource(name, fetch, timeout_s)


def _quote(value: float, at: datetime, source: str = "yfinance") -> Quote:
    return Quote(value=value, source=source, as_of=at)


def _market(at: datetime, **underlyings: UnderlyingMarket) -> MarketFetch:
    def fetch(settings: Settings, now: datetime, symbols: tuple[str, ...]) -> MarketData:
        snapshot = MarketSnapshot(vix=_quote(16.6, at), vix3m=_quote(19.5, at), underlyings=underlyings, as_of=now)
        return MarketData(snapshot=snapshot, notes=("yfinance ^IRX: every Close is NaN in the download",))

    return fetch


def _odds(at: datetime, probability: float = 0.165, **extra: object) -> RecessionFetch:
    odds = RecessionOdds.model_validate(
        {
            "probability": probability,
            "question": "US recession in 2026?",
            "slug": "us-recession-in-2026",
            "market_id": "516710",
            "volume_usd": 1e6,
            "as_of": at,
            **extra,
        }
    )
    return lambda settings, now: odds


# --- nothing configured ---------------------------------------------------------------------------------


def test_nothing_configured_is_the_demo_book_and_market(settings: Settings, store: SnapshotStore) -> None:
    result = refresh(settings, T0, store=store)
    assert result.demo
    assert result.market.demo
    assert [fetch.source for fetch in result.fetches] == ["demo"]
    assert result.positions  # the demo book is not empty
    assert [(s.source, s.state) for s in result.statuses] == [("demo", SourceState.OK)]
    assert store.status() == []  # the demo is never stored as a source's good snapshot


def test_market_sources_without_a_broker_still_show_the_demo_and_say_why(tmp_path: Path, store: SnapshotStore) -> None:
    settings = Settings(_env_file=None, riskdash_data_dir=tmp_path, market_data_enabled=True, polymarket_enabled=True)
    result = refresh(settings, T0, store=store)
    assert result.demo
    assert any("yfinance, polymarket configured but no broker" in note for note in result.statuses[0].notes)


def test_configured_sources_follow_settings_and_add_grace_to_their_timeouts(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,
        ibkr_port=4002,
        ibkr_timeout_s=8.0,
        ibkr_greeks_wait_s=4.0,
        tastytrade_provider_secret="provider-secret",
        tastytrade_refresh_token="refresh-token",
        market_data_enabled=True,
        polymarket_enabled=True,
        polymarket_timeout_s=5.0,
    )
    plan = configured_sources(settings)
    assert [(b.name, b.timeout_s > 12.0) for b in plan.brokers] == [("ibkr", True), ("tastytrade", True)]
    assert plan.market is not None
    assert plan.market.name == "yfinance"
    assert plan.recession is not None
    assert (plan.recession.name, plan.recession.timeout_s > 5.0) == ("polymarket", True)


# --- ok, raising, timing out ----------------------------------------------------------------------------


def test_ok_raising_and_timing_out_sources_each_get_their_status_within_the_bound(
    settings: Settings, store: SnapshotStore
) -> None:
    release = threading.Event()
    sources = Sources(
        brokers=(
            _broker("ibkr", _ok(_fetch("ibkr", T0))),
            _broker("tastytrade", _raising(AuthFailed("tastytrade POST /oauth/token: 401 invalid_grant"))),
            _broker("slow", _blocking(release), timeout_s=0.3),
        )
    )
    started = time.monotonic()
    try:
        result = refresh(settings, T0, store=store, sources=sources)
        elapsed = time.monotonic() - started
    finally:
        release.set()

    assert elapsed < BOUND_S
    by_source = {s.source: s for s in result.statuses}
    assert by_source["ibkr"].state is SourceState.OK
    assert by_source["tastytrade"].label == "failed: tastytrade POST /oauth/token: 401 invalid_grant"
    assert by_source["slow"].label == "failed: slow: no answer within 0.3 s"
    assert [fetch.source for fetch in result.fetches] == ["ibkr"]
    assert not result.demo


def test_a_timed_out_source_is_recorded_as_failing_in_the_store(settings: Settings, store: SnapshotStore) -> None:
    release = threading.Event()
    try:
        refresh(settings, T0, store=store, sources=Sources(brokers=(_broker("slow", _blocking(release), 0.2),)))
    finally:
        release.set()
    (status,) = store.status()
    assert (status.source, status.kind, status.ok, status.error) == (
        "slow",
        SnapshotKind.POSITIONS,
        False,
        "slow: no answer within 0.2 s",
    )


def test_an_exception_without_the_source_name_is_prefixed_with_it(settings: Settings, store: SnapshotStore) -> None:
    sources = Sources(brokers=(_broker("ibkr", _raising(ConnectionRefusedError("[Errno 111] Connection refused"))),))
    (status,) = refresh(settings, T0, store=store, sources=sources).statuses
    assert status.error == "ibkr: ConnectionRefusedError: [Errno 111] Connection refused"


def test_a_source_raising_its_own_timeout_keeps_its_message(settings: Settings, store: SnapshotStore) -> None:
    sources = Sources(brokers=(_broker("ibkr", _raising(TimeoutError("ibkr 127.0.0.1:4002: connect timed out"))),))
    (status,) = refresh(settings, T0, store=store, sources=sources).statuses
    assert status.error == "ibkr 127.0.0.1:4002: connect timed out"


# --- stale fallback -------------------------------------------------------------------------------------


def test_failed_source_serves_its_last_good_fetch_stale_since_it_was_fetched(
    settings: Settings, store: SnapshotStore
) -> None:
    good = _fetch("ibkr", T0, "SPY", "AAPL")
    refresh(settings, T0, store=store, sources=Sources(brokers=(_broker("ibkr", _ok(good)),)))

    failing = Sources(brokers=(_broker("ibkr", _raising(SourceUnavailable("ibkr 127.0.0.1:4002: not connected"))),))
    result = refresh(settings, T1, store=store, sources=failing)

    (fetch,) = result.fetches
    assert fetch.positions == good.positions  # never an empty book that looks flat
    assert (fetch.stale, fetch.stale_since, fetch.error) == (True, T0, "ibkr 127.0.0.1:4002: not connected")
    (status,) = result.statuses
    assert status.state is SourceState.STALE
    assert status.label == "stale since 2026-07-09 19:00 UTC (ibkr 127.0.0.1:4002: not connected)"


def test_stale_fallback_keeps_its_rejected_rows(settings: Settings, store: SnapshotStore) -> None:
    bad_row = RejectedRow(source="ibkr", row="conid 1234", field="multiplier", reason="'' is not a number")
    good = _fetch("ibkr", T0, rejected=(bad_row,))
    refresh(settings, T0, store=store, sources=Sources(brokers=(_broker("ibkr", _ok(good)),)))
    failing = Sources(brokers=(_broker("ibkr", _raising(SourceUnavailable("ibkr: down"))),))
    assert refresh(settings, T1, store=store, sources=failing).rejected == (bad_row,)


def test_rejected_rows_of_every_source_are_returned(settings: Settings, store: SnapshotStore) -> None:
    ibkr_row = RejectedRow(source="ibkr", row="conid 1", field="strike", reason="missing")
    tasty_row = RejectedRow(source="tastytrade", row="./ESU3 C3990", field="multiplier", reason="'x'")
    sources = Sources(
        brokers=(
            _broker("ibkr", _ok(_fetch("ibkr", T0, rejected=(ibkr_row,)))),
            _broker("tastytrade", _ok(_fetch("tastytrade", T0, rejected=(tasty_row,)))),
        )
    )
    assert refresh(settings, T0, store=store, sources=sources).rejected == (ibkr_row, tasty_row)


def test_source_that_never_succeeded_is_failed_and_contributes_no_positions(
    settings: Settings, store: SnapshotStore
) -> None:
    sources = Sources(
        brokers=(
            _broker("ibkr", _ok(_fetch("ibkr", T0))),
            _broker("tastytrade", _raising(AuthFailed("tastytrade: refresh token expired"))),
        )
    )
    result = refresh(settings, T0, store=store, sources=sources)
    status = result.status("tastytrade")
    assert status is not None
    assert (status.state, status.as_of, status.stale_since) == (SourceState.FAILED, None, None)
    assert {p.broker for p in result.positions} == {"ibkr"}


def test_adapter_served_stale_result_is_shown_stale_and_not_stored_as_good(
    settings: Settings, store: SnapshotStore
) -> None:
    stale = _fetch("tastytrade", T0, stale=True, stale_since=T0, error="tastytrade: DXLink silent for 5 s")
    result = refresh(settings, T1, store=store, sources=Sources(brokers=(_broker("tastytrade", _ok(stale)),)))
    (status,) = result.statuses
    assert (status.state, status.stale_since, status.error) == (
        SourceState.STALE,
        T0,
        "tastytrade: DXLink silent for 5 s",
    )
    assert store.last_fetch("tastytrade") is None


def test_fetch_answering_for_another_source_is_refused(settings: Settings, store: SnapshotStore) -> None:
    sources = Sources(brokers=(_broker("ibkr", _ok(_fetch("tastytrade", T0))),))
    (status,) = refresh(settings, T0, store=store, sources=sources).statuses
    assert status.state is SourceState.FAILED
    assert "returned positions of source 'tastytrade'" in (status.error or "")


# --- concurrency ----------------------------------------------------------------------------------------


def test_brokers_run_at_the_same_time(settings: Settings, store: SnapshotStore) -> None:
    # Each fetch waits until the other has started: run one after the other, the first would break the barrier.
    both_started = threading.Barrier(2, timeout=BOUND_S)

    def meeting(source: str) -> BrokerFetch:
        def fetch(settings: Settings, now: datetime) -> FetchResult:
            both_started.wait()
            return _fetch(source, now)

        return fetch

    sources = Sources(
        brokers=(
            _broker("ibkr", meeting("ibkr"), BOUND_S * 2),
            _broker("tastytrade", meeting("tastytrade"), BOUND_S * 2),
        )
    )
    result = refresh(settings, T0, store=store, sources=sources)
    assert [s.state for s in result.statuses] == [SourceState.OK, SourceState.OK]


def test_recession_odds_are_fetched_while_brokers_still_work(settings: Settings, store: SnapshotStore) -> None:
    odds_started = threading.Event()

    def broker(settings: Settings, now: datetime) -> FetchResult:
        if not odds_started.wait(BOUND_S):
            raise SourceUnavailable("ibkr: polymarket never started while ibkr was fetching")
        return _fetch("ibkr", now)

    def odds(settings: Settings, now: datetime) -> RecessionOdds:
        odds_started.set()
        return _odds(now)(settings, now)

    sources = Sources(
        brokers=(_broker("ibkr", broker, BOUND_S * 2),), recession=TimedSource("polymarket", odds, BOUND_S * 2)
    )
    result = refresh(settings, T0, store=store, sources=sources)
    assert [s.state for s in result.statuses] == [SourceState.OK, SourceState.OK]


# --- market data and recession odds ---------------------------------------------------------------------


def test_market_source_gets_the_share_and_option_underlyings_of_every_broker(
    settings: Settings, store: SnapshotStore
) -> None:
    seen: list[tuple[str, ...]] = []
    future = UnifiedPosition(
        source=Source.IBKR,
        broker="ibkr",
        account="U0000001",
        symbol="ESU6",
        kind=InstrumentKind.FUTURE,
        underlying="ES",  # Yahoo's "ES" is Eversource Energy: a future's root must never be looked up as a stock
        quantity=1.0,
        multiplier=50.0,
        expiry=datetime(2026, 9, 18, 13, 30, tzinfo=UTC),
        as_of=T0,
    )
    tasty = (*_fetch("tastytrade", T0, "SPY").positions, future)

    def market(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
        seen.append(underlyings)
        return MarketData(snapshot=MarketSnapshot(as_of=now))

    sources = Sources(
        brokers=(
            _broker("ibkr", _ok(_fetch("ibkr", T0, "SPY", "AAPL"))),
            _broker("tastytrade", _ok(_fetch("tastytrade", T0, "SPY").model_copy(update={"positions": tasty}))),
        ),
        market=TimedSource("yfinance", market, 5.0),
    )
    refresh(settings, T0, store=store, sources=sources)
    assert seen == [("AAPL", "SPY")]


def test_market_is_merged_newest_value_first_with_broker_data(settings: Settings, store: SnapshotStore) -> None:
    yesterday = T0 - timedelta(hours=19)
    broker_spy = UnderlyingMarket(
        spot=_quote(601.5, T0, "tastytrade"),
        iv=_quote(0.14, T0, "tastytrade"),
        beta=Beta(value=1.0, source=BetaSource.BROKER, as_of=T0),
    )
    yahoo_spy = UnderlyingMarket(
        spot=_quote(598.0, yesterday),
        hv20=_quote(0.12, yesterday),
        beta=Beta(value=0.99, source=BetaSource.ESTIMATED, as_of=yesterday, correlation=0.99),
    )
    sources = Sources(
        brokers=(_broker("tastytrade", _ok(_fetch("tastytrade", T0, underlyings={"SPY": broker_spy}))),),
        market=TimedSource("yfinance", _market(yesterday, SPY=yahoo_spy), 5.0),
        recession=TimedSource("polymarket", _odds(T0), 5.0),
    )
    market = refresh(settings, T0, store=store, sources=sources).market

    spy = market.underlying("SPY")
    assert (spy.spot, spy.iv, spy.hv20) == (broker_spy.spot, broker_spy.iv, yahoo_spy.hv20)
    assert spy.beta == broker_spy.beta
    assert market.vix == _quote(16.6, yesterday)
    assert market.recession_prob == _quote(0.165, T0, "polymarket")
    assert (market.as_of, market.demo) == (T0, False)


def test_market_failure_serves_the_last_good_snapshot_stale(settings: Settings, store: SnapshotStore) -> None:
    broker = _broker("ibkr", _ok(_fetch("ibkr", T0)))
    refresh(
        settings, T0, store=store, sources=Sources(brokers=(broker,), market=TimedSource("yfinance", _market(T0), 5.0))
    )

    def limited(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
        raise SourceUnavailable("yfinance download: rate limited by Yahoo: ['^VIX']: YFRateLimitError(...)")

    result = refresh(
        settings, T1, store=store, sources=Sources(brokers=(broker,), market=TimedSource("yfinance", limited, 5.0))
    )

    assert result.market.vix == _quote(16.6, T0)
    status = result.status("yfinance")
    assert status is not None
    assert (status.state, status.stale_since) == (SourceState.STALE, T0)
    assert "rate limited" in status.label


def test_market_failure_without_history_is_failed_and_leaves_levels_missing(
    settings: Settings, store: SnapshotStore
) -> None:
    def down(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
        raise SourceUnavailable("yfinance download: empty or not a (field, ticker) frame, shape (0, 0)")

    sources = Sources(brokers=(_broker("ibkr", _ok(_fetch("ibkr", T0))),), market=TimedSource("yfinance", down, 5.0))
    result = refresh(settings, T0, store=store, sources=sources)
    assert result.market.vix is None
    status = result.status("yfinance")
    assert status is not None
    assert status.label.startswith("failed: yfinance download: empty")


def test_market_notes_reach_the_status(settings: Settings, store: SnapshotStore) -> None:
    sources = Sources(
        brokers=(_broker("ibkr", _ok(_fetch("ibkr", T0))),), market=TimedSource("yfinance", _market(T0), 5.0)
    )
    status = refresh(settings, T0, store=store, sources=sources).status("yfinance")
    assert status is not None
    assert status.notes == ("yfinance ^IRX: every Close is NaN in the download",)


def test_recession_failure_serves_the_stored_odds_stale(settings: Settings, store: SnapshotStore) -> None:
    broker = _broker("ibkr", _ok(_fetch("ibkr", T0)))
    refresh(
        settings,
        T0,
        store=store,
        sources=Sources(brokers=(broker,), recession=TimedSource("polymarket", _odds(T0), 5.0)),
    )

    def down(settings: Settings, now: datetime) -> RecessionOdds:
        raise SourceUnavailable("polymarket GET https://gamma-api.polymarket.com/public-search: HTTP 500")

    result = refresh(
        settings, T1, store=store, sources=Sources(brokers=(broker,), recession=TimedSource("polymarket", down, 5.0))
    )
    assert result.market.recession_prob == _quote(0.165, T0, "polymarket")
    status = result.status("polymarket")
    assert status is not None
    assert (status.state, status.stale_since) == (SourceState.STALE, T0)


def test_odds_the_adapter_served_stale_are_shown_stale(settings: Settings, store: SnapshotStore) -> None:
    stale = _odds(T0, stale=True, stale_since=T0, error="polymarket GET /public-search: timed out")
    sources = Sources(
        brokers=(_broker("ibkr", _ok(_fetch("ibkr", T1))),), recession=TimedSource("polymarket", stale, 5.0)
    )
    status = refresh(settings, T1, store=store, sources=sources).status("polymarket")
    assert status is not None
    assert status.label == "stale since 2026-07-09 19:00 UTC (polymarket GET /public-search: timed out)"
    assert store.last_market("polymarket") is None


# --- the store and the dashboard ------------------------------------------------------------------------


def test_every_good_result_is_saved(settings: Settings, store: SnapshotStore) -> None:
    sources = Sources(
        brokers=(_broker("ibkr", _ok(_fetch("ibkr", T0))),),
        market=TimedSource("yfinance", _market(T0), 5.0),
        recession=TimedSource("polymarket", _odds(T0), 5.0),
    )
    refresh(settings, T0, store=store, sources=sources)
    assert store.last_fetch("ibkr") == _fetch("ibkr", T0)
    assert [(s.source, s.kind, s.ok) for s in store.status()] == [
        ("polymarket", SnapshotKind.MARKET, True),
        ("yfinance", SnapshotKind.MARKET, True),
        ("ibkr", SnapshotKind.POSITIONS, True),
    ]


def test_a_broken_store_costs_a_note_not_the_refresh(settings: Settings, tmp_path: Path) -> None:
    broken = SnapshotStore(tmp_path / "closed.sqlite3")
    broken.close()
    sources = Sources(brokers=(_broker("ibkr", _ok(_fetch("ibkr", T0))),))
    (status,) = refresh(settings, T0, store=broken, sources=sources).statuses
    assert status.state is SourceState.OK
    assert any("snapshot store: cannot save the ibkr fetch" in note for note in status.notes)


def test_account_values_come_through(settings: Settings, store: SnapshotStore) -> None:
    account = AccountValues(source="ibkr", broker="IBKR", account="U0000001", net_liquidation=1e6, as_of=T0)
    sources = Sources(brokers=(_broker("ibkr", _ok(_fetch("ibkr", T0, accounts=(account,)))),))
    assert refresh(settings, T0, store=store, sources=sources).accounts == (account,)


def test_refresh_feeds_the_dashboard_book_inputs(settings: Settings, store: SnapshotStore) -> None:
    result: Refresh = refresh(settings, T0, store=store)
    inputs = BookInputs(fetches=result.fetches, market=result.market)
    assert (inputs.positions, inputs.rejected, inputs.demo) == (result.positions, result.rejected, result.demo)


def test_naive_now_is_refused(settings: Settings, store: SnapshotStore) -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        refresh(settings, datetime(2026, 7, 9, 15, 0), store=store)


def test_broker_names_must_be_distinct() -> None:
    fetch: Callable[[Settings, datetime], FetchResult] = _ok(_fetch("ibkr", T0))
    with pytest.raises(ValueError, match="distinct"):
        Sources(brokers=(_broker("ibkr", fetch), _broker("ibkr", fetch)))
