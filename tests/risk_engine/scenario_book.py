"""Hand-built PositionArrays for the scenario tests: one row per dict, riskdash units, defaults for the rest."""

from __future__ import annotations

from typing import Any

import numpy as np

from risk_engine.arrays import PositionArrays

_DEFAULTS: dict[str, Any] = {
    "underlying": "XYZ",
    "kind": "OPTION",
    "is_call": True,
    "is_black76": False,
    "is_american": False,
    "quantity": 1.0,
    "multiplier": 100.0,
    "strike": 100.0,
    "t_years": 0.25,
    "spot": 100.0,
    "iv": 0.2,
    "rate": 0.04,
    "div_yield": 0.0,
    "beta": 1.0,
    "priced": True,
}


def book(*rows: dict[str, Any], spx: float = 5000.0) -> PositionArrays:
    """PositionArrays of `rows`; a row with kind "STOCK" is a linear position (no strike, IV or expiry)."""
    filled = [_DEFAULTS | row for row in rows]
    is_option = np.array([r["kind"] != "STOCK" for r in filled])

    def column(name: str, dtype: Any = np.float64) -> Any:
        return np.array([r[name] for r in filled], dtype=dtype)

    n = len(filled)
    nan = np.full(n, np.nan)
    is_call = column("is_call", bool) & is_option
    return PositionArrays(
        keys=tuple(f"row{i}" for i in range(n)),
        underlying=column("underlying", np.str_),
        account=np.full(n, "ACCT", dtype=np.str_),
        broker=np.full(n, "BROKER", dtype=np.str_),
        source=np.full(n, "demo", dtype=np.str_),
        kind=column("kind", np.str_),
        is_option=is_option,
        is_call=is_call,
        cp=np.where(is_option, np.where(is_call, 1.0, -1.0), 0.0),
        is_black76=column("is_black76", bool),
        is_american=column("is_american", bool) & is_option,
        quantity=column("quantity"),
        multiplier=column("multiplier"),
        strike=np.where(is_option, column("strike"), np.nan),
        t_years=np.where(is_option, column("t_years"), np.nan),
        dte_days=np.zeros(n, dtype=np.int64),
        has_expiry=is_option,
        spot=column("spot"),
        iv=np.where(is_option, column("iv"), np.nan),
        rate=column("rate"),
        div_yield=column("div_yield"),
        beta=column("beta"),
        beta_source=np.full(n, "config", dtype=np.str_),
        spx=spx,
        mark=nan,
        broker_iv=nan,
        broker_delta=nan,
        broker_gamma=nan,
        broker_theta=nan,
        broker_vega=nan,
        priced=column("priced", bool),
        issues=tuple(() if r["priced"] else ("missing input",) for r in filled),
        assumptions=tuple(() for _ in filled),
    )
