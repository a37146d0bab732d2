"""IBKR TWS API objects (ib_async or ib_insync) → riskdash models: contract terms, sentinels, model Greeks, accounts.

Pure translation over duck-typed library objects: no connection, no clock, no import of either SDK.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final, Protocol

from adapters.errors import PayloadInvalid
from adapters.listed_expiries import is_trading_day
from models.account import AccountValues
from models.conventions import SHARE_MULTIPLIER, SettlementTime, expiry_instant
from models.option_classes import AM_PM_TWIN_INDEXES, INDEX_OPTION_CLASSES
from models.positions import BrokerGreeks, ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

__all__ = [
    "BROKER",
    "IBKR_SOURCE",
    "UNSET_DOUBLE",
    "ContractLike",
    "ContractTerms",
    "GreeksLike",
    "IbkrRow",
    "account_values",
    "broker_greeks",
    "clean_ib_number",
    "contract_terms",
    "greeks_complete",
    "occ_match_terms",
    "option_terms",
    "row_id",
    "to_position",
]

IBKR_SOURCE: Final = "ibkr"
BROKER: Final = "IBKR"

UNSET_DOUBLE: Final = sys.float_info.max
"""The TWS API's "no value" double (1.7976931348623157e308), e.g. OrderState.minCommission in the recorded reprs."""

# TWS sends these in tickOptionComputation when it has no value; both libraries map delta/gamma −2, IV/price −1 to
# None but pass vega and theta −2 through unchanged (ib_async 2.1 wrapper.py, ib_insync 0.9.86 wrapper.py).
_NO_IV: Final = -1.0
_NO_GREEK: Final = -2.0
_NO_PRICE: Final = -1.0

_KINDS: Final = {
    "STK": InstrumentKind.STOCK,
    "OPT": InstrumentKind.EQUITY_OPTION,  # INDEX_OPTION when the trading class is a cash-settled index class
    "FOP": InstrumentKind.FUTURE_OPTION,
    "FUT": InstrumentKind.FUTURE,
}


# CME options on E-mini S&P futures: the ES/MES classes (quarterly and serial months) are American, and the quarterly
# ones stop at 09:30 New York with the future; every weekly/EOM class (EW, EW1-4, E1A…, EX1…) is European and
# PM-settled (CME "Weekly & EOM options FAQ").
_ES_FAMILY: Final = frozenset({"ES", "MES"})
_QUARTER_MONTHS: Final = frozenset({3, 6, 9, 12})
_EQUITY_INDEX_FUTURES: Final = frozenset({"ES", "MES", "NQ", "MNQ", "RTY", "M2K", "YM", "MYM"})

_OCC_RE: Final = re.compile(r"^(?P<root>[A-Z0-9.]{1,6}?) *(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")
_OCC_STRIKE_SCALE: Final = 1000.0
_RIGHTS: Final = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}


class ContractLike(Protocol):
    """The fields riskdash reads from an ib_async / ib_insync `Contract` (and its Option, Stock, … subclasses)."""

    @property
    def secType(self) -> str: ...  # noqa: N802 - the SDK's name
    @property
    def conId(self) -> int: ...  # noqa: N802
    @property
    def symbol(self) -> str: ...
    @property
    def lastTradeDateOrContractMonth(self) -> str: ...  # noqa: N802
    @property
    def strike(self) -> float: ...
    @property
    def right(self) -> str: ...
    @property
    def multiplier(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def localSymbol(self) -> str: ...  # noqa: N802
    @property
    def tradingClass(self) -> str: ...  # noqa: N802


class GreeksLike(Protocol):
    """An `OptionComputation` (a NamedTuple in ib_insync, a dataclass in ib_async)."""

    @property
    def impliedVol(self) -> float | None: ...  # noqa: N802
    @property
    def delta(self) -> float | None: ...
    @property
    def gamma(self) -> float | None: ...
    @property
    def vega(self) -> float | None: ...
    @property
    def theta(self) -> float | None: ...
    @property
    def undPrice(self) -> float | None: ...  # noqa: N802


class AccountValueLike(Protocol):
    """An `AccountValue` row of the account summary."""

    @property
    def account(self) -> str: ...
    @property
    def tag(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def currency(self) -> str: ...


@dataclass(frozen=True)
class IbkrRow:
    """One IBKR position with what the fetch learnt about it, ready for `to_position`.

    `market_price` is the portfolio's (or the ticker's) price per unit; `greeks` the ticker's modelGreeks;
    `underlying` and `underlying_price` come from the contract details and the underlying's ticker when known.
    """

    account: str
    contract: ContractLike
    position: float
    market_price: float | None = None
    greeks: GreeksLike | None = None
    underlying: str | None = None
    underlying_price: float | None = None


@dataclass(frozen=True)
class ContractTerms:
    """What an IBKR contract is, in riskdash terms; option fields are None for stocks and futures."""

    kind: InstrumentKind
    underlying: str
    multiplier: float
    expiry: datetime | None = None
    strike: float | None = None
    right: Right | None = None
    exercise_style: ExerciseStyle | None = None
    settlement: SettlementTime | None = None


def clean_ib_number(value: Any, *sentinels: float) -> float | None:
    """The value as a finite float, or None for IBKR's "no value" encodings (None, NaN, ±inf, UNSET_DOUBLE, sentinels).

    Args:
        value: A number (or numeric string) from the TWS API.
        sentinels: Field-specific "no value" codes, e.g. −2 for a Greek, −1 for an IV or a price.

    Example:
        >>> clean_ib_number(-2.0, -2.0) is None, clean_ib_number(1.7976931348623157e308), clean_ib_number(-0.45, -2.0)
        (True, None, -0.45)
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or abs(number) >= UNSET_DOUBLE or number in sentinels:
        return None
    return number


def row_id(account: str, contract: ContractLike) -> str:
    """How a person finds the row in TWS: account, conId and local symbol."""
    local = (contract.localSymbol or contract.symbol or "?").strip()
    return f"{account} conId={contract.conId} {local}"


def _what(contract: ContractLike) -> str:
    return (
        f"IBKR {contract.secType or '?'} conId={contract.conId} {(contract.localSymbol or contract.symbol).strip()!r}"
    )


def _multiplier(contract: ContractLike, kind: InstrumentKind) -> float:
    text = (contract.multiplier or "").strip()  # a str in both libraries ('100'); '' on shares
    if not text:
        if kind is InstrumentKind.STOCK:
            return SHARE_MULTIPLIER
        raise PayloadInvalid(f"{_what(contract)}: multiplier is empty", field="multiplier")
    number = clean_ib_number(text)
    if number is None or number <= 0:
        raise PayloadInvalid(f"{_what(contract)}: multiplier {text!r} is not a positive number", field="multiplier")
    return number


def _last_trade_date(contract: ContractLike) -> date:
    text = (contract.lastTradeDateOrContractMonth or "").strip()
    token = text.split(" ")[0]  # ib_async may append a time and zone ("20250620 15:00 US/Central")
    if len(token) != 8 or not token.isdigit():
        raise PayloadInvalid(
            f"{_what(contract)}: lastTradeDateOrContractMonth {text!r} is not a YYYYMMDD date",
            field="lastTradeDateOrContractMonth",
        )
    try:
        return date(int(token[:4]), int(token[4:6]), int(token[6:]))
    except ValueError as exc:
        raise PayloadInvalid(
            f"{_what(contract)}: lastTradeDateOrContractMonth {text!r}: {exc}", field="lastTradeDateOrContractMonth"
        ) from exc


def occ_match_terms(match: re.Match[str]) -> tuple[str, date, Right, float] | None:
    """(root, expiry date, right, strike in USD) of an OCC symbol matched with groups root, ymd, right, strike.

    None when its YYMMDD is not a calendar date. Shared by the TWS localSymbol and the CP API contractDesc.

    Example:
        The match of "SPX   200117P03205000" gives ("SPX", date(2020, 1, 17), Right.PUT, 3205.0).
    """
    ymd = match["ymd"]
    try:
        day = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError:
        return None
    return match["root"], day, _RIGHTS[match["right"]], int(match["strike"]) / _OCC_STRIKE_SCALE


def _occ(local_symbol: str) -> tuple[str, date, Right, float] | None:
    """(root, date, right, strike) of an OCC symbol such as "SPX   200117P03205000"; None for any other text."""
    match = _OCC_RE.match(local_symbol.strip())
    return None if match is None else occ_match_terms(match)


def _next_trading_day(day: date) -> date:
    nxt = day + timedelta(days=1)
    while not is_trading_day(nxt):
        nxt += timedelta(days=1)
    return nxt


def option_terms(
    what: str, kind: InstrumentKind, symbol: str, trading_class: str, last_trade: date, occ_date: date | None
) -> tuple[InstrumentKind, str, datetime, ExerciseStyle, SettlementTime]:
    """(kind, underlying symbol, expiry instant, exercise style, settlement) of a listed option.

    AM-settled index classes (SPX, NDX, RUT) are dated by IBKR with their last trading day, the Thursday before the
    Friday the OCC symbol carries (SPX 200117P03205000 has lastTradeDateOrContractMonth 20200116 in the recorded
    ib_insync repr); they settle at 09:30 New York on that next trading day.

    Raises:
        PayloadInvalid: the OCC date contradicts the last trading day.
    """
    klass = trading_class.strip() or symbol
    if kind is InstrumentKind.FUTURE_OPTION:
        if symbol in _ES_FAMILY:
            if klass in _ES_FAMILY:
                am = last_trade.month in _QUARTER_MONTHS
                settlement = SettlementTime.AM if am else SettlementTime.PM
                return kind, symbol, expiry_instant(last_trade, settlement), ExerciseStyle.AMERICAN, settlement
            return kind, symbol, expiry_instant(last_trade), ExerciseStyle.EUROPEAN, SettlementTime.PM
        # CME/ICE options on other futures: American, expiring on their last trading day (stamped at the 16:00 close).
        return kind, symbol, expiry_instant(last_trade), ExerciseStyle.AMERICAN, SettlementTime.PM

    if not trading_class.strip() and symbol in AM_PM_TWIN_INDEXES:
        raise PayloadInvalid(
            f"{what}: an {symbol} option without a trading class cannot be told from its PM-settled twin",
            field="tradingClass",
        )
    index = INDEX_OPTION_CLASSES.get(klass)
    if index is None:
        expiry_day = last_trade
        if occ_date is not None and occ_date != last_trade:
            raise PayloadInvalid(
                f"{what}: local symbol dates it {occ_date} but lastTradeDateOrContractMonth says {last_trade}",
                field="lastTradeDateOrContractMonth",
            )
        return kind, symbol, expiry_instant(expiry_day), ExerciseStyle.AMERICAN, SettlementTime.PM
    underlying, settlement = index
    expiry_day = _next_trading_day(last_trade) if settlement is SettlementTime.AM else last_trade
    if occ_date is not None and occ_date != expiry_day:
        raise PayloadInvalid(
            f"{what}: local symbol dates it {occ_date} but a {settlement.value}-settled {klass} option with last "
            f"trading day {last_trade} expires {expiry_day}",
            field="lastTradeDateOrContractMonth",
        )
    return (
        InstrumentKind.INDEX_OPTION,
        underlying,
        expiry_instant(expiry_day, settlement),
        ExerciseStyle.EUROPEAN,
        settlement,
    )


def contract_terms(contract: ContractLike, underlying: str | None = None) -> ContractTerms:
    """Kind, underlying, multiplier and (for options) expiry instant, strike, right, style, settlement of a contract.

    Args:
        contract: An ib_async / ib_insync Contract as TWS reported it with a position.
        underlying: The underlying's symbol when the fetch looked it up (the future behind a FOP, "ESM5").

    Raises:
        PayloadInvalid: an unsupported secType, an empty or unreadable multiplier, strike, right or date.
    """
    what = _what(contract)
    kind = _KINDS.get(contract.secType)
    if kind is None:
        raise PayloadInvalid(
            f"{what}: secType {contract.secType!r} is not one of {', '.join(_KINDS)} (not valued by riskdash)",
            field="secType",
        )
    multiplier = _multiplier(contract, kind)
    symbol = contract.symbol.strip()
    if kind is InstrumentKind.STOCK:
        return ContractTerms(kind, underlying or symbol, multiplier)
    last_trade = _last_trade_date(contract)
    if kind is InstrumentKind.FUTURE:
        wall = SettlementTime.AM if symbol in _EQUITY_INDEX_FUTURES else SettlementTime.PM
        local = contract.localSymbol.strip()
        return ContractTerms(kind, local or symbol, multiplier, expiry=expiry_instant(last_trade, wall))

    right = _RIGHTS.get((contract.right or "").strip().upper())
    if right is None:
        raise PayloadInvalid(f"{what}: right {contract.right!r} is neither C nor P", field="right")
    strike = clean_ib_number(contract.strike)
    if strike is None or strike <= 0:
        raise PayloadInvalid(f"{what}: strike {contract.strike!r} is not a positive number", field="strike")
    occ = _occ(contract.localSymbol or "") if kind is InstrumentKind.EQUITY_OPTION else None
    if occ is not None and (occ[2] is not right or not math.isclose(occ[3], strike, rel_tol=1e-12)):
        raise PayloadInvalid(
            f"{what}: local symbol says {occ[2].value} {occ[3]:g} but the contract says {right.value} {strike:g}",
            field="localSymbol",
        )
    kind, under, expiry, style, settlement = option_terms(
        what, kind, symbol, contract.tradingClass or "", last_trade, None if occ is None else occ[1]
    )
    return ContractTerms(kind, underlying or under, multiplier, expiry, strike, right, style, settlement)


def greeks_complete(greeks: GreeksLike | None) -> bool:
    """True when a modelGreeks computation carries IV, delta, gamma, vega and theta (no sentinel, no NaN)."""
    if greeks is None:
        return False
    values = (
        clean_ib_number(greeks.impliedVol, _NO_IV),
        clean_ib_number(greeks.delta, _NO_GREEK),
        clean_ib_number(greeks.gamma, _NO_GREEK),
        clean_ib_number(greeks.vega, _NO_GREEK),
        clean_ib_number(greeks.theta, _NO_GREEK),
    )
    return all(value is not None for value in values)


def broker_greeks(greeks: GreeksLike, as_of: datetime) -> BrokerGreeks | None:
    """IBKR model Greeks in riskdash units, or None when TWS sent no value at all.

    IBKR's modelGreeks are per unit of the underlying (one share, one index point, one future), i.e. already in
    riskdash units: delta per $1, gamma per $1, vega per vol point, theta per calendar day. The recorded SPX 3205 P
    (tests/fixtures/ibkr_live/ib_insync_ticker_spx_put_2019-12-31.txt) shows it: vega 2.759 against Black-Scholes
    2.734 per vol point (273 per unit vol), theta −0.945 against −1.04 per calendar day (−1.5 per trading day).
    So no converter from models.conventions applies; `iv` is a decimal (0.126 = 12.6 vol).
    """
    iv = clean_ib_number(greeks.impliedVol, _NO_IV)
    values = {
        "iv": iv if iv is not None and iv >= 0 else None,
        "delta": clean_ib_number(greeks.delta, _NO_GREEK),
        "gamma": clean_ib_number(greeks.gamma, _NO_GREEK),
        "vega": clean_ib_number(greeks.vega, _NO_GREEK),
        "theta": clean_ib_number(greeks.theta, _NO_GREEK),
    }
    spot = clean_ib_number(greeks.undPrice, _NO_PRICE)
    if all(value is None for value in values.values()):
        return None
    return BrokerGreeks(
        **values,
        underlying_price=spot if spot is not None and spot > 0 else None,
        source="ibkr model",
        as_of=as_of,
    )


def to_position(row: IbkrRow, as_of: datetime) -> UnifiedPosition:
    """One IBKR position as a UnifiedPosition; PayloadInvalid names the bad field.

    Args:
        row: The position (signed quantity from TWS), its price, model Greeks and underlying when known.
        as_of: tz-aware instant of the fetch.
    """
    contract = row.contract
    terms = contract_terms(contract, row.underlying)
    quantity = clean_ib_number(row.position)
    if quantity is None:
        raise PayloadInvalid(f"{_what(contract)}: position {row.position!r} is not a number", field="position")
    greeks = broker_greeks(row.greeks, as_of) if row.greeks is not None and terms.expiry is not None else None
    if terms.strike is None:
        greeks = None  # a future or share has delta 1 by definition; TWS sends no model Greeks for them
    mark = clean_ib_number(row.market_price, _NO_PRICE)
    spot = greeks.underlying_price if greeks is not None else None
    if spot is None:
        spot = clean_ib_number(row.underlying_price, _NO_PRICE)
    local = (contract.localSymbol or "").strip()
    return UnifiedPosition(
        source=Source.IBKR,
        broker=BROKER,
        account=row.account,
        symbol=local or f"{contract.symbol} {contract.conId}",
        kind=terms.kind,
        underlying=terms.underlying,
        quantity=quantity,
        multiplier=terms.multiplier,
        expiry=terms.expiry,
        strike=terms.strike,
        right=terms.right,
        exercise_style=terms.exercise_style,
        settlement=terms.settlement,
        mark=mark if terms.strike is None or mark is None or mark >= 0 else None,
        underlying_price=spot if spot is not None and spot > 0 else None,
        iv=None if greeks is None else greeks.iv,
        broker_greeks=greeks,
        currency=(contract.currency or "USD").strip(),
        description=f"{contract.secType} {local or contract.symbol} conId={contract.conId}",
        as_of=as_of,
    )


_ACCOUNT_TAGS: Final = {
    "NetLiquidation": "net_liquidation",
    "ExcessLiquidity": "excess_liquidity",
    "MaintMarginReq": "maintenance_margin",
    "BuyingPower": "buying_power",
    "Cushion": "cushion",  # a fraction (0.45), as AccountValues wants it
}


def account_values(
    values: Iterable[AccountValueLike], as_of: datetime, accounts: Iterable[str] = ()
) -> list[AccountValues]:
    """AccountValues per account from account-summary rows (NetLiquidation, ExcessLiquidity, MaintMarginReq, Cushion).

    Money tags are read in the account's base currency (the currency of its NetLiquidation row); rows in "BASE" or
    another currency (NetLiquidationByCurrency, reqAccountUpdates' per-currency rows) are not mixed in.

    Args:
        values: AccountValue rows (account, tag, value as a string, currency).
        as_of: tz-aware instant of the fetch.
        accounts: Only these accounts (all when empty).
    """
    wanted = set(accounts)
    rows = [v for v in values if v.tag in _ACCOUNT_TAGS and (not wanted or v.account in wanted)]
    base = {v.account: v.currency for v in rows if v.tag == "NetLiquidation" and len(v.currency) == 3}
    found: dict[str, dict[str, float | None]] = {}
    for value in rows:
        currency = base.get(value.account)
        if currency is None:
            continue
        field = _ACCOUNT_TAGS[value.tag]
        if field != "cushion" and value.currency != currency:
            continue
        found.setdefault(value.account, {})[field] = clean_ib_number(value.value)
    return [
        AccountValues(source=IBKR_SOURCE, broker=BROKER, account=account, currency=base[account], as_of=as_of, **fields)
        for account, fields in sorted(found.items())
    ]
