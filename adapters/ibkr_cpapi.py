"""IBKR Client Portal (Web API) position rows → UnifiedPosition: GET /portfolio/{accountId}/positions/{page} rows.

A pure translator of already-fetched JSON rows; it opens no connection. Live rows often lack the option terms
(expiry, putOrCall, multiplier null, strike 0.0) and state them only in `contractDesc`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final

from adapters.errors import PayloadInvalid
from adapters.ibkr_translate import BROKER, clean_ib_number, occ_match_terms, option_terms
from adapters.listed_expiries import trading_day_on_or_before
from adapters.results import FetchResult, translate_rows
from models.conventions import SHARE_MULTIPLIER
from models.positions import InstrumentKind, Right, Source, UnifiedPosition

__all__ = ["CPAPI_SOURCE", "cpapi_to_position", "occ_symbol", "read_cpapi_positions"]

CPAPI_SOURCE: Final = "ibkr_cpapi"

_KINDS: Final = {
    "STK": InstrumentKind.STOCK,
    "OPT": InstrumentKind.EQUITY_OPTION,
    "FOP": InstrumentKind.FUTURE_OPTION,
}
_RIGHTS: Final = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}
# "SPY    JAN2025 440 C [SPY   250117C00440000 100]": the OCC symbol and the multiplier in brackets.
_DESC_OCC_RE: Final = re.compile(
    r"\[(?P<root>[A-Z0-9.]{1,6}?) *(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8}) +(?P<mult>\d+(?:\.\d+)?)\]"
)
# "ES     JUN2025 6040 C (E2D)": the trading class in parentheses, and only the month of the expiry.
_DESC_CLASS_RE: Final = re.compile(r"\((?P<klass>[A-Z0-9]+)\)\s*$")
_AM_CLASSES: Final = frozenset({"SPX", "NDX", "RUT", "DJX", "VIX", "VIXW"})


def _what(raw: Mapping[str, Any]) -> str:
    return f"IBKR CP API {raw.get('assetClass') or '?'} conid={raw.get('conid')} {raw.get('contractDesc')!r}"


def _ymd(raw: Mapping[str, Any], key: str, what: str) -> date | None:
    text = raw.get(key)
    if text in (None, ""):
        return None
    token = str(text).strip()
    try:
        return date(int(token[:4]), int(token[4:6]), int(token[6:8])) if len(token) == 8 else date.fromisoformat(token)
    except ValueError as exc:
        raise PayloadInvalid(f"{what}: {key}={text!r} is not a YYYYMMDD date", field=key) from exc


def _occ(description: str) -> tuple[str, date, Right, float, float] | None:
    match = _DESC_OCC_RE.search(description)
    if match is None:
        return None
    terms = occ_match_terms(match)
    return None if terms is None else (*terms, float(match["mult"]))


def _agree(what: str, field: str, stated: Any, from_desc: Any) -> Any:
    """The value the fields state, checked against contractDesc's; whichever is present when only one is."""
    if stated is None:
        return from_desc
    if from_desc is not None:
        same = math.isclose(stated, from_desc, rel_tol=1e-12) if isinstance(stated, float) else stated == from_desc
        if not same:
            raise PayloadInvalid(f"{what}: {field} is {stated} but contractDesc says {from_desc}", field=field)
    return stated


def cpapi_to_position(raw: Mapping[str, Any], as_of: datetime) -> UnifiedPosition:
    """One CP API position row as a UnifiedPosition; PayloadInvalid names the field that is missing or contradictory.

    Args:
        raw: The row as IBKR sent it (conid a string or an int, strike a string, multiplier an int or null).
        as_of: tz-aware instant of the fetch.
    """
    what = _what(raw)
    asset = str(raw.get("assetClass") or "")
    kind = _KINDS.get(asset)
    if kind is None:
        raise PayloadInvalid(f"{what}: assetClass {asset!r} is not one of {', '.join(_KINDS)}", field="assetClass")
    account = str(raw.get("acctId") or "").strip()
    if not account:
        raise PayloadInvalid(f"{what}: acctId is empty", field="acctId")
    quantity = clean_ib_number(raw.get("position"))
    if quantity is None:
        raise PayloadInvalid(f"{what}: position {raw.get('position')!r} is not a number", field="position")
    description = str(raw.get("contractDesc") or "").strip()
    symbol = str(raw.get("undSym") or raw.get("ticker") or description.split(" ")[0]).strip()
    common: dict[str, Any] = {
        "source": Source.IBKR,
        "broker": BROKER,
        "account": account,
        "quantity": quantity,
        "mark": clean_ib_number(raw.get("mktPrice"), -1.0),  # may arrive in scientific notation (8.5215E-4)
        "currency": str(raw.get("currency") or "USD"),
        "description": description,
        "as_of": as_of,
    }
    stated_multiplier = clean_ib_number(raw.get("multiplier"))
    if kind is InstrumentKind.STOCK:
        # The docs' rows carry multiplier 0 for non-derivatives.
        return UnifiedPosition(
            symbol=symbol, kind=kind, underlying=symbol, multiplier=stated_multiplier or SHARE_MULTIPLIER, **common
        )

    occ = _occ(description)
    klass_match = _DESC_CLASS_RE.search(description)
    klass = occ[0] if occ is not None else (klass_match["klass"] if klass_match else "")
    right_text = str(raw.get("putOrCall") or "").strip().upper()
    right = _agree(what, "putOrCall", _RIGHTS.get(right_text), None if occ is None else occ[2])
    strike = _agree(what, "strike", clean_ib_number(raw.get("strike")) or None, None if occ is None else occ[3])
    multiplier = _agree(what, "multiplier", stated_multiplier or None, None if occ is None else occ[4])
    expiry_date = _agree(what, "expiry", _ymd(raw, "expiry", what), None if occ is None else occ[1])
    for name, value in (("expiry", expiry_date), ("putOrCall", right), ("strike", strike), ("multiplier", multiplier)):
        if value is None:
            raise PayloadInvalid(
                f"{what}: {name} is missing and contractDesc does not state it (live rows need the contract "
                "details: request the positions with waitForSecDef=true or use TWS)",
                field=name,
            )
    last_trade = _ymd(raw, "lastTradingDay", what)
    if last_trade is None:
        # An AM-settled index option trades last on the day before the OCC (settlement) date.
        am = kind is InstrumentKind.EQUITY_OPTION and klass in _AM_CLASSES
        last_trade = trading_day_on_or_before(expiry_date - timedelta(days=1)) if am else expiry_date
    kind, underlying, expiry, style, settlement = option_terms(
        what, kind, symbol, klass, last_trade, expiry_date if kind is InstrumentKind.EQUITY_OPTION else None
    )
    local = f"{klass or symbol} {expiry_date:%y%m%d}{right.value}{strike:g}"
    return UnifiedPosition(
        symbol=occ_symbol(description) or local,
        kind=kind,
        underlying=underlying,
        multiplier=multiplier,
        expiry=expiry,
        strike=strike,
        right=right,
        exercise_style=style,
        settlement=settlement,
        **common,
    )


def occ_symbol(description: str) -> str | None:
    """The OCC symbol inside a CP API contractDesc ("SPY   250117C00440000"), or None when it has none."""
    match = _DESC_OCC_RE.search(description)
    return None if match is None else match.group(0)[1:].rsplit(" ", 1)[0].strip()


def read_cpapi_positions(rows: Iterable[Mapping[str, Any]], now: datetime) -> FetchResult:
    """Positions of CP API rows, with one RejectedRow (row = conid and contractDesc) per row that cannot be valued.

    Args:
        rows: Rows of GET /portfolio/{accountId}/positions/{page}, as parsed JSON.
        now: tz-aware instant of the fetch (`fetched_at` and every position's `as_of`).
    """
    if now.tzinfo is None:
        raise ValueError(f"read_cpapi_positions needs a tz-aware now, got {now!r}")
    pairs = [(f"conid={row.get('conid')} {row.get('contractDesc')}", row) for row in rows]
    positions, rejected = translate_rows(CPAPI_SOURCE, pairs, lambda row: cpapi_to_position(row, now))
    return FetchResult(source=CPAPI_SOURCE, positions=tuple(positions), rejected=tuple(rejected), fetched_at=now)
