"""Hypothetical trade legs typed by a person (CLI, dashboard form, assistant) → `TradeLeg` models.

Three shapes, with optional `key=value` terms after them (iv=0.21, root=SPXW, account=IRA, multiplier=50):
    "SPY 2027-01-15 560 P -3"        underlying, expiry date, strike, right, signed quantity
    "SPXW  270115P05600000 -3"       an OCC symbol (padded or not) and a signed quantity
    "QQQ 50"                         shares of an underlying and a signed quantity
"""

from __future__ import annotations

from datetime import date
from typing import Any, Final

from pydantic import ValidationError

from adapters.errors import PayloadInvalid
from adapters.occ import OccSymbolError, parse_occ_symbol
from models.trade import TradeLeg

__all__ = ["parse_leg"]

# OCC roots whose underlying has another name: the PM-settled index classes and the mini index.
_ROOT_UNDERLYING: Final = {"SPXW": "SPX", "NDXP": "NDX", "RUTW": "RUT"}
_OPTIONAL_TERMS: Final = frozenset({"iv", "root", "account", "multiplier", "kind", "exercise_style"})
_RIGHTS: Final = {"C": "C", "CALL": "C", "P": "P", "PUT": "P"}


def _number(text: str, field: str, leg: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PayloadInvalid(f"leg {leg!r}: {field} {text!r} is not a number", field=field, row=leg) from None


def _split_terms(leg: str) -> tuple[list[str], dict[str, str]]:
    words: list[str] = []
    terms: dict[str, str] = {}
    for token in leg.split():
        if "=" in token:
            key, _, value = token.partition("=")
            if key not in _OPTIONAL_TERMS:
                allowed = ", ".join(sorted(_OPTIONAL_TERMS))
                raise PayloadInvalid(f"leg {leg!r}: unknown term {key!r} (allowed: {allowed})", field=key, row=leg)
            terms[key] = value
        else:
            words.append(token)
    return words, terms


def _occ_fields(words: list[str], leg: str) -> dict[str, Any] | None:
    """Fields of an OCC-symbol leg ("SPY   270115P00560000 -3"), or None when the words are not one."""
    for width in (2, 1):  # a padded root leaves the symbol split in two words
        if len(words) != width + 1:
            continue
        try:
            occ = parse_occ_symbol(" ".join(words[:width]))
        except OccSymbolError:
            continue
        return {
            "underlying": _ROOT_UNDERLYING.get(occ.root, occ.root),
            "root": occ.root,
            "expiry": occ.expiry,
            "strike": float(occ.strike),
            "right": occ.right,
            "quantity": _number(words[width], "quantity", leg),
        }
    return None


def _plain_fields(words: list[str], leg: str) -> dict[str, Any]:
    if len(words) == 2:
        return {"underlying": words[0].upper(), "quantity": _number(words[1], "quantity", leg)}
    if len(words) != 5:
        raise PayloadInvalid(
            f"leg {leg!r}: expected 'UNDERLYING YYYY-MM-DD STRIKE C|P QTY', an OCC symbol and QTY, or "
            "'UNDERLYING QTY' for shares",
            field="(leg)",
            row=leg,
        )
    underlying, expiry_text, strike, right, quantity = words
    try:
        expiry = date.fromisoformat(expiry_text)
    except ValueError:
        raise PayloadInvalid(
            f"leg {leg!r}: expiry {expiry_text!r} is not YYYY-MM-DD", field="expiry", row=leg
        ) from None
    if right.upper() not in _RIGHTS:
        raise PayloadInvalid(f"leg {leg!r}: right {right!r} is not C or P", field="right", row=leg)
    return {
        "underlying": underlying.upper(),
        "expiry": expiry,
        "strike": _number(strike, "strike", leg),
        "right": _RIGHTS[right.upper()],
        "quantity": _number(quantity, "quantity", leg),
    }


def parse_leg(leg: str) -> TradeLeg:
    """The TradeLeg a person typed (see the module docstring for the three shapes).

    Raises:
        PayloadInvalid: The text has none of the shapes, or a field is not valid; names the leg and field.
    """
    words, terms = _split_terms(leg)
    fields = _occ_fields(words, leg) or _plain_fields(words, leg)
    try:
        return TradeLeg.model_validate(fields | terms)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(map(str, first["loc"])) or "(leg)"
        raise PayloadInvalid(f"leg {leg!r}: {field}: {first['msg']}", field=field, row=leg) from None
