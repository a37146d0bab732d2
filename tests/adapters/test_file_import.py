"""Format detection by content: Flex XML vs thinkorswim CSV, whatever the file is called; clear errors otherwise."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from adapters.errors import SourceUnavailable
from adapters.file_import import FileFormat, UnrecognisedFile, detect_format, expired_by, import_file
from models.conventions import NEW_YORK, expiry_instant
from models.positions import InstrumentKind, Right, Source, UnifiedPosition
from tests.conftest import fixture_path

NOW = datetime(2026, 1, 2, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("source", "source_name", "count"),
    [
        (("ibkr", "flex_options_future_open_positions.xml"), "ibkr_flex_xml", 11),
        (("thinkorswim", "position_statement_2022-02-12.csv"), "thinkorswim_csv", 11),
    ],
    ids=["flex", "thinkorswim"],
)
def test_format_is_detected_from_content_not_the_file_name(
    tmp_path: Path, source: tuple[str, str], source_name: str, count: int
) -> None:
    renamed = tmp_path / "export.txt"
    shutil.copyfile(fixture_path(*source), renamed)
    result = import_file(renamed, NOW)
    assert (result.source, len(result.positions)) == (source_name, count)
    assert all(p.source is Source.FILE for p in result.positions)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"<?xml version='1.0' encoding='UTF-8'?>\n<FlexQueryResponse queryName='x'>", FileFormat.IBKR_FLEX_XML),
        (b"<!-- note -->\n<FlexQueryResponse>", FileFormat.IBKR_FLEX_XML),
        (b"\xef\xbb\xbfPosition Statement for 1 on 2/12/22 09:38:04\n", FileFormat.THINKORSWIM_CSV),
    ],
    ids=["xml-prolog", "xml-comment", "tos-bom"],
)
def test_detect_format(head: bytes, expected: FileFormat) -> None:
    assert detect_format(head, "f") is expected


def test_tastytrade_csv_is_unrecognised_and_the_error_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tasty.csv"
    path.write_text("Date,Type,Sub Type,Action,Symbol\n2024-08-16T16:00:00+0200,Trade,Sell to Open,SELL_TO_OPEN,SPY\n")
    with pytest.raises(UnrecognisedFile, match=r"tasty\.csv is neither an IBKR Flex Query XML"):
        import_file(path, NOW)


def test_other_xml_root_is_named(tmp_path: Path) -> None:
    path = tmp_path / "reply.xml"
    path.write_text("<FlexStatementResponse><Status>Fail</Status></FlexStatementResponse>")
    with pytest.raises(UnrecognisedFile, match=r"reply\.xml: XML root is <FlexStatementResponse>"):
        import_file(path, NOW)


def test_missing_file_raises_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailable, match=r"missing\.xml"):
        import_file(tmp_path / "missing.xml", NOW)


def _option(expiry: datetime, as_of: datetime) -> UnifiedPosition:
    return UnifiedPosition(
        source=Source.FILE, broker="IBKR", account="U1", symbol="X", kind=InstrumentKind.EQUITY_OPTION,
        underlying="X", quantity=-1, multiplier=100, expiry=expiry, strike=10, right=Right.CALL,
        exercise_style="american", settlement="PM", as_of=as_of,
    )  # fmt: skip


def test_expired_by_compares_the_expiry_instant_with_now() -> None:
    expiry = expiry_instant(date(2026, 1, 2))  # 16:00 New York = 21:00 UTC
    statement = datetime(2025, 12, 31, 16, 0, tzinfo=NEW_YORK)
    assert not expired_by(_option(expiry, statement), datetime(2026, 1, 2, 20, 59, tzinfo=UTC))
    assert expired_by(_option(expiry, statement), datetime(2026, 1, 2, 21, 0, tzinfo=UTC))
