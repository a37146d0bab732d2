"""Scenario tools: schemas from their models, strict JSON with as_of, and numbers that agree with the engine."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pytest

from agent_tools.registry import ToolArgumentError, ToolSpec, openai_schema
from agent_tools.scenario_tools import SCENARIO_TOOLS, book_net_liquidation_usd
from models.account import AccountValues
from risk_engine.stress import stress_grid
from tests.agent_tools.books import FROZEN, demo_context, spy_shares

TOOLS = {tool.name: tool for tool in SCENARIO_TOOLS}


def _no_nan(value: Any) -> None:
    if isinstance(value, float):
        assert math.isfinite(value)
    elif isinstance(value, dict):
        for item in value.values():
            _no_nan(item)
    elif isinstance(value, list):
        for item in value:
            _no_nan(item)


def test_the_three_scenario_tools_are_exported() -> None:
    assert list(TOOLS) == ["run_stress_test", "replay_historical_day", "get_var"]


@pytest.mark.parametrize("tool", SCENARIO_TOOLS, ids=lambda t: t.name)
def test_schema_is_generated_from_the_model_and_describes_every_field(tool: ToolSpec[Any]) -> None:
    parameters = openai_schema(tool)["function"]["parameters"]
    expected = tool.args_model.model_json_schema()
    expected.pop("title", None)
    assert parameters == expected
    for name, prop in parameters["properties"].items():
        assert prop.get("description"), f"{tool.name}.{name} has no description"
    with pytest.raises(ToolArgumentError, match=rf"{tool.name}: .*bogus"):
        tool.parse({"bogus": 1})


def test_stress_scenario_is_the_full_revaluation_and_splits_by_underlying() -> None:
    ctx = demo_context()
    result = TOOLS["run_stress_test"].call(ctx, {"index_move_pct": -7})
    json.dumps(result, allow_nan=False)
    _no_nan(result)
    assert result["as_of"] == ctx.report.as_of.isoformat()
    scenario = result["scenario"]
    assert scenario["pnl_usd"] == pytest.approx(sum(row["pnl_usd"] for row in scenario["by_underlying"]))
    # The same move is the grid's −7 % / IV unchanged / now cell, computed there over the whole grid.
    grid = stress_grid(ctx.report.arrays)
    cell = grid.pnl_usd[
        0, int(np.argmin(np.abs(grid.spot_shocks + 0.07))), int(np.flatnonzero(grid.vol_shocks == 0)[0])
    ]
    assert scenario["pnl_usd"] == pytest.approx(float(cell), rel=1e-9)
    assert scenario["pnl_usd"] < 0.0  # the demo book is long beta-weighted delta
    assert result["worst_cell"]["pnl_usd"] == pytest.approx(grid.worst.pnl_usd)
    assert "grid" not in result


def test_stress_grid_on_request() -> None:
    result = TOOLS["run_stress_test"].call(demo_context(), {"include_grid": True})
    assert "scenario" not in result
    assert np.array(result["grid"]["pnl_usd"]).shape == (3, 41, 11)
    assert result["grid"]["index_moves_pct"][0] == pytest.approx(-20.0)


def test_stress_rejects_an_impossible_move() -> None:
    with pytest.raises(ToolArgumentError, match="run_stress_test: index_move_pct"):
        TOOLS["run_stress_test"].call(demo_context(), {"index_move_pct": -150})


def test_replay_defaults_to_the_crash_days_and_flags_1987() -> None:
    ctx = demo_context()
    result = TOOLS["replay_historical_day"].call(ctx, {})
    json.dumps(result, allow_nan=False)
    assert result["as_of"] == ctx.report.as_of.isoformat()
    rows = result["replays"]
    assert len(rows) == 11
    assert rows[0]["date"] == "1987-10-19"
    assert rows[0]["iv_change_assumed"] is True
    assert rows[0]["index_move_pct"] == pytest.approx(-20.47, abs=0.005)
    assert not any(row["iv_change_assumed"] for row in rows[1:])


def test_replay_of_a_chosen_day_with_a_chosen_assumption() -> None:
    result = TOOLS["replay_historical_day"].call(demo_context(), {"date": "1987-10-19", "assumed_iv_change_pct": 250})
    (row,) = result["replays"]
    assert row["vix_change_pct"] == pytest.approx(250.0)


def test_replay_of_a_holiday_names_the_nearest_trading_days() -> None:
    with pytest.raises(ToolArgumentError, match=r"replay_historical_day: date: .*2024-12-24.*2024-12-26"):
        TOOLS["replay_historical_day"].call(demo_context(), {"date": "2024-12-25"})


def test_var_has_three_ordered_methods_with_window_and_paths() -> None:
    ctx = demo_context()
    result = TOOLS["get_var"].call(ctx, {"window_days": 250, "paths": 500, "seed": 5})
    json.dumps(result, allow_nan=False)
    _no_nan(result)
    assert result["as_of"] == ctx.report.as_of.isoformat()
    for method in ("historical", "parametric", "monte_carlo"):
        e = result[method]
        assert e["var99_usd"] >= e["var95_usd"]
        assert e["es95_usd"] >= e["var95_usd"]
        assert e["window_days"] == 250
    assert (result["monte_carlo"]["paths"], result["monte_carlo"]["seed"]) == (500, 5)


def _account(account: str, value: float | None, currency: str = "USD") -> AccountValues:
    return AccountValues(
        source="test", broker="IBKR", account=account, currency=currency, net_liquidation=value, as_of=FROZEN
    )


def test_net_liquidation_needs_every_holding_account_in_usd() -> None:
    positions = [spy_shares(10)]  # account T1
    assert book_net_liquidation_usd(positions, [_account("T1", 250_000.0), _account("T9", 1.0)]) == 250_000.0
    assert book_net_liquidation_usd(positions, [_account("T1", None)]) is None
    assert book_net_liquidation_usd(positions, [_account("T1", 1.0, "CHF")]) is None
    assert book_net_liquidation_usd(positions, []) is None
