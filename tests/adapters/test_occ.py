"""OCC option symbols: padded and unpadded roots, exact strikes, and clear errors for text that is not one."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from adapters.occ import OccSymbol, OccSymbolError, parse_occ_symbol
from models.positions import Right


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RIVN  230609P00014000", OccSymbol("RIVN", date(2023, 6, 9), Right.PUT, Decimal(14))),
        ("SPY   250701C00605000", OccSymbol("SPY", date(2025, 7, 1), Right.CALL, Decimal(605))),
        ("MSTR  260206C00220000", OccSymbol("MSTR", date(2026, 2, 6), Right.CALL, Decimal(220))),
        ("AAPL201211C00060000", OccSymbol("AAPL", date(2020, 12, 11), Right.CALL, Decimal(60))),
        ("SPXW  251219P03990500", OccSymbol("SPXW", date(2025, 12, 19), Right.PUT, Decimal("3990.5"))),
        ("  SPX   150117P01205000 ", OccSymbol("SPX", date(2015, 1, 17), Right.PUT, Decimal(1205))),
    ],
    ids=["rivn-padded", "spy-padded", "mstr-notes-example", "yahoo-unpadded", "half-strike", "surrounding-space"],
)
def test_occ_symbol_states_root_expiry_right_strike(text: str, expected: OccSymbol) -> None:
    assert parse_occ_symbol(text) == expected


def test_occ_strike_keeps_thousandths_exactly() -> None:
    assert parse_occ_symbol("XYZ   240119C00012345").strike == Decimal("12.345")


def test_canonical_form_round_trips_the_padded_symbol() -> None:
    for text in ("RIVN  230609P00014000", "SPXW  251219P03990500"):
        assert parse_occ_symbol(text).occ == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("RIVN", "not an OCC option symbol"),
        ("RIVN  230609X00014000", "not an OCC option symbol"),
        ("RIVN  230609P0001400", "not an OCC option symbol"),
        ("TOOLONGROOT 230609P00014000", "not an OCC option symbol"),
        ("./ESU3 EW4N3 230728C3990", "not an OCC option symbol"),
        ("RIVN  230631P00014000", "not a calendar date"),
        ("RIVN  231301P00014000", "not a calendar date"),
        ("RIVN  230609P00000000", "strike is zero"),
    ],
    ids=["root-only", "right-X", "strike-7-digits", "root-too-long", "futures-option", "june-31", "month-13", "zero"],
)
def test_bad_symbol_raises_an_error_quoting_it(text: str, says: str) -> None:
    with pytest.raises(OccSymbolError, match=says) as info:
        parse_occ_symbol(text)
    assert repr(text) in str(info.value)
