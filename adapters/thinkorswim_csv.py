"""thinkorswim "Position Statement" CSV → UnifiedPosition: columns by header name, grouped rows, TOS number formats.

A translator: signed quantities and marks are taken as printed, option terms and futures contracts read from text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

from adapters.errors import PayloadInvalid, SourceUnavailable
from adapters.results import FetchResult, translate_rows
from models.conventions import NEW_YORK, SHARE_MULTIPLIER, SettlementTime, expiry_instant
from models.positions import ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

__all__ = [
    "BROKER",
    "FUTURES_CONTRACTS",
    "STATEMENT_MARKER",
    "TOS_SOURCE",
    "FuturesContract",
    "TosRow",
    "TosStatement",
    "parse_tos_number",
    "read_thinkorswim_csv",
    "to_position",
]

TOS_SOURCE: Final = "thinkorswim_csv"
BROKER: Final = "Schwab (thinkorswim)"
STATEMENT_MARKER: Final = "Position Statement for "

INSTRUMENT, QTY, DAYS, MARK = "Instrument", "Qty", "Days", "Mark"


@dataclass(frozen=True)
class FuturesContract:
    """A futures product: its contract multiplier (USD per point) and the New York time it stops trading."""

    multiplier: float
    last_trade: SettlementTime
    name: str


_AM, _PM = SettlementTime.AM, SettlementTime.PM

FUTURES_CONTRACTS: Final[Mapping[str, FuturesContract]] = {
    # Contract sizes from the CME Group contract specifications (USD per 1.00 of price). Equity-index futures stop at
    # 09:30 New York on the third Friday (special opening quotation); the others are stamped at the 16:00 close on
    # the last day thinkorswim counts ("Days"), which only moves `expired`/DTE on that day: a future is linear.
    "/ES": FuturesContract(50.0, _AM, "E-mini S&P 500"),
    "/MES": FuturesContract(5.0, _AM, "Micro E-mini S&P 500"),
    "/NQ": FuturesContract(20.0, _AM, "E-mini Nasdaq-100"),
    "/MNQ": FuturesContract(2.0, _AM, "Micro E-mini Nasdaq-100"),
    "/RTY": FuturesContract(50.0, _AM, "E-mini Russell 2000"),
    "/M2K": FuturesContract(5.0, _AM, "Micro E-mini Russell 2000"),
    "/YM": FuturesContract(5.0, _AM, "E-mini Dow ($5)"),
    "/MYM": FuturesContract(0.5, _AM, "Micro E-mini Dow"),
    "/CL": FuturesContract(1000.0, _PM, "Crude Oil (1,000 barrels)"),
    "/MCL": FuturesContract(100.0, _PM, "Micro WTI Crude Oil (100 barrels)"),
    "/NG": FuturesContract(10000.0, _PM, "Henry Hub Natural Gas (10,000 MMBtu)"),
    "/GC": FuturesContract(100.0, _PM, "Gold (100 troy ounces)"),
    "/MGC": FuturesContract(10.0, _PM, "Micro Gold (10 troy ounces)"),
    "/SI": FuturesContract(5000.0, _PM, "Silver (5,000 troy ounces)"),
    "/ZB": FuturesContract(1000.0, _PM, "30-Year T-Bond ($100,000 face)"),
    "/ZN": FuturesContract(1000.0, _PM, "10-Year T-Note ($100,000 face)"),
    "/ZF": FuturesContract(1000.0, _PM, "5-Year T-Note ($100,000 face)"),
    "/ZT": FuturesContract(2000.0, _PM, "2-Year T-Note ($200,000 face)"),
}

_MONTHS: Final = {
    m: i
    for i, m in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)
}
_FUTURES_MONTH_CODES: Final = "FGHJKMNQUVXZ"

# Index option roots: (class with no tag in the row, class of tagged series such as "(Weeklys)"/"(Quarterlys)",
# settlement of the untagged series). SPX, NDX and RUT monthlies are AM-settled and their tagged series are the
# PM-settled SPXW/NDXP/RUTW; every VIX series settles on the Wednesday-morning special opening quotation.
_INDEX_ROOTS: Final = {
    "SPX": ("SPX", "SPXW", _AM, _PM),
    "NDX": ("NDX", "NDXP", _AM, _PM),
    "RUT": ("RUT", "RUTW", _AM, _PM),
    "VIX": ("VIX", "VIXW", _AM, _AM),
}

_STATEMENT_RE: Final = re.compile(
    r"Position Statement for (?P<account>.+?) on (?P<day>\d{1,2}/\d{1,2}/\d{2}(?:\d{2})?) (?P<time>\d{1,2}:\d{2}:\d{2})"
)
# "100 (Weeklys) 31 MAY 22 4650 PUT": the deliverable multiplier comes first, the series tag is optional.
_OPTION_RE: Final = re.compile(
    r"^(?P<mult>\d+(?:\.\d+)?)(?: \((?P<tag>[^)]+)\))? (?P<day>\d{1,2}) (?P<mon>[A-Z]{3}) (?P<yy>\d{2}) "
    r"(?P<strike>\d+(?:\.\d+)?) (?P<right>CALL|PUT)$"
)
_OPTION_START_RE: Final = re.compile(r"^\d+(?:\.\d+)?(?:/\d+)? ")
# "Micro E-mini S&P 500, Mar-22 (prev. /MESH2)"
_FUTURE_RE: Final = re.compile(
    r"^(?P<name>.+), (?P<mon>[A-Za-z]{3})-(?P<yy>\d{2})(?: \(prev\. (?P<prev>/[A-Z0-9]+)\))?$"
)
_OCC_ROOT_WIDTH: Final = 6
_OCC_STRIKE_SCALE: Final = Decimal(1000)
_NO_VALUE: Final = frozenset({"", "N/A", "--"})


@dataclass(frozen=True)
class TosStatement:
    """The statement line: which account, and when (New York) the positions were struck."""

    account: str
    as_of: datetime
    paper: bool = False


@dataclass(frozen=True)
class TosRow:
    """One position row with its cells by header name and the group it sits in.

    `group` is the group header's symbol ("SPX", "/MES"); `is_underlying` marks the row right under it (shares, the
    index, or the future itself); `underlying_text` and `underlying_mark` are that row's Instrument and Mark cells.
    """

    line: int
    cells: Mapping[str, str]
    group: str
    is_underlying: bool
    underlying_text: str = ""
    underlying_mark: str = ""


def parse_tos_number(text: str) -> float | None:
    """The value of a thinkorswim cell: "+2" → 2, ".00" → 0, "($1,140.00)" → -1140, "N/A"/"" → None.

    Raises:
        ValueError: the cell is not a number in any thinkorswim format.
    """
    body = text.strip()
    if body in _NO_VALUE:
        return None
    negative = body.startswith("(") and body.endswith(")")  # accounting negatives: ($1,140.00)
    if negative:
        body = body[1:-1]
    try:
        value = Decimal(body.replace("$", "").replace(",", ""))
    except InvalidOperation as exc:
        raise ValueError(f"{text!r} is not a number") from exc
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return float(-value if negative else value)


def _cell_number(raw: TosRow, column: str, what: str) -> float | None:
    try:
        return parse_tos_number(raw.cells.get(column, ""))
    except ValueError as exc:
        raise PayloadInvalid(f"{what}: {column}: {exc}", field=column) from exc


def _two_digit_year(text: str) -> int:
    return 2000 + int(text)


def _option_parts(instrument: str, what: str) -> tuple[float, str | None, date, float, Right, Decimal]:
    match = _OPTION_RE.match(instrument)
    if match is None:
        raise PayloadInvalid(f"{what}: not an option row like '100 (Weeklys) 31 MAY 22 4650 PUT'", field=INSTRUMENT)
    month = _MONTHS.get(match["mon"])
    if month is None:
        raise PayloadInvalid(f"{what}: month {match['mon']!r} is not a month", field=INSTRUMENT)
    try:
        day = date(_two_digit_year(match["yy"]), month, int(match["day"]))
    except ValueError as exc:
        raise PayloadInvalid(f"{what}: {exc}", field=INSTRUMENT) from exc
    strike = Decimal(match["strike"])
    right = Right.CALL if match["right"] == "CALL" else Right.PUT
    return float(match["mult"]), match["tag"], day, float(strike), right, strike


def _occ_symbol(root: str, day: date, right: Right, strike: Decimal, what: str) -> str:
    """OCC symbol, e.g. "SPXW  220531P04650000": root padded to 6, YYMMDD, C/P, strike × 1000 on 8 digits."""
    scaled = strike * _OCC_STRIKE_SCALE
    if scaled != scaled.to_integral_value():
        raise PayloadInvalid(f"{what}: strike {strike} has more than 3 decimals", field=INSTRUMENT)
    return f"{root:<{_OCC_ROOT_WIDTH}}{day:%y%m%d}{right.value}{int(scaled):08d}"


def _option(raw: TosRow, statement: TosStatement, quantity: float, what: str) -> UnifiedPosition:
    instrument = raw.cells.get(INSTRUMENT, "").strip()
    if raw.group.startswith("/"):
        raise PayloadInvalid(f"{what}: options on futures are not read from thinkorswim statements", field=INSTRUMENT)
    multiplier, tag, day, strike, right, strike_text = _option_parts(instrument, what)
    index = _INDEX_ROOTS.get(raw.group)
    if index is not None:
        untagged, tagged, am_or_pm, tagged_settlement = index
        trading_class, settlement = (untagged, am_or_pm) if tag is None else (tagged, tagged_settlement)
        kind, style = InstrumentKind.INDEX_OPTION, ExerciseStyle.EUROPEAN
    elif "INDEX" in raw.underlying_text.upper():
        raise PayloadInvalid(
            f"{what}: index {raw.group!r} is not in the AM/PM settlement table (_INDEX_ROOTS)", field=INSTRUMENT
        )
    else:
        trading_class, settlement = raw.group, _PM
        kind, style = InstrumentKind.EQUITY_OPTION, ExerciseStyle.AMERICAN
    try:
        spot = parse_tos_number(raw.underlying_mark)
    except ValueError:
        spot = None  # the underlying's own row reports its bad Mark; the option still imports
    return UnifiedPosition(
        source=Source.FILE,
        broker=BROKER,
        account=statement.account,
        symbol=_occ_symbol(trading_class, day, right, strike_text, what),
        kind=kind,
        underlying=raw.group,
        quantity=quantity,
        multiplier=multiplier,
        expiry=expiry_instant(day, settlement),
        strike=strike,
        right=right,
        exercise_style=style,
        settlement=settlement,
        mark=_cell_number(raw, MARK, what),
        underlying_price=spot if spot is not None and spot > 0 else None,
        description=instrument,
        as_of=statement.as_of,
    )


def _future(raw: TosRow, statement: TosStatement, quantity: float, what: str) -> UnifiedPosition:
    instrument = raw.cells.get(INSTRUMENT, "").strip()
    contract = FUTURES_CONTRACTS.get(raw.group)
    if contract is None:
        raise PayloadInvalid(
            f"{what}: futures root {raw.group} has no contract multiplier in FUTURES_CONTRACTS", field=INSTRUMENT
        )
    match = _FUTURE_RE.match(instrument)
    month = _MONTHS.get(match["mon"].upper()) if match else None
    if match is None or month is None:
        raise PayloadInvalid(f"{what}: not a futures contract like 'Micro E-mini S&P 500, Mar-22'", field=INSTRUMENT)
    year = _two_digit_year(match["yy"])
    symbol = f"{raw.group}{_FUTURES_MONTH_CODES[month - 1]}{year % 10}"
    prev = match["prev"]
    if prev is not None and prev not in (symbol, f"{raw.group}{_FUTURES_MONTH_CODES[month - 1]}{year % 100:02d}"):
        raise PayloadInvalid(
            f"{what}: (prev. {prev}) is not the {match['mon']}-{match['yy']} contract", field=INSTRUMENT
        )
    days = _cell_number(raw, DAYS, what)
    if days is None or days < 0 or days != int(days):
        raise PayloadInvalid(f"{what}: Days must be a whole number of days to expiry", field=DAYS)
    # thinkorswim counts calendar days from the statement date to the contract's last trading day.
    last_day = statement.as_of.astimezone(NEW_YORK).date() + timedelta(days=int(days))
    return UnifiedPosition(
        source=Source.FILE,
        broker=BROKER,
        account=statement.account,
        symbol=symbol,
        kind=InstrumentKind.FUTURE,
        underlying=symbol,
        quantity=quantity,
        multiplier=contract.multiplier,
        expiry=expiry_instant(last_day, contract.last_trade),
        mark=_cell_number(raw, MARK, what),
        description=instrument,
        as_of=statement.as_of,
    )


def to_position(raw: TosRow, statement: TosStatement) -> UnifiedPosition:
    """One Position Statement row as a UnifiedPosition; PayloadInvalid names the column (Instrument, Qty, Mark, Days).

    Args:
        raw: The row, its cells by header name and its group.
        statement: The statement's account and as-of instant.
    """
    what = f"row {raw.cells.get(INSTRUMENT, '').strip()!r}"
    quantity = _cell_number(raw, QTY, what)
    if quantity is None:
        raise PayloadInvalid(f"{what}: Qty is empty", field=QTY)
    if not raw.is_underlying:
        return _option(raw, statement, quantity, what)
    if raw.group.startswith("/"):
        return _future(raw, statement, quantity, what)
    return UnifiedPosition(
        source=Source.FILE,
        broker=BROKER,
        account=statement.account,
        symbol=raw.group,
        kind=InstrumentKind.STOCK,
        underlying=raw.group,
        quantity=quantity,
        multiplier=SHARE_MULTIPLIER,
        mark=_cell_number(raw, MARK, what),
        description=raw.cells.get(INSTRUMENT, "").strip(),
        as_of=statement.as_of,
    )


# ---- reading the file ------------------------------------------------------------------------------------------


def _load(path_or_text: Path | str) -> tuple[str, str]:
    """(text without BOM, name for messages); a str with a line break is the CSV itself, any other str a path."""
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return path_or_text.lstrip("\ufeff"), "<thinkorswim csv text>"
    path = Path(path_or_text)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SourceUnavailable(f"cannot read thinkorswim file {path}: {exc.strerror or exc}") from exc
    try:
        return data.decode("utf-8-sig"), str(path)
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), str(path)  # older Windows exports


def _statement(cell: str, name: str, line: int, paper: bool) -> TosStatement | None:
    match = _STATEMENT_RE.search(cell)
    if match is None:
        return None
    try:
        day = datetime.strptime(
            match["day"], "%m/%d/%Y" if len(match["day"].split("/")[-1]) == 4 else "%m/%d/%y"
        ).date()
        wall = time.fromisoformat(match["time"].zfill(8))
    except ValueError as exc:
        raise PayloadInvalid(
            f"{name}:{line}: statement date {match['day']} {match['time']}: {exc}", field="(file)"
        ) from exc
    return TosStatement(account=match["account"].strip(), as_of=datetime.combine(day, wall, NEW_YORK), paper=paper)


@dataclass
class _Body:
    rows: list[tuple[str, TosRow]]
    closed: list[str]


def _csv_lines(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each CSV record; the number is where the record ends, as a person counts lines."""
    reader = csv.reader(io.StringIO(text))
    for cells in reader:
        yield reader.line_num, cells


def _body(lines: Iterator[tuple[int, list[str]]], header: list[str], name: str) -> _Body:
    """Position rows after the header, up to the blank line before the cash/BP footer."""
    body = _Body([], [])
    group = ""
    expect_underlying = False
    underlying_text = underlying_mark = ""
    for line, cells in lines:
        if not any(cell.strip() for cell in cells):
            break  # the footer (cash, P/L YTD, buying power) follows the blank line
        row = dict(zip(header, [*cells, *[""] * (len(header) - len(cells))], strict=False))
        instrument = row.get(INSTRUMENT, "").strip()
        opens_option = _OPTION_START_RE.match(instrument) is not None
        if expect_underlying and not opens_option:
            expect_underlying = False
            underlying_text, underlying_mark = instrument, row.get(MARK, "")
            raw = TosRow(line, row, group, True, instrument, underlying_mark)
        elif not group or (instrument and not any(ch.isspace() for ch in instrument)):
            # A group header (a bare symbol: "SPX", "/MES") sums its group; its own cells are not a position.
            group, expect_underlying = instrument, True
            underlying_text = underlying_mark = ""
            continue
        else:
            expect_underlying = False
            raw = TosRow(line, row, group, False, underlying_text, underlying_mark)
        row_id = f"{name}:{line} {instrument}"
        try:
            flat = parse_tos_number(row.get(QTY, "")) == 0
        except ValueError:
            flat = False  # to_position names the bad Qty
        if flat:
            if not raw.is_underlying:
                body.closed.append(instrument)
            continue  # an index or an unheld underlying prints with Qty 0
        body.rows.append((row_id, raw))
    return body


def read_thinkorswim_csv(path_or_text: Path | str, now: datetime) -> FetchResult:
    """Positions of a thinkorswim Position Statement CSV, with every row that could not be read as a RejectedRow.

    Args:
        path_or_text: The file, or the CSV text itself (a str containing a line break).
        now: tz-aware instant of the import; `fetched_at`, and positions expired by then are named in `notes`.

    Raises:
        SourceUnavailable: the file cannot be read.
        PayloadInvalid: no "Position Statement for … on …" line, or no header row with Instrument and Qty.
    """
    if now.tzinfo is None:
        raise ValueError(f"read_thinkorswim_csv needs a tz-aware now, got {now!r}")
    text, name = _load(path_or_text)
    lines = _csv_lines(text)
    statement: TosStatement | None = None
    paper = False
    header: list[str] | None = None
    for line, cells in lines:
        first = cells[0].strip() if cells else ""
        paper = paper or "paperMoney" in first
        if statement is None:
            statement = _statement(first, name, line, paper)
        if first == INSTRUMENT:
            header = [cell.strip() for cell in cells]
            break
    if statement is None:
        raise PayloadInvalid(f"{name}: no '{STATEMENT_MARKER}… on MM/DD/YY HH:MM:SS' line", field="(file)")
    if header is None or QTY not in header:
        raise PayloadInvalid(f"{name}: no column header row with {INSTRUMENT} and {QTY}", field="(file)")
    body = _body(lines, header, name)
    positions, rejected = translate_rows(TOS_SOURCE, body.rows, lambda raw: to_position(raw, statement))
    notes = [
        f"thinkorswim Position Statement {name}: account {statement.account}, as of "
        f"{statement.as_of.isoformat()} New York; footer cash and buying-power lines are not read"
    ]
    if statement.paper:
        notes.append("paperMoney statement: a simulated account")
    if body.closed:
        notes.append(f"skipped, Qty 0 (closed): {', '.join(body.closed)}")
    expired = [p.symbol for p in positions if p.expiry is not None and p.expiry <= now]
    if expired:
        notes.append(
            f"expired by {now.isoformat()} ({len(expired)} of {len(positions)}; imported, flagged): "
            f"{', '.join(expired)}"
        )
    return FetchResult(
        source=TOS_SOURCE,
        positions=tuple(positions),
        rejected=tuple(rejected),
        fetched_at=now,
        notes=tuple(notes),
    )
