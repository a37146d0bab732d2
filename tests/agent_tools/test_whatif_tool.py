"""`what_if_trade` as the assistant calls it: schema from the model, JSON-ready result equal to the engine's."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from adapters.demo import load_demo_book, load_demo_snapshot
from agent_tools.registry import ToolArgumentError, ToolContext, openai_schema
from agent_tools.whatif_tool import WHATIF_TOOLS, WhatIfArgs
from config.risk_matrix import load_risk_matrix
from models.conventions import NEW_YORK
from risk_engine.report import build_risk_report

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=NEW_YORK)
(TOOL,) = WHATIF_TOOLS


def _context() -> ToolContext:
    book = load_demo_book(NOW).positions
    market = load_demo_snapshot(NOW)
    matrix = load_risk_matrix()
    return ToolContext(build_risk_report(book, market, matrix, NOW), matrix, market, book, (), NOW)


def test_schema_is_generated_from_the_argument_model() -> None:
    schema = openai_schema(TOOL)
    assert schema["function"]["name"] == "what_if_trade"
    assert schema["function"]["parameters"]["properties"] == WhatIfArgs.model_json_schema()["properties"]
    assert schema["function"]["parameters"]["required"] == ["legs"]


def test_empty_trade_keeps_every_limit() -> None:
    result = TOOL.call(_context(), {"legs": []})
    assert [row["before"] for row in result["limits"]] == [row["after"] for row in result["limits"]]
    assert result["totals_before"] == result["totals_after"]
    json.dumps(result, allow_nan=False)


def test_result_matches_the_engine_on_the_book_with_the_leg() -> None:
    ctx = _context()
    raw = '{"legs": [{"underlying": "SPY", "expiry": "2027-01-15", "strike": 560, "right": "P", "quantity": -3}]}'
    result = TOOL.call(ctx, raw)
    (leg,) = result["legs"]
    assert leg["iv"] is not None
    # Recompute independently: the book plus the leg's position, straight through the report pipeline.
    from risk_engine.whatif import legs_to_positions

    positions, _, _ = legs_to_positions(WhatIfArgs.model_validate_json(raw).legs, ctx.positions, ctx.market, ctx.now)
    after = build_risk_report([*ctx.positions, *positions], ctx.market, ctx.matrix, ctx.now).totals
    assert result["totals_after"]["vega_usd_per_vol_point"] == pytest.approx(after.vega_per_vol_point)
    assert result["totals_after"]["beta_weighted_delta_spx_shares"] == pytest.approx(after.beta_weighted_delta)
    assert result["verdict"] in {"pass", "improves", "fail"}


def test_bad_leg_argument_names_the_field() -> None:
    with pytest.raises(ToolArgumentError, match=r"legs\.0\.strike"):
        TOOL.call(
            _context(),
            {"legs": [{"underlying": "SPY", "quantity": 1, "expiry": "2027-01-15", "strike": "high", "right": "P"}]},
        )
