"""tastytrade live fetch: positions, balances, market metrics (REST) and Greeks (DXLink) behind one sync call.

Owns the SDK session (OAuth refresh token), the worker thread and its event loop, and the mapping of every vendor
failure to adapters.errors; translation lives in adapters/tastytrade_translate.py. Read-only: no order endpoint.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import httpx2
from tastytrade import API_URL, DXLinkStreamer, Session
from tastytrade.dxfeed import Greeks
from tastytrade.utils import TastytradeError

from adapters.errors import AdapterError, AuthFailed, PayloadInvalid, SourceUnavailable
from adapters.results import FetchResult, RejectedRow
from adapters.tastytrade_translate import (
    TASTYTRADE_SOURCE,
    FutureContract,
    dxlink_symbol,
    items_of,
    referenced_futures,
    to_account_values,
    to_broker_greeks,
    to_future_contract,
    to_underlying_market,
    translate_positions,
)
from config.settings import Settings
from models.account import AccountValues
from models.market import UnderlyingMarket
from models.positions import BrokerGreeks, InstrumentKind, UnifiedPosition

__all__ = ["DxlinkGreeks", "fetch_tastytrade", "stream_greeks"]

T = TypeVar("T")

_TOKEN_PATH: Final = "/oauth/token"
_REDACTED: Final = "[redacted]"
_BODY_EXCERPT_CHARS: Final = 200
_MAX_GUARDED_CALLS: Final = 8
"""The whole fetch may take this many HTTP timeouts plus two DXLink attempts before the worker is abandoned."""
_GUARD_SLACK_S: Final = 5.0
_MS_PER_S: Final = 1000.0


async def _check_status(response: httpx2.Response) -> None:
    # One choke point for HTTP failures, as an httpx response hook: the SDK's own TastytradeError drops the
    # status code, and a 401 must read as "credentials refused", not as a generic parse error.
    status = response.status_code
    if status < 400:
        return
    where = f"{response.request.method} {response.request.url.path}"
    if status in (401, 403):
        raise AuthFailed(
            f"tastytrade refused the credentials: {where} answered HTTP {status}; check TASTYTRADE_PROVIDER_SECRET"
            " and TASTYTRADE_REFRESH_TOKEN (a revoked grant needs a new refresh token)"
        )
    if status == 429:
        raise SourceUnavailable(f"tastytrade rate limit: {where} answered HTTP 429")
    raise SourceUnavailable(f"tastytrade: {where} answered HTTP {status}")


async def _call(what: str, timeout_s: float, action: Awaitable[T]) -> T:
    """`action`'s result, with every SDK, httpx and JSON failure turned into an AdapterError naming `what`."""
    try:
        return await action
    except AdapterError:
        raise
    except httpx2.TimeoutException as exc:
        raise SourceUnavailable(f"tastytrade: {what} timed out after {timeout_s:g} s") from exc
    except httpx2.HTTPError as exc:
        raise SourceUnavailable(f"tastytrade: {what} failed: {type(exc).__name__}") from exc
    except json.JSONDecodeError as exc:
        raise PayloadInvalid(f"tastytrade: {what} answered a body that is not JSON", field="(body)") from exc
    except KeyError as exc:
        raise PayloadInvalid(f"tastytrade: {what} answered without {exc}", field=str(exc)) from exc
    except TastytradeError as exc:
        excerpt = str(exc).strip()[:_BODY_EXCERPT_CHARS]
        raise SourceUnavailable(f"tastytrade: {what}: {excerpt}") from exc


async def _get(session: Session, path: str, timeout_s: float, params: Mapping[str, Any] | None = None) -> Any:
    # The SDK's typed getters validate a whole list at once, so one odd row would fail the whole book; its own
    # authenticated GET (`_get`, tastytrade 13.2.3) returns the raw `data` and keeps row-level rejection.
    return await _call(f"GET {path}", timeout_s, session._get(path, params=dict(params or {})))


@dataclass(frozen=True)
class DxlinkGreeks:
    """What the DXLink stream delivered: Greeks per streamer symbol, whether it reconnected, and notes."""

    greeks: dict[str, BrokerGreeks]
    reconnected: bool
    notes: tuple[str, ...]


def _event_as_of(event: Greeks, fallback: datetime) -> datetime:
    # dxFeed stamps `time` in epoch milliseconds; 0 means "not stamped".
    return datetime.fromtimestamp(event.time / _MS_PER_S, tz=UTC) if event.time > 0 else fallback


async def _listen_once(
    session: Session, symbols: Sequence[str], wait_s: float, connect_s: float, got: dict[str, Greeks]
) -> bool:
    """True when any Greeks event arrived on one DXLink connection; fills `got` by symbol as events arrive."""
    wanted = set(symbols)
    heard = False
    streamer = DXLinkStreamer(session)
    try:
        async with asyncio.timeout(connect_s + wait_s), streamer:
            await streamer.subscribe(Greeks, list(symbols))
            try:
                async with asyncio.timeout(wait_s):
                    async for event in streamer.listen(Greeks):
                        heard = True
                        if event.event_symbol in wanted and not event.remove:
                            got[event.event_symbol] = event
                        if wanted <= got.keys():
                            break
            except TimeoutError:
                pass  # the bounded wait is over; what arrived is kept
    finally:
        # SDK 13.2.3 opens one memory stream per event type and never closes them (ResourceWarning at exit).
        for send in streamer._send.values():
            send.close()
        for receive in streamer._recv.values():
            receive.close()
    return heard


async def stream_greeks(
    session: Session, symbols: Sequence[str], *, wait_s: float, connect_s: float, now: datetime
) -> DxlinkGreeks:
    """Greeks for `symbols` from DXLink within a bounded wait; a silent or failed stream is reconnected once.

    Args:
        session: A logged-in SDK session (its /api-quote-tokens answer names the DXLink URL and token).
        symbols: DXLink streamer symbols (".RIVN230609P14").
        wait_s: How long to wait for events on one connection, in seconds.
        connect_s: Bound on connecting, authorising and subscribing, in seconds.
        now: Fallback as-of instant for events without a timestamp.
    """
    got: dict[str, Greeks] = {}
    notes: list[str] = []
    reconnected = False
    for attempt in (1, 2):
        missing = [symbol for symbol in symbols if symbol not in got]
        try:
            heard = await _listen_once(session, missing, wait_s, connect_s, got)
        except TimeoutError:
            heard = False
            notes.append(f"tastytrade DXLink: connection {attempt} timed out after {connect_s + wait_s:g} s")
        except AdapterError as exc:
            heard = False
            notes.append(f"tastytrade DXLink: connection {attempt} failed: {exc}")
        except Exception as exc:  # the SDK raises ExceptionGroups from its task group; none may sink the fetch
            heard = False
            notes.append(f"tastytrade DXLink: connection {attempt} failed: {type(exc).__name__}")
        if heard or attempt == 2:
            break
        reconnected = True
        notes.append(f"tastytrade DXLink: no Greeks events within {wait_s:g} s; reconnected once")
    silent = [symbol for symbol in symbols if symbol not in got]
    if silent:
        notes.append(
            f"tastytrade DXLink: no Greeks for {len(silent)} of {len(symbols)} options: {', '.join(silent)}"
            " (a silent stream, or NaN Greeks, which the SDK drops)"
        )
    greeks: dict[str, BrokerGreeks] = {}
    for symbol, event in got.items():
        try:
            greeks[symbol] = to_broker_greeks(event.model_dump(), as_of=_event_as_of(event, now))
        except (AdapterError, ValueError) as exc:
            notes.append(f"tastytrade DXLink: Greeks of {symbol} unusable: {exc}")
    return DxlinkGreeks(greeks=greeks, reconnected=reconnected, notes=tuple(notes))


def _configured_accounts(settings: Settings) -> list[str]:
    return [account.strip() for account in settings.tastytrade_accounts.split(",") if account.strip()]


async def _open_accounts(session: Session, timeout_s: float) -> list[str]:
    data = await _get(session, "/customers/me/accounts", timeout_s)
    numbers: list[str] = []
    for item in items_of(data, "tastytrade GET /customers/me/accounts"):
        account = item.get("account")
        if isinstance(account, Mapping) and not account.get("is-closed") and account.get("account-number"):
            numbers.append(str(account["account-number"]))
    return numbers


async def _futures(
    session: Session, symbols: list[str], timeout_s: float, notes: list[str]
) -> dict[str, FutureContract]:
    contracts: dict[str, FutureContract] = {}
    if not symbols:
        return contracts
    try:
        data = await _get(session, "/instruments/futures", timeout_s, {"symbol[]": symbols})
        items = items_of(data, "tastytrade GET /instruments/futures")
    except AdapterError as exc:
        notes.append(f"{exc}; futures positions are rejected (no point value)")
        return contracts
    for item in items:
        try:
            contract = to_future_contract(item)
        except PayloadInvalid as exc:
            notes.append(f"tastytrade: {exc}")
            continue
        contracts[contract.symbol] = contract
    return contracts


async def _balances(
    session: Session, accounts: list[str], settings: Settings, now: datetime, notes: list[str]
) -> list[AccountValues]:
    values: list[AccountValues] = []
    for account in accounts:
        try:
            data = await _get(session, f"/accounts/{account}/balances", settings.tastytrade_timeout_s)
            values.append(to_account_values(data, as_of=now))
        except AuthFailed:
            raise
        except (AdapterError, ValueError) as exc:
            notes.append(f"tastytrade: no balances for account {account}: {exc}")
    return values


async def _metrics(
    session: Session, symbols: list[str], settings: Settings, now: datetime, notes: list[str]
) -> dict[str, UnderlyingMarket]:
    markets: dict[str, UnderlyingMarket] = {}
    if not symbols:
        return markets
    try:
        data = await _get(session, "/market-metrics", settings.tastytrade_timeout_s, {"symbols": ",".join(symbols)})
        items = items_of(data, "tastytrade GET /market-metrics")
    except AuthFailed:
        raise
    except AdapterError as exc:
        notes.append(f"tastytrade: no market metrics (beta, IV rank, HV30): {exc}")
        return markets
    for item in items:
        try:
            symbol, market = to_underlying_market(item, as_of=now)
        except (AdapterError, ValueError) as exc:
            notes.append(f"tastytrade: market metrics row skipped: {exc}")
            continue
        markets[symbol] = market
    absent = [symbol for symbol in symbols if symbol not in markets]
    if absent:
        notes.append(f"tastytrade: no market metrics for {', '.join(absent)}")
    return markets


def _with_greeks(positions: list[UnifiedPosition], greeks: Mapping[str, BrokerGreeks]) -> list[UnifiedPosition]:
    updated: list[UnifiedPosition] = []
    for position in positions:
        found = greeks.get(dxlink_symbol(position) or "")
        if found is not None:
            position = position.model_copy(update={"broker_greeks": found, "iv": found.iv})
        updated.append(position)
    return updated


async def _fetch(settings: Settings, now: datetime, api_url: str, secrets: tuple[str, str]) -> FetchResult:
    timeout_s = settings.tastytrade_timeout_s
    provider_secret, refresh_token = secrets
    session = Session(
        provider_secret=provider_secret,
        refresh_token=refresh_token,
        timeout=timeout_s,
        event_hooks={"response": [_check_status]},
    )
    # The SDK hard-wires its production (or cert) URL; the client's public base_url setter repoints it.
    session._client.base_url = api_url
    notes: list[str] = []
    async with session:
        await _call(f"POST {_TOKEN_PATH}", timeout_s, session.refresh())
        accounts = _configured_accounts(settings) or await _open_accounts(session, timeout_s)
        if not accounts:
            raise SourceUnavailable("tastytrade: the login has no open accounts (set TASTYTRADE_ACCOUNTS)")
        rows_by_account: dict[str, Any] = {}
        for account in accounts:
            data = await _get(session, f"/accounts/{account}/positions", timeout_s, {"include-marks": "true"})
            rows_by_account[account] = items_of(data, f"tastytrade GET /accounts/{account}/positions")
        all_rows = [row for rows in rows_by_account.values() for row in rows]
        futures = await _futures(session, referenced_futures(all_rows), timeout_s, notes)
        positions: list[UnifiedPosition] = []
        rejected: list[RejectedRow] = []
        for rows in rows_by_account.values():
            translated, bad = translate_positions({"items": rows}, as_of=now, futures=futures)
            positions += translated
            rejected += bad
        accounts_values = await _balances(session, accounts, settings, now, notes)
        underlyings = sorted(
            {
                p.underlying
                for p in positions
                if p.kind is not InstrumentKind.FUTURE and not p.underlying.startswith("/")
            }
        )
        markets = await _metrics(session, underlyings, settings, now, notes)
        symbols = sorted({symbol for p in positions if (symbol := dxlink_symbol(p)) is not None})
        if symbols:
            streamed = await stream_greeks(
                session, symbols, wait_s=settings.tastytrade_greeks_wait_s, connect_s=timeout_s, now=now
            )
            positions = _with_greeks(positions, streamed.greeks)
            notes += streamed.notes
        futures_options = sum(1 for p in positions if p.kind is InstrumentKind.FUTURE_OPTION)
        if futures_options:
            notes.append(
                f"tastytrade: {futures_options} futures option positions have no DXLink Greeks (not requested)"
            )
    return FetchResult(
        source=TASTYTRADE_SOURCE,
        positions=tuple(positions),
        rejected=tuple(rejected),
        fetched_at=now,
        notes=tuple(notes),
        accounts=tuple(accounts_values),
        underlyings=markets,
    )


def _run_in_worker(make: Callable[[], Coroutine[Any, Any, T]], guard_s: float) -> T:
    """The coroutine's result, run on a fresh event loop in a thread of our own (never the caller's thread)."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            outcome.append(asyncio.run(make()))
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            failure.append(exc)

    thread = threading.Thread(target=work, name="tastytrade-fetch", daemon=True)
    thread.start()
    thread.join(guard_s + _GUARD_SLACK_S)
    if thread.is_alive():
        raise SourceUnavailable(f"tastytrade: the fetch did not finish within {guard_s:g} s")
    if failure:
        raise failure[0]
    return outcome[0]


def _redact(message: str, secrets: Sequence[str]) -> str:
    for secret in secrets:
        if secret:
            message = message.replace(secret, _REDACTED)
    return message


def fetch_tastytrade(settings: Settings, now: datetime, *, api_url: str = API_URL) -> FetchResult:
    """Positions, balances, market metrics and DXLink Greeks of the configured tastytrade accounts, as of `now`.

    Runs the async SDK on its own event loop in a worker thread, so it is safe from Streamlit's script thread.
    Raises instead of returning an empty book: AuthFailed for refused credentials, SourceUnavailable for an
    unreachable API (timeout, HTTP 5xx/429, a fetch past its overall bound), PayloadInvalid for a non-JSON answer.
    What arrived partially (balances, metrics, Greeks) is named in `notes`; untranslatable rows are `rejected`.

    Args:
        settings: TASTYTRADE_PROVIDER_SECRET and TASTYTRADE_REFRESH_TOKEN (required), TASTYTRADE_ACCOUNTS (empty =
            every open account of the login), TASTYTRADE_TIMEOUT_S (per HTTP call, seconds) and
            TASTYTRADE_GREEKS_WAIT_S (per DXLink connection, seconds).
        now: tz-aware instant of this refresh; it stamps the positions and the result.
        api_url: Base URL of the tastytrade API (production by default; tests point it at a local server).
    """
    provider_secret, refresh_token = settings.tastytrade_provider_secret, settings.tastytrade_refresh_token
    if provider_secret is None or refresh_token is None:
        raise AuthFailed("tastytrade is not configured: set TASTYTRADE_PROVIDER_SECRET and TASTYTRADE_REFRESH_TOKEN")
    if now.tzinfo is None:
        raise ValueError(f"fetch_tastytrade needs a tz-aware now, got {now!r}")
    secrets = (provider_secret.get_secret_value(), refresh_token.get_secret_value())
    guard_s = _MAX_GUARDED_CALLS * settings.tastytrade_timeout_s + 2 * (
        settings.tastytrade_timeout_s + settings.tastytrade_greeks_wait_s
    )

    async def bounded() -> FetchResult:
        try:
            async with asyncio.timeout(guard_s):
                return await _fetch(settings, now, api_url, secrets)
        except TimeoutError as exc:
            raise SourceUnavailable(f"tastytrade: the fetch did not finish within {guard_s:g} s") from exc

    try:
        return _run_in_worker(bounded, guard_s)
    except AdapterError as exc:
        message = _redact(str(exc), secrets)
        if message != str(exc):
            raise type(exc)(message) from None  # never chain an exception that carries a secret
        raise
