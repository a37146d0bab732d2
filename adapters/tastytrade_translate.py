"""tastytrade JSON (kebab-case REST rows, DXLink Greeks events) → riskdash models; pure, no I/O, no clock.

Owns tastytrade's conventions: unsigned quantities signed by `quantity-direction`, multipliers sent as int, string
or decimal, futures point values taken from the futures instrument, and vendor Greek units converted exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from adapters.errors import PayloadInvalid
from adapters.occ import OccSymbolError, parse_occ_symbol
from adapters.results import RejectedRow, translate_rows
from models.account import AccountValues
from models.conventions import (
    NEW_YORK,
    VOL_POINT,
    SettlementTime,
    continuous_yield_from_cash_yield,
    expiry_instant,
    theta_per_day_from_tropical_day,
)
from models.market import Beta, BetaSource, Quote, UnderlyingMarket
from models.option_classes import INDEX_OPTION_CLASSES
from models.positions import BrokerGreeks, ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

__all__ = [
    "BROKER",
    "TASTYTRADE_SOURCE",
    "FutureContract",
    "FutureOptionSymbol",
    "dxlink_symbol",
    "items_of",
    "parse_future_option_symbol",
    "parse_instant",
    "parse_number",
    "referenced_futures",
    "to_account_values",
    "to_broker_greeks",
    "to_future_contract",
    "to_position",
    "to_underlying_market",
    "translate_positions",
]

TASTYTRADE_SOURCE: Final = "tastytrade"
BROKER: Final = "Tastytrade"
GREEKS_SOURCE: Final = "tastytrade dxlink"

# Positions carry an unsigned `quantity`; the side is `quantity-direction` (tastygo_..._short_put_RIVN.json: 40 Short).
# `cost-effect` is no guide: that short put says "Debit".
_SIGN_BY_DIRECTION: Final = {"Long": 1, "Short": -1, "Zero": 0}


# "./ESU3 EW4N3 230728C3990": future, option contract code, YYMMDD, C/P, strike in the future's price units
# (tastygo_futures_option_chains_ES_nested.json; the CSV export pads the code with more spaces).
_FUTURE_OPTION_RE: Final = re.compile(
    r"^\./(?P<future>[A-Z0-9]+) +(?P<code>[A-Z0-9]+) +(?P<ymd>\d{6})(?P<right>[CP])(?P<strike>\d+(?:\.\d+)?)$"
)
_RIGHTS: Final = {"C": Right.CALL, "P": Right.PUT}
# A CME option's expires-at before noon New York is a morning (AM, special opening quotation) expiry.
_NOON_HOUR: Final = 12


@dataclass(frozen=True)
class FutureOptionSymbol:
    """Terms of a tastytrade futures option symbol: the future ("/ESU3"), option code, expiry date, right, strike."""

    future: str
    option_code: str
    expiry: date
    right: Right
    strike: Decimal


@dataclass(frozen=True)
class FutureContract:
    """A futures instrument as GET /instruments/futures describes it: point value (USD per point) and expiry."""

    symbol: str
    notional_multiplier: float
    expires_at: datetime


def parse_future_option_symbol(text: str) -> FutureOptionSymbol:
    """The future, option code, expiry date, right and strike of "./ESU3 EW4N3 230728C3990"; ValueError quotes it."""
    match = _FUTURE_OPTION_RE.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a tastytrade futures option symbol (e.g. './ESU3 EW4N3 230728C3990')")
    ymd = match["ymd"]
    try:
        expiry = date(2000 + int(ymd[:2]), int(ymd[2:4]), int(ymd[4:]))
    except ValueError as exc:
        raise ValueError(f"{text!r}: expiry {ymd!r} is not a calendar date (YYMMDD)") from exc
    return FutureOptionSymbol(
        future="/" + match["future"],
        option_code=match["code"],
        expiry=expiry,
        right=_RIGHTS[match["right"]],
        strike=Decimal(match["strike"]),
    )


def parse_number(raw: Mapping[str, Any], key: str, what: str, *, required: bool = False) -> float | None:
    """The finite number at `key` (int, float, decimal or numeric string); None when absent, null or "NaN".

    Raises:
        PayloadInvalid: naming `what` and `key`, for text that is not a number, or a required value that is missing.
    """
    value = raw.get(key)
    if isinstance(value, bool):  # bool is an int subclass; a flag where a number belongs is a shape error
        raise PayloadInvalid(f"{what}: {key}={value!r} is not a number", field=key)
    number: float | None
    if value is None or (isinstance(value, str) and not value.strip()):
        number = None
    elif isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(Decimal(value.strip()))
        except InvalidOperation as exc:
            raise PayloadInvalid(f"{what}: {key}={value!r} is not a number", field=key) from exc
    else:
        raise PayloadInvalid(f"{what}: {key}={value!r} is not a number", field=key)
    if number is not None and not math.isfinite(number):
        number = None  # tastytrade sends "NaN" where it has no value
    if number is None and required:
        raise PayloadInvalid(f"{what}: {key} is missing or not a finite number ({value!r})", field=key)
    return number


def parse_instant(raw: Mapping[str, Any], key: str, what: str) -> datetime | None:
    """The tz-aware instant at `key` ("2023-06-09T20:00:00.000+00:00" or "...Z"); None when absent."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    try:
        instant = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise PayloadInvalid(f"{what}: {key}={value!r} is not an ISO-8601 instant", field=key) from exc
    if instant.tzinfo is None:
        raise PayloadInvalid(f"{what}: {key}={value!r} has no UTC offset", field=key)
    return instant


def _text(raw: Mapping[str, Any], key: str, what: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise PayloadInvalid(f"{what}: {key} is missing or empty ({value!r})", field=key)
    return value


def items_of(payload: Any, what: str) -> list[Mapping[str, Any]]:
    """The `items` list of a tastytrade answer, with or without its `data` wrapper; PayloadInvalid otherwise."""
    data = payload.get("data", payload) if isinstance(payload, Mapping) else None
    items = data.get("items") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise PayloadInvalid(f"{what}: the answer has no data.items list", field="data.items")
    return [item if isinstance(item, Mapping) else {} for item in items]


def to_future_contract(raw: Mapping[str, Any]) -> FutureContract:
    """One GET /instruments/futures item as a FutureContract (notional-multiplier is USD per point)."""
    symbol = _text(raw, "symbol", "futures instrument")
    what = f"futures instrument {symbol}"
    multiplier = parse_number(raw, "notional-multiplier", what, required=True)
    expires_at = parse_instant(raw, "expires-at", what)
    if multiplier is None or multiplier <= 0 or expires_at is None:
        raise PayloadInvalid(
            f"{what}: needs a positive notional-multiplier and expires-at", field="notional-multiplier"
        )
    return FutureContract(symbol=symbol, notional_multiplier=multiplier, expires_at=expires_at)


def referenced_futures(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The futures ("/ESU3") that Future and Future Option rows refer to, sorted; unreadable symbols are skipped."""
    found: set[str] = set()
    for row in rows:
        kind, symbol = row.get("instrument-type"), str(row.get("symbol", ""))
        if kind == "Future" and symbol.startswith("/"):
            found.add(symbol.strip())
        elif kind == "Future Option":
            try:
                found.add(parse_future_option_symbol(symbol).future)
            except ValueError:
                continue  # to_position rejects the row and names the field
    return sorted(found)


def _quantity(raw: Mapping[str, Any], what: str) -> float:
    direction = raw.get("quantity-direction")
    if direction not in _SIGN_BY_DIRECTION:
        raise PayloadInvalid(
            f"{what}: quantity-direction {direction!r} is not Long, Short or Zero", field="quantity-direction"
        )
    size = parse_number(raw, "quantity", what, required=True)
    assert size is not None  # required=True raises instead
    if size < 0:
        raise PayloadInvalid(f"{what}: quantity {size:g} is negative; tastytrade sends it unsigned", field="quantity")
    sign = _SIGN_BY_DIRECTION[direction]
    if (sign == 0) != (size == 0):
        raise PayloadInvalid(f"{what}: quantity {size:g} contradicts direction {direction}", field="quantity")
    return sign * size


def _mark(raw: Mapping[str, Any], what: str) -> float | None:
    price = parse_number(raw, "mark-price", what)
    return parse_number(raw, "mark", what) if price is None else price


def _settlement_from_expires_at(raw: Mapping[str, Any], expiry: date, what: str) -> SettlementTime:
    expires_at = parse_instant(raw, "expires-at", what)
    if expires_at is None:
        raise PayloadInvalid(f"{what}: expires-at is missing, so AM or PM settlement is unknown", field="expires-at")
    local = expires_at.astimezone(NEW_YORK)
    if local.date() != expiry:
        raise PayloadInvalid(f"{what}: expires-at {local.date()} contradicts the symbol's {expiry}", field="expires-at")
    return SettlementTime.AM if local.hour < _NOON_HOUR else SettlementTime.PM


def to_position(
    raw: Mapping[str, Any], *, as_of: datetime, futures: Mapping[str, FutureContract] | None = None
) -> UnifiedPosition:
    """One row of GET /accounts/{n}/positions as a UnifiedPosition; PayloadInvalid names the bad field.

    Args:
        raw: The row as sent (kebab-case keys; numbers as int, float or string).
        as_of: tz-aware instant of the fetch.
        futures: Futures instruments by symbol ("/ESU3"); futures and futures options take their point value
            (USD per point) from here, because the position row's `multiplier` for them is not the point value
            (tastyware/tastytrade#328 shows 0.5 on micro futures; the transactions CSV shows 1 for /MES options).
    """
    symbol = _text(raw, "symbol", "position")
    what = f"position {symbol.strip()}"
    kind_text = raw.get("instrument-type")
    common: dict[str, Any] = {
        "source": Source.TASTYTRADE,
        "broker": BROKER,
        "account": _text(raw, "account-number", what),
        "symbol": symbol.strip(),
        "quantity": _quantity(raw, what),
        # include-marks=true adds `mark`/`mark-price`; `close-price` is the previous close, not a mark.
        "mark": _mark(raw, what),
        "description": symbol.strip(),
        "as_of": as_of,
    }
    if kind_text == "Equity":
        return UnifiedPosition(
            kind=InstrumentKind.STOCK,
            underlying=str(raw.get("underlying-symbol") or symbol).strip(),
            multiplier=parse_number(raw, "multiplier", what, required=True),
            **common,
        )
    if kind_text == "Equity Option":
        try:
            occ = parse_occ_symbol(symbol)
        except OccSymbolError as exc:
            raise PayloadInvalid(f"{what}: {exc}", field="symbol") from exc
        index = INDEX_OPTION_CLASSES.get(occ.root)
        if index is None:
            kind, style, settlement = InstrumentKind.EQUITY_OPTION, ExerciseStyle.AMERICAN, SettlementTime.PM
            underlying = str(raw.get("underlying-symbol") or occ.root).strip()
            expires_at = parse_instant(raw, "expires-at", what)
            if expires_at is not None and expires_at.astimezone(NEW_YORK).date() != occ.expiry:
                raise PayloadInvalid(
                    f"{what}: expires-at {expires_at.isoformat()} is not on the OCC date {occ.expiry}",
                    field="expires-at",
                )
        else:
            kind, style, (underlying, settlement) = InstrumentKind.INDEX_OPTION, ExerciseStyle.EUROPEAN, index
        return UnifiedPosition(
            kind=kind,
            underlying=underlying,
            multiplier=parse_number(raw, "multiplier", what, required=True),
            expiry=expiry_instant(occ.expiry, settlement),
            strike=float(occ.strike),
            right=occ.right,
            exercise_style=style,
            settlement=settlement,
            **common,
        )
    if kind_text in ("Future", "Future Option"):
        future_symbol = symbol.strip()
        option: FutureOptionSymbol | None = None
        if kind_text == "Future Option":
            try:
                option = parse_future_option_symbol(symbol)
            except ValueError as exc:
                raise PayloadInvalid(f"{what}: {exc}", field="symbol") from exc
            future_symbol = option.future
        contract = (futures or {}).get(future_symbol)
        if contract is None:
            raise PayloadInvalid(
                f"{what}: no futures instrument for {future_symbol}, so its point value is unknown "
                f"(the row's multiplier {raw.get('multiplier')!r} is not the point value)",
                field="multiplier",
            )
        if option is None:
            return UnifiedPosition(
                kind=InstrumentKind.FUTURE,
                underlying=future_symbol,
                multiplier=contract.notional_multiplier,
                expiry=contract.expires_at,
                **common,
            )
        settlement = _settlement_from_expires_at(raw, option.expiry, what)
        return UnifiedPosition(
            kind=InstrumentKind.FUTURE_OPTION,
            underlying=future_symbol,
            multiplier=contract.notional_multiplier,
            expiry=expiry_instant(option.expiry, settlement),
            strike=float(option.strike),
            right=option.right,
            exercise_style=ExerciseStyle.AMERICAN,  # CME options on futures ("exercise-style": "American" in the chain)
            settlement=settlement,
            **common,
        )
    raise PayloadInvalid(
        f"{what}: instrument-type {kind_text!r} is not Equity, Equity Option, Future or Future Option",
        field="instrument-type",
    )


def translate_positions(
    payload: Any, *, as_of: datetime, futures: Mapping[str, FutureContract] | None = None
) -> tuple[list[UnifiedPosition], list[RejectedRow]]:
    """Positions of one GET /accounts/{n}/positions answer, and a RejectedRow (row, field, reason) per bad row."""
    rows = items_of(payload, "tastytrade positions")
    ids = [
        (f"{row.get('account-number', '?')} #{number} {str(row.get('symbol', '?')).strip()}", row)
        for number, row in enumerate(rows)
    ]
    return translate_rows(TASTYTRADE_SOURCE, ids, lambda row: to_position(row, as_of=as_of, futures=futures))


def to_account_values(raw: Mapping[str, Any], *, as_of: datetime) -> AccountValues:
    """GET /accounts/{n}/balances `data` as AccountValues (USD unless `currency` says otherwise).

    Mapping: net-liquidating-value → net_liquidation; maintenance-requirement → maintenance_margin;
    maintenance-excess → excess_liquidity (tastytrade's equity left above maintenance; it equals equity-buying-power
    in tastygo_accounts_balances.json); derivative-buying-power → buying_power (option buying power). Cushion is
    not sent and is left None. `as_of` is the balance's `updated-at` when present, else the fetch instant.
    """
    account = _text(raw, "account-number", "balances")
    what = f"balances of {account}"
    return AccountValues(
        source=TASTYTRADE_SOURCE,
        broker=BROKER,
        account=account,
        currency=str(raw.get("currency") or "USD"),
        net_liquidation=parse_number(raw, "net-liquidating-value", what),
        excess_liquidity=parse_number(raw, "maintenance-excess", what),
        maintenance_margin=parse_number(raw, "maintenance-requirement", what),
        buying_power=parse_number(raw, "derivative-buying-power", what),
        as_of=parse_instant(raw, "updated-at", what) or as_of,
    )


def _quote(value: float | None, as_of: datetime) -> Quote | None:
    return None if value is None else Quote(value=value, source=TASTYTRADE_SOURCE, as_of=as_of)


def to_underlying_market(raw: Mapping[str, Any], *, as_of: datetime) -> tuple[str, UnderlyingMarket]:
    """(symbol, UnderlyingMarket) from one GET /market-metrics item, in riskdash units.

    tastytrade's units (tastygo_market_metrics_AAPL_ivr.json): `implied-volatility-30-day` and
    `historical-volatility-30-day` are percent ("21.87", "20.02"; their `iv-hv-30-day-difference` is "1.85"), so
    they are scaled by VOL_POINT; `implied-volatility-index-rank` is a 0..1 fraction ("0.02231313") of the
    IV index `implied-volatility-index` (a decimal, "0.224186663"); `dividend-yield` is a decimal cash yield
    ("0.006396146", annual dividends / price: within y²/2 of the continuous rate); `beta` is against SPY and
    `corr-spy-3month` a three-month correlation with SPY. Each value is stamped with its own `*-updated-at`.
    """
    symbol = _text(raw, "symbol", "market metrics")
    what = f"market metrics {symbol}"
    updated = parse_instant(raw, "updated-at", what) or as_of
    iv_at = parse_instant(raw, "implied-volatility-updated-at", what) or updated
    iv_pct = parse_number(raw, "implied-volatility-30-day", what)
    hv_pct = parse_number(raw, "historical-volatility-30-day", what)
    rank = parse_number(raw, "implied-volatility-index-rank", what)
    if rank is not None and not 0.0 <= rank <= 1.0:
        raise PayloadInvalid(f"{what}: implied-volatility-index-rank {rank} is not in [0, 1]", field="iv-rank")
    beta_value = parse_number(raw, "beta", what)
    correlation = parse_number(raw, "corr-spy-3month", what)
    beta = None
    if beta_value is not None:
        beta = Beta(
            value=beta_value,
            source=BetaSource.BROKER,
            as_of=parse_instant(raw, "beta-updated-at", what) or updated,
            correlation=correlation,
        )
    cash_yield = parse_number(raw, "dividend-yield", what)
    market = UnderlyingMarket(
        beta=beta,
        hv30=_quote(None if hv_pct is None else hv_pct * VOL_POINT, updated),
        iv=_quote(None if iv_pct is None else iv_pct * VOL_POINT, iv_at),
        iv_rank=_quote(rank, iv_at),
        dividend_yield=_quote(
            None if cash_yield is None else continuous_yield_from_cash_yield(cash_yield),
            parse_instant(raw, "dividend-updated-at", what) or updated,
        ),
    )
    return symbol, market


def to_broker_greeks(values: Mapping[str, Any], *, as_of: datetime, source: str = GREEKS_SOURCE) -> BrokerGreeks:
    """IV and per-unit Greeks in riskdash units from a dxFeed Greeks record (DXLink event or market-data row).

    tastytrade's units, fitted on market_data_by_type_equity_option_SPY_250701.json (risk_engine/crosscheck.py):
    volatility decimal, delta per $1, gamma per $1², vega per vol point, rho per 1 % rate — all as riskdash —
    and theta per 1/365.2422 of a year, converted by theta_per_day_from_tropical_day. DXLink's Greeks event is
    the same dxFeed record (the REST row's `dx-mark` equals its `theo-price`), so it is read the same way.

    Args:
        values: Keys volatility, delta, gamma, theta, rho, vega (numbers or numeric strings; "NaN" = missing).
        as_of: tz-aware instant the values were computed (event time) or fetched.
        source: Label for BrokerGreeks.source.
    """
    what = f"Greeks of {values.get('eventSymbol') or values.get('event_symbol') or values.get('symbol') or '?'}"
    theta = parse_number(values, "theta", what)
    return BrokerGreeks(
        iv=parse_number(values, "volatility", what),
        delta=parse_number(values, "delta", what),
        gamma=parse_number(values, "gamma", what),
        vega=parse_number(values, "vega", what),
        theta=None if theta is None else theta_per_day_from_tropical_day(theta),
        rho=parse_number(values, "rho", what),
        source=source,
        as_of=as_of,
    )


def dxlink_symbol(position: UnifiedPosition) -> str | None:
    """The DXLink streamer symbol of an equity or index option (".RIVN230609P14", ".SPXW251219P3990.5"), else None.

    Futures options have exchange-specific streamer symbols ("./EW4N23C3990:XCME") that only the instrument
    record states, so they return None here.
    """
    if position.kind not in (InstrumentKind.EQUITY_OPTION, InstrumentKind.INDEX_OPTION):
        return None
    occ = parse_occ_symbol(position.symbol)
    strike = format(occ.strike, "f")
    return f".{occ.root}{occ.expiry:%y%m%d}{occ.right.value}{strike}"
