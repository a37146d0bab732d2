"""The MCP server (official `mcp` SDK, stdio): every catalog tool for GitHub Copilot agent mode and other clients.

Owns the protocol only: listing the tools with their generated JSON schemas and turning each call (or its failure)
into an MCP tool result. The book comes from a snapshot source the caller supplies; nothing here fetches or computes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import anyio
import mcp_types as types
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server

from agent_tools.registry import ToolArgumentError, ToolContext, ToolSpec, openai_schema

__all__ = [
    "SERVER_NAME",
    "BookSnapshot",
    "SnapshotUnavailable",
    "build_server",
    "call_tool",
    "list_tools",
    "serve_stdio",
]

_log = logging.getLogger(__name__)

SERVER_NAME: Final = "riskdash"


class SnapshotUnavailable(RuntimeError):
    """No book can be served (every source failed); the message names the sources and why."""


@dataclass(frozen=True)
class BookSnapshot:
    """What one tool call computes on: the tools' context, and warnings about sources that failed or are stale."""

    ctx: ToolContext
    warnings: tuple[str, ...] = ()


SnapshotSource = Callable[[], BookSnapshot]
"""The current book for a tool call (may raise SnapshotUnavailable); called once per call, so it may cache."""


def list_tools(tools: Sequence[ToolSpec[Any]]) -> list[types.Tool]:
    """MCP `Tool`s for `tools`: name, description, and the JSON schema generated from each argument model."""
    listed = []
    for tool in tools:
        schema = openai_schema(tool)["function"]["parameters"]
        hints = types.ToolAnnotations(read_only_hint=True, destructive_hint=False, open_world_hint=False)
        listed.append(types.Tool(name=tool.name, description=tool.description, input_schema=schema, annotations=hints))
    return listed


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def call_tool(
    tools: Sequence[ToolSpec[Any]],
    snapshot: SnapshotSource,
    name: str,
    arguments: Mapping[str, Any] | None,
) -> types.CallToolResult:
    """The MCP result of calling tool `name`: its JSON result (text and structured), or an error result.

    Bad arguments, an unknown tool, an unavailable book or a failing tool come back as `is_error` results
    naming the tool and the problem, so the client's model can correct itself; the server never crashes.
    """
    by_name = {tool.name: tool for tool in tools}
    tool = by_name.get(name)
    if tool is None:
        return _error(f"unknown tool {name!r}; tools: {', '.join(by_name)}")
    try:
        args = tool.parse(arguments)
    except ToolArgumentError as exc:
        return _error(f"bad arguments: {exc}")
    try:
        current = snapshot()
    except SnapshotUnavailable as exc:
        return _error(f"{name}: no book to compute on: {exc}")
    try:
        result = tool.run(current.ctx, args)
        text = json.dumps(result, allow_nan=False)
    except Exception as exc:
        # A tool bug must not take the server (and the client's session) down with it.
        _log.exception("MCP tool %s failed", name)
        return _error(f"{name} failed: {type(exc).__name__}: {exc}")
    content = [types.TextContent(type="text", text=text)]
    content += [types.TextContent(type="text", text=f"warning: {warning}") for warning in current.warnings]
    return types.CallToolResult(content=list(content), structured_content=result)


def build_server(
    tools: Sequence[ToolSpec[Any]],
    snapshot: SnapshotSource,
    *,
    instructions: str | None = None,
    version: str = "",
) -> Server[Any]:
    """A low-level MCP `Server` listing `tools` and calling them on `snapshot()` in a worker thread.

    Args:
        tools: The catalog (agent_tools.catalog.all_tools()).
        snapshot: The current book for each call.
        instructions: What the client's model is told about the server (agent_config.SYSTEM_PROMPT).
        version: Reported server version.
    """
    listed = list_tools(tools)
    frozen = tuple(tools)

    async def on_list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=listed)

    async def on_call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        # The engine is synchronous numpy: run it off the event loop so pings and cancellations still flow.
        result: types.CallToolResult = await anyio.to_thread.run_sync(
            call_tool, frozen, snapshot, params.name, params.arguments
        )
        return result

    return Server(
        SERVER_NAME,
        version=version,
        title="riskdash — options risk (read-only)",
        instructions=instructions,
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve `server` over this process's stdin/stdout until the client closes the connection."""
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
