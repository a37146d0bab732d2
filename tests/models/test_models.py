"""UnifiedPosition and MarketSnapshot validation: errors name the field, NaN is missing, instants are tz-aware."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from models.conventions import NEW_YORK, SettlementTime, dte_days, expiry_instant, t_years
from models.market import MarketSnapshot, Quote
from models.positions import UnifiedPosition

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _option(**overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": "ibkr",
        "broker": "IBKR",
        "account": "U1",
        "symbol": "SPY   261218P00600000",
        "kind": "equity_option",
        "underlying": "SPY",
        "quantity": -2,
        "multiplier": "100",
        "expiry": expiry_instant(date(2026, 12, 18)),
        "strike": 600,
        "right": "P",
        "exercise_style": "american",
        "settlement": "PM",
        "as_of": NOW,
    }
    return row | overrides


def _field_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    return ".".join(str(part) for part in exc.value.errors()[0]["loc"])


def test_option_row_translates_with_signed_quantity_and_float_multiplier() -> None:
    position = UnifiedPosition(**_option())
    assert (position.quantity, position.multiplier, position.dte) == (-2.0, 100.0, 25)


@pytest.mark.parametrize("missing", ["expiry", "strike", "right", "exercise_style", "settlement"])
def test_option_without_its_terms_is_rejected_naming_them(missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        UnifiedPosition(**_option(**{missing: None}))


def test_naive_expiry_is_rejected() -> None:
    with pytest.raises(ValidationError) as exc:
        UnifiedPosition(**_option(expiry=datetime(2026, 12, 18, 16)))
    assert _field_of(exc) == "expiry"


@pytest.mark.parametrize("bad", [0, -100], ids=["zero", "negative"])
def test_multiplier_must_be_positive(bad: float) -> None:
    with pytest.raises(ValidationError) as exc:
        UnifiedPosition(**_option(multiplier=bad))
    assert _field_of(exc) == "multiplier"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-inf"], ids=["nan", "infinity", "minus-inf"])
def test_non_finite_vendor_values_become_missing(text: str) -> None:
    assert UnifiedPosition(**_option(iv=text)).iv is None


def test_unknown_keys_are_rejected() -> None:
    with pytest.raises(ValidationError, match="direction"):
        UnifiedPosition(**_option(direction="Short"))


def test_stock_cannot_carry_option_terms() -> None:
    with pytest.raises(ValidationError, match="strike"):
        UnifiedPosition(**_option(kind="stock", expiry=None, right=None, exercise_style=None, settlement=None))


def test_am_and_pm_settlement_instants_in_new_york() -> None:
    am = expiry_instant(date(2026, 12, 18), SettlementTime.AM)
    pm = expiry_instant(date(2026, 12, 18), SettlementTime.PM)
    assert (am.astimezone(NEW_YORK).hour, am.astimezone(NEW_YORK).minute) == (9, 30)
    assert (pm - am).total_seconds() == 6.5 * 3600
    assert am.utcoffset() is not None


def test_t_years_counts_seconds_across_a_dst_change() -> None:
    # 2026-11-01 02:00 New York falls back one hour: 24 wall-clock hours are 25 real hours.
    start = datetime(2026, 10, 31, 16, 0, tzinfo=NEW_YORK)
    end = datetime(2026, 11, 1, 16, 0, tzinfo=NEW_YORK)
    assert t_years(end, start) * 365 * 24 == pytest.approx(25.0)
    assert dte_days(end, start) == 1


def test_snapshot_recession_probability_must_be_a_probability() -> None:
    with pytest.raises(ValidationError, match="recession_prob"):
        MarketSnapshot(recession_prob=Quote(value=40.0, source="polymarket", as_of=NOW), as_of=NOW)
