"""IBKR live positions via TWS / IB Gateway: positions, prices, model Greeks and account values in one sync call.

The I/O half of the IBKR adapter: it gathers library objects on the session's loop (adapters/ibkr_session.py) and
hands them to the pure translator (adapters/ibkr_translate.py). Read-only; never places or changes anything.
"""

from __future__ import annotations

import asyncio
import importlib
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from adapters.errors import SourceUnavailable
from adapters.ibkr_session import MAX_MESSAGES_PER_S, IbkrSession, TokenBucket
from adapters.ibkr_translate import (
    IBKR_SOURCE,
    IbkrRow,
    account_values,
    clean_ib_number,
    greeks_complete,
    row_id,
    to_position,
)
from adapters.results import FetchResult, translate_rows
from config.settings import Settings
from models.market import Quote, UnderlyingMarket
from models.positions import UnifiedPosition

__all__ = [
    "IbkrGathered",
    "close_ibkr_sessions",
    "fetch_ibkr",
    "fetch_result",
    "market_data_batches",
    "wait_for_greeks",
]

_POLL_S: Final = 0.05
_FROZEN_MARKET_DATA: Final = 2  # live while the market is open, the last values after the close
_OPTION_SEC_TYPES: Final = frozenset({"OPT", "FOP"})
_STREAMED_SEC_TYPES: Final = frozenset({"STK", "OPT", "FOP", "FUT"})
_DETAILED_SEC_TYPES: Final = frozenset({"FOP", "FUT"})  # need their exchange (and FOP its future) from TWS
_SESSIONS: dict[tuple[str, int, int], IbkrSession] = {}
_SESSIONS_LOCK = threading.Lock()


@dataclass
class IbkrGathered:
    """What one fetch learnt from TWS, still as library objects (positions, portfolio items, tickers, summary)."""

    positions: list[Any] = field(default_factory=list)
    portfolio: dict[tuple[str, int], Any] = field(default_factory=dict)
    summary: list[Any] = field(default_factory=list)
    tickers: dict[int, Any] = field(default_factory=dict)
    underlying_of: dict[int, str] = field(default_factory=dict)
    contracts: dict[int, Any] = field(default_factory=dict)
    options: set[int] = field(default_factory=set)
    missing_greeks: list[str] = field(default_factory=list)


def market_data_batches(items: Sequence[Any], lines: int) -> list[list[Any]]:
    """`items` in consecutive batches of at most `lines` (market-data lines open at once), order kept."""
    if lines < 1:
        raise ValueError(f"market-data lines must be >= 1, got {lines}")
    return [list(items[start : start + lines]) for start in range(0, len(items), lines)]


async def wait_for_greeks(tickers: Sequence[Any], bound_s: float, poll_s: float = _POLL_S) -> list[Any]:
    """The option tickers still without complete model Greeks after waiting at most `bound_s` seconds.

    Greeks arrive asynchronously after reqMktData; this polls the tickers (which the IB library updates on the same
    loop) and returns as soon as every one has IV, delta, gamma, vega and theta.

    Args:
        tickers: Tickers of option contracts (ib_async / ib_insync Ticker objects).
        bound_s: Longest wait in seconds (settings.ibkr_greeks_wait_s).
        poll_s: Interval between checks in seconds.
    """
    deadline = time.monotonic() + bound_s
    while True:
        missing = [ticker for ticker in tickers if not greeks_complete(ticker.modelGreeks)]
        remaining = deadline - time.monotonic()
        if not missing or remaining <= 0:
            return missing
        await asyncio.sleep(min(poll_s, remaining))


def _library_of(ib: Any) -> Any:
    """The module (ib_async or ib_insync) an IB object comes from, for building Contracts of the same library."""
    return importlib.import_module(type(ib).__module__.split(".")[0])


async def _details(ib: Any, pacer: TokenBucket, con_id: int, timeout_s: float) -> Any | None:
    await pacer.pace()
    found = await asyncio.wait_for(ib.reqContractDetailsAsync(_library_of(ib).Contract(conId=con_id)), timeout_s)
    return found[0] if found else None


async def _gather_positions(session: IbkrSession, accounts: frozenset[str]) -> IbkrGathered:
    """Stage 1: positions, portfolio prices, account summary and the contracts to stream market data for."""
    ib = await session.connected()
    timeout, pacer, out = session.timeout_s, session.pacer, IbkrGathered()
    library = _library_of(ib)
    managed = set(ib.managedAccounts())
    if unknown := sorted(accounts - managed):
        raise SourceUnavailable(
            f"{session.where}: account(s) {', '.join(unknown)} from IBKR_ACCOUNTS are not managed by this login "
            f"(it manages {', '.join(sorted(managed)) or 'none'})"
        )
    await pacer.pace()
    positions = await asyncio.wait_for(ib.reqPositionsAsync(), timeout)
    out.positions = [p for p in positions if (not accounts or p.account in accounts) and p.position != 0]
    out.portfolio = {(item.account, item.contract.conId): item for item in ib.portfolio()}
    await pacer.pace()
    out.summary = list(await asyncio.wait_for(ib.accountSummaryAsync(), timeout))

    for position in out.positions:
        contract = position.contract
        if contract.conId in out.contracts or contract.secType not in _STREAMED_SEC_TYPES:
            continue
        details = None
        if contract.secType in _DETAILED_SEC_TYPES:
            details = await _details(ib, pacer, contract.conId, timeout)
            if contract.secType == "FOP" and details is not None and details.underConId:
                future = await _details(ib, pacer, details.underConId, timeout)
                if future is not None and future.contract.localSymbol:
                    out.underlying_of[contract.conId] = future.contract.localSymbol.strip()
        # reqMktData needs an exchange: SMART for shares and listed options, the listing exchange for futures.
        out.contracts[contract.conId] = (
            details.contract
            if details is not None
            else library.Contract(conId=contract.conId, exchange="SMART", currency=contract.currency)
        )
        if contract.secType in _OPTION_SEC_TYPES:
            out.options.add(contract.conId)
    return out


async def _stream_market_data(
    session: IbkrSession, out: IbkrGathered, lines: int, greeks_wait_s: float
) -> IbkrGathered:
    """Stage 2: prices and model Greeks, `lines` subscriptions at a time, each batch cancelled before the next."""
    ib = await session.connected()
    pacer = session.pacer
    await pacer.pace()
    ib.reqMarketDataType(_FROZEN_MARKET_DATA)
    for batch in market_data_batches(list(out.contracts.items()), lines):
        option_tickers = []
        try:
            for con_id, contract in batch:
                await pacer.pace()
                ticker = ib.reqMktData(contract, "", False, False)
                out.tickers[con_id] = ticker
                if con_id in out.options:
                    option_tickers.append(ticker)
            missing = await wait_for_greeks(option_tickers, greeks_wait_s)
            out.missing_greeks.extend((m.contract.localSymbol or str(m.contract.conId)).strip() for m in missing)
        finally:
            for con_id, contract in batch:
                if con_id in out.tickers:
                    await pacer.pace()
                    ib.cancelMktData(contract)  # releases the line for the next batch
    return out


def _price(ticker: Any | None) -> float | None:
    if ticker is None:
        return None
    for value in (ticker.marketPrice(), ticker.close):
        price = clean_ib_number(value, -1.0)
        if price is not None:
            return price
    return None


def fetch_result(gathered: IbkrGathered, accounts: frozenset[str], greeks_wait_s: float, now: datetime) -> FetchResult:
    """The FetchResult of what a fetch gathered: translated positions, rejected rows, accounts, spots and notes.

    Args:
        gathered: Library objects from TWS (or built from the real classes in tests).
        accounts: The account filter from settings (empty = all).
        greeks_wait_s: The bound the Greeks wait used, for the notes.
        now: tz-aware instant of the fetch.
    """
    rows: list[tuple[str, IbkrRow]] = []
    for position in gathered.positions:
        contract = position.contract
        item = gathered.portfolio.get((position.account, contract.conId))
        ticker = gathered.tickers.get(contract.conId)
        portfolio_price = None if item is None else clean_ib_number(item.marketPrice, -1.0)
        row = IbkrRow(
            account=position.account,
            contract=contract,
            position=position.position,
            market_price=portfolio_price if portfolio_price is not None else _price(ticker),
            greeks=None if ticker is None else ticker.modelGreeks,
            underlying=gathered.underlying_of.get(contract.conId),
        )
        rows.append((row_id(position.account, contract), row))
    positions, rejected = translate_rows(IBKR_SOURCE, rows, lambda row: to_position(row, now))
    values = account_values(gathered.summary, now, accounts)
    notes = _notes(gathered, positions, greeks_wait_s, accounts)
    return FetchResult(
        source=IBKR_SOURCE,
        positions=tuple(positions),
        rejected=tuple(rejected),
        fetched_at=now,
        notes=tuple(notes),
        accounts=tuple(values),
        underlyings=_underlyings(gathered, positions, now),
    )


def _underlyings(
    gathered: IbkrGathered, positions: list[UnifiedPosition], now: datetime
) -> dict[str, UnderlyingMarket]:
    """Spot per underlying: a stock's own price, else the underlying price of an option's model Greeks."""
    spots: dict[str, float] = {}
    for position in positions:
        if position.is_option and position.underlying_price is not None:
            spots.setdefault(position.underlying, position.underlying_price)
    for position in gathered.positions:
        if position.contract.secType == "STK":
            price = _price(gathered.tickers.get(position.contract.conId))
            if price is not None and price > 0:
                spots[position.contract.symbol] = price
    return {name: UnderlyingMarket(spot=Quote(value=spot, source="ibkr", as_of=now)) for name, spot in spots.items()}


def _notes(
    gathered: IbkrGathered, positions: list[UnifiedPosition], wait_s: float, accounts: frozenset[str]
) -> list[str]:
    notes = []
    if not gathered.positions:
        notes.append(f"no open positions in {', '.join(sorted(accounts)) or 'any managed account'}")
    if gathered.missing_greeks:
        notes.append(
            f"model Greeks missing for {len(gathered.missing_greeks)} of {len(gathered.options)} options after "
            f"{wait_s:.1f} s: {', '.join(gathered.missing_greeks)}"
        )
    if no_mark := [p.symbol for p in positions if p.mark is None]:
        notes.append(f"no price for {len(no_mark)} of {len(positions)} positions: {', '.join(no_mark)}")
    fops = [
        p for p in gathered.positions if p.contract.secType == "FOP" and p.contract.conId not in gathered.underlying_of
    ]
    if unresolved := sorted({(p.contract.localSymbol or p.contract.symbol).strip() for p in fops}):
        notes.append(f"future behind the option not resolved (underlying is the product code): {', '.join(unresolved)}")
    if not gathered.summary:
        notes.append("account summary did not arrive: no net liquidation, excess liquidity, margin or cushion")
    return notes


def _session_for(host: str, port: int, client_id: int, timeout_s: float) -> IbkrSession:
    """The shared session of a TWS endpoint, created on first use (Streamlit reruns reuse one connection)."""
    key = (host, port, client_id)
    with _SESSIONS_LOCK:
        session = _SESSIONS.get(key)
        if session is None or session.timeout_s != timeout_s:
            if session is not None:
                session.close()
            session = _SESSIONS[key] = IbkrSession(host, port, client_id, timeout_s)
        return session


def close_ibkr_sessions() -> None:
    """Disconnect and stop every shared IBKR session (process shutdown, tests)."""
    with _SESSIONS_LOCK:
        sessions = list(_SESSIONS.values())
        _SESSIONS.clear()
    for session in sessions:
        session.close()


def fetch_ibkr(settings: Settings, now: datetime) -> FetchResult:
    """IBKR positions (signed, riskdash units), model Greeks, account values and spots from TWS / IB Gateway.

    Connects read-only (reconnecting with backoff), reads positions and the account summary, streams market data in
    batches of at most `settings.ibkr_market_data_lines`, waits at most `settings.ibkr_greeks_wait_s` per batch for
    model Greeks, then cancels every subscription. What did not arrive is named in `notes`.

    Args:
        settings: ibkr_host, ibkr_port, ibkr_client_id, ibkr_accounts, ibkr_timeout_s,
            ibkr_greeks_wait_s, ibkr_market_data_lines).
        now: tz-aware instant of the fetch (`fetched_at` and every `as_of`).

    Raises:
        SourceUnavailable: IBKR is not configured, unreachable, or too slow; the message names host and port.
    """
    if now.tzinfo is None:
        raise ValueError(f"fetch_ibkr needs a tz-aware now, got {now!r}")
    if settings.ibkr_port is None:
        raise SourceUnavailable("IBKR is not configured: set IBKR_PORT (TWS 7497/7496, IB Gateway 4002/4001)")
    accounts = frozenset(a.strip() for a in settings.ibkr_accounts.split(",") if a.strip())
    session = _session_for(settings.ibkr_host, settings.ibkr_port, settings.ibkr_client_id, settings.ibkr_timeout_s)
    lines, wait_s, timeout_s = settings.ibkr_market_data_lines, settings.ibkr_greeks_wait_s, settings.ibkr_timeout_s
    # Each stage is bounded inside; the outer bound covers connecting, the requests and every batch's wait.
    # Connecting has its own deadline (timeout_s); then each request is bounded by timeout_s, each batch by the wait.
    gathered = session.run(lambda: _gather_positions(session, accounts), 4 * timeout_s, "reading positions")
    batches = math.ceil(len(gathered.contracts) / lines)
    pacing_s = 3 * len(gathered.contracts) / MAX_MESSAGES_PER_S  # subscribe and cancel, paced
    budget = timeout_s + batches * wait_s + pacing_s
    gathered = session.run(lambda: _stream_market_data(session, gathered, lines, wait_s), budget, "streaming prices")
    return fetch_result(gathered, accounts, wait_s, now)
