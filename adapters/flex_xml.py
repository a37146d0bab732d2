"""IBKR Flex Query XML → UnifiedPosition: OpenPosition rows only, SUMMARY preferred over LOT rows, strings parsed here.

A translator, not a valuer: quantities keep IBKR's sign, marks stay in each row's own currency, nothing is converted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final
from xml.parsers import expat

from adapters.errors import PayloadInvalid, SourceUnavailable
from adapters.listed_expiries import trading_day_on_or_before
from adapters.results import FetchResult, RejectedRow, translate_rows
from models.conventions import NEW_YORK, PM_SETTLEMENT_TIME, SettlementTime, expiry_instant
from models.option_classes import AM_PM_TWIN_INDEXES, INDEX_OPTION_CLASSES
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

__all__ = [
    "BROKER",
    "FLEX_ROOT",
    "FLEX_SOURCE",
    "FlexStatement",
    "parse_flex_date",
    "parse_flex_datetime",
    "read_flex_xml",
    "to_position",
]

FLEX_SOURCE: Final = "ibkr_flex_xml"
BROKER: Final = "IBKR"
FLEX_ROOT: Final = "FlexQueryResponse"

_SUMMARY, _LOT = "SUMMARY", "LOT"
_MONTHS: Final = dict(
    zip(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), range(1, 13), strict=True)
)

# Flex writes dates as 2025-12-31 or 20251231 and instants as 2025-12-29;10:21:44 or 20260419 144528, depending on
# the query's settings; the backreferences keep one style per value (no "2025-1231").
_DATE_RE: Final = re.compile(r"^(\d{4})(-?)(\d{2})\2(\d{2})$")
_DATETIME_RE: Final = re.compile(r"^(\d{4})(-?)(\d{2})\2(\d{2})[;, T]\s*(\d{2})(:?)(\d{2})\6(\d{2})$")
_OCC_RE: Final = re.compile(r"^(?P<root>[A-Z0-9.]{1,6}?) *(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_DESC_DATE_RE: Final = re.compile(r"^(\d{2})([A-Z]{3})(\d{2})$")  # "06FEB26" in "MSTR 06FEB26 220 C"
_OCC_STRIKE_SCALE: Final = Decimal(1000)
_RIGHTS: Final = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}
_KINDS: Final = {
    "STK": InstrumentKind.STOCK,
    "OPT": InstrumentKind.EQUITY_OPTION,  # INDEX_OPTION when the trading class is a cash-settled index
    "FOP": InstrumentKind.FUTURE_OPTION,
    "FUT": InstrumentKind.FUTURE,
}


# CME equity-index futures stop trading at 09:30 New York on their expiry day (special opening quotation); other
# futures are stamped at the 16:00 close, which only moves `expired`/DTE on the last day (a future is linear).
_EQUITY_INDEX_FUTURES: Final = frozenset({"ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM"})


@dataclass(frozen=True)
class FlexStatement:
    """The FlexStatement element around a row: account, period end, generation instant, base currency."""

    account_id: str = ""
    to_date: date | None = None
    generated_at: datetime | None = None
    base_currency: str = ""


@dataclass(frozen=True)
class _Row:
    line: int
    attrs: dict[str, str]
    statement: FlexStatement


@dataclass(frozen=True)
class _Terms:
    """Option terms as one source (attributes, OCC symbol, description) states them; None where it is silent."""

    expiry: date | None = None
    strike: float | None = None
    right: Right | None = None


def parse_flex_date(text: str) -> date:
    """The calendar date of a Flex date string, "2025-12-31" or "20251231"; ValueError names the text."""
    match = _DATE_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Flex date (2025-12-31 or 20251231)")
    return date(int(match[1]), int(match[3]), int(match[4]))


def parse_flex_datetime(text: str) -> datetime:
    """The New York instant of a Flex timestamp, "2025-12-29;10:21:44" or "20260419 144528".

    IBKR stamps statement times in US Eastern time, so the wall clock is read in America/New_York.
    """
    match = _DATETIME_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Flex timestamp (2025-12-29;10:21:44 or 20260419 144528)")
    wall = time(int(match[5]), int(match[7]), int(match[8]))
    return datetime.combine(date(int(match[1]), int(match[3]), int(match[4])), wall, tzinfo=NEW_YORK)


def _text(raw: Mapping[str, str], key: str, what: str = "", *, required: bool = False) -> str | None:
    value = raw.get(key, "").strip()  # every Flex attribute is a string; "" means "no value"
    if required and not value:
        raise PayloadInvalid(f"{what}: {key} is empty", field=key)
    return value or None


def _number(raw: Mapping[str, str], key: str, what: str, *, required: bool = False) -> float | None:
    value = _text(raw, key, what, required=required)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise PayloadInvalid(f"{what}: {key}={value!r} is not a finite number", field=key)
    return number


def _date_field(raw: Mapping[str, str], key: str, what: str) -> date | None:
    value = _text(raw, key)
    try:
        return None if value is None else parse_flex_date(value)
    except ValueError as exc:
        raise PayloadInvalid(f"{what}: {key}: {exc}", field=key) from exc


def _occ_terms(symbol: str) -> tuple[str, _Terms] | None:
    """(trading class, terms) of an OCC symbol such as "MSTR  260206C00220000"; None for any other symbol."""
    match = _OCC_RE.match(symbol)
    if match is None:
        return None
    ymd = match["ymd"]
    try:
        expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError:
        return None  # not a calendar date, so not an OCC symbol
    strike = float(Decimal(match["strike"]) / _OCC_STRIKE_SCALE)
    return match["root"], _Terms(expiry, strike, _RIGHTS[match["right"]])


def _description_terms(description: str) -> _Terms:
    """Terms of "MSTR 06FEB26 220 C" / "CHF 09JAN26 1.29 C", token by token so each missing one can be named."""
    tokens = description.split()
    right = _RIGHTS.get(tokens[-1]) if len(tokens) > 1 else None
    strike = None
    if right is not None and len(tokens) > 2:
        try:
            strike = float(tokens[-2])
        except ValueError:
            strike = None
    expiry = None
    for token in tokens[1:]:
        match = _DESC_DATE_RE.match(token)
        if match is not None and match[2] in _MONTHS:
            try:
                expiry = date(2000 + int(match[3]), _MONTHS[match[2]], int(match[1]))
            except ValueError:
                continue
            break
    return _Terms(expiry, strike, right)


def _option_terms(raw: Mapping[str, str], what: str) -> tuple[str | None, _Terms]:
    """(trading class or None, terms) from the attributes, the OCC symbol and the description, which must agree.

    Flex queries may omit strike/expiry/putCall on OpenPosition (flex_options_future_open_positions.xml); the OCC
    symbol and the description carry them too.
    """
    put_call = (_text(raw, "putCall") or "").upper()
    if put_call and put_call not in _RIGHTS:
        raise PayloadInvalid(f"{what}: putCall={put_call!r} is neither C nor P", field="putCall")
    attrs = _Terms(_date_field(raw, "expiry", what), _number(raw, "strike", what), _RIGHTS.get(put_call))
    occ = _occ_terms(_text(raw, "symbol") or "")
    trading_class, occ_terms = occ if occ is not None else (None, _Terms())
    if (
        attrs.expiry is not None
        and occ_terms.expiry is not None
        and INDEX_OPTION_CLASSES.get(trading_class or "", ("", None))[1] is SettlementTime.AM
        and attrs.expiry == trading_day_on_or_before(occ_terms.expiry - timedelta(days=1))
    ):
        # IBKR dates AM-settled index options by their last trading day (Thursday 2020-01-16 for the OCC's Friday
        # 2020-01-17, NOTES.md); the option settles at the open of the OCC date, so that one is the expiry.
        attrs = replace(attrs, expiry=None)
    sources = (
        ("the attributes", attrs),
        ("the OCC symbol", occ_terms),
        ("the description", _description_terms(_text(raw, "description") or "")),
    )
    found: dict[str, Any] = {}
    for name, attr in (("expiry", "expiry"), ("strike", "strike"), ("putCall", "right")):
        stated = [(source, getattr(terms, attr)) for source, terms in sources if getattr(terms, attr) is not None]
        if not stated:
            raise PayloadInvalid(
                f"{what}: no {name}: the attribute is empty and neither the symbol nor the description states it",
                field=name,
            )
        (first_source, first), *others = stated
        for source, value in others:
            if not (math.isclose(first, value, rel_tol=1e-12) if name == "strike" else first == value):
                raise PayloadInvalid(f"{what}: {name} is {first} by {first_source} but {value} by {source}", field=name)
        found[attr] = first
    return trading_class, _Terms(**found)


def _as_of(raw: Mapping[str, str], statement: FlexStatement, what: str) -> datetime:
    """When the row was struck: the report date's 16:00 New York close, or the generation instant if earlier."""
    day = _date_field(raw, "reportDate", what) or statement.to_date
    generated = statement.generated_at
    if day is None:
        if generated is None:
            raise PayloadInvalid(f"{what}: no reportDate, toDate or whenGenerated to date it by", field="reportDate")
        return generated
    close = datetime.combine(day, PM_SETTLEMENT_TIME, tzinfo=NEW_YORK)
    return generated if generated is not None and generated < close else close


def to_position(raw: Mapping[str, str], statement: FlexStatement) -> UnifiedPosition:
    """One Flex OpenPosition row (attributes as strings) as a UnifiedPosition; PayloadInvalid names the bad field.

    Args:
        raw: The row's attributes, verbatim ("" = no value).
        statement: The enclosing FlexStatement (account when the row has none, report date, generation time).
    """
    symbol = _text(raw, "symbol", "OpenPosition", required=True) or ""
    what = f"OpenPosition {symbol!r}"
    category = _text(raw, "assetCategory", what, required=True) or ""
    kind = _KINDS.get(category)
    if kind is None:
        raise PayloadInvalid(
            f"{what}: assetCategory {category!r} is not one of {', '.join(_KINDS)}", field="assetCategory"
        )
    account = _text(raw, "accountId") or statement.account_id
    if not account:
        raise PayloadInvalid(f"{what}: no accountId on the row or its FlexStatement", field="accountId")
    quantity = _number(raw, "position", what, required=True) or 0.0
    side = (_text(raw, "side") or "").upper()
    if (side == "LONG" and quantity < 0) or (side == "SHORT" and quantity > 0):
        raise PayloadInvalid(f"{what}: position {quantity:g} contradicts side {side.title()}", field="position")
    description = _text(raw, "description") or ""
    product = description.split(" ")[0]
    underlying = _text(raw, "underlyingSymbol")
    common: dict[str, Any] = {
        "source": Source.FILE,
        "broker": BROKER,
        "account": account,
        "symbol": symbol,
        "quantity": quantity,
        "multiplier": _number(raw, "multiplier", what, required=True),
        "mark": _number(raw, "markPrice", what),
        "currency": _text(raw, "currency", what, required=True),
        "description": description,
        "as_of": _as_of(raw, statement, what),
    }
    if kind is InstrumentKind.STOCK:
        return UnifiedPosition(kind=kind, underlying=underlying or symbol, **common)
    if kind is InstrumentKind.FUTURE:
        day = _date_field(raw, "expiry", what) or _description_terms(description).expiry
        if day is None:
            raise PayloadInvalid(f"{what}: no expiry in the attribute or the description", field="expiry")
        wall = SettlementTime.AM if (underlying or product) in _EQUITY_INDEX_FUTURES else SettlementTime.PM
        return UnifiedPosition(kind=kind, underlying=symbol, expiry=expiry_instant(day, wall), **common)

    trading_class, terms = _option_terms(raw, what)
    settlement, style = SettlementTime.PM, ExerciseStyle.AMERICAN  # US equity/ETF options, CME options on futures
    if kind is InstrumentKind.EQUITY_OPTION:
        if trading_class is None and product in AM_PM_TWIN_INDEXES:
            raise PayloadInvalid(
                f"{what}: without an OCC symbol an {product} option cannot be told from its PM-settled twin class",
                field="settlement",
            )
        index = INDEX_OPTION_CLASSES.get(trading_class or product)
        if index is not None:
            kind, style, settlement = InstrumentKind.INDEX_OPTION, ExerciseStyle.EUROPEAN, index[1]
            underlying = underlying or index[0]
    assert terms.expiry is not None  # _option_terms raises for every missing term
    return UnifiedPosition(
        kind=kind,
        underlying=underlying or trading_class or product,
        expiry=expiry_instant(terms.expiry, settlement),
        strike=terms.strike,
        right=terms.right,
        exercise_style=style,
        settlement=settlement,
        **common,
    )


# ---- reading the file ------------------------------------------------------------------------------------------


class _NotFlex(Exception):
    pass


def _parse(data: bytes, name: str) -> list[_Row]:
    """Every OpenPosition row of a Flex XML document, with its line and its FlexStatement."""
    rows: list[_Row] = []
    statement = FlexStatement()
    stack: list[str] = []
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal statement
        if not stack and tag != FLEX_ROOT:
            raise _NotFlex(tag)
        parent = stack[-1] if stack else ""
        line = parser.CurrentLineNumber
        if tag == "FlexStatement":
            what = f"{name}:{line} FlexStatement"
            generated = _text(attrs, "whenGenerated")
            try:
                generated_at = None if generated is None else parse_flex_datetime(generated)
            except ValueError as exc:
                raise PayloadInvalid(f"{what}: whenGenerated: {exc}", field="whenGenerated") from exc
            statement = FlexStatement(_text(attrs, "accountId") or "", _date_field(attrs, "toDate", what), generated_at)
        elif tag == "AccountInformation" and parent == "FlexStatement":
            statement = replace(statement, base_currency=_text(attrs, "currency") or "")
        elif tag == "OpenPosition" and parent == "OpenPositions":
            rows.append(_Row(line, dict(attrs), statement))
        stack.append(tag)

    def no_doctype(*_: object) -> None:
        # A Flex statement never declares a DTD; refusing one keeps entity tricks out of the parser.
        raise PayloadInvalid(f"{name}: XML with a DOCTYPE is not a Flex statement", field="(file)")

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda tag: stack.pop()
    parser.StartDoctypeDeclHandler = no_doctype
    try:
        parser.Parse(data, True)
    except _NotFlex as exc:
        raise PayloadInvalid(f"{name}: XML root is <{exc}>, not an IBKR Flex <{FLEX_ROOT}>", field="(file)") from exc
    except expat.ExpatError as exc:
        raise PayloadInvalid(f"{name} is not well-formed XML: {exc}", field="(file)") from exc
    return rows


def _row_id(name: str, row: _Row) -> str:
    return f"{name}:{row.line} {row.attrs.get('assetCategory', '?')} {row.attrs.get('symbol', '?')}"


def _position_sum(rows: list[_Row]) -> Decimal | _Row:
    """Exact sum of the rows' `position` attributes, or the first row whose position is not a number."""
    total = Decimal(0)
    for row in rows:
        try:
            total += Decimal(row.attrs.get("position", "").strip())
        except InvalidOperation:
            return row
    return total


def _select(name: str, rows: list[_Row]) -> tuple[list[tuple[str, _Row]], list[RejectedRow], list[str]]:
    """Rows to translate: each position's SUMMARY row, or its LOT rows merged when it has no SUMMARY.

    SUMMARY and LOT rows of one position sit side by side (flex_etax_open_positions.xml: a −52 SUMMARY and six
    lots summing to −52); reading both would double the position.
    """
    groups: dict[tuple[int, str, str], dict[str, list[_Row]]] = {}
    rejected: list[RejectedRow] = []
    for row in rows:
        level = (row.attrs.get("levelOfDetail") or _SUMMARY).strip().upper()  # none given: one row per position
        if level not in (_SUMMARY, _LOT):
            reason = f"levelOfDetail {level!r} is neither SUMMARY nor LOT"
            rejected.append(
                RejectedRow(source=FLEX_SOURCE, row=_row_id(name, row), field="levelOfDetail", reason=reason)
            )
            continue
        contract = row.attrs.get("conid", "").strip() or row.attrs.get("symbol", "").strip()
        key = (id(row.statement), row.attrs.get("accountId", "").strip(), contract)
        groups.setdefault(key, {_SUMMARY: [], _LOT: []})[level].append(row)

    chosen: list[tuple[str, _Row]] = []
    notes: list[str] = []
    for (_, _, contract), levels in groups.items():
        summaries, lots = levels[_SUMMARY], levels[_LOT]
        lot_sum = _position_sum(lots)
        if len(summaries) > 1:
            reason = f"{len(summaries)} SUMMARY rows for conid/symbol {contract}: which one holds is unknown"
            rejected.extend(
                RejectedRow(source=FLEX_SOURCE, row=_row_id(name, r), field="levelOfDetail", reason=reason)
                for r in summaries
            )
        elif summaries:
            chosen.append((_row_id(name, summaries[0]), summaries[0]))
            stated = _position_sum(summaries)
            if lots and isinstance(lot_sum, Decimal) and isinstance(stated, Decimal) and lot_sum != stated:
                notes.append(f"{contract}: LOT rows sum to {lot_sum} but SUMMARY says {stated}; SUMMARY used")
        elif isinstance(lot_sum, _Row):
            reason = f"position={lot_sum.attrs.get('position')!r} is not a number"
            rejected.append(
                RejectedRow(source=FLEX_SOURCE, row=_row_id(name, lot_sum), field="position", reason=reason)
            )
        else:
            first = lots[0]
            merged = _Row(first.line, {**first.attrs, "position": str(lot_sum)}, first.statement)
            lines = ",".join(str(lot.line) for lot in lots)
            chosen.append((f"{_row_id(name, first)} ({len(lots)} LOT rows, lines {lines})", merged))
            notes.append(f"{first.attrs.get('symbol')}: no SUMMARY row; {len(lots)} LOT rows summed to {lot_sum}")
    return chosen, rejected, notes


def _load(path_or_text: Path | str) -> tuple[bytes, str]:
    """(document bytes, name for messages); a str starting with "<" is the XML itself, any other str a path."""
    if isinstance(path_or_text, str) and path_or_text.lstrip("\ufeff \t\r\n").startswith("<"):
        return path_or_text.encode("utf-8"), "<flex xml text>"
    path = Path(path_or_text)
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise SourceUnavailable(f"cannot read IBKR Flex file {path}: {exc.strerror or exc}") from exc


def _notes(name: str, chosen: list[tuple[str, _Row]], positions: list[UnifiedPosition], now: datetime) -> list[str]:
    notes = [f"IBKR Flex statement {name}: OpenPositions only (trades, cash and corporate actions are not read)"]
    rows = [row for _, row in chosen]
    # Without AccountInformation@currency, a row whose fxRateToBase is exactly 1 is in the base currency.
    base = {r.statement.base_currency for r in rows if r.statement.base_currency} or {
        r.attrs.get("currency", "") for r in rows if r.attrs.get("fxRateToBase", "").strip() in ("1", "1.0")
    }
    if base - {"", "USD"}:
        usd = sorted({r.attrs.get("fxRateToBase", "") for r in rows if r.attrs.get("currency") == "USD"} - {""})
        rate = f" (fxRateToBase of USD rows: {', '.join(usd)})" if usd else ""
        notes.append(f"base currency {','.join(sorted(base))}{rate}: marks are kept in each row's own currency")
    if foreign := sorted({p.symbol for p in positions if p.currency != "USD"}):
        notes.append(f"not USD-denominated (mark in its own currency): {', '.join(foreign)}")
    if on_futures := sorted(
        f"{p.symbol} → {p.underlying}" for p in positions if p.kind is InstrumentKind.FUTURE_OPTION
    ):
        notes.append(
            "Flex rows do not name the future an option on futures exercises into; its underlying is "
            f"IBKR's product code: {', '.join(on_futures)}"
        )
    if expired := [p.symbol for p in positions if p.expiry is not None and p.expiry <= now]:
        notes.append(
            f"expired by {now.isoformat()} ({len(expired)} of {len(positions)}; imported, flagged): "
            f"{', '.join(expired)}"
        )
    return notes


def read_flex_xml(path_or_text: Path | str, now: datetime) -> FetchResult:
    """Positions of an IBKR Flex Query XML (OpenPositions), with every row that could not be read as a RejectedRow.

    Args:
        path_or_text: The file, or the XML text itself (a str starting with "<").
        now: tz-aware instant of the import; `fetched_at`, and positions expired by then are named in `notes`.

    Raises:
        SourceUnavailable: the file cannot be read.
        PayloadInvalid: the document is not well-formed XML or its root is not <FlexQueryResponse>.
    """
    if now.tzinfo is None:
        raise ValueError(f"read_flex_xml needs a tz-aware now, got {now!r}")
    data, name = _load(path_or_text)
    chosen, rejected, notes = _select(name, _parse(data, name))
    positions, bad = translate_rows(FLEX_SOURCE, chosen, lambda row: to_position(row.attrs, row.statement))
    return FetchResult(
        source=FLEX_SOURCE,
        positions=tuple(positions),
        rejected=(*rejected, *bad),
        fetched_at=now,
        notes=(*_notes(name, chosen, positions, now), *notes),
    )
