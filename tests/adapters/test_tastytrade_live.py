"""fetch_tastytrade end to end: the real SDK against a local HTTP replay server and a local DXLink websocket.

The SDK's base URL is repointed at 127.0.0.1 (fetch_tastytrade's `api_url`); /api-quote-tokens names the local
websocket, which speaks DXLink as tastytrade/streamer.py expects (SETUP, AUTH_STATE, CHANNEL_OPENED, COMPACT
FEED_DATA in the field order the client asked for). No real DXLink frames exist (fixtures README), so the Greeks
values are the SPY market-data file's.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from adapters.errors import AdapterError, AuthFailed, PayloadInvalid, SourceUnavailable
from adapters.tastytrade import fetch_tastytrade
from config.settings import Settings
from models.conventions import theta_per_day_from_tropical_day
from tests.adapters.http_server import ReplayServer, Reply
from tests.conftest import fixture_path, load_fixture

NOW = datetime(2023, 5, 24, 18, 0, tzinfo=UTC)
SECRET = "planted-provider-secret-7f3a"
REFRESH = "planted-refresh-token-91bc"
ACCOUNT = "5YZ55555"
RIVN_DX = ".RIVN230609P14"
SPY_605 = load_fixture("tastytrade", "market_data_SPY_250701_greeks.json")["items"][0]


@dataclass
class _DxlinkState:
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    silent_connections: set[int] = field(default_factory=set)
    connections: int = 0
    tokens: list[str] = field(default_factory=list)


class _DxlinkServer:
    """A DXLink websocket on 127.0.0.1 in its own thread; connections in `silent_connections` never send data."""

    def __init__(self) -> None:
        self.state = _DxlinkState()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._sock.getsockname()[1]}/dxlink"

    def __enter__(self) -> _DxlinkServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._serve(), self._loop).result(timeout=5)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._sock.close()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/dxlink", self._handle)
        self._runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.state.connections += 1
        connection = self.state.connections
        fields: list[str] = []
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            data = json.loads(message.data)
            kind = data["type"]
            if kind == "SETUP":
                await ws.send_json({"type": "SETUP", "channel": 0, "keepaliveTimeout": 60, "version": "fake"})
                await ws.send_json({"type": "AUTH_STATE", "channel": 0, "state": "UNAUTHORIZED"})
            elif kind == "AUTH":
                self.state.tokens.append(data["token"])
                await ws.send_json({"type": "AUTH_STATE", "channel": 0, "state": "AUTHORIZED"})
            elif kind == "CHANNEL_REQUEST":
                opened = {"type": "CHANNEL_OPENED", "channel": data["channel"], "service": "FEED", "parameters": {}}
                await ws.send_json(opened)
            elif kind == "FEED_SETUP":
                fields = data["acceptEventFields"]["Greeks"]
            elif kind == "FEED_SUBSCRIPTION" and connection not in self.state.silent_connections:
                values: list[Any] = []
                for added in data["add"]:
                    event = self.state.events.get(added["symbol"])
                    if event is not None:
                        values += [event.get(name, 0) for name in fields]
                if values:
                    await ws.send_json({"type": "FEED_DATA", "channel": data["channel"], "data": ["Greeks", values]})
        return ws


def _greeks_event(symbol: str, row: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"eventSymbol": symbol, "eventTime": 0, "eventFlags": 0, "index": 1, "sequence": 0}
    event["time"] = 1_685_000_000_000  # 2023-05-25T07:33:20Z
    event["price"] = float(row["theo-price"])
    for name in ("volatility", "delta", "gamma", "theta", "rho", "vega"):
        event[name] = float(row[name])
    return event


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "tastytrade_provider_secret": SECRET,
        "tastytrade_refresh_token": REFRESH,
        "tastytrade_accounts": ACCOUNT,
        "tastytrade_timeout_s": 2.0,
        "tastytrade_greeks_wait_s": 0.5,
    }
    return Settings(_env_file=None, **{**values, **overrides})


@pytest.fixture
def servers() -> Iterator[tuple[ReplayServer, _DxlinkServer]]:
    with ReplayServer() as http, _DxlinkServer() as dxlink:
        http.script("POST", "/oauth/token", Reply.from_file(fixture_path("tastytrade", "oauth_token_constructed.json")))
        http.script(
            "GET",
            f"/accounts/{ACCOUNT}/positions",
            Reply.from_file(fixture_path("tastytrade", "positions_nan_strings_constructed.json")),
        )
        http.script(
            "GET", f"/accounts/{ACCOUNT}/balances", Reply.from_file(fixture_path("tastytrade", "balances.json"))
        )
        http.script(
            "GET", "/market-metrics", Reply.from_file(fixture_path("tastytrade", "market_metrics_AAPL_TSLA.json"))
        )
        quote_token = {"data": {"token": "dx-token", "dxlink-url": dxlink.url, "level": "api"}}
        http.script("GET", "/api-quote-tokens", Reply.json(quote_token))
        dxlink.state.events[RIVN_DX] = _greeks_event(RIVN_DX, SPY_605)
        yield http, dxlink


def test_fetch_returns_positions_rejections_balances_metrics_and_greeks(
    servers: tuple[ReplayServer, _DxlinkServer],
) -> None:
    http, dxlink = servers
    result = fetch_tastytrade(_settings(), NOW, api_url=http.url)
    assert (result.source, result.fetched_at, result.stale) == ("tastytrade", NOW, False)
    rivn, aapl = result.positions
    assert (rivn.quantity, rivn.multiplier, aapl.quantity) == (-40, 100, 100)
    assert [(r.row, r.field) for r in result.rejected] == [("5WT00000 #2 TSLA", "multiplier")]
    assert [a.net_liquidation for a in result.accounts] == [543557.677]
    assert result.underlyings["AAPL"].iv_rank is not None
    assert any("no market metrics for RIVN" in note for note in result.notes)
    assert rivn.broker_greeks is not None
    assert rivn.iv == float(SPY_605["volatility"])
    assert rivn.broker_greeks.theta == pytest.approx(theta_per_day_from_tropical_day(float(SPY_605["theta"])))
    assert rivn.broker_greeks.as_of == datetime(2023, 5, 25, 7, 33, 20, tzinfo=UTC)
    assert (dxlink.state.connections, dxlink.state.tokens) == (1, ["dx-token"])
    assert aapl.broker_greeks is None


def test_requests_carry_the_oauth_token_and_include_marks(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, _ = servers
    fetch_tastytrade(_settings(), NOW, api_url=http.url)
    positions = next(r for r in http.requests if r.path.endswith("/positions"))
    assert positions.headers["Authorization"] == "Bearer constructed-access-token"
    assert positions.query["include-marks"] == "true"
    metrics = next(r for r in http.requests if r.path == "/market-metrics")
    assert metrics.query["symbols"] == "AAPL,RIVN"


def test_a_silent_stream_is_reconnected_once(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, dxlink = servers
    dxlink.state.silent_connections = {1}
    result = fetch_tastytrade(_settings(), NOW, api_url=http.url)
    assert dxlink.state.connections == 2
    assert result.positions[0].broker_greeks is not None
    assert any("reconnected once" in note for note in result.notes)


def test_a_stream_silent_after_the_reconnect_is_reported_and_positions_still_arrive(
    servers: tuple[ReplayServer, _DxlinkServer],
) -> None:
    http, dxlink = servers
    dxlink.state.silent_connections = {1, 2}
    result = fetch_tastytrade(_settings(), NOW, api_url=http.url)
    assert dxlink.state.connections == 2
    assert [p.broker_greeks for p in result.positions] == [None, None]
    assert any(f"no Greeks for 1 of 1 options: {RIVN_DX}" in note for note in result.notes)


def test_accounts_come_from_the_login_when_none_are_configured(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, _ = servers
    http.script(
        "GET", "/customers/me/accounts", Reply.from_file(fixture_path("tastytrade", "customers_me_accounts.json"))
    )
    empty: dict[str, Any] = {"data": {"items": []}}
    for other in ("5WW55555", "5WZ55555"):
        http.script("GET", f"/accounts/{other}/positions", Reply.json(empty))
        http.script("GET", f"/accounts/{other}/balances", Reply.json({"data": {"account-number": other}}))
    result = fetch_tastytrade(_settings(tastytrade_accounts=""), NOW, api_url=http.url)
    assert sorted(a.account for a in result.accounts) == ["5WW55555", "5WZ55555", ACCOUNT]


def test_refused_refresh_token_is_auth_failed_naming_tastytrade(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, _ = servers
    body = fixture_path("tastytrade", "error_401_constructed.json")
    http.script("POST", "/oauth/token", Reply.from_file(body, status=401))
    with pytest.raises(AuthFailed, match=r"tastytrade refused the credentials: POST /oauth/token answered HTTP 401"):
        fetch_tastytrade(_settings(), NOW, api_url=http.url)


@pytest.mark.parametrize("status", [500, 429], ids=["server-error", "rate-limit"])
def test_server_error_on_positions_is_source_unavailable(
    servers: tuple[ReplayServer, _DxlinkServer], status: int
) -> None:
    http, _ = servers
    http.script("GET", f"/accounts/{ACCOUNT}/positions", Reply(status=status, body=b"<html>oops</html>"))
    with pytest.raises(
        SourceUnavailable, match=f"tastytrade.*GET /accounts/{ACCOUNT}/positions answered HTTP {status}"
    ):
        fetch_tastytrade(_settings(), NOW, api_url=http.url)


def test_timeout_is_source_unavailable_naming_the_endpoint(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, _ = servers
    http.script("GET", f"/accounts/{ACCOUNT}/positions", Reply.json({"data": {"items": []}}, delay_s=2.0))
    with pytest.raises(SourceUnavailable, match=f"tastytrade: GET /accounts/{ACCOUNT}/positions timed out after 0.3 s"):
        fetch_tastytrade(_settings(tastytrade_timeout_s=0.3), NOW, api_url=http.url)


def test_body_that_is_not_json_is_payload_invalid(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, _ = servers
    http.script("GET", f"/accounts/{ACCOUNT}/positions", Reply(status=200, body=b"{not json"))
    with pytest.raises(PayloadInvalid, match=r"tastytrade: GET /accounts/.* not JSON"):
        fetch_tastytrade(_settings(), NOW, api_url=http.url)


def test_failed_balances_become_a_note_not_a_failed_fetch(servers: tuple[ReplayServer, _DxlinkServer]) -> None:
    http, _ = servers
    http.script("GET", f"/accounts/{ACCOUNT}/balances", Reply(status=500))
    result = fetch_tastytrade(_settings(), NOW, api_url=http.url)
    assert result.accounts == ()
    assert any(f"no balances for account {ACCOUNT}" in note for note in result.notes)
    assert len(result.positions) == 2


def test_unconfigured_settings_raise_without_a_network_call() -> None:
    with pytest.raises(AuthFailed, match="tastytrade is not configured"):
        fetch_tastytrade(Settings(_env_file=None), NOW, api_url="http://127.0.0.1:9")


def test_the_sdk_runs_in_a_worker_thread_even_inside_a_running_event_loop(
    servers: tuple[ReplayServer, _DxlinkServer],
) -> None:
    http, _ = servers

    async def from_a_loop() -> int:
        # Streamlit-like caller with a loop already running in this thread: asyncio.run here would fail.
        return len(fetch_tastytrade(_settings(), NOW, api_url=http.url).positions)

    assert asyncio.run(from_a_loop()) == 2


def test_secrets_never_reach_logs_or_errors(
    servers: tuple[ReplayServer, _DxlinkServer], caplog: pytest.LogCaptureFixture
) -> None:
    http, _ = servers
    caplog.set_level(logging.DEBUG)
    fetch_tastytrade(_settings(), NOW, api_url=http.url)
    http.script("POST", "/oauth/token", Reply(status=401, body=f"bad {SECRET} {REFRESH}".encode()))
    with pytest.raises(AdapterError) as info:
        fetch_tastytrade(_settings(), NOW, api_url=http.url)
    text = caplog.text + "".join(traceback.format_exception(info.value))
    assert SECRET not in text
    assert REFRESH not in text
    assert "tastytrade" in str(info.value)


@pytest.mark.integration
def test_live_tastytrade_fetch() -> None:
    settings = Settings()
    if not settings.tastytrade_configured:
        pytest.skip("set TASTYTRADE_PROVIDER_SECRET and TASTYTRADE_REFRESH_TOKEN in .env to run")
    result = fetch_tastytrade(settings, datetime.now(UTC))
    assert result.source == "tastytrade"
    assert all(p.broker == "Tastytrade" for p in result.positions)
