"""The bundled demo book and snapshot: valid and live at any `now`, the promised strategies, honest labels, and a
malformed row reported rather than dropped."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta
from importlib import resources
from pathlib import Path

import pytest

from adapters.demo import (
    DEMO_SNAPSHOT_SOURCE,
    DEMO_SOURCE,
    load_demo_book,
    load_demo_snapshot,
)
from adapters.errors import PayloadInvalid
from adapters.listed_expiries import listed_expiry_dates
from adapters.results import FetchResult
from models.conventions import NEW_YORK, SettlementTime
from models.market import MarketSnapshot, Quote
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


INSTANTS = [
    ny(2026, 11, 21, 12),  # Saturday
    ny(2026, 11, 26, 12),  # Thanksgiving
    ny(2026, 12, 18, 9, 29),  # SPX AM monthly, one minute before the opening print
    ny(2026, 12, 18, 9, 31),  # ...and just after: the December AM monthly is gone
    ny(2026, 12, 18, 15, 59),  # quarterly expiry day, PM weeklies about to expire
    ny(2027, 3, 26, 10),  # Good Friday 2027 (NYSE closed)
    ny(2027, 4, 2, 10),  # an ordinary Friday
    ny(2027, 6, 17, 16, 1),  # after the Juneteenth-shifted June 2027 quarterly
    ny(2027, 11, 22, 15, 59),
    datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 EST, the repeated hour of the fall-back night
    datetime(2027, 3, 14, 7, 30, tzinfo=UTC),  # 03:30 EDT, spring-forward morning
    ny(2029, 1, 19, 16),  # a LEAPS expiry instant, years out
]
INSTANT_IDS = [n.isoformat() for n in INSTANTS]

OCC = re.compile(r"^(?P<root>[A-Z]{1,6}) *(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
ES_CONTRACT = re.compile(r"^/ES[HMUZ]\d$")


@pytest.fixture(scope="module", params=INSTANTS, ids=INSTANT_IDS)
def at(request: pytest.FixtureRequest) -> tuple[datetime, FetchResult, MarketSnapshot]:
    now: datetime = request.param
    return now, load_demo_book(now), load_demo_snapshot(now)


def _by_strategy(positions: tuple[UnifiedPosition, ...]) -> dict[tuple[str, str], list[UnifiedPosition]]:
    groups: dict[tuple[str, str], list[UnifiedPosition]] = defaultdict(list)
    for position in positions:
        groups[(position.account, position.description.split(" · ")[0])].append(position)
    return groups


def test_book_is_labelled_demo_and_stamped_now(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    now, book, _ = at
    assert (book.source, book.demo, book.fetched_at, book.stale, book.rejected) == (DEMO_SOURCE, True, now, False, ())
    assert all(p.source is Source.DEMO and p.as_of == now for p in book.positions)


def test_every_position_is_live(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    now, book, _ = at
    assert 40 <= len(book.positions) <= 60
    for position in book.positions:
        assert not position.expired, position.symbol
        assert position.expiry is None or (position.expiry > now and position.dte is not None and position.dte >= 0)


def test_positions_are_unique_within_an_account(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    _, book, _ = at
    duplicated = [key for key, n in Counter(p.key for p in book.positions).items() if n > 1]
    assert duplicated == []


def test_every_underlying_has_a_snapshot_spot(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    _, book, snapshot = at
    missing = {p.underlying for p in book.positions if snapshot.underlying(p.underlying).spot is None}
    assert missing == set()


def test_shares_and_futures_are_marked_at_spot_options_left_to_the_engine(
    at: tuple[datetime, FetchResult, MarketSnapshot],
) -> None:
    _, book, snapshot = at
    for position in book.positions:
        spot = snapshot.underlying(position.underlying).spot
        assert spot is not None
        if position.is_option:
            assert position.mark is None
            assert position.iv is not None
            assert 0.05 < position.iv < 1.5
        else:
            assert position.mark == spot.value


def test_am_settled_spx_monthlies_expire_at_the_open_on_a_monthly_date(
    at: tuple[datetime, FetchResult, MarketSnapshot],
) -> None:
    now, book, _ = at
    spx_am = [p for p in book.positions if p.symbol.startswith("SPX ")]
    assert spx_am, "the book must hold SPX (AM-settled, trading class SPX) monthlies"
    ny_now = now.astimezone(NEW_YORK).date()
    monthlies = set(listed_expiry_dates("monthly", ny_now, date(ny_now.year + 2, 12, 31)))
    for position in spx_am:
        assert position.expiry is not None
        local = position.expiry.astimezone(NEW_YORK)
        assert (position.settlement, local.time()) == (SettlementTime.AM, time(9, 30))
        assert local.date() in monthlies
        assert (position.kind, position.exercise_style) == (InstrumentKind.INDEX_OPTION, ExerciseStyle.EUROPEAN)
    for position in (p for p in book.positions if p.symbol.startswith("SPXW")):
        assert position.expiry is not None
        assert position.settlement is SettlementTime.PM
        assert position.expiry.astimezone(NEW_YORK).time() == time(16, 0)


def test_es_options_are_european_fifty_multiplier_on_a_quoted_quarterly_future(
    at: tuple[datetime, FetchResult, MarketSnapshot],
) -> None:
    _, book, snapshot = at
    es_options = [p for p in book.positions if p.kind is InstrumentKind.FUTURE_OPTION]
    assert es_options
    for position in es_options:
        assert (position.multiplier, position.exercise_style) == (50.0, ExerciseStyle.EUROPEAN)
        assert ES_CONTRACT.match(position.underlying), position.underlying
        assert snapshot.underlying(position.underlying).spot is not None


def test_option_symbols_are_occ_and_agree_with_the_terms(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    _, book, _ = at
    for position in book.positions:
        if position.kind not in (InstrumentKind.INDEX_OPTION, InstrumentKind.EQUITY_OPTION):
            continue
        match = OCC.match(position.symbol)
        assert match, position.symbol
        assert len(position.symbol) == 21, position.symbol
        assert position.expiry is not None
        assert position.right is not None
        assert match["date"] == position.expiry.astimezone(NEW_YORK).strftime("%y%m%d")
        assert match["right"] == position.right.value
        assert int(match["strike"]) == round((position.strike or 0) * 1000)


def test_book_spans_two_brokers_and_four_accounts(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    _, book, _ = at
    assert {p.broker for p in book.positions} == {"IBKR", "Tastytrade"}
    accounts = {p.account for p in book.positions}
    assert len(accounts) >= 3
    assert all(a.startswith("DEMO-") for a in accounts)


def test_required_strategies_are_present_and_well_formed(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    _, book, _ = at
    groups = _by_strategy(book.positions)
    names = {name for _, name in groups}
    assert {"short strangle", "iron condor", "put calendar", "jade lizard", "call ratio backspread", "covered call",
            "long put hedge", "0DTE put credit spread", "LEAPS call"} <= names  # fmt: skip

    def legs(name: str) -> list[list[UnifiedPosition]]:
        return [group for (_, label), group in groups.items() if label == name]

    for group in legs("put calendar"):
        front, back = sorted(group, key=lambda p: p.expiry or datetime.max.replace(tzinfo=UTC))
        assert (front.quantity, back.quantity) == (-back.quantity, back.quantity)
        assert back.quantity > 0
        assert front.strike == back.strike
        assert front.right is back.right is Right.PUT
    for group in legs("jade lizard"):
        put = next(p for p in group if p.right is Right.PUT)
        calls = sorted((p for p in group if p.right is Right.CALL), key=lambda p: p.strike or 0)
        assert put.quantity < 0
        assert calls[0].quantity < 0 < calls[1].quantity
        assert len({p.expiry for p in group}) == 1
    for group in legs("call ratio backspread"):
        short, long_ = sorted(group, key=lambda p: p.strike or 0)
        assert short.quantity < 0
        assert long_.quantity == -2 * short.quantity
    for group in legs("covered call"):
        shares = sum(p.quantity for p in group if p.kind is InstrumentKind.STOCK)
        short_calls = sum(p.quantity * p.multiplier for p in group if p.right is Right.CALL)
        assert short_calls < 0
        assert shares >= -short_calls
    for group in legs("iron condor"):
        assert len(group) == 4
        assert sum(p.quantity for p in group) == 0
        assert len({p.expiry for p in group}) == 1
    for group in legs("short strangle"):
        assert {p.right for p in group} == {Right.PUT, Right.CALL}
        assert all(p.quantity < 0 for p in group)
    for group in legs("long put hedge"):
        assert all(p.right is Right.PUT and p.quantity > 0 for p in group)
    for group in legs("LEAPS call"):
        assert all(p.dte is not None and p.dte > 365 for p in group)
    stocks = {p.underlying for p in book.positions if p.kind is InstrumentKind.STOCK}
    assert {"SPY", "AAPL", "NVDA"} <= stocks


def test_puts_carry_richer_iv_than_calls_on_every_underlying(at: tuple[datetime, FetchResult, MarketSnapshot]) -> None:
    _, book, _ = at
    by_right: dict[tuple[str, Right], list[float]] = defaultdict(list)
    for position in book.positions:
        if position.is_option and position.right is not None and position.iv is not None:
            by_right[(position.underlying, position.right)].append(position.iv)
    both = {u for u, _ in by_right if (u, Right.PUT) in by_right and (u, Right.CALL) in by_right}
    assert both
    for underlying in both:
        puts, calls = by_right[(underlying, Right.PUT)], by_right[(underlying, Right.CALL)]
        assert sum(puts) / len(puts) > sum(calls) / len(calls), underlying


def test_book_stays_complete_and_live_every_few_days_for_over_a_year() -> None:
    start = ny(2026, 7, 23)
    hours = ((9, 31), (12, 0), (15, 59), (16, 1), (21, 0), (3, 0))
    for step, day in enumerate(range(0, 420, 5)):
        hour, minute = hours[step % len(hours)]
        now = (start + timedelta(days=day)).replace(hour=hour, minute=minute)
        book, snapshot = load_demo_book(now), load_demo_snapshot(now)
        assert book.rejected == (), now
        assert not any(p.expired for p in book.positions), now
        assert all(snapshot.underlying(p.underlying).spot is not None for p in book.positions), now


@pytest.mark.parametrize(
    "now",
    [ny(2026, 11, 23, 10), ny(2027, 3, 25, 9, 45), ny(2027, 6, 17, 11)],
    ids=["monday", "thursday-before-good-friday", "juneteenth-eve-quarterly"],
)
def test_zero_dte_expires_today_on_a_trading_morning(now: datetime) -> None:
    book = load_demo_book(now)
    zero_dte = [p for p in book.positions if p.description.startswith("0DTE")]
    assert zero_dte
    for position in zero_dte:
        assert position.dte == 0
        assert position.expiry == datetime.combine(now.date(), time(16, 0), tzinfo=NEW_YORK)


def test_zero_dte_on_a_saturday_is_mondays() -> None:
    book = load_demo_book(ny(2026, 11, 21, 12))
    assert {p.expiry for p in book.positions if p.description.startswith("0DTE")} == {ny(2026, 11, 23, 16)}


def test_es_option_after_the_december_future_expired_rolls_to_march() -> None:
    # A PM option on the third Friday of December exercises into March: the December future stopped at 09:30.
    book = load_demo_book(ny(2026, 11, 24, 10))  # weekly offset 3 is Friday 2026-12-18
    es = [p for p in book.positions if p.kind is InstrumentKind.FUTURE_OPTION]
    assert {p.expiry for p in es} == {ny(2026, 12, 18, 16)}
    assert {p.underlying for p in es} == {"/ESH7"}
    assert all(p.symbol.startswith("./ESH7 261218P") for p in es)


def test_snapshot_is_labelled_demo_and_every_quote_is_sourced() -> None:
    now = ny(2026, 11, 23, 10)
    snapshot = load_demo_snapshot(now)
    assert snapshot.demo
    assert snapshot.as_of == now
    quotes: list[Quote] = [q for q in (snapshot.vix, snapshot.vix3m, snapshot.vvix, snapshot.recession_prob,
                                       snapshot.spx, snapshot.risk_free_rate) if q is not None]  # fmt: skip
    for market in snapshot.underlyings.values():
        quotes += [q for q in (market.spot, market.hv20, market.hv30, market.dividend_yield, market.iv,
                               market.iv_rank) if q is not None]  # fmt: skip
        assert market.beta is None or market.beta.as_of == now
    assert len(quotes) == 6 + 6 * len(snapshot.underlyings)
    assert all(q.source == DEMO_SNAPSHOT_SOURCE and q.as_of == now for q in quotes)


def test_snapshot_levels_are_the_documented_regime_inputs() -> None:
    snapshot = load_demo_snapshot(ny(2026, 11, 23, 10))
    levels = tuple(q.value if q else None for q in (snapshot.vix, snapshot.vix3m, snapshot.vvix,
                                                     snapshot.recession_prob, snapshot.risk_free_rate))  # fmt: skip
    assert levels == (18.4, 20.3, 94.0, 0.22, 0.043)


def test_snapshot_spots_are_mutually_plausible() -> None:
    snapshot = load_demo_snapshot(ny(2026, 11, 23, 10))
    spot = {symbol: m.spot.value for symbol, m in snapshot.underlyings.items() if m.spot is not None}
    assert snapshot.spx is not None
    assert snapshot.spx.value == spot["SPX"]
    assert spot["SPY"] == pytest.approx(spot["SPX"] / 10, rel=0.01)
    es = [value for symbol, value in spot.items() if ES_CONTRACT.match(symbol)]
    assert len(es) == 2
    assert all(spot["SPX"] < value < spot["SPX"] * 1.02 for value in es)


def test_snapshot_has_every_natenberg_edge_and_a_default_beta() -> None:
    snapshot = load_demo_snapshot(ny(2026, 11, 23, 10))
    edges = {}
    for symbol, market in snapshot.underlyings.items():
        assert market.iv is not None
        assert market.hv20 is not None
        assert market.iv_rank is not None
        assert 0.0 <= market.iv_rank.value <= 1.0
        edges[symbol] = market.iv.value - market.hv20.value
    assert any(edge >= 0.15 for edge in edges.values())
    assert any(0.08 <= edge <= 0.12 for edge in edges.values())
    assert any(edge < 0 for edge in edges.values())
    assert any(m.beta is None for m in snapshot.underlyings.values())  # shown with the flagged default 1.0


def test_loaders_need_a_tz_aware_now() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        load_demo_book(datetime(2026, 11, 23, 10))
    with pytest.raises(ValueError, match="tz-aware"):
        load_demo_snapshot(datetime(2026, 11, 23, 10))


def _packaged_book() -> str:
    return (resources.files("adapters") / "data" / "demo_book.yaml").read_text(encoding="utf-8")


def test_a_broken_row_is_rejected_with_row_and_field_while_the_rest_loads(tmp_path: Path) -> None:
    text = _packaged_book()
    good = load_demo_book(ny(2026, 11, 23, 10))
    broken_strike = re.sub(r"(id: aapl-covered-call,.*?strike: )245", r"\g<1>two-forty-five", text)
    broken_right = re.sub(r"(id: iwm-strangle-call,.*?)right: C, ", r"\1", broken_strike)
    assert broken_right.count("two-forty-five") == 1
    assert broken_right != broken_strike
    path = tmp_path / "demo_book.yaml"
    path.write_text(broken_right, encoding="utf-8")

    result = load_demo_book(ny(2026, 11, 23, 10), path=path)

    assert len(result.positions) == len(good.positions) - 2
    by_field = {r.field: r for r in result.rejected}
    assert set(by_field) == {"strike", "right"}
    assert "aapl-covered-call" in by_field["strike"].row
    assert "valid number" in by_field["strike"].reason
    assert "iwm-strangle-call" in by_field["right"].row
    line = next(i for i, row in enumerate(broken_right.splitlines(), 1) if "id: iwm-strangle-call" in row)
    assert f"demo_book.yaml:{line} " in by_field["right"].row
    assert all(r.source == DEMO_SOURCE for r in result.rejected)


def test_an_unreadable_book_raises_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "demo_book.yaml"
    path.write_text("positions: [ {id: x, broker: IBKR\n", encoding="utf-8")
    with pytest.raises(PayloadInvalid, match=r"demo_book\.yaml"):
        load_demo_book(ny(2026, 11, 23, 10), path=path)


def test_a_market_file_with_a_bad_value_raises_naming_the_key(tmp_path: Path) -> None:
    text = (resources.files("adapters") / "data" / "demo_market.yaml").read_text(encoding="utf-8")
    path = tmp_path / "demo_market.yaml"
    path.write_text(text.replace("recession_prob: 0.22", "recession_prob: 1.22"), encoding="utf-8")
    with pytest.raises(PayloadInvalid, match="recession_prob"):
        load_demo_snapshot(ny(2026, 11, 23, 10), path=path)
