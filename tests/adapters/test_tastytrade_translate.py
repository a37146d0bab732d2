"""tastytrade JSON → riskdash models on the real payload shapes (tests/fixtures/tastytrade/README.md)."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from typing import Any

import pytest
from scipy.stats import norm

from adapters.errors import PayloadInvalid
from adapters.listed_expiries import es_future_expiry
from adapters.tastytrade_translate import (
    FutureContract,
    dxlink_symbol,
    items_of,
    parse_future_option_symbol,
    referenced_futures,
    to_account_values,
    to_broker_greeks,
    to_future_contract,
    to_position,
    to_underlying_market,
    translate_positions,
)
from models.conventions import NEW_YORK, SECONDS_PER_YEAR, SettlementTime, expiry_instant
from models.market import BetaSource
from models.positions import ExerciseStyle, InstrumentKind, Right, Source
from tests.conftest import load_fixture

AS_OF = datetime(2023, 5, 24, 18, 0, tzinfo=UTC)


def _rows(name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = load_fixture("tastytrade", name)["data"]["items"]
    return rows


def _futures() -> dict[str, FutureContract]:
    contracts = [to_future_contract(row) for row in _rows("instruments_futures_ESU3_constructed.json")]
    return {contract.symbol: contract for contract in contracts}


def test_short_put_row_becomes_negative_quantity() -> None:
    position = to_position(_rows("positions_short_put_RIVN.json")[0], as_of=AS_OF)
    assert (position.quantity, position.multiplier, position.right) == (-40, 100, Right.PUT)
    assert (position.strike, position.underlying, position.kind) == (14.0, "RIVN", InstrumentKind.EQUITY_OPTION)
    assert (position.source, position.broker, position.account) == (Source.TASTYTRADE, "Tastytrade", "5YZ55555")


def test_equity_option_expiry_is_the_instant_tastytrade_states() -> None:
    row = _rows("positions_short_put_RIVN.json")[0]
    position = to_position(row, as_of=AS_OF)
    # expires-at "2023-06-09T20:00:00.000+00:00" is 16:00 New York (EDT): the PM close riskdash expires options at.
    assert position.expiry == datetime.fromisoformat(row["expires-at"])
    assert (position.exercise_style, position.settlement) == (ExerciseStyle.AMERICAN, SettlementTime.PM)


def test_close_price_is_not_taken_for_a_mark() -> None:
    assert to_position(_rows("positions_short_put_RIVN.json")[0], as_of=AS_OF).mark is None


@pytest.mark.parametrize(
    ("fixture", "index", "quantity", "multiplier"),
    [
        ("positions_official_example.json", 0, 100.0, 1.0),
        ("positions_multiplier_int_and_string.json", 0, 1.0, 1.0),
        ("positions_multiplier_int_and_string.json", 1, 742.0, 1.0),
    ],
    ids=["quantity-string-multiplier-int", "quantity-int-multiplier-int", "multiplier-string-1.0"],
)
def test_equity_rows_read_quantity_and_multiplier_whatever_their_json_type(
    fixture: str, index: int, quantity: float, multiplier: float
) -> None:
    position = to_position(_rows(fixture)[index], as_of=AS_OF)
    assert (position.kind, position.quantity, position.multiplier) == (InstrumentKind.STOCK, quantity, multiplier)
    assert isinstance(position.multiplier, float)


@pytest.mark.parametrize(
    ("direction", "quantity", "expected"),
    [("Long", "3", 3.0), ("Short", "3", -3.0), ("Short", 3.5, -3.5), ("Zero", "0", 0.0)],
    ids=["long", "short", "short-fractional", "zero"],
)
def test_quantity_sign_comes_from_quantity_direction(direction: str, quantity: Any, expected: float) -> None:
    row = {**_rows("positions_official_example.json")[0], "quantity": quantity, "quantity-direction": direction}
    assert to_position(row, as_of=AS_OF).quantity == expected


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity-direction": "Zero", "quantity": "5"}, "quantity"),
        ({"quantity-direction": None}, "quantity-direction"),
        ({"quantity": "-5"}, "quantity"),
        ({"multiplier": True}, "multiplier"),
        ({"instrument-type": "Cryptocurrency"}, "instrument-type"),
        ({"account-number": ""}, "account-number"),
    ],
    ids=["zero-with-size", "no-direction", "signed-quantity", "bool-multiplier", "unknown-type", "no-account"],
)
def test_inconsistent_row_names_its_field(change: dict[str, Any], field: str) -> None:
    row = {**_rows("positions_official_example.json")[0], **change}
    with pytest.raises(PayloadInvalid) as info:
        to_position(row, as_of=AS_OF)
    assert info.value.field == field


def test_malformed_rows_are_rejected_with_row_and_field_while_the_rest_translate() -> None:
    payload = load_fixture("tastytrade", "positions_malformed_rows_constructed.json")
    positions, rejected = translate_positions(payload, as_of=AS_OF)
    assert [p.symbol for p in positions] == ["RIVN  230609P00014000", "AAPL"]
    assert [(r.row, r.field) for r in rejected] == [
        ("5YZ55555 #1 RIVN  230609P00014000", "quantity-direction"),
        ("5WT00000 #2 AAPL", "multiplier"),
        ("5YZ55555 #3 RIVN  230631P00014000", "symbol"),
        ("5WT00000 #4 MSFT", "quantity"),
    ]
    assert all(r.source == "tastytrade" for r in rejected)
    assert "'1OO'" in rejected[1].reason
    assert "not a calendar date" in rejected[2].reason


def test_nan_strings_are_missing_values_and_a_nan_multiplier_rejects_the_row() -> None:
    positions, rejected = translate_positions(
        load_fixture("tastytrade", "positions_nan_strings_constructed.json"), as_of=AS_OF
    )
    assert [(p.symbol, p.mark) for p in positions] == [("RIVN  230609P00014000", None), ("AAPL", 282.48)]
    assert [(r.row, r.field) for r in rejected] == [("5WT00000 #2 TSLA", "multiplier")]


def test_spx_is_am_settled_and_spxw_pm_settled_both_european_on_spx() -> None:
    spx, spxw = (to_position(row, as_of=AS_OF) for row in _rows("positions_spx_am_pm_constructed.json"))
    assert (spx.kind, spx.underlying, spx.exercise_style) == (
        InstrumentKind.INDEX_OPTION,
        "SPX",
        ExerciseStyle.EUROPEAN,
    )
    assert (spxw.kind, spxw.underlying, spxw.exercise_style) == (
        InstrumentKind.INDEX_OPTION,
        "SPX",
        ExerciseStyle.EUROPEAN,
    )
    assert spx.expiry == datetime(2023, 12, 15, 9, 30, tzinfo=NEW_YORK)
    assert spxw.expiry == datetime(2023, 12, 15, 16, 0, tzinfo=NEW_YORK)
    assert (spx.settlement, spxw.settlement) == (SettlementTime.AM, SettlementTime.PM)


def test_futures_take_their_point_value_from_the_instrument_not_the_row() -> None:
    future, option = (
        to_position(row, as_of=AS_OF, futures=_futures()) for row in _rows("positions_futures_constructed.json")[:2]
    )
    assert (future.kind, future.underlying, future.quantity, future.multiplier) == (
        InstrumentKind.FUTURE,
        "/ESU3",
        1,
        50,
    )
    assert future.expiry == es_future_expiry(2023, 9)  # 09:30 New York on 2023-09-15, by CME's calendar
    assert (option.kind, option.underlying, option.quantity, option.multiplier) == (
        InstrumentKind.FUTURE_OPTION,
        "/ESU3",
        -2,
        50,
    )
    assert (option.strike, option.right, option.settlement) == (3990.0, Right.CALL, SettlementTime.PM)
    assert option.expiry == expiry_instant(date(2023, 7, 28))  # the chain's expires-at 20:00Z is 16:00 New York


def test_futures_option_without_an_instrument_record_is_rejected_not_guessed() -> None:
    payload = load_fixture("tastytrade", "positions_futures_constructed.json")
    positions, rejected = translate_positions(payload, as_of=AS_OF, futures=_futures())
    assert len(positions) == 2
    assert [(r.row, r.field) for r in rejected] == [("5YZ55555 #2 ./NQU3 QN4N3 230728C15000", "multiplier")]
    assert "/NQU3" in rejected[0].reason


def test_referenced_futures_lists_the_futures_behind_future_and_option_rows() -> None:
    assert referenced_futures(_rows("positions_futures_constructed.json")) == ["/ESU3", "/NQU3"]


def test_futures_option_symbols_of_the_es_chain_parse() -> None:
    chain = load_fixture("tastytrade", "futures_option_chain_ES_nested.json")["data"]["option-chains"][0]
    expiration = chain["expirations"][0]
    for strike in expiration["strikes"]:
        for right, key in ((Right.CALL, "call"), (Right.PUT, "put")):
            parsed = parse_future_option_symbol(strike[key])
            assert parsed.future == expiration["underlying-symbol"]
            assert parsed.option_code == expiration["option-contract-symbol"]
            assert parsed.expiry == date.fromisoformat(expiration["expiration-date"])
            assert (parsed.right, float(parsed.strike)) == (right, float(strike["strike-price"]))


def test_bad_futures_option_symbol_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not a tastytrade futures option symbol"):
        parse_future_option_symbol("/ESU3 230728C3990")


def test_balances_map_to_account_values() -> None:
    raw = load_fixture("tastytrade", "balances.json")["data"]
    values = to_account_values(raw, as_of=AS_OF)
    assert (values.account, values.currency, values.source) == ("5YZ55555", "USD", "tastytrade")
    assert (values.net_liquidation, values.maintenance_margin) == (543557.677, 432279.234)
    assert (values.excess_liquidity, values.buying_power) == (20078.762, 20078.762)
    assert values.as_of == datetime(2023, 6, 8, 16, 30, 18, 889000, tzinfo=UTC)
    assert values.cushion is None


def test_all_zero_balances_are_zeros_not_missing() -> None:
    values = to_account_values(load_fixture("tastytrade", "balances_all_zero.json")["data"], as_of=AS_OF)
    assert (values.net_liquidation, values.excess_liquidity, values.currency) == (0.0, 0.0, "USD")


def test_market_metrics_convert_percent_vols_and_keep_fractions() -> None:
    raw = load_fixture("tastytrade", "market_metrics_AAPL_TSLA.json")["data"]["items"][0]
    symbol, market = to_underlying_market(raw, as_of=AS_OF)
    assert symbol == "AAPL"
    assert market.iv is not None
    assert market.hv30 is not None
    assert market.iv_rank is not None
    # The payload's own iv-hv-30-day-difference (1.85, in points) checks the percent reading of both vols.
    assert market.iv.value - market.hv30.value == pytest.approx(float(raw["iv-hv-30-day-difference"]) / 100, abs=1e-12)
    assert market.iv.value == pytest.approx(0.2187, abs=1e-12)
    assert market.iv_rank.value == pytest.approx(0.02231313)
    assert market.beta is not None
    assert (market.beta.value, market.beta.source, market.beta.correlation) == (1.265634436, BetaSource.BROKER, 0.79)
    assert market.beta.as_of == datetime(2023, 6, 4, 17, 0, 35, 805000, tzinfo=UTC)
    assert market.dividend_yield is not None
    # tastytrade sends the cash yield 0.006396146; the pricers take the continuous rate ln(1 + y).
    assert market.dividend_yield.value == pytest.approx(math.log(1.006396146), rel=1e-12)
    assert market.spot is None
    assert market.hv20 is None


def test_market_metrics_iv_rank_outside_0_1_is_rejected() -> None:
    raw = {**load_fixture("tastytrade", "market_metrics_AAPL_TSLA.json")["data"]["items"][0]}
    raw["implied-volatility-index-rank"] = "2.23"
    with pytest.raises(PayloadInvalid, match="not in"):
        to_underlying_market(raw, as_of=AS_OF)


def _black_scholes_theta_per_day(spot: float, strike: float, t: float, vol: float) -> float:
    # r = q = 0 (crosscheck.py's fit on this file): theta = -S φ(d1) σ / (2 √T), per 1/365 of a year.
    d1 = (math.log(spot / strike) + 0.5 * vol * vol * t) / (vol * math.sqrt(t))
    return float(-spot * norm.pdf(d1) * vol / (2 * math.sqrt(t)) / 365)


def test_market_data_greeks_arrive_in_riskdash_units() -> None:
    rows = items_of(load_fixture("tastytrade", "market_data_SPY_250701_greeks.json"), "SPY market data")
    spot = 613.38  # crosscheck.py: the spot that fits both rows' Greeks
    for row in rows:
        updated = datetime.fromisoformat(row["updated-at"].replace("Z", "+00:00"))
        greeks = to_broker_greeks(row, as_of=updated, source="tastytrade market-data")
        strike = float(row["symbol"][-8:]) / 1000
        # tastytrade's time runs to 16:15 New York, SPY's last trade (crosscheck.py).
        t = (datetime(2025, 7, 1, 16, 15, 2, tzinfo=NEW_YORK) - updated).total_seconds() / SECONDS_PER_YEAR
        assert greeks.theta == pytest.approx(
            _black_scholes_theta_per_day(spot, strike, t, float(row["volatility"])), rel=2e-5
        )
        assert (greeks.iv, greeks.delta, greeks.vega) == (
            float(row["volatility"]),
            float(row["delta"]),
            float(row["vega"]),
        )


def test_nan_greeks_are_missing() -> None:
    greeks = to_broker_greeks({"volatility": "NaN", "delta": "0.5", "theta": "NaN"}, as_of=AS_OF)
    assert (greeks.iv, greeks.delta, greeks.theta, greeks.gamma) == (None, 0.5, None, None)


@pytest.mark.parametrize(
    ("symbol", "expected"),
    [("RIVN  230609P00014000", ".RIVN230609P14"), ("SPXW  231215P04000500", ".SPXW231215P4000.5")],
    ids=["integral-strike", "half-strike"],
)
def test_dxlink_symbol_of_an_option(symbol: str, expected: str) -> None:
    row = {**_rows("positions_short_put_RIVN.json")[0], "symbol": symbol, "expires-at": None}
    assert dxlink_symbol(to_position(row, as_of=AS_OF)) == expected


def test_shares_have_no_dxlink_greeks_symbol() -> None:
    assert dxlink_symbol(to_position(_rows("positions_official_example.json")[0], as_of=AS_OF)) is None


def test_items_of_a_payload_without_items_names_the_path() -> None:
    with pytest.raises(PayloadInvalid) as info:
        items_of({"data": {"item": []}}, "tastytrade positions")
    assert info.value.field == "data.items"
