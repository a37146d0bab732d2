"""`UnifiedPosition`: one open position from any broker in riskdash conventions (see models/conventions.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from pydantic import Field, computed_field, field_validator, model_validator

from models.base import RiskdashModel
from models.conventions import SettlementTime, dte_days

__all__ = [
    "OPTION_KINDS",
    "BrokerGreeks",
    "DteBucketEdge",
    "ExerciseStyle",
    "InstrumentKind",
    "Right",
    "Source",
    "UnifiedPosition",
]


class Source(StrEnum):
    """Where a position came from."""

    IBKR = "ibkr"
    TASTYTRADE = "tastytrade"
    DEMO = "demo"
    FILE = "file"
    WHAT_IF = "what_if"


class InstrumentKind(StrEnum):
    """What is held: shares/ETF, listed options on an index, an equity/ETF or a future, or a future."""

    STOCK = "stock"
    INDEX_OPTION = "index_option"
    EQUITY_OPTION = "equity_option"
    FUTURE = "future"
    FUTURE_OPTION = "future_option"


OPTION_KINDS = frozenset({InstrumentKind.INDEX_OPTION, InstrumentKind.EQUITY_OPTION, InstrumentKind.FUTURE_OPTION})


class Right(StrEnum):
    """Call or put."""

    CALL = "C"
    PUT = "P"


class ExerciseStyle(StrEnum):
    """American options may be exercised any day; European only at expiry."""

    AMERICAN = "american"
    EUROPEAN = "european"


class BrokerGreeks(RiskdashModel):
    """Greeks and IV as the broker computed them, already converted to riskdash units by the adapter."""

    iv: float | None = Field(default=None, ge=0)
    delta: float | None = None
    gamma: float | None = None
    vega: float | None = None
    theta: float | None = None
    rho: float | None = None
    underlying_price: float | None = Field(default=None, gt=0)
    source: str
    as_of: datetime

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("as_of must be tz-aware")
        return value


class DteBucketEdge(Protocol):
    """A days-to-expiry bucket as the risk matrix defines it (structural: config supplies the instances)."""

    @property
    def label(self) -> str: ...
    @property
    def min_days(self) -> int: ...
    @property
    def max_days(self) -> int | None: ...


class UnifiedPosition(RiskdashModel):
    """One open position in riskdash conventions: signed quantity, explicit multiplier, exact expiry instant.

    `source` is how the row was obtained (an API, a file import, the demo book); `broker` is where it is held.
    """

    source: Source
    broker: str = Field(min_length=1)
    account: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    kind: InstrumentKind
    underlying: str = Field(min_length=1)
    quantity: float
    multiplier: float = Field(gt=0)
    expiry: datetime | None = None
    strike: float | None = Field(default=None, gt=0)
    right: Right | None = None
    exercise_style: ExerciseStyle | None = None
    settlement: SettlementTime | None = None
    mark: float | None = None
    underlying_price: float | None = Field(default=None, gt=0)
    iv: float | None = Field(default=None, ge=0)
    broker_greeks: BrokerGreeks | None = None
    currency: str = "USD"
    description: str = ""
    as_of: datetime

    @field_validator("expiry", "as_of")
    @classmethod
    def _tz_aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must be tz-aware (an exact instant, e.g. 16:00 America/New_York)")
        return value

    @model_validator(mode="after")
    def _terms_match_kind(self) -> UnifiedPosition:
        if self.kind in OPTION_KINDS:
            missing = [
                name
                for name in ("expiry", "strike", "right", "exercise_style", "settlement")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{self.kind.value} {self.symbol!r} is missing {', '.join(missing)}")
            if self.mark is not None and self.mark < 0:
                raise ValueError(f"option mark must be >= 0, got {self.mark}")
        else:
            extra = [name for name in ("strike", "right", "exercise_style") if getattr(self, name) is not None]
            if extra:
                raise ValueError(f"{self.kind.value} {self.symbol!r} cannot carry {', '.join(extra)}")
            if self.kind is InstrumentKind.FUTURE and self.expiry is None:
                raise ValueError(f"future {self.symbol!r} is missing expiry")
        return self

    @property
    def is_option(self) -> bool:
        """True for index, equity and future options."""
        return self.kind in OPTION_KINDS

    @computed_field  # type: ignore[prop-decorator]
    @property
    def dte(self) -> int | None:
        """Calendar days from `as_of` to expiry on New York dates; None for instruments that never expire."""
        return None if self.expiry is None else dte_days(self.expiry, self.as_of)

    @property
    def expired(self) -> bool:
        """True once the expiry instant is at or before `as_of` (imported old books keep such rows, flagged)."""
        return self.expiry is not None and self.expiry <= self.as_of

    def dte_bucket(self, buckets: Sequence[DteBucketEdge]) -> str | None:
        """Label of the risk matrix's DTE bucket holding this position; None for shares and expired rows."""
        days = self.dte
        if days is None or days < 0:
            return None
        for bucket in buckets:
            if days >= bucket.min_days and (bucket.max_days is None or days <= bucket.max_days):
                return bucket.label
        return None

    @property
    def key(self) -> str:
        """Identity of the position within a book: source, account and symbol."""
        return f"{self.source.value}:{self.account}:{self.symbol}"
