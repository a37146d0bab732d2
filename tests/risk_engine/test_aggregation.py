"""Position arrays and aggregation: beta weighting against hand computation on golden Greeks; sums of rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models.conventions import SECONDS_PER_YEAR, SettlementTime
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition
from risk_engine.aggregation import book_totals, bucket_labels, group_totals, position_greeks
from risk_engine.arrays import to_arrays

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
HALF_YEAR = NOW + timedelta(seconds=0.5 * SECONDS_PER_YEAR)
# shared/golden greeks_public.csv G01989 (edge_textbook): S=100, K=100, T=0.5, r=5 %, q=2 %, σ=25 %, call.
GOLDEN_CALL = {
    "delta": 0.5631097179261004,
    "gamma": 0.02201025015939718,
    "vega": 0.2751281269924646,
    "theta": -0.022420219964921127,
}


def _quote(value: float) -> Quote:
    return Quote(value=value, source="test", as_of=NOW)


def _snapshot(**underlyings: UnderlyingMarket) -> MarketSnapshot:
    return MarketSnapshot(spx=_quote(5000.0), risk_free_rate=_quote(0.05), underlyings=underlyings, as_of=NOW)


def _market(spot: float, beta: float | None, div: float = 0.02) -> UnderlyingMarket:
    return UnderlyingMarket(
        spot=_quote(spot),
        beta=None if beta is None else Beta(value=beta, source=BetaSource.ESTIMATED, as_of=NOW),
        dividend_yield=_quote(div),
    )


def _option(
    quantity: float,
    *,
    account: str = "A1",
    broker: str = "IBKR",
    iv: float | None = 0.25,
    underlying: str = "XYZ",
    expiry: datetime = HALF_YEAR,
) -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.DEMO,
        broker=broker,
        account=account,
        symbol=f"{underlying} C100 {quantity}",
        kind=InstrumentKind.EQUITY_OPTION,
        underlying=underlying,
        quantity=quantity,
        multiplier=100.0,
        expiry=expiry,
        strike=100.0,
        right=Right.CALL,
        exercise_style=ExerciseStyle.EUROPEAN,
        settlement=SettlementTime.PM,
        iv=iv,
        as_of=NOW,
    )


def _shares(quantity: float, underlying: str = "XYZ", account: str = "A2") -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.DEMO,
        broker="Tastytrade",
        account=account,
        symbol=underlying,
        kind=InstrumentKind.STOCK,
        underlying=underlying,
        quantity=quantity,
        multiplier=1.0,
        as_of=NOW,
    )


def test_beta_weighting_matches_the_formula_on_golden_greeks() -> None:
    arrays = to_arrays([_option(-3.0)], _snapshot(XYZ=_market(100.0, 1.2)), NOW)
    g = position_greeks(arrays)
    size, ratio = -3.0 * 100.0, 1.2 * 100.0 / 5000.0
    assert g.bw_delta[0] == pytest.approx(GOLDEN_CALL["delta"] * size * ratio, rel=1e-9)
    assert g.bw_gamma[0] == pytest.approx(GOLDEN_CALL["gamma"] * size * ratio**2, rel=1e-9)
    assert g.theta_usd_per_day[0] == pytest.approx(GOLDEN_CALL["theta"] * size, rel=1e-9)
    assert g.vega_usd_per_vol_point[0] == pytest.approx(GOLDEN_CALL["vega"] * size, rel=1e-9)
    assert g.dollar_delta_usd[0] == pytest.approx(GOLDEN_CALL["delta"] * size * 100.0, rel=1e-9)


def test_shares_are_one_delta_each_and_nothing_else() -> None:
    arrays = to_arrays([_shares(250.0)], _snapshot(XYZ=_market(80.0, 1.5)), NOW)
    g = position_greeks(arrays)
    assert g.bw_delta[0] == pytest.approx(250.0 * 1.5 * 80.0 / 5000.0)
    assert (g.bw_gamma[0], g.theta_usd_per_day[0], g.vega_usd_per_vol_point[0]) == (0.0, 0.0, 0.0)


def test_underlying_price_comes_from_the_snapshot_not_the_option() -> None:
    arrays = to_arrays([_option(1.0)], _snapshot(XYZ=_market(100.0, 1.0)), NOW)
    assert arrays.spot[0] == 100.0


def test_shares_without_a_market_price_use_their_own_mark() -> None:
    # An imported statement with no market data: the share's mark is the underlying's price; the snapshot still wins.
    marked = _shares(100.0).model_copy(update={"mark": 412.5})
    alone = to_arrays([marked, _shares(5.0)], _snapshot(), NOW)
    assert alone.spot[0] == 412.5
    assert alone.priced.tolist() == [True, False]
    quoted = to_arrays([marked], _snapshot(XYZ=_market(400.0, 1.0)), NOW)
    assert quoted.spot[0] == 400.0


def test_missing_beta_is_one_and_flagged_as_assumed() -> None:
    arrays = to_arrays([_shares(10.0)], _snapshot(XYZ=_market(50.0, None)), NOW)
    assert arrays.beta[0] == 1.0
    assert arrays.beta_source[0] == BetaSource.DEFAULT.value
    assert any("beta" in text for text in arrays.assumptions[0])
    assert arrays.priced[0]


def test_missing_iv_or_spot_excludes_the_row_and_says_why() -> None:
    book = [_option(1.0, iv=None), _option(2.0, underlying="NOPE"), _option(4.0)]
    arrays = to_arrays(book, _snapshot(XYZ=_market(100.0, 1.0)), NOW)
    assert arrays.priced.tolist() == [False, False, True]
    assert "no implied volatility" in arrays.issues[0]
    assert any("NOPE" in text for text in arrays.issues[1])
    g = position_greeks(arrays)
    totals = book_totals(arrays, g)
    assert (totals.positions, totals.priced_positions) == (3, 1)
    assert g.bw_delta[:2].tolist() == [0.0, 0.0]
    assert np.isnan(g.price[0])


def test_group_sums_equal_the_book_total() -> None:
    rng = np.random.default_rng(3)
    book = [
        _option(
            float(q),
            account=f"A{i % 3}",
            broker=("IBKR", "Tastytrade")[i % 2],
            underlying=("XYZ", "ABC")[i % 2],
            expiry=NOW + timedelta(days=int(d)),
        )
        for i, (q, d) in enumerate(zip(rng.integers(-9, 9, 40), rng.integers(1, 400, 40), strict=True))
    ] + [_shares(100.0), _shares(-40.0, underlying="ABC")]
    arrays = to_arrays(book, _snapshot(XYZ=_market(100.0, 1.1), ABC=_market(40.0, 0.7, 0.0)), NOW)
    g = position_greeks(arrays)
    totals = book_totals(arrays, g)
    labels = bucket_labels(
        arrays.dte_days, arrays.has_expiry, [("0-7", 0, 7), ("8-30", 8, 30), ("31-60", 31, 60), ("60+", 61, None)]
    )
    for grouping in (arrays.underlying, arrays.account, arrays.broker, labels):
        groups = group_totals(grouping, g)
        assert groups.beta_weighted_delta.sum() == pytest.approx(totals.beta_weighted_delta, rel=1e-12)
        assert groups.beta_weighted_gamma.sum() == pytest.approx(totals.beta_weighted_gamma, rel=1e-12)
        assert groups.theta_per_day.sum() == pytest.approx(totals.theta_per_day, rel=1e-12)
        assert groups.vega_per_vol_point.sum() == pytest.approx(totals.vega_per_vol_point, rel=1e-12)
        assert groups.count.sum() == len(book)


def test_dte_buckets_edges_and_expired_and_shares() -> None:
    dte = np.array([0, 7, 8, 30, 31, 60, 61, 900, -2, 0])
    has_expiry = np.array([True] * 9 + [False])
    labels = bucket_labels(dte, has_expiry, [("0-7", 0, 7), ("8-30", 8, 30), ("31-60", 31, 60), ("60+", 61, None)])
    assert labels.tolist() == ["0-7", "0-7", "8-30", "8-30", "31-60", "31-60", "60+", "60+", "expired", "no expiry"]


def test_theta_vega_ratio_is_absolute_theta_over_absolute_vega() -> None:
    arrays = to_arrays([_option(-5.0)], _snapshot(XYZ=_market(100.0, 1.0)), NOW)
    totals = book_totals(arrays, position_greeks(arrays))
    assert totals.theta_vega_ratio == pytest.approx(abs(GOLDEN_CALL["theta"]) / abs(GOLDEN_CALL["vega"]), rel=1e-9)


def test_non_usd_rows_are_excluded_not_summed_as_dollars() -> None:
    chf = _option(1.0).model_copy(update={"currency": "CHF"})
    arrays = to_arrays([chf, _option(1.0)], _snapshot(XYZ=_market(100.0, 1.0)), NOW)
    assert arrays.priced.tolist() == [False, True]
    assert any("CHF" in text for text in arrays.issues[0])
