"""Snapshot store: round trips, last good per source, status, schema versions, crash safety, no secrets."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.results import FetchResult, RejectedRow
from adapters.snapshot_store import (
    REDACTED,
    SCHEMA_VERSION,
    STORE_FILE_NAME,
    SnapshotKind,
    SnapshotStore,
    SnapshotStoreError,
    mark_stale,
)
from config.settings import Settings
from models.conventions import SettlementTime, expiry_instant
from models.market import MarketSnapshot, Quote, UnderlyingMarket
from models.positions import BrokerGreeks, ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _stock(quantity: float, as_of: datetime) -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.IBKR,
        broker="IBKR",
        account="U0000001",
        symbol="SPY",
        kind=InstrumentKind.STOCK,
        underlying="SPY",
        quantity=quantity,
        multiplier=1.0,
        mark=601.25,
        as_of=as_of,
    )


def _short_put(as_of: datetime) -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.TASTYTRADE,
        broker="Tastytrade",
        account="5WT00001",
        symbol="SPXW  260320P05800000",
        kind=InstrumentKind.INDEX_OPTION,
        underlying="SPX",
        quantity=-3.0,
        multiplier=100.0,
        expiry=expiry_instant(datetime(2026, 3, 20).date(), SettlementTime.PM),
        strike=5800.0,
        right=Right.PUT,
        exercise_style=ExerciseStyle.EUROPEAN,
        settlement=SettlementTime.PM,
        mark=12.4,
        iv=0.187,
        broker_greeks=BrokerGreeks(
            iv=0.187, delta=-0.12, gamma=0.0009, vega=2.1, theta=-0.85, source="tastytrade", as_of=as_of
        ),
        as_of=as_of,
    )


def _fetch(source: str = "ibkr", at: datetime = T0, quantity: float = 100.0) -> FetchResult:
    return FetchResult(
        source=source,
        positions=(_stock(quantity, at), _short_put(at)),
        rejected=(RejectedRow(source=source, row="7", field="strike", reason="strike: missing"),),
        fetched_at=at,
        notes=("2 accounts",),
    )


def _market(at: datetime = T0, vix: float = 18.4) -> MarketSnapshot:
    quote = Quote(value=vix, source="cboe", as_of=at)
    return MarketSnapshot(
        vix=quote,
        recession_prob=Quote(value=0.165, source="polymarket", as_of=at),
        underlyings={"SPY": UnderlyingMarket(spot=Quote(value=601.25, source="yfinance", as_of=at))},
        as_of=at,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SnapshotStore]:
    with SnapshotStore(tmp_path / STORE_FILE_NAME) as opened:
        yield opened


# --- round trips and last good ---------------------------------------------------------------------------


def test_fetch_round_trips_exactly(store: SnapshotStore) -> None:
    saved = _fetch()
    store.save_fetch(saved)
    assert store.last_fetch("ibkr") == saved


def test_market_snapshot_round_trips_exactly(store: SnapshotStore) -> None:
    saved = _market()
    store.save_market(saved, "market")
    assert store.last_market("market") == saved


def test_last_fetch_is_the_newest_of_its_own_source(store: SnapshotStore) -> None:
    store.save_fetch(_fetch("ibkr", T0, quantity=100))
    store.save_fetch(_fetch("tastytrade", T0 + timedelta(minutes=1), quantity=7))
    store.save_fetch(_fetch("ibkr", T0 + timedelta(minutes=2), quantity=200))
    ibkr, tasty = store.last_fetch("ibkr"), store.last_fetch("tastytrade")
    assert ibkr is not None
    assert tasty is not None
    assert (ibkr.positions[0].quantity, ibkr.fetched_at) == (200, T0 + timedelta(minutes=2))
    assert tasty.positions[0].quantity == 7
    assert store.last_fetch("unknown") is None
    assert store.last_market("ibkr") is None


def test_history_is_newest_first_and_pruned_to_the_limit(tmp_path: Path) -> None:
    with SnapshotStore(tmp_path / STORE_FILE_NAME, keep_per_source=3) as store:
        for minute in range(5):
            store.save_fetch(_fetch(at=T0 + timedelta(minutes=minute), quantity=minute))
        store.save_fetch(_fetch("tastytrade"))
        assert [r.positions[0].quantity for r in store.fetch_history("ibkr")] == [4, 3, 2]
        assert len(store.fetch_history("tastytrade")) == 1


def test_stale_result_is_refused_as_a_good_fetch(store: SnapshotStore) -> None:
    with pytest.raises(ValueError, match="stale 'ibkr' result"):
        store.save_fetch(mark_stale(_fetch(), "down", T0 + timedelta(minutes=1)))
    assert store.last_fetch("ibkr") is None


def test_snapshots_survive_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / STORE_FILE_NAME
    with SnapshotStore(path) as store:
        store.save_fetch(_fetch())
        store.save_market(_market(), "market")
    with SnapshotStore(path) as reopened:
        assert reopened.last_fetch("ibkr") == _fetch()
        assert reopened.last_market("market") == _market()


def test_closed_store_says_so(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / STORE_FILE_NAME)
    store.close()
    with pytest.raises(SnapshotStoreError, match=r"snapshots\.sqlite3 is closed"):
        store.last_fetch("ibkr")


def test_unreadable_stored_payload_names_file_row_and_source(store: SnapshotStore) -> None:
    store.save_fetch(_fetch())
    with sqlite3.connect(store.path) as raw:
        raw.execute('UPDATE snapshots SET payload = \'{"source": "ibkr"}\'')
    raw.close()
    with pytest.raises(SnapshotStoreError, match=r"snapshots\.sqlite3: snapshots row 1 \(positions of 'ibkr'\)"):
        store.last_fetch("ibkr")


# --- status and staleness ---------------------------------------------------------------------------------


def test_status_tracks_last_good_and_last_failure(store: SnapshotStore) -> None:
    store.save_fetch(_fetch("ibkr", T0))
    store.save_market(_market(T0), "market")
    failed_at = T0 + timedelta(minutes=5)
    store.record_failure("ibkr", SnapshotKind.POSITIONS, "ibkr 127.0.0.1:4001: connection refused", failed_at)
    by_key = {(s.kind, s.source): s for s in store.status()}
    ibkr = by_key[(SnapshotKind.POSITIONS, "ibkr")]
    assert (ibkr.ok, ibkr.last_good_at, ibkr.last_attempt_at) == (False, T0, failed_at)
    assert ibkr.error == "ibkr 127.0.0.1:4001: connection refused"
    market = by_key[(SnapshotKind.MARKET, "market")]
    assert (market.ok, market.last_good_at, market.error) == (True, T0, None)
    store.save_fetch(_fetch("ibkr", T0 + timedelta(minutes=6)))
    recovered = {(s.kind, s.source): s for s in store.status()}[(SnapshotKind.POSITIONS, "ibkr")]
    assert (recovered.ok, recovered.error, recovered.last_good_at) == (True, None, T0 + timedelta(minutes=6))


def test_failure_of_a_never_seen_source_has_no_last_good(store: SnapshotStore) -> None:
    store.record_failure("tastytrade", SnapshotKind.POSITIONS, "tastytrade /oauth/token: HTTP 401", T0)
    [status] = store.status()
    assert (status.source, status.ok, status.last_good_at) == ("tastytrade", False, None)


def test_failed_refresh_serves_last_good_marked_stale_since_its_fetch(store: SnapshotStore) -> None:
    store.save_fetch(_fetch("ibkr", T0))
    last_good = store.last_fetch("ibkr")
    assert last_good is not None
    stale = mark_stale(last_good, "ibkr 127.0.0.1:4001: timed out after 10 s", T0 + timedelta(minutes=3))
    assert (stale.stale, stale.stale_since, stale.error) == (True, T0, "ibkr 127.0.0.1:4001: timed out after 10 s")
    assert stale.positions == last_good.positions
    assert stale.fetched_at == T0


def test_marking_stale_twice_keeps_the_first_stale_since() -> None:
    once = mark_stale(_fetch(at=T0), "first", T0 + timedelta(minutes=1))
    twice = mark_stale(once, "second", T0 + timedelta(minutes=2))
    assert (twice.stale_since, twice.error) == (T0, "second")


@pytest.mark.parametrize(
    ("now", "message"),
    [(datetime(2026, 3, 2, 15, 5), "tz-aware"), (T0 - timedelta(seconds=1), "before ibkr was fetched")],
    ids=["naive", "before-fetch"],
)
def test_mark_stale_refuses_an_impossible_now(now: datetime, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        mark_stale(_fetch(at=T0), "down", now)


# --- schema and file ----------------------------------------------------------------------------------------


def test_new_store_is_wal_and_versioned(store: SnapshotStore) -> None:
    assert store.schema_version == SCHEMA_VERSION == 1
    raw = sqlite3.connect(store.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    finally:
        raw.close()


def _set_version(path: Path, version: int) -> None:
    raw = sqlite3.connect(path)
    try:
        with raw:
            raw.execute("UPDATE schema_version SET version = ?", (version,))
    finally:
        raw.close()


def test_newer_schema_is_refused_naming_file_and_both_versions(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    SnapshotStore(path).close()
    _set_version(path, 7)
    with pytest.raises(SnapshotStoreError) as caught:
        SnapshotStore(path)
    assert str(path) in str(caught.value)
    assert "schema version 7, newer than version 1" in str(caught.value)


def test_older_schema_without_migration_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    SnapshotStore(path).close()
    _set_version(path, 0)
    with pytest.raises(SnapshotStoreError, match=r"schema version 0, older than version 1, and no migration"):
        SnapshotStore(path)


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("CREATE TABLE things (x INTEGER)")
    raw.close()
    with pytest.raises(SnapshotStoreError, match=r"other\.sqlite3 is not a riskdash snapshot store"):
        SnapshotStore(path)


def test_file_that_is_not_sqlite_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    path.write_bytes(b"this is not a database, just text that is long enough" * 40)
    with pytest.raises(SnapshotStoreError, match=r"snapshots\.sqlite3 cannot be opened"):
        SnapshotStore(path)


def test_concurrent_saves_from_threads_all_land(store: SnapshotStore) -> None:
    def save(thread: int) -> None:
        for i in range(25):
            store.save_fetch(_fetch("ibkr", T0 + timedelta(seconds=thread * 100 + i), quantity=thread * 100 + i))

    threads = [threading.Thread(target=save, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    quantities = sorted(r.positions[0].quantity for r in store.fetch_history("ibkr"))
    assert quantities == sorted(float(t * 100 + i) for t in range(4) for i in range(25))


# --- secrets ------------------------------------------------------------------------------------------------


def _store_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def test_secrets_never_reach_the_file(tmp_path: Path) -> None:
    token = "tt-refresh-PLANTED-9f3c2a71"
    key = 'sk-PLANTED"quote\\slash-55'
    settings = Settings(
        _env_file=None,
        riskdash_data_dir=tmp_path / "data",
        tastytrade_refresh_token=SecretStr(token),
        tastytrade_provider_secret=SecretStr("prov-PLANTED-0c0ffee1"),
        llm_api_key=SecretStr(key),
    )
    store = SnapshotStore.from_settings(settings)
    assert store.path == tmp_path / "data" / STORE_FILE_NAME
    # A vendor error that echoes credentials back is the way a secret could arrive here.
    leaky = _fetch("tastytrade").model_copy(update={"notes": (f"refresh with {token} failed", f"key {key}")})
    store.save_fetch(leaky)
    store.save_market(_market(), "market")
    store.record_failure("tastytrade", SnapshotKind.POSITIONS, f"HTTP 401 for token {token}", T0)
    while_open = _store_bytes(store.path)
    reread = store.last_fetch("tastytrade")
    store.close()
    for blob in (while_open, _store_bytes(store.path)):
        for secret in (token, key, "prov-PLANTED-0c0ffee1", "PLANTED"):
            assert secret.encode() not in blob
    assert reread is not None
    assert reread.notes == (f"refresh with {REDACTED} failed", f"key {REDACTED}")
    assert reread.positions == leaky.positions


# --- crash safety -------------------------------------------------------------------------------------------

_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import timedelta
    from pathlib import Path

    from adapters.snapshot_store import SnapshotStore
    from tests.adapters.test_snapshot_store import T0, _fetch

    store = SnapshotStore(Path(sys.argv[1]), keep_per_source=1_000_000)
    i = 0
    while True:
        store.save_fetch(_fetch("ibkr", T0 + timedelta(seconds=i), quantity=i))
        print(i, flush=True)
        i += 1
    """
)


def test_sigkill_mid_writing_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE_NAME
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    committed: list[int] = []
    try:
        assert writer.stdout is not None
        for line in writer.stdout:
            committed.append(int(line))
            if len(committed) >= 60:
                break
    finally:
        writer.send_signal(signal.SIGKILL)
        rest, errors = writer.communicate(timeout=10)
    committed += [int(line) for line in rest.split()]
    assert writer.returncode == -signal.SIGKILL, errors
    assert len(committed) >= 60, errors

    with SnapshotStore(path) as reopened:
        raw = sqlite3.connect(path)
        try:
            assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            raw.close()
        stored = {int(r.positions[0].quantity): r for r in reopened.fetch_history("ibkr", limit=1_000_000)}
    # Every save the writer reported is there and intact; at most the one in flight when killed is extra.
    for i in committed:
        assert stored[i] == _fetch("ibkr", T0 + timedelta(seconds=i), quantity=i)
    assert set(stored) - set(committed) <= {max(committed) + 1}
