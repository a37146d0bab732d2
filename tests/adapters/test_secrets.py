"""Secrets planted in Settings never reach logs, failure texts, refresh statuses or the snapshot store's file."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from adapters.errors import AuthFailed, SourceUnavailable
from adapters.market_data import MarketData
from adapters.polymarket import RecessionOdds
from adapters.refresh import Refresh, Sources, SourceState, TimedSource, refresh
from adapters.results import FetchResult
from adapters.snapshot_store import STORE_FILE_NAME, SnapshotStore
from config.settings import Settings
from models.positions import InstrumentKind, Source, UnifiedPosition

T0 = datetime(2026, 7, 9, 19, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)

PROVIDER_SECRET = "tt-provider-PLANTED-5e1b9d"
REFRESH_TOKEN = "tt-refresh-PLANTED-77c0aa"
LLM_KEY = "sk-llm-PLANTED-0d93f1e2"
SECRETS = (PROVIDER_SECRET, REFRESH_TOKEN, LLM_KEY)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        riskdash_data_dir=tmp_path,
        tastytrade_provider_secret=SecretStr(PROVIDER_SECRET),
        tastytrade_refresh_token=SecretStr(REFRESH_TOKEN),
        llm_api_key=SecretStr(LLM_KEY),
        ibkr_port=4002,
        market_data_enabled=True,
        polymarket_enabled=True,
    )


def _secret(settings: Settings, name: str) -> str:
    value = getattr(settings, name)
    assert isinstance(value, SecretStr)
    return value.get_secret_value()


def _tasty_ok(settings: Settings, now: datetime) -> FetchResult:
    position = UnifiedPosition(
        source=Source.TASTYTRADE,
        broker="Tastytrade",
        account="5WT00001",
        symbol="SPY",
        kind=InstrumentKind.STOCK,
        underlying="SPY",
        quantity=100.0,
        multiplier=1.0,
        as_of=now,
    )
    return FetchResult(source="tastytrade", positions=(position,), fetched_at=now)


def _leaky_sources() -> Sources:
    """Every source fails with a message that carries a secret, the way a careless SDK error would."""

    def tasty(settings: Settings, now: datetime) -> FetchResult:
        token = _secret(settings, "tastytrade_refresh_token")
        raise AuthFailed(f"tastytrade POST /oauth/token refresh_token={token}: 401 invalid_grant")

    def ibkr(settings: Settings, now: datetime) -> FetchResult:
        secret = _secret(settings, "tastytrade_provider_secret")
        raise SourceUnavailable(f"ibkr: connect failed while settings held {secret!r} and {settings!r}")

    def market(settings: Settings, now: datetime, underlyings: tuple[str, ...]) -> MarketData:
        raise RuntimeError(f"Authorization: Bearer {_secret(settings, 'llm_api_key')}")

    def odds(settings: Settings, now: datetime) -> RecessionOdds:
        raise SourceUnavailable(f"polymarket: {_secret(settings, 'tastytrade_provider_secret')}")

    return Sources(
        brokers=(TimedSource("tastytrade", tasty, 5.0), TimedSource("ibkr", ibkr, 5.0)),
        market=TimedSource("yfinance", market, 5.0),
        recession=TimedSource("polymarket", odds, 5.0),
    )


def _leaky_refresh(settings: Settings, store: SnapshotStore) -> Refresh:
    # A good tastytrade fetch first, so the failing refresh has a stale fallback carrying the error text.
    refresh(settings, T0, store=store, sources=Sources(brokers=(TimedSource("tastytrade", _tasty_ok, 5.0),)))
    return refresh(settings, T1, store=store, sources=_leaky_sources())


def test_secrets_stay_out_of_logs_statuses_errors_and_the_store(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records are captured
    # A plain store, not SnapshotStore.from_settings: the refresh must not rely on the store's own scrubbing.
    with SnapshotStore(tmp_path / STORE_FILE_NAME) as store:
        result = _leaky_refresh(settings, store)
        stored_errors = [status.error or "" for status in store.status()]
    store_bytes = b"".join(path.read_bytes() for path in tmp_path.glob(f"{STORE_FILE_NAME}*"))

    texts = {
        "logs": caplog.text,
        "refresh": result.model_dump_json(),
        "labels": "\n".join(status.label for status in result.statuses),
        "fetch errors": "\n".join(fetch.error or "" for fetch in result.fetches),
        "store status": "\n".join(stored_errors),
    }
    for secret in SECRETS:
        for where, text in texts.items():
            assert secret not in text, f"{secret} leaked into {where}"
        assert secret.encode() not in store_bytes, f"{secret} leaked into the store file"

    # The failures themselves are visible (so the checks above are not vacuous), with the secret redacted.
    assert [status.state for status in result.statuses] == [
        SourceState.STALE,
        SourceState.FAILED,
        SourceState.FAILED,
        SourceState.FAILED,
    ]
    assert "refresh_token=[redacted]: 401 invalid_grant" in texts["labels"]
    assert "Bearer [redacted]" in texts["labels"]
    assert "refresh_token=[redacted]" in caplog.text
    assert b"refresh_token=[redacted]" in store_bytes


def test_settings_repr_in_an_error_shows_no_secret(settings: Settings, tmp_path: Path) -> None:
    with SnapshotStore(tmp_path / STORE_FILE_NAME) as store:
        result = _leaky_refresh(settings, store)
    ibkr = result.status("ibkr")
    assert ibkr is not None
    assert "SecretStr('**********')" in (ibkr.error or "")
