"""IBKR Flex XML import on real statements (tests/fixtures/ibkr/, from shared/realdata/ibkr/; see its README)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from adapters.errors import PayloadInvalid
from adapters.flex_xml import FlexStatement, parse_flex_date, parse_flex_datetime, read_flex_xml, to_position
from adapters.listed_expiries import monthly_expiry_date
from adapters.results import FetchResult
from models.conventions import NEW_YORK, SettlementTime
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition
from tests.conftest import fixture_path

ETAX = "flex_etax_open_positions.xml"
OPTIONS_FUTURE = "flex_options_future_open_positions.xml"
LOTS_ONLY = "flex_option_lots_only.xml"
SPX = "flex_spx_am_pm_constructed.xml"
FUTURES = "flex_futures_constructed.xml"
MALFORMED = "flex_malformed_rows.xml"
MSTR_CALL = "MSTR  260206C00220000"

STATEMENT_DAY = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)  # after the 2025-12-31 statements, before any expiry
LATER = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)  # MSTR, ASML and the CHF options have expired by now


def _read(name: str, now: datetime = STATEMENT_DAY) -> FetchResult:
    return read_flex_xml(fixture_path("ibkr", name), now)


def _xml_rows(name: str) -> list[dict[str, str]]:
    """OpenPosition attributes as the XML states them, read with ElementTree (independent of the adapter)."""
    root = ET.parse(fixture_path("ibkr", name)).getroot()
    return [dict(element.attrib) for element in root.iter("OpenPosition")]


def _one(result: FetchResult, symbol: str) -> UnifiedPosition:
    matches = [p for p in result.positions if p.symbol == symbol]
    assert len(matches) == 1, f"{symbol}: {len(matches)} positions"
    return matches[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2025-12-31", date(2025, 12, 31)), ("20251231", date(2025, 12, 31))],
    ids=["iso", "compact"],
)
def test_flex_dates_in_both_styles(text: str, expected: date) -> None:
    assert parse_flex_date(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-12-29;10:21:44", datetime(2025, 12, 29, 10, 21, 44, tzinfo=NEW_YORK)),
        ("20260419 144528", datetime(2026, 4, 19, 14, 45, 28, tzinfo=NEW_YORK)),
    ],
    ids=["iso-semicolon", "compact-space"],
)
def test_flex_timestamps_in_both_styles_are_new_york_instants(text: str, expected: datetime) -> None:
    assert parse_flex_datetime(text) == expected


@pytest.mark.parametrize("text", ["2025-1231", "31.12.2025", "12/31/2025", ""], ids=repr)
def test_other_date_shapes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Flex date"):
        parse_flex_date(text)


@pytest.mark.parametrize("text", ["2025-12-29;10:21", "20260419 14:4528", "2025-12-29"], ids=repr)
def test_other_timestamp_shapes_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="Flex timestamp"):
        parse_flex_datetime(text)


def test_summary_and_lot_rows_import_once_each() -> None:
    result = _read(ETAX)
    rows = _xml_rows(ETAX)
    assert len(rows) == 74  # 1 STK SUMMARY, 66 STK LOT, 1 OPT SUMMARY, 6 OPT LOT
    assert sorted(p.symbol for p in result.positions) == ["MSTR", MSTR_CALL]
    assert result.rejected == ()


@pytest.mark.parametrize("symbol", ["MSTR", MSTR_CALL], ids=["shares", "short-call"])
def test_lots_sum_to_the_summary_that_is_imported(symbol: str) -> None:
    rows = [r for r in _xml_rows(ETAX) if r["symbol"] == symbol]
    summary = [Decimal(r["position"]) for r in rows if r["levelOfDetail"] == "SUMMARY"]
    lots = sum(Decimal(r["position"]) for r in rows if r["levelOfDetail"] == "LOT")
    assert len(summary) == 1
    assert lots == summary[0]
    assert _one(_read(ETAX), symbol).quantity == float(summary[0])
    assert not any("LOT rows sum to" in note for note in _read(ETAX).notes)


def test_short_call_summary_is_minus_52_contracts_of_100() -> None:
    call = _one(_read(ETAX), MSTR_CALL)
    assert (call.quantity, call.multiplier, call.right, call.strike) == (-52, 100, Right.CALL, 220)
    assert call.kind is InstrumentKind.EQUITY_OPTION
    assert call.exercise_style is ExerciseStyle.AMERICAN
    assert call.expiry == datetime(2026, 2, 6, 16, 0, tzinfo=NEW_YORK)
    assert (call.source, call.broker, call.account, call.underlying) == (Source.FILE, "IBKR", "U9999999", "MSTR")


def test_lots_without_a_summary_are_summed_into_one_position() -> None:
    lots = [Decimal(r["position"]) for r in _xml_rows(LOTS_ONLY)]
    result = _read(LOTS_ONLY)
    assert len(lots) == 6
    assert [p.quantity for p in result.positions] == [float(sum(lots))] == [-52.0]
    assert any("6 LOT rows summed to -52" in note for note in result.notes)


def test_lots_that_disagree_with_their_summary_are_noted_and_the_summary_wins() -> None:
    text = fixture_path("ibkr", ETAX).read_text(encoding="utf-8")
    lot = 'position="-3" markPrice="1.0231"'
    assert text.count(lot) == 1
    result = read_flex_xml(text.replace(lot, 'position="-4" markPrice="1.0231"'), STATEMENT_DAY)
    assert _one(result, MSTR_CALL).quantity == -52
    assert any("LOT rows sum to -53 but SUMMARY says -52" in note for note in result.notes)


@pytest.mark.parametrize("name", [ETAX, OPTIONS_FUTURE, SPX, FUTURES], ids=["etax", "options-future", "spx", "futures"])
def test_mark_times_signed_quantity_times_multiplier_is_the_statements_position_value(name: str) -> None:
    values = {
        r["symbol"]: float(r["positionValue"])
        for r in _xml_rows(name)
        if r.get("levelOfDetail", "SUMMARY") == "SUMMARY"
    }
    positions = _read(name).positions
    assert positions
    for p in positions:
        assert p.mark is not None
        assert p.mark * p.quantity * p.multiplier == pytest.approx(values[p.symbol], abs=0.01), p.symbol


def test_omitted_option_terms_come_from_the_occ_symbol_and_description() -> None:
    result = _read(OPTIONS_FUTURE)
    assert all(r.get("strike") is None and r.get("expiry") is None for r in _xml_rows(OPTIONS_FUTURE))
    put = _one(result, "ASML  260130P00930000")
    assert (put.strike, put.right, put.quantity, put.multiplier) == (930, Right.PUT, 1, 100)
    assert put.expiry == datetime(2026, 1, 30, 16, 0, tzinfo=NEW_YORK)
    assert result.rejected == ()
    assert len(result.positions) == 11


def test_future_option_keeps_its_125000_multiplier_and_short_sign() -> None:
    fop = _one(_read(OPTIONS_FUTURE), "CHUF6 C1290")
    assert fop.kind is InstrumentKind.FUTURE_OPTION
    assert (fop.quantity, fop.multiplier, fop.strike, fop.right) == (-1, 125000, 1.29, Right.CALL)
    assert fop.expiry == datetime(2026, 1, 9, 16, 0, tzinfo=NEW_YORK)
    assert fop.underlying == "CHF"


def test_compact_report_date_dates_every_position_at_the_close() -> None:
    result = _read(OPTIONS_FUTURE)
    assert {p.as_of for p in result.positions} == {datetime(2025, 12, 31, 16, 0, tzinfo=NEW_YORK)}
    assert {p.account for p in result.positions} == {"U0000000"}


def test_non_usd_base_currency_is_noted_and_usd_marks_stay_as_reported() -> None:
    result = _read(OPTIONS_FUTURE)
    marks = {r["symbol"]: float(r["markPrice"]) for r in _xml_rows(OPTIONS_FUTURE)}
    assert all(p.mark == marks[p.symbol] for p in result.positions)
    assert {p.symbol for p in result.positions if p.currency == "CHF"} == {"FHZN", "SHIR"}
    assert any("base currency CHF" in note and "0.79268" in note for note in result.notes)
    assert any("base currency CHF" in note for note in _read(ETAX).notes)


def test_spx_monthly_expires_at_the_0930_open_of_the_occ_friday() -> None:
    result = _read(SPX)
    am = _one(result, "SPX   261218P05600000")
    assert am.settlement is SettlementTime.AM
    assert am.expiry == datetime(2026, 12, 18, 9, 30, tzinfo=NEW_YORK)
    assert am.expiry.date() == monthly_expiry_date(2026, 12)
    assert (am.kind, am.exercise_style, am.underlying) == (InstrumentKind.INDEX_OPTION, ExerciseStyle.EUROPEAN, "SPX")


def test_spxw_on_the_same_friday_expires_at_the_1600_close() -> None:
    pm = _one(_read(SPX), "SPXW  261218P05600000")
    assert (pm.settlement, pm.underlying, pm.quantity) == (SettlementTime.PM, "SPX", 3)
    assert pm.expiry == datetime(2026, 12, 18, 16, 0, tzinfo=NEW_YORK)


def test_expiry_attribute_contradicting_the_occ_symbol_is_rejected_naming_it() -> None:
    (rejected,) = _read(SPX).rejected
    assert rejected.field == "expiry"
    assert rejected.row.endswith(f"{SPX}:14 OPT SPX   261218C06000000")
    assert "2026-12-11" in rejected.reason
    assert "2026-12-18" in rejected.reason


def test_futures_keep_their_contract_multiplier_and_expiry_day() -> None:
    result = _read(FUTURES)
    es = _one(result, "ESH6")
    assert (es.kind, es.quantity, es.multiplier) == (InstrumentKind.FUTURE, -1, 50)
    assert es.expiry == datetime(2026, 3, 20, 9, 30, tzinfo=NEW_YORK)
    chf = _one(result, "6SZ5")
    assert (chf.multiplier, chf.expiry) == (125000, datetime(2025, 12, 15, 16, 0, tzinfo=NEW_YORK))


def test_malformed_rows_are_rejected_by_row_and_field_while_the_others_import() -> None:
    result = _read(MALFORMED)
    assert sorted(p.symbol for p in result.positions) == ["ASML  260130P00930000", "FHZN"]
    got = {(r.row.split("/")[-1], r.field) for r in result.rejected}
    assert got == {
        (f"{MALFORMED}:12 OPT ASML  260130C01170000", "multiplier"),
        (f"{MALFORMED}:13 FOP CHUF6 C1290", "expiry"),
    }
    assert all(r.source == "ibkr_flex_xml" for r in result.rejected)


def test_expired_book_still_imports_and_is_flagged_in_notes() -> None:
    result = _read(OPTIONS_FUTURE, LATER)
    assert len(result.positions) == 11
    assert result.rejected == ()
    (note,) = [n for n in result.notes if n.startswith("expired by")]
    assert "ASML  260130P00930000" in note
    assert "CHUF6 C1290" in note
    assert "WY    260717C00020000" not in note


def _row(name: str, symbol: str) -> dict[str, str]:
    return next(r for r in _xml_rows(name) if r["symbol"] == symbol and r.get("levelOfDetail", "SUMMARY") == "SUMMARY")


def test_to_position_reads_a_raw_row_with_its_statement_account() -> None:
    raw = _row(OPTIONS_FUTURE, "WY    260717C00020000")
    position = to_position(raw, FlexStatement(account_id="U0000000", to_date=date(2025, 12, 31)))
    assert (position.account, position.quantity, position.strike, position.right) == ("U0000000", 2, 20, Right.CALL)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"side": "Long"}, "position"),
        ({"assetCategory": "CASH"}, "assetCategory"),
        ({"position": ""}, "position"),
        ({"putCall": "X"}, "putCall"),
        ({"strike": "230"}, "strike"),
    ],
    ids=["side-contradicts-sign", "unsupported-category", "empty-position", "bad-putcall", "strike-disagrees"],
)
def test_broken_fields_raise_naming_the_field(change: dict[str, str], field: str) -> None:
    raw = _row(ETAX, MSTR_CALL) | change
    with pytest.raises(PayloadInvalid) as info:
        to_position(raw, FlexStatement())
    assert info.value.field == field


def test_empty_attribute_is_a_missing_value_not_zero() -> None:
    raw = _row(ETAX, MSTR_CALL) | {"markPrice": "", "putCall": "", "strike": ""}
    position = to_position(raw, FlexStatement())
    assert position.mark is None
    assert (position.right, position.strike) == (Right.CALL, 220)  # from the OCC symbol and the description


def test_spx_class_without_an_occ_symbol_is_not_guessed() -> None:
    raw = _row(SPX, "SPXW  261218P05600000") | {"symbol": "SPX 18DEC26 5600 P", "description": "SPX 18DEC26 5600 P"}
    with pytest.raises(PayloadInvalid) as info:
        to_position(raw, FlexStatement())
    assert info.value.field == "settlement"


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("<FlexStatementResponse><Status>Warn</Status></FlexStatementResponse>", "FlexStatementResponse"),
        ("<FlexQueryResponse><FlexStatements>", "not well-formed"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><FlexQueryResponse/>', "DOCTYPE"),
    ],
    ids=["other-root", "truncated", "doctype"],
)
def test_documents_that_are_not_flex_statements_raise(text: str, match: str) -> None:
    with pytest.raises(PayloadInvalid, match=match):
        read_flex_xml(text, STATEMENT_DAY)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="tz-aware"):
        read_flex_xml(fixture_path("ibkr", ETAX), datetime(2026, 1, 2))
