"""The MCP server: `riskdash mcp` started as a subprocess and driven by the official `mcp` client over stdio.

Results are checked against the same tools called in-process on the demo book at the same instant, and
against figures taken straight from the demo positions and the risk report.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from agent_tools.catalog import all_tools, build_context, tool_named
from agent_tools.mcp_server import BookSnapshot, SnapshotUnavailable, call_tool, list_tools
from agent_tools.registry import ToolContext, openai_schema
from config.risk_matrix import load_risk_matrix
from dashboard.book import demo_inputs
from dashboard.cli import main
from dashboard.cli_mcp import BookRefresh

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York
REPO = Path(__file__).resolve().parents[2]
SERVER = StdioServerParameters(
    command=sys.executable, args=["-m", "dashboard.cli", "mcp", "--now", NOW.isoformat()], cwd=str(REPO)
)


def _demo_context() -> ToolContext:
    inputs = demo_inputs(NOW)
    return build_context(inputs.positions, inputs.market, load_risk_matrix(), NOW, inputs.rejected, demo=True)


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return _demo_context()


@pytest.fixture(scope="module")
def session_results() -> dict[str, Any]:
    """One subprocess session: list the tools, call two, call with bad arguments and an unknown tool."""

    async def drive() -> dict[str, Any]:
        async with Client(SERVER, read_timeout_seconds=60) as client:
            return {
                "tools": (await client.list_tools()).tools,
                "summary": await client.call_tool("get_portfolio_summary", {}),
                "spx": await client.call_tool("get_positions", {"underlying": "SPX", "limit": 500}),
                "bad": await client.call_tool("get_positions", {"underlying": "SPX", "bogus": 1}),
                "bad_type": await client.call_tool("get_positions", {"limit": "many"}),
                "unknown": await client.call_tool("place_order", {"symbol": "SPX"}),
                "after_errors": await client.call_tool("check_risk_limits", {}),
                "instructions": client.instructions,
            }

    return asyncio.run(drive())


def _text(result: types.CallToolResult) -> str:
    first = result.content[0]
    assert isinstance(first, types.TextContent)
    return first.text


def test_lists_every_catalog_tool_with_its_generated_schema(session_results: dict[str, Any]) -> None:
    listed = {tool.name: tool for tool in session_results["tools"]}
    assert list(listed) == [tool.name for tool in all_tools()]
    for spec in all_tools():
        assert listed[spec.name].input_schema == openai_schema(spec)["function"]["parameters"]
        assert listed[spec.name].description == spec.description
        assert listed[spec.name].annotations is not None
        assert listed[spec.name].annotations.read_only_hint is True


def test_summary_call_equals_the_tool_on_the_demo_book(session_results: dict[str, Any], ctx: ToolContext) -> None:
    result = session_results["summary"]
    assert not result.is_error
    expected = tool_named("get_portfolio_summary").call(ctx, {})
    assert result.structured_content == expected
    assert json.loads(_text(result)) == expected
    # Independent of the tool: the report's own book theta at the same instant.
    assert result.structured_content["totals"]["theta_usd_per_day"] == pytest.approx(
        ctx.report.totals.theta_per_day, rel=1e-12
    )
    assert result.structured_content["as_of"] == NOW.isoformat()


def test_filtered_positions_call_matches_the_demo_positions(session_results: dict[str, Any]) -> None:
    result = session_results["spx"]
    assert not result.is_error
    spx = [p for p in demo_inputs(NOW).positions if p.underlying == "SPX"]
    assert result.structured_content["matching_count"] == len(spx) > 0
    assert sorted(row["symbol"] for row in result.structured_content["positions"]) == sorted(p.symbol for p in spx)


@pytest.mark.parametrize(
    ("key", "said"),
    [
        pytest.param("bad", "bad arguments: get_positions: bogus: Extra inputs are not permitted", id="unknown-field"),
        pytest.param("bad_type", "bad arguments: get_positions: limit:", id="wrong-type"),
        pytest.param("unknown", "unknown tool 'place_order'", id="unknown-tool"),
    ],
)
def test_bad_calls_come_back_as_tool_errors(session_results: dict[str, Any], key: str, said: str) -> None:
    result = session_results[key]
    assert result.is_error
    assert said in _text(result)


def test_server_keeps_serving_after_errors(session_results: dict[str, Any], ctx: ToolContext) -> None:
    result = session_results["after_errors"]
    assert not result.is_error
    assert result.structured_content == tool_named("check_risk_limits").call(ctx, {})


def test_client_is_told_the_rules(session_results: dict[str, Any]) -> None:
    assert "read-only" in session_results["instructions"]


def test_call_tool_reports_an_unavailable_book_as_a_tool_error() -> None:
    def no_book() -> BookSnapshot:
        raise SnapshotUnavailable("IBKR: not configured (set IBKR_PORT in .env)")

    result = call_tool(all_tools(), no_book, "get_portfolio_summary", {})
    assert result.is_error
    assert _text(result) == "get_portfolio_summary: no book to compute on: IBKR: not configured (set IBKR_PORT in .env)"


def test_call_tool_appends_source_warnings(ctx: ToolContext) -> None:
    result = call_tool(all_tools(), lambda: BookSnapshot(ctx, ("Tastytrade: stale",)), "check_risk_limits", {})
    assert not result.is_error
    assert [c.text for c in result.content[1:] if isinstance(c, types.TextContent)] == ["warning: Tastytrade: stale"]


def test_listed_tools_match_the_catalog_in_process() -> None:
    assert [t.name for t in list_tools(all_tools())] == [t.name for t in all_tools()]


def test_mcp_command_refuses_a_missing_book_file(tmp_path: Path) -> None:
    import io

    err = io.StringIO()
    code = main(["mcp", "--source", "Imported file", "--file", str(tmp_path / "nope.xml")], err=err, now=NOW)
    assert code == 1
    assert "riskdash mcp: cannot read" in err.getvalue()
    assert "nope.xml" in err.getvalue()


def test_refresh_of_an_unconfigured_broker_is_unavailable_not_flat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.delenv("IBKR_PORT", raising=False)
    refresh = BookRefresh("IBKR", load_risk_matrix(), fixed_now=NOW)
    with pytest.raises(SnapshotUnavailable, match="IBKR_PORT"):
        refresh()


def test_refresh_computes_once_per_instant(ctx: ToolContext) -> None:
    refresh = BookRefresh("Demo", load_risk_matrix(), fixed_now=NOW)
    first = refresh()
    assert refresh() is first
    assert first.warnings == ()
    assert first.ctx.report.totals.theta_per_day == pytest.approx(ctx.report.totals.theta_per_day, rel=1e-12)
