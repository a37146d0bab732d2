"""What a fetch returns: the positions it could translate, the rows it could not (and why), and freshness."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

from pydantic import Field, ValidationError

from adapters.errors import PayloadInvalid
from models.account import AccountValues
from models.base import RiskdashModel
from models.market import UnderlyingMarket
from models.positions import UnifiedPosition

__all__ = ["FetchResult", "RejectedRow", "translate_rows"]

RowT = TypeVar("RowT")


class RejectedRow(RiskdashModel):
    """A row that could not become a position: which source, which row, which field, and why."""

    source: str
    row: str
    field: str
    reason: str


class FetchResult(RiskdashModel):
    """Positions from one source at one instant; `stale` results are the last good ones, kept on failure.

    Brokers also report account values and per-underlying market data they know (spot, IV, IV rank, beta,
    HV30, dividend yield from tastytrade's market metrics, say); file imports and the demo leave them empty.
    """

    source: str
    positions: tuple[UnifiedPosition, ...]
    rejected: tuple[RejectedRow, ...] = ()
    fetched_at: datetime
    demo: bool = False
    stale: bool = False
    stale_since: datetime | None = None
    error: str | None = None
    notes: tuple[str, ...] = Field(default=())
    accounts: tuple[AccountValues, ...] = ()
    underlyings: dict[str, UnderlyingMarket] = Field(default_factory=dict)


def _field_of(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return ".".join(str(part) for part in first["loc"]) or "(row)"


def translate_rows(
    source: str,
    rows: Iterable[tuple[str, RowT]],
    to_position: Callable[[RowT], UnifiedPosition],
) -> tuple[list[UnifiedPosition], list[RejectedRow]]:
    """Positions translated row by row, plus one RejectedRow (row id, field, reason) for each row that fails.

    Args:
        source: Name of the source, for the rejected rows.
        rows: (row id, raw row) pairs; the row id is what a person uses to find the row (line, index, symbol).
        to_position: The adapter's pure translator.
    """
    positions: list[UnifiedPosition] = []
    rejected: list[RejectedRow] = []
    for row_id, raw in rows:
        try:
            positions.append(to_position(raw))
        except PayloadInvalid as exc:
            rejected.append(RejectedRow(source=source, row=row_id, field=exc.field or "(row)", reason=str(exc)))
        except ValidationError as exc:
            reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors())
            rejected.append(RejectedRow(source=source, row=row_id, field=_field_of(exc), reason=reason))
    return positions, rejected
