"""The IBKR fetch: bounded Greeks wait, market-data batches, and the FetchResult built from the libraries' objects."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import ib_async
import ib_insync
import pytest

from adapters.ibkr import (
    IbkrGathered,
    close_ibkr_sessions,
    fetch_ibkr,
    fetch_result,
    market_data_batches,
    wait_for_greeks,
)
from adapters.ibkr_session import IbkrSession
from config.settings import Settings
from models.positions import InstrumentKind
from tests.adapters.test_ibkr_translate import load_repr

LIBRARIES = pytest.mark.parametrize("lib", [ib_async, ib_insync], ids=["ib_async", "ib_insync"])
NOW = datetime(2019, 12, 31, 16, 58, 41, tzinfo=UTC)


@pytest.fixture
def session() -> Iterator[IbkrSession]:
    live = IbkrSession("127.0.0.1", 9, 17, timeout_s=1.0)
    yield live
    live.close()


def option(lib: ModuleType, con_id: int, strike: float) -> Any:
    return lib.Option(
        conId=con_id,
        symbol="SPX",
        lastTradeDateOrContractMonth="20200116",
        strike=strike,
        right="P",
        multiplier="100",
        currency="USD",
        localSymbol=f"SPX   200117P0{int(strike * 1000):07d}",
        tradingClass="SPX",
    )


def computation(lib: ModuleType) -> Any:
    return lib.OptionComputation(0, 0.126, -0.447, 30.02, 3.17, 0.0045, 2.759, -0.945, 3216.19)


@LIBRARIES
def test_greeks_wait_is_bounded_and_returns_the_tickers_still_missing(lib: ModuleType, session: IbkrSession) -> None:
    tickers = [lib.Ticker(contract=option(lib, n, 3200.0 + 5 * n)) for n in range(3)]

    async def scenario() -> tuple[list[Any], float]:
        loop = asyncio.get_running_loop()
        for ticker in tickers[:2]:  # two arrive late, the third never
            loop.call_later(0.05, setattr, ticker, "modelGreeks", computation(lib))
        started = time.monotonic()
        missing = await wait_for_greeks(tickers, bound_s=0.4, poll_s=0.01)
        return missing, time.monotonic() - started

    missing, waited = session.run(scenario, 5.0, "greeks wait")
    assert missing == [tickers[2]]
    assert 0.4 <= waited < 1.0


@LIBRARIES
def test_greeks_wait_returns_as_soon_as_all_arrive(lib: ModuleType, session: IbkrSession) -> None:
    tickers = [lib.Ticker(contract=option(lib, n, 3200.0 + 5 * n)) for n in range(2)]

    async def scenario() -> tuple[list[Any], float]:
        loop = asyncio.get_running_loop()
        for ticker in tickers:
            loop.call_later(0.02, setattr, ticker, "modelGreeks", computation(lib))
        started = time.monotonic()
        missing = await wait_for_greeks(tickers, bound_s=5.0, poll_s=0.01)
        return missing, time.monotonic() - started

    missing, waited = session.run(scenario, 10.0, "greeks wait")
    assert missing == []
    assert waited < 1.0


@LIBRARIES
def test_greeks_with_vega_sentinel_count_as_not_arrived(lib: ModuleType, session: IbkrSession) -> None:
    ticker = lib.Ticker(contract=option(lib, 1, 3205.0))
    ticker.modelGreeks = lib.OptionComputation(0, 0.126, -0.447, 30.02, 3.17, 0.0045, -2.0, -2.0, 3216.19)
    missing = session.run(lambda: wait_for_greeks([ticker], bound_s=0.05), 5.0, "greeks wait")
    assert missing == [ticker]


def test_market_data_lines_are_batched_within_the_limit() -> None:
    batches = market_data_batches(list(range(250)), 90)
    assert [len(batch) for batch in batches] == [90, 90, 70]
    assert [item for batch in batches for item in batch] == list(range(250))


@LIBRARIES
def test_fetch_result_from_library_objects(lib: ModuleType) -> None:
    recorded = load_repr(lib, "ib_insync_ticker_spx_put_2019-12-31.txt")
    stocks = load_repr(lib, "ib_insync_positions_stk_forex_2019-12-31.txt")
    late = option(lib, 2, 3100.0)
    put_ticker = lib.Ticker(contract=recorded.contract)
    put_ticker.modelGreeks = recorded.modelGreeks
    iwm_ticker = lib.Ticker(contract=stocks[0].contract)
    iwm_ticker.last = 165.45
    gathered = IbkrGathered(
        positions=[
            *stocks,
            lib.Position("DU772802", recorded.contract, -2.0, 3105.0),
            lib.Position("DU772802", late, 1.0, 1500.0),
        ],
        portfolio={
            ("DU772802", recorded.contract.conId): lib.PortfolioItem(
                recorded.contract, -2.0, 28.3, -5660.0, 3105.0, 554.0, 0.0, "DU772802"
            )
        },
        summary=[
            lib.AccountValue("DU772802", "NetLiquidation", "1126836.45", "USD", ""),
            lib.AccountValue("DU772802", "MaintMarginReq", "188130.0", "USD", ""),
        ],
        tickers={recorded.contract.conId: put_ticker, late.conId: lib.Ticker(contract=late), 9579970: iwm_ticker},
        options={recorded.contract.conId, late.conId},
        missing_greeks=["SPX   200117P03100000"],
    )
    result = fetch_result(gathered, frozenset(), 5.0, NOW)
    assert [(p.symbol, p.kind, p.quantity) for p in result.positions] == [
        ("IWM", InstrumentKind.STOCK, 600.0),
        ("AAPL", InstrumentKind.STOCK, 2551.0),
        ("SPX   200117P03205000", InstrumentKind.INDEX_OPTION, -2.0),
        ("SPX   200117P03100000", InstrumentKind.INDEX_OPTION, 1.0),
    ]
    assert [r.field for r in result.rejected] == ["secType", "secType"]  # the two Forex positions
    assert (result.positions[2].mark, result.positions[2].iv) == (28.3, recorded.modelGreeks.impliedVol)
    assert result.positions[3].broker_greeks is None
    assert "model Greeks missing for 1 of 2 options after 5.0 s: SPX   200117P03100000" in result.notes
    assert any(note.startswith("no price for 2 of 4 positions") for note in result.notes)  # AAPL, the late put
    spots = {name: market.spot.value for name, market in result.underlyings.items() if market.spot is not None}
    assert spots == {"SPX": 3216.19, "IWM": 165.45}
    (account,) = result.accounts
    assert (account.net_liquidation, account.maintenance_margin, account.excess_liquidity) == (
        1126836.45,
        188130.0,
        None,
    )


@pytest.mark.integration
def test_live_tws_fetch() -> None:
    """Against a running TWS / IB Gateway: set IBKR_PORT (and IBKR_HOST, IBKR_CLIENT_ID, IBKR_ACCOUNTS) to run."""
    if not os.environ.get("IBKR_PORT"):
        pytest.skip("IBKR_PORT is not set: start TWS/IB Gateway with the API enabled and export IBKR_PORT")
    try:
        result = fetch_ibkr(Settings(), datetime.now(UTC))
    finally:
        close_ibkr_sessions()
    assert result.source == "ibkr"
    assert result.accounts, "the account summary should name at least one account"
