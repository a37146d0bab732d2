"""thinkorswim Position Statement import on the two real layouts (tests/fixtures/thinkorswim/, account ids scrubbed)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from adapters.errors import PayloadInvalid
from adapters.listed_expiries import monthly_expiry_date
from adapters.results import FetchResult
from adapters.thinkorswim_csv import FUTURES_CONTRACTS, parse_tos_number, read_thinkorswim_csv
from models.conventions import NEW_YORK, SettlementTime
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition
from tests.conftest import fixture_path

PAPER = "position_statement_2021-12-29_paperMoney.csv"  # Trade Price, Mark, P/L Open, BP Effect; /MES, SPX, SPY
SPREADS = "position_statement_2022-02-12.csv"  # another user layout: Mark %Change, P/L %, Net Liq, Margin Req
MALFORMED = "position_statement_malformed_rows.csv"  # PAPER with Qty "-3x" on line 13 and month "MAJ" on line 16

AT_STATEMENT = datetime(2022, 1, 3, 15, 0, tzinfo=UTC)
LATER = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)


def _read(name: str, now: datetime = AT_STATEMENT) -> FetchResult:
    return read_thinkorswim_csv(fixture_path("thinkorswim", name), now)


def _one(result: FetchResult, description: str) -> UnifiedPosition:
    (position,) = [p for p in result.positions if p.description == description]
    return position


def _raw_rows(name: str) -> dict[str, dict[str, str]]:
    """Rows under the header keyed by Instrument, read with the csv module (independent of the adapter)."""
    text = fixture_path("thinkorswim", name).read_text(encoding="utf-8-sig")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Instrument,"))
    end = lines.index("", start)
    return {row["Instrument"]: row for row in csv.DictReader(io.StringIO("\n".join(lines[start:end])))}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("($1,140.00)", -1140.0),
        ("$1,260.00", 1260.0),
        ("($6.25)", -6.25),
        ("+2", 2.0),
        ("-3", -3.0),
        (".00", 0.0),
        ("+.285", 0.285),
        ("-.31", -0.31),
        ("N/A", None),
        ("", None),
    ],
    ids=repr,
)
def test_thinkorswim_numbers(text: str, expected: float | None) -> None:
    assert parse_tos_number(text) == expected


@pytest.mark.parametrize("text", ["-3x", "$1.2.3", "NaN", "12%"], ids=repr)
def test_non_numbers_raise(text: str) -> None:
    with pytest.raises(ValueError, match="number"):
        parse_tos_number(text)


@pytest.mark.parametrize("name", [PAPER, SPREADS], ids=["paper-layout", "spreads-layout"])
def test_pl_open_equals_mark_minus_trade_price_times_signed_qty_times_multiplier(name: str) -> None:
    """The statement's own P/L Open column checks sign, multiplier, mark and the parenthesised negatives at once."""
    raw = _raw_rows(name)
    positions = _read(name).positions
    assert positions
    for p in positions:
        row = raw[p.description]
        trade, pl_open = parse_tos_number(row["Trade Price"]), parse_tos_number(row["P/L Open"])
        assert trade is not None
        assert pl_open is not None
        assert p.mark is not None
        assert (p.mark - trade) * p.quantity * p.multiplier == pytest.approx(pl_open, abs=0.005), p.description


def test_net_liq_column_equals_mark_times_signed_qty_times_multiplier() -> None:
    raw = _raw_rows(SPREADS)
    for p in _read(SPREADS).positions:
        net_liq = parse_tos_number(raw[p.description]["Net Liq"])
        assert p.mark is not None
        assert p.mark * p.quantity * p.multiplier == pytest.approx(net_liq, abs=0.005), p.description


def test_group_header_and_flat_index_rows_are_not_positions() -> None:
    result = _read(PAPER)
    assert len(result.positions) == 9  # /MES future, 6 SPX options, SPY shares, 1 SPY option
    assert [p.quantity for p in result.positions if p.kind is InstrumentKind.FUTURE] == [1]
    assert not any(p.description in ("SPX", "SPY", "/MES", "S&P 500 INDEX") for p in result.positions)
    assert not any("Cash" in p.description or "BP" in p.description for p in result.positions)
    assert len(_read(SPREADS).positions) == 11


def test_short_put_is_negative_contracts_of_100() -> None:
    put = _one(_read(PAPER), "100 (Weeklys) 31 MAY 22 4650 PUT")
    assert (put.quantity, put.multiplier, put.strike, put.right) == (-3, 100, 4650, Right.PUT)
    assert (put.source, put.broker, put.account) == (Source.FILE, "Schwab (thinkorswim)", "D-00000000 (margin)")


def test_short_call_keeps_its_sign() -> None:
    call = _one(_read(PAPER), "100 (Weeklys) 31 MAY 22 4800 CALL")
    assert (call.quantity, call.right, call.mark) == (-2, Right.CALL, 198.95)


@pytest.mark.parametrize(
    ("name", "description", "symbol", "settlement", "wall"),
    [
        (PAPER, "100 21 JAN 22 4795 PUT", "SPX   220121P04795000", SettlementTime.AM, (2022, 1, 21, 9, 30)),
        (PAPER, "100 (Weeklys) 31 MAY 22 4650 PUT", "SPXW  220531P04650000", SettlementTime.PM, (2022, 5, 31, 16, 0)),
        (
            PAPER,
            "100 (Quarterlys) 31 MAR 22 4795 CALL",
            "SPXW  220331C04795000",
            SettlementTime.PM,
            (2022, 3, 31, 16, 0),
        ),
        (SPREADS, "100 15 JUL 22 3775 PUT", "SPX   220715P03775000", SettlementTime.AM, (2022, 7, 15, 9, 30)),
        (
            SPREADS,
            "100 (Quarterlys) 30 JUN 22 3775 PUT",
            "SPXW  220630P03775000",
            SettlementTime.PM,
            (2022, 6, 30, 16, 0),
        ),
    ],
    ids=["spx-monthly-am", "weeklys-pm", "quarterlys-pm", "spx-july-monthly-am", "june-quarterly-pm"],
)
def test_spx_series_tag_decides_am_or_pm_settlement(
    name: str, description: str, symbol: str, settlement: SettlementTime, wall: tuple[int, int, int, int, int]
) -> None:
    option = _one(_read(name), description)
    assert (option.symbol, option.settlement) == (symbol, settlement)
    assert option.expiry == datetime(*wall, tzinfo=NEW_YORK)
    assert (option.kind, option.exercise_style, option.underlying) == (
        InstrumentKind.INDEX_OPTION,
        ExerciseStyle.EUROPEAN,
        "SPX",
    )


def test_untagged_spx_expiries_are_the_listed_monthlies() -> None:
    am = [p for p in _read(PAPER).positions + _read(SPREADS).positions if p.settlement is SettlementTime.AM]
    assert len(am) == 6
    for p in am:
        assert p.expiry is not None
        assert p.expiry.date() == monthly_expiry_date(p.expiry.year, p.expiry.month)


def test_spy_option_is_a_pm_american_equity_option_with_its_underlying_price() -> None:
    put = _one(_read(PAPER), "100 18 JAN 22 477 PUT")
    assert (put.kind, put.exercise_style, put.settlement) == (
        InstrumentKind.EQUITY_OPTION,
        ExerciseStyle.AMERICAN,
        SettlementTime.PM,
    )
    assert (put.symbol, put.quantity, put.underlying_price) == ("SPY   220118P00477000", 10, 476.56)
    assert put.expiry == datetime(2022, 1, 18, 16, 0, tzinfo=NEW_YORK)


def test_shares_row_is_a_stock_position_with_multiplier_1() -> None:
    shares = _one(_read(PAPER), "SPDR S&P500 ETF TRUST TR UNIT ETF")
    assert (shares.kind, shares.symbol, shares.quantity, shares.multiplier) == (InstrumentKind.STOCK, "SPY", 100, 1)


def test_micro_es_future_has_multiplier_5_and_expires_at_0930_on_the_third_friday() -> None:
    description = "Micro E-mini S&P 500, Mar-22 (prev. /MESH2)"
    future = _one(_read(PAPER), description)
    assert (future.kind, future.symbol, future.quantity, future.multiplier) == (InstrumentKind.FUTURE, "/MESH2", 1, 5)
    assert future.multiplier == FUTURES_CONTRACTS["/MES"].multiplier
    assert future.expiry == datetime(2022, 3, 18, 9, 30, tzinfo=NEW_YORK)
    assert future.expiry.date() == monthly_expiry_date(2022, 3)  # Days 79 from 12/29/21 lands on the third Friday


@pytest.mark.parametrize(
    ("root", "multiplier"),
    [
        ("/ES", 50),
        ("/MES", 5),
        ("/NQ", 20),
        ("/MNQ", 2),
        ("/RTY", 50),
        ("/M2K", 5),
        ("/CL", 1000),
        ("/GC", 100),
        ("/ZB", 1000),
    ],
    ids=lambda value: str(value),
)
def test_futures_contract_multipliers_follow_the_cme_specs(root: str, multiplier: float) -> None:
    assert FUTURES_CONTRACTS[root].multiplier == multiplier


def test_statement_line_gives_account_and_new_york_as_of() -> None:
    result = _read(SPREADS)
    assert {p.as_of for p in result.positions} == {datetime(2022, 2, 12, 9, 38, 4, tzinfo=NEW_YORK)}
    assert {p.account for p in result.positions} == {"000000000 (user)"}
    assert _read(PAPER).positions[0].as_of == datetime(2021, 12, 29, 11, 49, 4, tzinfo=NEW_YORK)


@pytest.mark.parametrize("name", [PAPER, SPREADS], ids=["bom-then-disclaimer", "bom-then-statement-line"])
def test_files_start_with_a_utf8_bom(name: str) -> None:
    assert fixture_path("thinkorswim", name).read_bytes().startswith(b"\xef\xbb\xbf")
    text = fixture_path("thinkorswim", name).read_bytes().decode("utf-8")  # BOM kept as U+FEFF
    assert read_thinkorswim_csv(text, AT_STATEMENT).positions == _read(name).positions


def test_paper_money_statement_is_noted() -> None:
    assert any("paperMoney" in note for note in _read(PAPER).notes)
    assert not any("paperMoney" in note for note in _read(SPREADS).notes)


def test_malformed_rows_are_rejected_by_line_and_column_while_the_others_import() -> None:
    result = _read(MALFORMED)
    assert len(result.positions) == 7
    got = {(r.row.split("/")[-1], r.field) for r in result.rejected}
    assert got == {
        (f"{MALFORMED}:13 100 (Weeklys) 31 MAY 22 4650 PUT", "Qty"),
        (f"{MALFORMED}:16 100 (Weeklys) 31 MAJ 22 4800 CALL", "Instrument"),
    }
    assert all(r.source == "thinkorswim_csv" for r in result.rejected)


def test_expired_statement_still_imports_every_row_and_flags_them() -> None:
    result = _read(PAPER, LATER)
    assert len(result.positions) == 9
    assert result.rejected == ()
    (note,) = [n for n in result.notes if n.startswith("expired by")]
    assert "8 of 9" in note
    assert "SPXW  220531P04650000" in note


def _paper_text() -> str:
    return fixture_path("thinkorswim", PAPER).read_text(encoding="utf-8-sig")


def test_unknown_futures_root_is_rejected_naming_the_instrument() -> None:
    text = _paper_text().replace("/MES,+1", "/XYZ,+1")
    result = read_thinkorswim_csv(text, AT_STATEMENT)
    (rejected,) = result.rejected
    assert rejected.field == "Instrument"
    assert "/XYZ" in rejected.reason
    assert len(result.positions) == 8


def test_options_on_an_index_without_a_settlement_rule_are_rejected() -> None:
    text = _paper_text().replace("SPY,,,", "XSP,,,").replace("SPDR S&P500 ETF TRUST TR UNIT ETF", "MINI SPX INDEX")
    result = read_thinkorswim_csv(text, AT_STATEMENT)
    (rejected,) = result.rejected
    assert rejected.field == "Instrument"
    assert rejected.row.endswith(":19 100 18 JAN 22 477 PUT")


def test_columns_are_found_by_header_name_in_any_order() -> None:
    rows = list(csv.reader(io.StringIO(_paper_text())))
    header = rows.index(
        ["Instrument", "Qty", "Days", "Trade Price", "Mark", "Mrk Chng", "P/L Open", "P/L Day", "BP Effect"]
    )
    end = rows.index([], header)
    order = [0, 8, 4, 7, 6, 2, 5, 3, 1]  # Instrument first (group rows are told by it), the rest shuffled
    shuffled = [
        *rows[:header],
        *([row[i] if i < len(row) else "" for i in order] for row in rows[header:end]),
        *rows[end:],
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(shuffled)
    assert read_thinkorswim_csv(out.getvalue(), AT_STATEMENT).positions == _read(PAPER).positions


def test_four_digit_statement_year_is_read() -> None:
    text = _paper_text().replace("on 12/29/21 11:49:04", "on 12/29/2021 11:49:04")
    assert read_thinkorswim_csv(text, AT_STATEMENT).positions == _read(PAPER).positions


def test_layout_without_mark_column_imports_with_no_mark() -> None:
    lines = _paper_text().splitlines()
    header = lines.index("Instrument,Qty,Days,Trade Price,Mark,Mrk Chng,P/L Open,P/L Day,BP Effect")
    lines[header] = lines[header].replace(",Mark,", ",Last,")
    result = read_thinkorswim_csv("\n".join(lines), AT_STATEMENT)
    assert len(result.positions) == 9
    assert all(p.mark is None for p in result.positions)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Instrument,Qty\nSPY,+1\n", "Position Statement for"),
        ("Position Statement for X on 1/2/22 10:00:00\n\nSymbol,Qty\n", "header row"),
    ],
    ids=["no-statement-line", "no-header"],
)
def test_files_without_statement_line_or_header_raise(text: str, match: str) -> None:
    with pytest.raises(PayloadInvalid, match=match):
        read_thinkorswim_csv(text, AT_STATEMENT)
