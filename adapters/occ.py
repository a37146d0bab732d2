"""OCC option symbols ("SPY   250701C00605000"): parse them into root, expiry date, right and exact strike.

Pure text parsing; says nothing about settlement or exercise style, which depend on the root's product.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from models.positions import Right

__all__ = ["OCC_STRIKE_SCALE", "OccSymbol", "OccSymbolError", "parse_occ_symbol"]

OCC_STRIKE_SCALE: Final = Decimal(1000)
"""The OCC symbol's last eight digits are the strike in thousandths of a dollar."""

# OCC 2010: root padded with spaces to six characters, YYMMDD, C/P, strike × 1000 in eight digits. Brokers and Yahoo
# also send the root unpadded ("AAPL201211C00060000"), so the padding is optional; an adjusted root may end in a
# digit (AAPL1) and some carry a dot (BRK.B).
_OCC_RE: Final = re.compile(r"^(?P<root>[A-Z][A-Z0-9.]{0,5}?) *(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_RIGHTS: Final = {"C": Right.CALL, "P": Right.PUT}
_OCC_CENTURY: Final = 2000


class OccSymbolError(ValueError):
    """Text that is not an OCC option symbol; the message quotes the text and says which part is wrong."""


@dataclass(frozen=True)
class OccSymbol:
    """The terms an OCC symbol states: root (trading class), expiry date, call/put and strike in USD."""

    root: str
    expiry: date
    right: Right
    strike: Decimal

    @property
    def occ(self) -> str:
        """The canonical padded OCC form, e.g. "RIVN  230609P00014000"."""
        thousandths = int(self.strike * OCC_STRIKE_SCALE)
        return f"{self.root:<6}{self.expiry:%y%m%d}{self.right.value}{thousandths:08d}"


def parse_occ_symbol(text: str) -> OccSymbol:
    """The root, expiry date, right and strike (USD, exact) stated by an OCC option symbol.

    Args:
        text: "RIVN  230609P00014000" (padded root) or "AAPL201211C00060000" (unpadded); surrounding
            whitespace is ignored.

    Raises:
        OccSymbolError: the text does not have the OCC shape, or its YYMMDD is not a calendar date, or the
            strike is zero. The message quotes the text.

    Example:
        >>> parse_occ_symbol("RIVN  230609P00014000")
        OccSymbol(root='RIVN', expiry=datetime.date(2023, 6, 9), right=<Right.PUT: 'P'>, strike=Decimal('14'))
    """
    stripped = text.strip()
    match = _OCC_RE.match(stripped)
    if match is None:
        raise OccSymbolError(
            f"{text!r} is not an OCC option symbol (root of 1-6 characters, YYMMDD, C or P, strike x1000 in 8 digits,"
            " e.g. 'SPY   250701C00605000')"
        )
    ymd = match["ymd"]
    try:
        expiry = date(_OCC_CENTURY + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError as exc:
        raise OccSymbolError(f"{text!r}: expiry {ymd!r} is not a calendar date (YYMMDD)") from exc
    strike = Decimal(match["strike"]) / OCC_STRIKE_SCALE
    if strike == 0:
        raise OccSymbolError(f"{text!r}: strike is zero")
    # Integral strikes keep exponent 0 ("3990", not normalize()'s "3.99E+3"); others drop trailing zeros ("14.5").
    exact = strike.quantize(Decimal(1)) if strike == strike.to_integral_value() else strike.normalize()
    return OccSymbol(root=match["root"], expiry=expiry, right=_RIGHTS[match["right"]], strike=exact)
