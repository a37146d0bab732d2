"""The shared pydantic base of every riskdash model: frozen, strict about keys, NaN-free."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["RiskdashModel"]

_NON_FINITE_TEXT = frozenset({"nan", "+nan", "-nan", "infinity", "+infinity", "-infinity", "inf", "+inf", "-inf"})


def _finite_or_none(value: Any) -> Any:
    # Vendors send "NaN"/"Infinity" (tastytrade strings, IBKR floats) where they have no value: that is a
    # missing value, never a number to compute with.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str) and value.strip().lower() in _NON_FINITE_TEXT:
        return None
    return value


class RiskdashModel(BaseModel):
    """Frozen model that rejects unknown keys and reads non-finite numbers as missing (None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _non_finite_to_none(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {key: _finite_or_none(value) for key, value in data.items()}
        return data
