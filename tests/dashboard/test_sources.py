"""The source switch: demo, uploaded files (good and broken), unconfigured brokers, accounts, status lines."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from adapters.demo import load_demo_book
from adapters.errors import AdapterError, SourceUnavailable
from adapters.file_import import import_file
from adapters.market_data import MARKET_DATA_SOURCE, MarketData
from adapters.refresh import Sources, TimedSource
from adapters.results import FetchResult
from adapters.snapshot_store import SnapshotStore
from config.settings import Settings
from dashboard.sources import (
    FAILED_COLOUR,
    OK_COLOUR,
    STALE_COLOUR,
    SourceChoice,
    SourceHealth,
    SourceStatus,
    account_names,
    gather,
    import_upload,
    select_accounts,
    status_lines,
)
from models.market import MarketSnapshot, Quote
from models.positions import InstrumentKind
from tests.conftest import fixture_path
from tests.dashboard.books import NOW

SETTINGS = Settings(_env_file=None)


def test_demo_choice_is_the_bundled_book_with_two_ok_sources() -> None:
    gathered = gather(SourceChoice.DEMO, SETTINGS, NOW)
    assert gathered.inputs.demo
    assert gathered.has_book
    assert [s.health for s in gathered.statuses] == [SourceHealth.OK, SourceHealth.OK]
    assert gathered.failures == ()


def test_uploaded_file_reads_as_the_same_file_on_disk_would() -> None:
    path = fixture_path("thinkorswim", "position_statement_2022-02-12.csv")
    upload = import_upload(path.name, path.read_bytes(), NOW)
    direct = import_file(path, NOW)
    assert upload.positions == direct.positions
    assert upload.source == f"file {path.name}"
    assert all("riskdash-upload-" not in note for note in upload.notes)
    assert any(path.name in note for note in upload.notes)


def test_broken_upload_fails_by_name_and_the_good_one_still_counts() -> None:
    good = fixture_path("ibkr", "flex_options_future_open_positions.xml")
    gathered = gather("Imported file", SETTINGS, NOW, uploads=[(good.name, good.read_bytes()), ("broken.csv", b"no\n")])
    (failure,) = gathered.failures
    assert failure.name == "file broken.csv"
    assert failure.error is not None
    assert "broken.csv" in failure.error
    assert "riskdash-upload-" not in failure.error
    assert len(gathered.inputs.positions) == 11


def test_broken_upload_raises_an_adapter_error_naming_the_file() -> None:
    with pytest.raises(AdapterError, match=r"^bad\.xml"):
        import_upload("bad.xml", b"<html></html>", NOW)


def test_no_upload_yet_is_said_and_there_is_no_book() -> None:
    gathered = gather(SourceChoice.FILE, SETTINGS, NOW)
    assert not gathered.has_book
    assert gathered.failures[0].name == "Imported file"


@pytest.mark.parametrize("choice", [SourceChoice.IBKR, SourceChoice.TASTYTRADE], ids=["ibkr", "tastytrade"])
def test_unconfigured_broker_fails_by_name_and_never_yields_a_flat_book(choice: SourceChoice) -> None:
    gathered = gather(choice, SETTINGS, NOW)
    assert not gathered.has_book
    (failure,) = gathered.failures
    assert failure.name == choice.value
    assert "not configured" in (failure.error or "")


def test_all_configured_with_nothing_configured_says_so() -> None:
    gathered = gather(SourceChoice.ALL, SETTINGS, NOW)
    assert "no live source is configured" in (gathered.failures[0].error or "")


def test_accounts_filter_keeps_only_chosen_accounts() -> None:
    inputs = gather(SourceChoice.DEMO, SETTINGS, NOW).inputs
    names = account_names(inputs)
    assert len(names) == 4  # demo_book.yaml: two IBKR and two Tastytrade accounts
    narrowed = select_accounts(inputs, names[:1])
    assert {p.account for p in narrowed.positions} == {names[0]}
    assert 0 < len(narrowed.positions) < len(inputs.positions)


def test_status_lines_colour_fresh_stale_and_failed_sources() -> None:
    fresh = SourceStatus("demo", SourceHealth.OK, NOW - timedelta(minutes=1))
    old = SourceStatus("file a.csv", SourceHealth.OK, NOW - timedelta(minutes=11))
    stale = SourceStatus("ibkr", SourceHealth.STALE, NOW - timedelta(minutes=3), NOW - timedelta(minutes=3), "timeout")
    failed = SourceStatus("tastytrade", SourceHealth.FAILED, None, error="401 from /accounts")
    lines = status_lines([fresh, old, stale, failed], NOW, staleness_minutes=10)
    assert [line.colour for line in lines] == [OK_COLOUR, STALE_COLOUR, STALE_COLOUR, FAILED_COLOUR]
    assert "as of 2026-11-23 14:59:00 UTC" in lines[0].text
    assert "stale since 2026-11-23 14:49:00 UTC" in lines[1].text
    assert "stale since 2026-11-23 14:57:00 UTC" in lines[2].text
    assert "timeout" in lines[2].text
    assert "tastytrade" in lines[3].text
    assert "401 from /accounts" in lines[3].text


def test_threshold_is_exclusive_at_exactly_the_limit() -> None:
    at_limit = SourceStatus("demo", SourceHealth.OK, NOW - timedelta(minutes=10))
    (line,) = status_lines([at_limit], NOW, staleness_minutes=10)
    assert not line.stale


def _live_settings() -> Settings:
    secret = "x" * 12
    return Settings(
        _env_file=None,
        ibkr_port=4002,
        tastytrade_provider_secret=secret,
        tastytrade_refresh_token=secret + "y",
    )


def _sources() -> Sources:
    def ibkr(settings: Settings, now: datetime) -> FetchResult:
        book = load_demo_book(now)
        return book.model_copy(update={"source": "ibkr", "demo": False})

    def tastytrade(settings: Settings, now: datetime) -> FetchResult:
        raise SourceUnavailable("tastytrade: GET /accounts answered 503")

    return Sources(brokers=(TimedSource("ibkr", ibkr, 5.0), TimedSource("tastytrade", tastytrade, 5.0)))


def test_all_configured_goes_through_refresh_and_names_the_failing_broker(tmp_path: Path) -> None:
    with SnapshotStore(tmp_path / "store.sqlite3") as store:
        gathered = gather(SourceChoice.ALL, _live_settings(), NOW, store=store, sources=_sources())
    by_name = {s.name: s for s in gathered.statuses}
    assert by_name["ibkr"].health is SourceHealth.OK
    assert by_name["tastytrade"].health is SourceHealth.FAILED
    assert "503" in (by_name["tastytrade"].error or "")
    assert len(gathered.inputs.positions) == len(load_demo_book(NOW).positions)


def test_single_broker_choice_fetches_only_that_broker(tmp_path: Path) -> None:
    with SnapshotStore(tmp_path / "store.sqlite3") as store:
        gathered = gather(SourceChoice.IBKR, _live_settings(), NOW, store=store, sources=_sources())
    assert "tastytrade" not in {s.name for s in gathered.statuses}
    assert gathered.failures == ()


# ---- imported files are priced on live, stored, or their own data — never on the demo market -------------------

FLEX = fixture_path("ibkr", "flex_options_future_open_positions.xml")


def _live_market(at: datetime, spx: float = 5900.0) -> MarketSnapshot:
    quote = Quote(value=spx, source=MARKET_DATA_SOURCE, as_of=at)
    return MarketSnapshot(vix=Quote(value=21.0, source=MARKET_DATA_SOURCE, as_of=at), spx=quote, as_of=at)


def test_file_without_market_data_or_store_is_priced_on_its_own_data_with_a_notice() -> None:
    gathered = gather("Imported file", SETTINGS, NOW, uploads=[(FLEX.name, FLEX.read_bytes())])
    market = gathered.inputs.market
    assert not market.demo
    assert (market.vix, market.spx, market.underlyings) == (None, None, {})
    off = next(s for s in gathered.statuses if s.name == MARKET_DATA_SOURCE)
    assert off.health is SourceHealth.OFF
    assert off not in gathered.failures
    assert any("market data is off" in notice for notice in gathered.notices)
    assert any("regime is unknown" in notice for notice in gathered.notices)
    (line,) = [ln for ln in status_lines(gathered.statuses, NOW, 15) if MARKET_DATA_SOURCE in ln.text]
    assert line.text.startswith(f"– {MARKET_DATA_SOURCE}: off")


def test_file_uses_the_last_stored_live_snapshot_marked_stale(tmp_path: Path) -> None:
    stored_at = NOW - timedelta(hours=20)
    with SnapshotStore(tmp_path / "store.sqlite3") as store:
        store.save_market(_live_market(stored_at), MARKET_DATA_SOURCE)
        gathered = gather("Imported file", SETTINGS, NOW, uploads=[(FLEX.name, FLEX.read_bytes())], store=store)
    market = gathered.inputs.market
    assert market.vix is not None
    assert market.vix.value == 21.0
    assert market.vix.as_of == stored_at  # each quote keeps its own as-of
    status = next(s for s in gathered.statuses if s.name == MARKET_DATA_SOURCE)
    assert (status.health, status.stale_since) == (SourceHealth.STALE, stored_at)
    assert gathered.notices == ()


def test_file_with_market_data_on_downloads_its_underlyings_and_saves_the_snapshot(tmp_path: Path) -> None:
    asked: list[tuple[str, ...]] = []

    def download(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
        asked.append(underlyings)
        return MarketData(snapshot=_live_market(now, spx=6100.0))

    sources = Sources(market=TimedSource(MARKET_DATA_SOURCE, download, 5.0))
    upload = [(FLEX.name, FLEX.read_bytes())]
    with SnapshotStore(tmp_path / "store.sqlite3") as store:
        gathered = gather("Imported file", SETTINGS, NOW, uploads=upload, store=store, sources=sources)
        saved = store.last_market(MARKET_DATA_SOURCE)
    positions = gathered.inputs.positions
    futures = {p.underlying for p in positions if p.kind in (InstrumentKind.FUTURE, InstrumentKind.FUTURE_OPTION)}
    assert asked == [tuple(sorted({p.underlying for p in positions} - futures))]
    assert gathered.inputs.market.spx is not None
    assert gathered.inputs.market.spx.value == 6100.0
    assert saved is not None
    assert saved.spx is not None
    assert saved.spx.value == 6100.0
    assert next(s for s in gathered.statuses if s.name == MARKET_DATA_SOURCE).health is SourceHealth.OK


def test_file_market_download_failure_falls_back_to_the_stored_snapshot(tmp_path: Path) -> None:
    def download(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
        raise SourceUnavailable("yfinance download: HTTP 503")

    sources = Sources(market=TimedSource(MARKET_DATA_SOURCE, download, 5.0))
    stored_at = NOW - timedelta(hours=1)
    upload = [(FLEX.name, FLEX.read_bytes())]
    with SnapshotStore(tmp_path / "store.sqlite3") as store:
        store.save_market(_live_market(stored_at), MARKET_DATA_SOURCE)
        gathered = gather("Imported file", SETTINGS, NOW, uploads=upload, store=store, sources=sources)
    status = next(s for s in gathered.statuses if s.name == MARKET_DATA_SOURCE)
    assert status.health is SourceHealth.STALE
    assert "503" in (status.error or "")
    assert gathered.inputs.market.spx is not None
    assert gathered.inputs.market.spx.as_of == stored_at
    assert status in gathered.failures
