"""IBKR TWS objects → riskdash: recorded ib_insync reprs rebuilt with ib_async's and ib_insync's real classes."""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
from datetime import UTC, date, datetime
from types import ModuleType
from typing import Any

import ib_async
import ib_insync
import pytest

from adapters.errors import PayloadInvalid
from adapters.ibkr_translate import (
    UNSET_DOUBLE,
    IbkrRow,
    account_values,
    broker_greeks,
    clean_ib_number,
    greeks_complete,
    occ_match_terms,
    row_id,
    to_position,
)
from adapters.results import translate_rows
from models.conventions import NEW_YORK, SettlementTime, expiry_instant, t_years
from models.positions import ExerciseStyle, InstrumentKind, Right
from risk_engine.greeks import european_greeks
from tests.conftest import fixture_path

LIBRARIES = pytest.mark.parametrize("lib", [ib_async, ib_insync], ids=["ib_async", "ib_insync"])
AS_OF = datetime(2019, 12, 31, 16, 58, 41, 258764, tzinfo=UTC)  # the recorded Ticker's time


def load_repr(lib: ModuleType, name: str) -> Any:
    """A recorded repr rebuilt with `lib`'s real classes (the 2019 OptionComputation repr has no tickAttrib)."""
    names = {key: getattr(lib, key) for key in dir(lib) if key[:1].isupper()}
    names["OptionComputation"] = functools.partial(lib.OptionComputation, 0)
    names["datetime"] = dt
    text = fixture_path("ibkr_live", name).read_text(encoding="utf-8")
    return eval(text, {"__builtins__": {}}, names)  # a checked-in fixture; only library names in scope


def spx_put(lib: ModuleType) -> Any:
    return load_repr(lib, "ib_insync_ticker_spx_put_2019-12-31.txt")


@LIBRARIES
def test_recorded_spx_monthly_is_am_settled_on_the_occ_friday(lib: ModuleType) -> None:
    contract = load_repr(lib, "ib_insync_option_spx_monthly_2019-12-31.txt")
    position = to_position(IbkrRow("DU772802", contract, -3.0, 28.3), AS_OF)
    assert position.kind is InstrumentKind.INDEX_OPTION
    assert position.settlement is SettlementTime.AM
    assert position.exercise_style is ExerciseStyle.EUROPEAN
    # lastTradeDateOrContractMonth is Thursday 2020-01-16; the option settles at Friday's 09:30 open.
    assert position.expiry == datetime(2020, 1, 17, 9, 30, tzinfo=NEW_YORK)
    assert (position.quantity, position.multiplier, position.strike, position.right) == (-3.0, 100.0, 3205.0, Right.PUT)
    assert position.underlying == "SPX"


@LIBRARIES
def test_spxw_twin_is_pm_settled_on_its_last_trading_day(lib: ModuleType) -> None:
    # CONSTRUCTED: the recorded SPX contract as its SPXW twin (OCC date = last trading day).
    contract = lib.Option(
        conId=1,
        symbol="SPX",
        lastTradeDateOrContractMonth="20200116",
        strike=3205.0,
        right="P",
        multiplier="100",
        currency="USD",
        localSymbol="SPXW  200116P03205000",
        tradingClass="SPXW",
    )
    position = to_position(IbkrRow("DU772802", contract, 1.0), AS_OF)
    assert position.settlement is SettlementTime.PM
    assert position.expiry == datetime(2020, 1, 16, 16, 0, tzinfo=NEW_YORK)
    assert position.underlying == "SPX"


@LIBRARIES
def test_spx_local_symbol_contradicting_the_last_trading_day_is_rejected(lib: ModuleType) -> None:
    contract = lib.Option(
        conId=2,
        symbol="SPX",
        lastTradeDateOrContractMonth="20200116",
        strike=3205.0,
        right="P",
        multiplier="100",
        localSymbol="SPX   200124P03205000",
        tradingClass="SPX",
    )
    with pytest.raises(PayloadInvalid, match=r"200124|2020-01-24") as info:
        to_position(IbkrRow("DU772802", contract, 1.0), AS_OF)
    assert info.value.field == "lastTradeDateOrContractMonth"


@LIBRARIES
def test_recorded_model_greeks_are_carried_unconverted(lib: ModuleType) -> None:
    ticker = spx_put(lib)
    # ib_async's Ticker.__post_init__ resets bid/ask/last to NaN, so the mark is passed as a portfolio price would be.
    position = to_position(IbkrRow("DU772802", ticker.contract, -3.0, 28.3, ticker.modelGreeks), AS_OF)
    greeks = position.broker_greeks
    assert greeks is not None
    expected = (
        0.12597515955300287,
        -0.44711612427890945,
        0.004499237656712854,
        2.7587969178159018,
        -0.9446458451581966,
    )
    assert (greeks.iv, greeks.delta, greeks.gamma, greeks.vega, greeks.theta) == expected
    assert (position.iv, position.underlying_price, position.mark) == (expected[0], 3216.19, 28.3)


@LIBRARIES
def test_recorded_model_greeks_match_black_scholes_per_vol_point_and_calendar_day(lib: ModuleType) -> None:
    """Independent check of IBKR's units: the recorded Greeks against Black-Scholes in riskdash units."""
    ticker = spx_put(lib)
    model = ticker.modelGreeks
    spot, strike = model.undPrice, ticker.contract.strike
    t = t_years(expiry_instant(date(2020, 1, 17), SettlementTime.AM), ticker.time)
    q = -math.log(1 - model.pvDividend / spot) / t  # IBKR's PV of dividends as a continuous yield
    rate = 0.0155  # USD overnight rate at the end of 2019
    bs = european_greeks(False, spot, strike, t, rate, rate - q, model.impliedVol)
    assert model.delta == pytest.approx(float(bs.delta), rel=0.01)
    assert model.gamma == pytest.approx(float(bs.gamma), rel=0.02)
    # Per vol point, not per unit of vol (that would be 100× larger).
    assert model.vega == pytest.approx(float(bs.vega), rel=0.02)
    # Per calendar day: within 10 % of Black-Scholes per 1/365 year, far from per trading day (×365/252).
    assert model.theta == pytest.approx(float(bs.theta), rel=0.10)
    assert abs(model.theta - float(bs.theta) * 365 / 252) > 0.3 * abs(model.theta)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("vega", -2.0),
        ("theta", -2.0),
        ("delta", -2.0),
        ("gamma", -2.0),
        ("impliedVol", -1.0),
        ("vega", math.nan),
        ("theta", UNSET_DOUBLE),
        ("delta", None),
    ],
    ids=["vega-2", "theta-2", "delta-2", "gamma-2", "iv-1", "vega-nan", "theta-unset-double", "delta-none"],
)
@LIBRARIES
def test_sentinel_greek_is_missing_not_a_number(lib: ModuleType, field: str, value: float | None) -> None:
    # Both libraries pass vega/theta −2 through (wrapper.tickOptionComputation); built here as TWS sends them.
    values = {"impliedVol": 0.2, "delta": 0.5, "gamma": 0.01, "vega": 0.3, "theta": -0.1, field: value}
    comp = lib.OptionComputation(0, optPrice=None, pvDividend=None, undPrice=100.0, **values)
    greeks = broker_greeks(comp, AS_OF)
    assert greeks is not None
    attr = {"impliedVol": "iv"}.get(field, field)
    assert getattr(greeks, attr) is None
    assert not greeks_complete(comp)


@LIBRARIES
def test_deep_itm_put_delta_of_minus_one_is_a_value(lib: ModuleType) -> None:
    comp = lib.OptionComputation(0, 0.3, -1.0, 5.0, 0.0, 0.0, 0.0, -0.01, 90.0)
    greeks = broker_greeks(comp, AS_OF)
    assert greeks is not None
    assert greeks.delta == -1.0
    assert greeks_complete(comp)


@LIBRARIES
def test_computation_with_no_values_gives_no_broker_greeks(lib: ModuleType) -> None:
    comp = lib.OptionComputation(0, None, None, None, None, None, -2.0, -2.0, None)
    assert broker_greeks(comp, AS_OF) is None


def test_recorded_unset_double_is_missing() -> None:
    state = load_repr(ib_insync, "ib_insync_orderstate_unset_double_2019-12-31.txt")
    assert state.minCommission == UNSET_DOUBLE
    assert clean_ib_number(state.minCommission) is None
    assert clean_ib_number(state.commission) == 1.7857


@LIBRARIES
def test_recorded_positions_translate_shares_and_reject_forex(lib: ModuleType) -> None:
    positions = load_repr(lib, "ib_insync_positions_stk_forex_2019-12-31.txt")
    rows = [(row_id(p.account, p.contract), IbkrRow(p.account, p.contract, p.position)) for p in positions]
    translated, rejected = translate_rows("ibkr", rows, lambda row: to_position(row, AS_OF))
    assert [(p.symbol, p.quantity, p.multiplier, p.kind) for p in translated] == [
        ("IWM", 600.0, 1.0, InstrumentKind.STOCK),
        ("AAPL", 2551.0, 1.0, InstrumentKind.STOCK),
    ]
    assert [(r.row, r.field) for r in rejected] == [
        ("DU772802 conId=12087820 USD.CHF", "secType"),
        ("DU772802 conId=12087792 EUR.USD", "secType"),
    ]


@LIBRARIES
def test_portfolio_item_market_price_is_the_mark(lib: ModuleType) -> None:
    contract = load_repr(lib, "ib_insync_option_spx_monthly_2019-12-31.txt")
    # CONSTRUCTED PortfolioItem (no real option PortfolioItem repr exists): marketValue = price × qty × multiplier.
    item = lib.PortfolioItem(contract, -2.0, 28.3, -5660.0, 3105.0, 554.0, 0.0, "DU772802")
    position = to_position(IbkrRow(item.account, item.contract, item.position, item.marketPrice), AS_OF)
    assert position.mark is not None
    assert position.mark * position.quantity * position.multiplier == pytest.approx(item.marketValue)


@pytest.mark.parametrize(
    ("klass", "last_trade", "expiry", "style"),
    [
        ("ES", "20250620", datetime(2025, 6, 20, 9, 30, tzinfo=NEW_YORK), ExerciseStyle.AMERICAN),
        ("ES", "20250516", datetime(2025, 5, 16, 16, 0, tzinfo=NEW_YORK), ExerciseStyle.AMERICAN),
        ("E2D", "20250612", datetime(2025, 6, 12, 16, 0, tzinfo=NEW_YORK), ExerciseStyle.EUROPEAN),
        ("EW2", "20250613", datetime(2025, 6, 13, 16, 0, tzinfo=NEW_YORK), ExerciseStyle.EUROPEAN),
    ],
    ids=["quarterly-am", "serial-pm", "thursday-weekly", "friday-weekly"],
)
@LIBRARIES
def test_es_future_option_terms(
    lib: ModuleType, klass: str, last_trade: str, expiry: datetime, style: ExerciseStyle
) -> None:
    # Classes as in the live CP API rows (E2D, EW2); multiplier '50' is a string.
    contract = lib.FuturesOption(
        symbol="ES",
        lastTradeDateOrContractMonth=last_trade,
        strike=6040.0,
        right="C",
        exchange="CME",
        multiplier="50",
        conId=784136636,
        localSymbol=f"{klass} C6040",
        tradingClass=klass,
    )
    position = to_position(IbkrRow("U1", contract, -1.0, 17.543211, underlying="ESM5"), AS_OF)
    assert position.kind is InstrumentKind.FUTURE_OPTION
    assert (position.multiplier, position.underlying, position.expiry, position.exercise_style) == (
        50.0,
        "ESM5",
        expiry,
        style,
    )


@LIBRARIES
def test_treasury_future_option_without_resolved_future_keeps_the_product(lib: ModuleType) -> None:
    contract = lib.FuturesOption(
        symbol="ZN", lastTradeDateOrContractMonth="20250613", strike=112.75, right="C", multiplier="1000"
    )
    position = to_position(IbkrRow("U1", contract, -1.0, 0.0578679), AS_OF)
    assert (position.underlying, position.multiplier, position.exercise_style) == ("ZN", 1000.0, ExerciseStyle.AMERICAN)


@LIBRARIES
def test_future_is_linear_and_dated(lib: ModuleType) -> None:
    contract = lib.Future(
        symbol="ES", lastTradeDateOrContractMonth="20250620", multiplier="50", localSymbol="ESM5", conId=9
    )
    position = to_position(IbkrRow("U1", contract, 2.0, 5990.25), AS_OF)
    assert (position.kind, position.underlying, position.multiplier) == (InstrumentKind.FUTURE, "ESM5", 50.0)
    assert position.expiry == datetime(2025, 6, 20, 9, 30, tzinfo=NEW_YORK)
    assert position.broker_greeks is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"multiplier": ""}, "multiplier"),
        ({"multiplier": "abc"}, "multiplier"),
        ({"lastTradeDateOrContractMonth": "202001"}, "lastTradeDateOrContractMonth"),
        ({"right": "?"}, "right"),
        ({"strike": 0.0}, "strike"),
        ({"tradingClass": ""}, "tradingClass"),
    ],
    ids=["empty-multiplier", "bad-multiplier", "month-only", "bad-right", "zero-strike", "spx-without-class"],
)
@LIBRARIES
def test_malformed_contract_is_rejected_naming_the_field(lib: ModuleType, changes: dict[str, Any], field: str) -> None:
    contract = load_repr(lib, "ib_insync_option_spx_monthly_2019-12-31.txt")
    for key, value in changes.items():
        setattr(contract, key, value)
    if "tradingClass" in changes:
        contract.localSymbol = ""
    with pytest.raises(PayloadInvalid) as info:
        to_position(IbkrRow("DU772802", contract, 1.0), AS_OF)
    assert info.value.field == field
    assert "384688665" in str(info.value)


@LIBRARIES
def test_account_summary_becomes_account_values(lib: ModuleType) -> None:
    # CONSTRUCTED rows with the account-summary tags; the recorded BASE row rides along and must not be mixed in.
    base_row = load_repr(lib, "ib_insync_account_value_base_2019-12-31.txt")
    rows = [
        *base_row,
        lib.AccountValue("U172554", "NetLiquidation", "2039.40", "EUR", ""),
        lib.AccountValue("U172554", "ExcessLiquidity", "1500.00", "EUR", ""),
        lib.AccountValue("U172554", "MaintMarginReq", "539.40", "EUR", ""),
        lib.AccountValue("U172554", "Cushion", "0.7355", "", ""),
        lib.AccountValue("U172554", "BuyingPower", "", "EUR", ""),
    ]
    (values,) = account_values(rows, AS_OF)
    assert (values.account, values.currency, values.net_liquidation) == ("U172554", "EUR", 2039.40)
    assert (values.excess_liquidity, values.maintenance_margin, values.cushion) == (1500.0, 539.4, 0.7355)
    assert values.buying_power is None


@LIBRARIES
def test_base_currency_row_alone_gives_no_account_values(lib: ModuleType) -> None:
    assert account_values(load_repr(lib, "ib_insync_account_value_base_2019-12-31.txt"), AS_OF) == []


_OCC_SHAPE = re.compile(r"(?P<root>[A-Z]+) *(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})")


@pytest.mark.parametrize(
    ("symbol", "terms"),
    [
        ("SPX   200117P03205000", ("SPX", date(2020, 1, 17), Right.PUT, 3205.0)),
        ("SPY   250117C00440500", ("SPY", date(2025, 1, 17), Right.CALL, 440.5)),
        ("SPY   250230C00440000", None),
    ],
    ids=["spx-put", "half-dollar-strike", "30-february"],
)
def test_occ_match_terms_reads_the_occ_fields_and_refuses_impossible_dates(
    symbol: str, terms: tuple[str, date, Right, float] | None
) -> None:
    # OCC symbology: YYMMDD expiry, C/P, strike in thousandths of a dollar over eight digits.
    match = _OCC_SHAPE.fullmatch(symbol)
    assert match is not None
    assert occ_match_terms(match) == terms
