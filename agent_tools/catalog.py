"""The assistant's tool catalog: every tool by name, their OpenAI schemas, and the context they read.

The one list the offline analyst, the LLM loop and the MCP server all draw from, so they offer the same tools.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from adapters.results import RejectedRow
from agent_tools.adjustments import ADJUSTMENT_TOOLS
from agent_tools.registry import ToolContext, ToolSpec, openai_schema
from agent_tools.tools_book import BOOK_TOOLS
from agent_tools.tools_limits import LIMITS_TOOLS
from agent_tools.tools_market import MARKET_TOOLS
from agent_tools.tools_move import MOVE_TOOLS
from agent_tools.whatif_tool import WHATIF_TOOLS
from config.risk_matrix import RiskMatrix
from models.account import AccountValues
from models.market import MarketSnapshot
from models.positions import UnifiedPosition
from risk_engine.report import build_risk_report

__all__ = ["all_tools", "build_context", "scenario_tools", "tool_named", "tool_schemas"]

_CORE: tuple[ToolSpec[Any], ...] = (
    *BOOK_TOOLS[:1],
    *LIMITS_TOOLS[:1],
    *MARKET_TOOLS[:1],
    *BOOK_TOOLS[1:],
    *MARKET_TOOLS[1:],
    *LIMITS_TOOLS[1:],
    *ADJUSTMENT_TOOLS,
    *WHATIF_TOOLS,
    *MOVE_TOOLS,
)


def scenario_tools() -> tuple[ToolSpec[Any], ...]:
    """agent_tools.scenario_tools.SCENARIO_TOOLS when that module is installed and imports, else ()."""
    try:
        module = importlib.import_module("agent_tools.scenario_tools")
    except ImportError:
        return ()
    tools = getattr(module, "SCENARIO_TOOLS", ())
    return tuple(t for t in tools if isinstance(t, ToolSpec))


def all_tools() -> tuple[ToolSpec[Any], ...]:
    """Every tool, core first then scenario tools; a scenario tool never shadows a core tool's name."""
    names = {t.name for t in _CORE}
    return (*_CORE, *(t for t in scenario_tools() if t.name not in names))


def tool_named(name: str) -> ToolSpec[Any]:
    """The tool called `name`; KeyError lists the known names."""
    for tool in all_tools():
        if tool.name == name:
            return tool
    raise KeyError(f"no tool {name!r} (tools: {', '.join(t.name for t in all_tools())})")


def tool_schemas() -> list[dict[str, Any]]:
    """The OpenAI chat-completions `tools[]` entries of every tool, generated from their argument models."""
    return [openai_schema(t) for t in all_tools()]


def build_context(
    positions: Sequence[UnifiedPosition],
    market: MarketSnapshot,
    matrix: RiskMatrix,
    now: datetime,
    rejected: Sequence[RejectedRow] = (),
    accounts: Sequence[AccountValues] = (),
    *,
    demo: bool | None = None,
) -> ToolContext:
    """The ToolContext of one refresh: the risk report of `positions` under `market` at `now`, plus its inputs.

    Args:
        positions: The book.
        market: The market snapshot of the same refresh.
        matrix: The validated risk matrix.
        now: Valuation instant, tz-aware.
        rejected: Rows the adapters could not translate (reported, never priced).
        accounts: Margin figures per account, when known.
        demo: Override of the report's demo flag (default: the snapshot's).
    """
    report = build_risk_report(positions, market, matrix, now)
    if demo is not None and demo != report.demo:
        report = replace(report, demo=demo)
    return ToolContext(
        report=report,
        matrix=matrix,
        market=market,
        positions=tuple(positions),
        rejected=tuple(rejected),
        now=now,
        accounts=tuple(accounts),
    )
