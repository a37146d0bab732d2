"""`AccountValues`: the margin picture of one broker account (IBKR account values, tastytrade balances)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from models.base import RiskdashModel

__all__ = ["AccountValues"]


class AccountValues(RiskdashModel):
    """Net liquidation and margin figures of one account, in `currency`; None where the broker sent nothing.

    `cushion` is excess liquidity / net liquidation as a fraction (IBKR's definition), not a percentage.
    """

    source: str = Field(min_length=1)
    broker: str = Field(min_length=1)
    account: str = Field(min_length=1)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    net_liquidation: float | None = None
    excess_liquidity: float | None = None
    maintenance_margin: float | None = None
    buying_power: float | None = None
    cushion: float | None = None
    as_of: datetime

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("as_of must be timezone-aware")
        return value
