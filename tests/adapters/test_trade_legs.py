"""Legs as people type them: plain, OCC and shares forms, optional terms, and errors that name the field."""

from __future__ import annotations

from datetime import date

import pytest

from adapters.errors import PayloadInvalid
from adapters.trade_legs import parse_leg
from models.positions import Right


def test_plain_option_leg() -> None:
    leg = parse_leg("spy 2027-01-15 560 p -3 iv=0.21")
    assert (leg.underlying, leg.expiry, leg.strike, leg.right, leg.quantity, leg.iv) == (
        "SPY",
        date(2027, 1, 15),
        560.0,
        Right.PUT,
        -3.0,
        0.21,
    )


@pytest.mark.parametrize("text", ["SPXW  270115P05600000 -1", "SPXW270115P05600000 -1"])
def test_occ_leg_maps_the_weekly_class_to_its_index(text: str) -> None:
    leg = parse_leg(text)
    assert (leg.underlying, leg.root, leg.expiry, leg.strike, leg.right, leg.quantity) == (
        "SPX",
        "SPXW",
        date(2027, 1, 15),
        5600.0,
        Right.PUT,
        -1.0,
    )


def test_share_leg() -> None:
    leg = parse_leg("QQQ 50 account=IRA")
    assert (leg.underlying, leg.quantity, leg.is_option, leg.account) == ("QQQ", 50.0, False, "IRA")


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("SPY 2027-13-15 560 P -3", "expiry"),
        ("SPY 2027-01-15 560 X -3", "right"),
        ("SPY 2027-01-15 abc P -3", "strike"),
        ("SPY 2027-01-15 560 P -3 colour=red", "colour"),
        ("SPY 2027-01-15 560 P -3 iv=-1", "iv"),
        ("SPY 2027-01-15 560", "(leg)"),
        ("SPY 0", "(leg)"),
    ],
)
def test_bad_leg_names_the_field(text: str, field: str) -> None:
    with pytest.raises(PayloadInvalid) as caught:
        parse_leg(text)
    assert caught.value.field == field
    assert text in str(caught.value)
