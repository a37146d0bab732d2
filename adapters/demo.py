"""The bundled demo book and demo market snapshot, read from ``adapters/data/demo_*.yaml``.

The book's expiries are relative ({cycle, offset}) and resolved against the caller's `now` through
adapters.listed_expiries, so the demo never expires; strikes are absolute against the snapshot's fixed spots.
Every row goes through adapters.results.translate_rows, so a malformed row is reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import Field, ValidationError

from adapters.errors import PayloadInvalid
from adapters.listed_expiries import ExpiryCycle, es_future_for, es_futures_after, resolve_expiry
from adapters.results import FetchResult, translate_rows
from models.base import RiskdashModel
from models.conventions import NEW_YORK, SettlementTime
from models.market import Beta, BetaSource, MarketSnapshot, Quote, UnderlyingMarket
from models.positions import OPTION_KINDS, ExerciseStyle, InstrumentKind, Right, Source, UnifiedPosition

__all__ = [
    "DEMO_BOOK_FILE",
    "DEMO_MARKET_FILE",
    "DEMO_SNAPSHOT_SOURCE",
    "DEMO_SOURCE",
    "ES_ROOT",
    "load_demo_book",
    "load_demo_snapshot",
]

DEMO_SOURCE: Final = "demo"
DEMO_SNAPSHOT_SOURCE: Final = "demo snapshot"
DEMO_BOOK_FILE: Final = "demo_book.yaml"
DEMO_MARKET_FILE: Final = "demo_market.yaml"

ES_ROOT: Final = "/ES"
"""Generic E-mini S&P root in the YAML files; positions and the snapshot carry the resolved contract ("/ESZ6")."""

_ES_CONTRACTS_IN_SNAPSHOT: Final = 2
"""Quarterly /ES contracts quoted in the snapshot: the book's /ES options (less than five weeks out) resolve to one of
the next two, which tests/adapters/test_demo.py checks across a year of `now`s."""

_OCC_ROOT_WIDTH: Final = 6
_OCC_STRIKE_SCALE: Final = 1000
_OCC_STRIKE_DIGITS: Final = 8

_OPTION_TERMS: Final = ("expiry", "strike", "right", "exercise_style", "settlement", "iv")

# libyaml's safe loader when PyYAML was built with it (about ten times faster), else the pure-Python one.
_YAML_LOADER: Final = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _RelativeExpiry(RiskdashModel):
    """An expiry written as "the offset-th live listed date of a cycle", resolved at load."""

    cycle: ExpiryCycle
    offset: int = Field(ge=0)


class _DemoRow(RiskdashModel):
    """One position row of demo_book.yaml, before resolution against `now` and the snapshot's spots."""

    id: str = Field(min_length=1)
    broker: Literal["IBKR", "Tastytrade"]
    account: str = Field(min_length=1)
    strategy: str = Field(min_length=1)
    kind: InstrumentKind
    underlying: str = Field(min_length=1)
    quantity: float
    multiplier: float = Field(gt=0)
    root: str | None = Field(default=None, min_length=1, max_length=_OCC_ROOT_WIDTH)
    expiry: _RelativeExpiry | None = None
    settlement: SettlementTime | None = None
    exercise_style: ExerciseStyle | None = None
    strike: float | None = Field(default=None, gt=0)
    right: Right | None = None
    iv: float | None = Field(default=None, gt=0)


class _MarketEntry(RiskdashModel):
    """One underlying of demo_market.yaml; decimals as in models.market.UnderlyingMarket."""

    spot: float = Field(gt=0)
    beta: float | None = None
    beta_source: BetaSource | None = None
    correlation: float | None = Field(default=None, ge=-1, le=1)
    hv20: float = Field(ge=0)
    hv30: float = Field(ge=0)
    dividend_yield: float
    iv: float = Field(gt=0)
    iv_rank: float = Field(ge=0, le=1)


class _MarketFile(RiskdashModel):
    """The whole of demo_market.yaml."""

    description: str = ""
    vix: float = Field(gt=0)
    vix3m: float = Field(gt=0)
    vvix: float = Field(gt=0)
    recession_prob: float = Field(ge=0, le=1)
    risk_free_rate: float
    underlyings: dict[str, _MarketEntry]


def _data_text(path: Path | None, name: str) -> tuple[str, str]:
    """(text, display name) of a demo data file: `path` when given, else the packaged copy."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            raise PayloadInvalid(f"demo file {path} cannot be read: {exc}", field="(file)") from exc
    return (resources.files("adapters") / "data" / name).read_text(encoding="utf-8"), f"adapters/data/{name}"


def _parse_yaml(text: str, shown: str) -> tuple[yaml.Node | None, Any]:
    """(node tree, data) of one YAML document, parsed once; the tree keeps the line of every entry."""
    loader = _YAML_LOADER(text)
    try:
        tree = loader.get_single_node()
        return tree, None if tree is None else loader.construct_document(tree)
    except yaml.YAMLError as exc:
        raise PayloadInvalid(f"{shown} is not valid YAML: {exc}", field="(file)") from exc
    finally:
        loader.dispose()


def _read_market(path: Path | None) -> _MarketFile:
    text, shown = _data_text(path, DEMO_MARKET_FILE)
    try:
        return _MarketFile.model_validate(_parse_yaml(text, shown)[1])
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise PayloadInvalid(f"{shown}: {key}: {first['msg']}", field=key) from exc


def _book_rows(path: Path | None) -> list[tuple[str, Any]]:
    """(row id, raw mapping) for every entry of `positions`, the row id naming file, line and index."""
    text, shown = _data_text(path, DEMO_BOOK_FILE)
    tree, data = _parse_yaml(text, shown)
    if not isinstance(data, dict) or not isinstance(data.get("positions"), list):
        raise PayloadInvalid(f"{shown} must hold a mapping with a `positions` list", field="positions")
    lines = _position_lines(tree)
    rows: list[tuple[str, Any]] = []
    for index, raw in enumerate(data["positions"]):
        label = raw.get("id") if isinstance(raw, dict) else None
        line = f":{lines[index]}" if index < len(lines) else ""
        rows.append((f"{shown}{line} positions[{index}]" + (f" {label}" if label else ""), raw))
    return rows


def _position_lines(tree: yaml.Node | None) -> list[int]:
    """1-based line of each `positions` entry, so a rejected row points at the text a person edits."""
    if not isinstance(tree, yaml.MappingNode):
        return []
    for key, value in tree.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "positions" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def _occ_symbol(root: str, expiry: datetime, right: Right, strike: float) -> str:
    """OCC option symbol: root padded to 6, YYMMDD, C/P, strike × 1000 on 8 digits ("SPXW  261218P05600000")."""
    day = expiry.astimezone(NEW_YORK)
    strike_code = round(strike * _OCC_STRIKE_SCALE)
    return f"{root:<{_OCC_ROOT_WIDTH}}{day:%y%m%d}{right.value}{strike_code:0{_OCC_STRIKE_DIGITS}d}"


def _future_option_symbol(future: str, expiry: datetime, right: Right, strike: float) -> str:
    """Demo symbol of an option on a future: "./ESH7 261218P5600" (futures options have no OCC form)."""
    return f".{future} {expiry.astimezone(NEW_YORK):%y%m%d}{right.value}{strike:g}"


def _to_position(raw: Any, now: datetime, spots: Mapping[str, float]) -> UnifiedPosition:
    """One demo_book.yaml row as a UnifiedPosition at `now`; PayloadInvalid or ValidationError names the field."""
    if not isinstance(raw, dict):
        raise PayloadInvalid(f"a position row must be a mapping, got {type(raw).__name__}", field="(row)")
    row = _DemoRow.model_validate(raw)
    is_option = row.kind in OPTION_KINDS
    if is_option:
        for name in _OPTION_TERMS:
            if getattr(row, name) is None:
                raise PayloadInvalid(f"{row.kind.value} row {row.id!r} is missing {name}", field=name)
    elif row.kind is InstrumentKind.FUTURE and row.expiry is None:
        raise PayloadInvalid(f"future row {row.id!r} is missing expiry", field="expiry")

    expiry: datetime | None = None
    if row.expiry is not None:
        settlement = row.settlement or SettlementTime.PM
        expiry = resolve_expiry(row.expiry.cycle, row.expiry.offset, now, settlement)

    underlying = row.underlying
    if underlying == ES_ROOT:
        if expiry is None:
            raise PayloadInvalid(f"/ES row {row.id!r} needs an expiry to pick its contract", field="expiry")
        underlying, future_expiry = es_future_for(expiry)
        if row.kind is InstrumentKind.FUTURE:
            expiry = future_expiry

    if underlying not in spots:
        raise PayloadInvalid(
            f"row {row.id!r}: underlying {underlying!r} has no spot in the demo snapshot", field="underlying"
        )
    spot = spots[underlying]

    if row.kind is InstrumentKind.STOCK or row.kind is InstrumentKind.FUTURE:
        symbol, mark = underlying, spot
    else:
        assert expiry is not None
        assert row.right is not None
        assert row.strike is not None
        symbol = (
            _future_option_symbol(underlying, expiry, row.right, row.strike)
            if row.kind is InstrumentKind.FUTURE_OPTION
            else _occ_symbol(row.root or underlying, expiry, row.right, row.strike)
        )
        mark = None  # the engine prices demo options from the snapshot; a made-up mark would be a wrong number

    return UnifiedPosition(
        source=Source.DEMO,
        broker=row.broker,
        account=row.account,
        symbol=symbol,
        kind=row.kind,
        underlying=underlying,
        quantity=row.quantity,
        multiplier=row.multiplier,
        expiry=expiry,
        strike=row.strike,
        right=row.right,
        exercise_style=row.exercise_style,
        settlement=row.settlement if is_option else None,
        mark=mark,
        iv=row.iv,
        description=_describe(row, underlying, expiry),
        as_of=now,
    )


def _describe(row: _DemoRow, underlying: str, expiry: datetime | None) -> str:
    """What the row is, for the positions table: "short strangle · SPX 18DEC26 5450 P (AM)"."""
    if expiry is None or row.strike is None or row.right is None:
        return f"{row.strategy} · {underlying}"
    day = expiry.astimezone(NEW_YORK).strftime("%d%b%y").upper()
    settled = " (AM)" if row.settlement is SettlementTime.AM else ""
    name = underlying if row.kind is InstrumentKind.FUTURE_OPTION else (row.root or underlying)
    return f"{row.strategy} · {name} {day} {row.strike:g} {row.right.value}{settled}"


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError(f"the demo loaders need a tz-aware now, got {now!r}")


def _spots(market: _MarketFile, now: datetime) -> dict[str, float]:
    """Spot per snapshot symbol: every YAML underlying, with /ES replaced by the contracts quoted at `now`."""
    spots = {symbol: entry.spot for symbol, entry in market.underlyings.items() if symbol != ES_ROOT}
    es = market.underlyings.get(ES_ROOT)
    if es is not None:
        for contract in _es_contracts(now):
            spots[contract] = es.spot
    return spots


def _es_contracts(now: datetime) -> list[str]:
    """The quarterly /ES contracts the snapshot quotes at `now`, front first."""
    return [symbol for symbol, _ in es_futures_after(now, _ES_CONTRACTS_IN_SNAPSHOT)]


def load_demo_book(now: datetime, *, path: Path | None = None, market_path: Path | None = None) -> FetchResult:
    """The demo book at `now`: relative expiries resolved, shares and futures marked at the snapshot's spots.

    Args:
        now: tz-aware valuation instant; expiries are the listed dates live at this instant.
        path: A demo book YAML to read instead of the packaged adapters/data/demo_book.yaml (tests).
        market_path: A demo market YAML to read instead of the packaged adapters/data/demo_market.yaml.

    Returns:
        FetchResult with source "demo", demo=True, fetched_at=now; malformed rows are in `rejected`.
    """
    _require_aware(now)
    spots = _spots(_read_market(market_path), now)
    positions, rejected = translate_rows(DEMO_SOURCE, _book_rows(path), lambda raw: _to_position(raw, now, spots))
    return FetchResult(
        source=DEMO_SOURCE,
        positions=tuple(positions),
        rejected=tuple(rejected),
        fetched_at=now,
        demo=True,
        notes=("Demo book: sample positions, not a real account; expiries roll with the clock.",),
    )


def load_demo_snapshot(now: datetime, *, path: Path | None = None) -> MarketSnapshot:
    """The demo market snapshot at `now`: fixed levels, every Quote sourced "demo snapshot" and stamped `now`.

    /ES market data is listed under each quarterly contract still trading at `now` ("/ESZ6", "/ESH7"), the
    symbols the demo book's /ES positions resolve to.

    Args:
        now: tz-aware instant the quotes are stamped with.
        path: A demo market YAML to read instead of the packaged adapters/data/demo_market.yaml (tests).
    """
    _require_aware(now)
    market = _read_market(path)

    def quote(value: float) -> Quote:
        return Quote(value=value, source=DEMO_SNAPSHOT_SOURCE, as_of=now)

    def underlying(entry: _MarketEntry) -> UnderlyingMarket:
        beta = None
        if entry.beta is not None:
            beta = Beta(
                value=entry.beta,
                source=entry.beta_source or BetaSource.CONFIG,
                as_of=now,
                correlation=entry.correlation,
            )
        return UnderlyingMarket(
            spot=quote(entry.spot),
            beta=beta,
            hv20=quote(entry.hv20),
            hv30=quote(entry.hv30),
            dividend_yield=quote(entry.dividend_yield),
            iv=quote(entry.iv),
            iv_rank=quote(entry.iv_rank),
        )

    underlyings: dict[str, UnderlyingMarket] = {}
    for symbol, entry in market.underlyings.items():
        if symbol == ES_ROOT:
            for contract in _es_contracts(now):
                underlyings[contract] = underlying(entry)
        else:
            underlyings[symbol] = underlying(entry)
    spx = market.underlyings.get("SPX")
    return MarketSnapshot(
        vix=quote(market.vix),
        vix3m=quote(market.vix3m),
        vvix=quote(market.vvix),
        recession_prob=quote(market.recession_prob),
        spx=None if spx is None else quote(spx.spot),
        risk_free_rate=quote(market.risk_free_rate),
        underlyings=underlyings,
        as_of=now,
        demo=True,
    )
