"""`TradeLeg`: one leg of a hypothetical trade for the pre-trade (what-if) check. Nothing here places orders."""

from __future__ import annotations

from datetime import date

from pydantic import Field, model_validator

from models.base import RiskdashModel
from models.positions import ExerciseStyle, InstrumentKind, Right

__all__ = ["TradeLeg"]


class TradeLeg(RiskdashModel):
    """A hypothetical leg: shares when `expiry`, `strike` and `right` are all absent, an option otherwise.

    Contract terms left out (kind, multiplier, exercise style, settlement, IV) are taken from the book's own
    positions on the same underlying (see risk_engine.whatif); `root` picks a class such as SPXW vs SPX.
    """

    underlying: str = Field(min_length=1)
    quantity: float = Field(description="signed: + buy, − sell (contracts or shares)")
    expiry: date | None = None
    strike: float | None = Field(default=None, gt=0)
    right: Right | None = None
    root: str | None = None
    iv: float | None = Field(default=None, gt=0, le=10, description="decimal (0.25 = 25 vol)")
    kind: InstrumentKind | None = None
    multiplier: float | None = Field(default=None, gt=0)
    exercise_style: ExerciseStyle | None = None
    account: str = "WHAT-IF"

    @model_validator(mode="after")
    def _complete_option_terms(self) -> TradeLeg:
        given = [name for name in ("expiry", "strike", "right") if getattr(self, name) is not None]
        if given and len(given) != 3:
            missing = sorted({"expiry", "strike", "right"} - set(given))
            raise ValueError(f"{self.underlying} option leg is missing {', '.join(missing)}")
        if self.quantity == 0:
            raise ValueError(f"{self.underlying} leg has quantity 0")
        return self

    @property
    def is_option(self) -> bool:
        """True when the leg names an expiry, strike and right."""
        return self.expiry is not None
