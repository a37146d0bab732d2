"""LLM mode wired to the real catalog: the model's tool calls run the catalog's tools on the demo book.

The chat-completions server on 127.0.0.1 scripts the model; everything else (tools, prompt, fallback) is real.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from agent_tools.agent_config import SYSTEM_PROMPT
from agent_tools.catalog import all_tools, build_context, tool_named
from agent_tools.llm_loop import DATA_NOTE, assistant_run, offline_fallback
from agent_tools.registry import ToolContext
from config.risk_matrix import load_risk_matrix
from config.settings import Settings
from dashboard.book import demo_inputs
from tests.adapters.http_server import Reply
from tests.adapters.test_llm_client import BASE_PATH, KEY, ChatServer

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York
QUESTION = "Which regime are we in, and is any limit breached?"


def _completion(message: dict[str, Any], finish: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-catalog",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 900, "completion_tokens": 25, "total_tokens": 925},
    }


def _calls(*calls: tuple[str, str, dict[str, Any]]) -> Reply:
    tool_calls = [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
        for call_id, name, args in calls
    ]
    return Reply.json(_completion({"role": "assistant", "content": None, "tool_calls": tool_calls}, "tool_calls"))


ANSWER = Reply.json(_completion({"role": "assistant", "content": "Regime and limits are in the tool results."}, "stop"))


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    inputs = demo_inputs(NOW)
    return build_context(inputs.positions, inputs.market, load_risk_matrix(), NOW, inputs.rejected, demo=True)


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


def _settings(server: ChatServer, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_base_url": server.url + BASE_PATH,
        "llm_model": "gpt-4o-mini",
        "llm_api_key": SecretStr(KEY),
        "llm_timeout_s": 5.0,
    }
    return Settings(_env_file=None, **(values | overrides))


def test_catalog_tools_run_on_the_book_and_their_results_go_back(server: ChatServer, ctx: ToolContext) -> None:
    server.reply(
        _calls(("c1", "get_market_regime", {}), ("c2", "check_risk_limits", {})),
        _calls(("c3", "get_positions", {"underlying": "SPX", "limit": 3})),
        ANSWER,
    )
    run = assistant_run(QUESTION, ctx, _settings(server), stream=False)
    assert list(run) == ["Regime and limits are in the tool results."]
    assert not run.fell_back
    assert [r.name for r in run.tool_calls] == ["get_market_regime", "check_risk_limits", "get_positions"]
    sent = [json.loads(m["content"]) for m in server.bodies[2]["messages"] if m["role"] == "tool"]
    for record, result in zip(run.tool_calls, sent, strict=True):
        assert result == record.result == tool_named(record.name).call(ctx, record.arguments)
    assert sent[2]["matching_count"] == sum(p.underlying == "SPX" for p in ctx.positions)


def test_the_model_is_offered_every_catalog_tool_and_the_system_prompt(server: ChatServer, ctx: ToolContext) -> None:
    server.reply(ANSWER)
    list(assistant_run(QUESTION, ctx, _settings(server), stream=False))
    (body,) = server.bodies
    assert [t["function"]["name"] for t in body["tools"]] == [t.name for t in all_tools()]
    assert body["messages"][0]["content"] == f"{SYSTEM_PROMPT}\n\n{DATA_NOTE}"


def test_settings_bound_the_loop(server: ChatServer, ctx: ToolContext) -> None:
    server.reply(_calls(("c1", "get_market_regime", {})))
    run = assistant_run(QUESTION, ctx, _settings(server, llm_max_steps=2), stream=False)
    list(run)
    assert len(server.requests) == 2
    assert run.fell_back


def test_401_falls_back_to_the_offline_analyst_and_says_so(server: ChatServer, ctx: ToolContext) -> None:
    server.reply(Reply.json({"error": {"message": f"Incorrect API key provided: {KEY}"}}, status=401))
    run = assistant_run(QUESTION, ctx, _settings(server))
    chunks = list(run)
    assert run.fell_back
    assert "refused the API key (LLM_API_KEY): HTTP 401" in chunks[0]
    assert chunks[1] == offline_fallback(QUESTION, ctx)
    assert KEY not in run.text


def test_assistant_run_needs_an_endpoint(ctx: ToolContext) -> None:
    with pytest.raises(ValueError, match="LLM_BASE_URL and LLM_MODEL"):
        assistant_run(QUESTION, ctx, Settings(_env_file=None))


def test_offline_fallback_is_the_analysts_answer(ctx: ToolContext) -> None:
    from agent_tools.analyst import answer

    assert offline_fallback(QUESTION, ctx) == answer(QUESTION, ctx).text
