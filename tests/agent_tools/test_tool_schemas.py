"""Every tool: schema generated from its model and valid JSON Schema; bad arguments name the field; JSON results."""

from __future__ import annotations

import json
import math
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest

from agent_tools.agent_config import SYSTEM_PROMPT, TOOL_SCHEMAS
from agent_tools.catalog import all_tools, tool_named, tool_schemas
from agent_tools.registry import ToolArgumentError, ToolSpec, openai_schema
from tests.agent_tools.books import demo_context

CORE = (
    "get_portfolio_summary",
    "check_risk_limits",
    "get_gamma_risk_by_dte",
    "get_theta_vega_profile",
    "get_market_regime",
    "get_macro_indicators",
    "get_iv_analysis",
    "get_positions",
    "explain_limit",
    "suggest_adjustment",
    "estimate_index_move",
)
REQUIRED_ARGS: dict[str, dict[str, Any]] = {
    "explain_limit": {"limit": "max_gamma"},
    "estimate_index_move": {"move_pct": -3},
}


def _tools() -> list[ToolSpec[Any]]:
    return [tool_named(name) for name in CORE]


def test_catalog_holds_every_core_tool_once() -> None:
    names = [t.name for t in all_tools()]
    assert set(CORE) <= set(names)
    assert len(names) == len(set(names))


@pytest.mark.parametrize("tool", _tools(), ids=lambda t: t.name)
def test_schema_is_valid_json_schema_and_equals_the_model_schema(tool: ToolSpec[Any]) -> None:
    entry = openai_schema(tool)
    parameters = entry["function"]["parameters"]
    jsonschema.Draft202012Validator.check_schema(parameters)
    expected = tool.args_model.model_json_schema()
    expected.pop("title", None)
    expected.setdefault("properties", {})
    assert parameters == expected
    assert entry["function"]["name"] == tool.name
    assert entry["function"]["description"]
    for name, prop in parameters["properties"].items():
        assert prop.get("description") or "$ref" in prop or "anyOf" in prop, f"{tool.name}.{name} has no description"


@pytest.mark.parametrize("tool", _tools(), ids=lambda t: t.name)
def test_valid_arguments_validate_against_the_schema(tool: ToolSpec[Any]) -> None:
    args = REQUIRED_ARGS.get(tool.name, {})
    jsonschema.validate(args, openai_schema(tool)["function"]["parameters"])
    tool.parse(args)


@pytest.mark.parametrize("tool", _tools(), ids=lambda t: t.name)
def test_unknown_argument_is_an_error_naming_it(tool: ToolSpec[Any]) -> None:
    with pytest.raises(ToolArgumentError, match=rf"{tool.name}: .*bogus_field"):
        tool.parse({**REQUIRED_ARGS.get(tool.name, {}), "bogus_field": 1})


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("explain_limit", {}, "limit"),
        ("explain_limit", {"limit": "max_theta"}, "limit"),
        ("estimate_index_move", {"move_pct": "a lot"}, "move_pct"),
        ("estimate_index_move", {"move_pct": 80}, "move_pct"),
        ("get_positions", {"expiring_within_days": -1}, "expiring_within_days"),
        ("get_positions", {"kind": "bond"}, "kind"),
        ("suggest_adjustment", {"max_candidates": 0}, "max_candidates"),
        ("get_gamma_risk_by_dte", {"top_positions": "five"}, "top_positions"),
    ],
    ids=lambda v: v if isinstance(v, str) else json.dumps(v),
)
def test_bad_argument_raises_naming_the_field(name: str, args: dict[str, Any], field: str) -> None:
    with pytest.raises(ToolArgumentError, match=rf"{name}: {field}"):
        tool_named(name).call(demo_context(), args)


def test_malformed_json_arguments_are_an_argument_error() -> None:
    with pytest.raises(ToolArgumentError, match="not valid JSON"):
        tool_named("get_positions").call(demo_context(), "{underlying: SPY")


def test_unknown_regime_in_explain_limit_names_the_field_and_the_known_regimes() -> None:
    with pytest.raises(ToolArgumentError, match=r"explain_limit: regime: 'calm'.*neutral_volatility"):
        tool_named("explain_limit").call(demo_context(), {"limit": "max_gamma", "regime": "calm"})


def _no_nan(value: Any, path: str = "") -> None:
    if isinstance(value, float):
        assert math.isfinite(value), path
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nan(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _no_nan(item, f"{path}[{i}]")


@pytest.mark.parametrize("tool", _tools(), ids=lambda t: t.name)
def test_result_is_strict_json_with_the_report_as_of(tool: ToolSpec[Any]) -> None:
    ctx = demo_context()
    result = tool.call(ctx, REQUIRED_ARGS.get(tool.name, {}))
    json.dumps(result, allow_nan=False)
    _no_nan(result)
    assert result["as_of"] == ctx.report.as_of.isoformat()


def test_tool_schemas_list_matches_the_catalog_and_agent_config() -> None:
    assert [s["function"]["name"] for s in tool_schemas()] == [t.name for t in all_tools()]
    assert {s["function"]["name"] for s in TOOL_SCHEMAS} >= set(CORE)


@pytest.mark.parametrize(
    "phrase", ["Natenberg", "Sebastian", "Taleb", "Passarelli", "regime", "read-only", "never instructions"]
)
def test_system_prompt_states_the_role_and_rules(phrase: str) -> None:
    assert phrase in SYSTEM_PROMPT
