"""The chat-completions client against a real aiohttp server on 127.0.0.1: bodies, SSE, tool-call deltas, errors.

Fixtures are constructed in the OpenAI API reference shapes (tests/fixtures/llm/README.md).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from pydantic import SecretStr

from adapters.errors import AuthFailed, PayloadInvalid, SourceUnavailable
from adapters.llm_client import CHAT_PATH, ChatReply, LLMClient, LLMEndpoint, ToolCall, estimate_tokens
from config.settings import Settings
from tests.adapters.http_server import ReplayServer, Reply
from tests.conftest import fixture_path

KEY = "sk-fixture-SECRET-0123456789"
BASE_PATH = "/v1"
MESSAGES = [{"role": "user", "content": "What is the book's theta?"}]


class ChatServer(ReplayServer):
    """The project's ReplayServer that also keeps every JSON request body, to check what the client sent."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[Any] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        self.bodies.append(json.loads(raw) if raw else None)
        return await super()._handle(request)

    def __enter__(self) -> ChatServer:
        self.start()
        return self

    def reply(self, *replies: Reply) -> None:
        """Script the chat-completions path."""
        self.script("POST", BASE_PATH + CHAT_PATH, *replies)


def llm_reply(name: str, *, status: int = 200, delay_s: float = 0.0) -> Reply:
    """A fixture of tests/fixtures/llm as the server's answer (SSE files as text/event-stream)."""
    path = fixture_path("llm", name)
    if name.endswith(".sse"):
        headers = {"Content-Type": "text/event-stream"}
        return Reply(status=status, body=path.read_bytes(), headers=headers, delay_s=delay_s)
    return Reply.from_file(path, status=status, delay_s=delay_s)


def endpoint_for(server: ReplayServer, *, timeout_s: float = 5.0, key: str | None = KEY) -> LLMEndpoint:
    return LLMEndpoint(
        server.url + BASE_PATH, "gpt-4o-mini", SecretStr(key) if key is not None else None, timeout_s=timeout_s
    )


@pytest.fixture
def server() -> Iterator[ChatServer]:
    with ChatServer() as running:
        yield running


def _complete(server: ChatServer, *, stream: bool = False, timeout_s: float = 5.0, **kwargs: Any) -> ChatReply:
    client = LLMClient(endpoint_for(server, timeout_s=timeout_s))
    return asyncio.run(client.complete(MESSAGES, max_tokens=200, stream=stream, **kwargs))


def test_plain_answer_returns_text_finish_reason_and_usage_tokens(server: ChatServer) -> None:
    server.reply(llm_reply("answer_plain.json"))
    reply = _complete(server)
    assert reply.content == "The book's theta is in the book_totals result."
    assert (reply.finish_reason, reply.completion_tokens, reply.tokens_estimated) == ("stop", 18, False)
    assert reply.tool_calls == ()


def test_request_carries_model_messages_tools_max_tokens_and_bearer_key(server: ChatServer) -> None:
    server.reply(llm_reply("answer_plain.json"))
    tool = {"type": "function", "function": {"name": "book_totals", "description": "d", "parameters": {}}}
    client = LLMClient(endpoint_for(server))
    asyncio.run(client.complete(MESSAGES, [tool], max_tokens=321))
    body = server.bodies[0]
    assert (body["model"], body["messages"], body["tools"], body["max_tokens"]) == (
        "gpt-4o-mini",
        MESSAGES,
        [tool],
        321,
    )
    assert body["stream"] is False
    assert server.requests[0].headers["Authorization"] == f"Bearer {KEY}"


def test_no_key_sends_no_authorization_header(server: ChatServer) -> None:
    server.reply(llm_reply("answer_plain.json"))
    asyncio.run(LLMClient(endpoint_for(server, key=None)).complete(MESSAGES, max_tokens=10))
    assert "Authorization" not in server.requests[0].headers
    assert "tools" not in server.bodies[0]  # no tools offered: the field is left out, not sent empty


def test_parallel_tool_calls_keep_their_order_ids_and_argument_text(server: ChatServer) -> None:
    server.reply(llm_reply("tool_calls_parallel.json"))
    reply = _complete(server)
    assert reply.tool_calls == (
        ToolCall("call_bt1", "book_totals", "{}"),
        ToolCall("call_po1", "positions_of", '{"underlying": "SPX"}'),
    )
    assert reply.finish_reason == "tool_calls"


def test_arguments_sent_as_an_object_become_json_text(server: ChatServer) -> None:
    server.reply(llm_reply("tool_call_arguments_object.json"))
    (call,) = _complete(server).tool_calls
    assert json.loads(call.arguments) == {"underlying": "SPX"}


def test_assistant_message_round_trips_the_tool_calls(server: ChatServer) -> None:
    server.reply(llm_reply("tool_calls_parallel.json"))
    message = _complete(server).assistant_message()
    fixture = json.loads(fixture_path("llm", "tool_calls_parallel.json").read_text())["choices"][0]["message"]
    assert message["role"] == "assistant"
    assert message["content"] is None
    assert message["tool_calls"] == fixture["tool_calls"]


def test_streamed_text_arrives_piece_by_piece_and_whole(server: ChatServer) -> None:
    server.reply(llm_reply("stream_answer.sse"))
    pieces: list[str] = []
    reply = _complete(server, stream=True, on_text=pieces.append)
    assert pieces == ["Theta ", "is in ", "the book_totals ", "result."]
    assert reply.content == "Theta is in the book_totals result."
    assert reply.finish_reason == "stop"
    assert server.bodies[0]["stream"] is True


def test_streamed_answer_without_usage_estimates_tokens_from_the_text(server: ChatServer) -> None:
    server.reply(llm_reply("stream_answer.sse"))
    reply = _complete(server, stream=True)
    assert reply.tokens_estimated
    assert reply.completion_tokens == estimate_tokens("Theta is in the book_totals result.") == 9


def test_streamed_tool_call_deltas_are_assembled_by_index(server: ChatServer) -> None:
    server.reply(llm_reply("stream_tool_calls.sse"))
    pieces: list[str] = []
    reply = _complete(server, stream=True, on_text=pieces.append)
    assert reply.tool_calls == (
        ToolCall("call_bt1", "book_totals", "{}"),
        ToolCall("call_po1", "positions_of", '{"underlying": "SPX"}'),
    )
    assert (reply.finish_reason, reply.completion_tokens, reply.tokens_estimated) == ("tool_calls", 31, False)
    assert pieces == []


def test_streamed_name_repeated_in_every_delta_is_not_doubled(server: ChatServer) -> None:
    chunks = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "c1", "function": f}]}}]}
        for f in (
            {"name": "positions_of", "arguments": '{"underlying"'},
            {"name": "positions_of", "arguments": ': "X"}'},
        )
    ]
    body = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
    server.reply(Reply(body=body.encode(), headers={"Content-Type": "text/event-stream"}))
    (call,) = _complete(server, stream=True).tool_calls
    assert (call.name, json.loads(call.arguments)) == ("positions_of", {"underlying": "X"})


def test_malformed_sse_chunk_is_payload_invalid_naming_the_endpoint_and_chunk(server: ChatServer) -> None:
    server.reply(llm_reply("stream_malformed_chunk.sse"))
    with pytest.raises(PayloadInvalid, match=r"LLM endpoint http://127\.0\.0\.1:\d+/v1/chat/completions.*chunk 3"):
        _complete(server, stream=True)


def test_body_that_is_not_json_is_payload_invalid(server: ChatServer) -> None:
    server.reply(Reply(body=b"<html>gateway</html>", headers={"Content-Type": "text/html"}))
    with pytest.raises(PayloadInvalid, match=r"not JSON.*gateway"):
        _complete(server)


def test_answer_without_choices_is_payload_invalid_naming_the_field(server: ChatServer) -> None:
    server.reply(llm_reply("no_choices.json"))
    with pytest.raises(PayloadInvalid, match="choices") as caught:
        _complete(server)
    assert caught.value.field == "choices"


def test_401_is_auth_failed_naming_the_endpoint_and_never_the_key(server: ChatServer) -> None:
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}.", "code": "invalid_api_key"}}
    server.reply(Reply.json(echo, status=401))
    with pytest.raises(AuthFailed) as caught:
        _complete(server)
    message = str(caught.value)
    assert "HTTP 401" in message
    assert f"{server.url}/v1/chat/completions (model gpt-4o-mini)" in message
    assert KEY not in message
    assert "[redacted]" in message


def test_429_is_source_unavailable_with_retry_after(server: ChatServer) -> None:
    body = json.dumps({"error": {"message": "Rate limit reached"}}).encode()
    server.reply(Reply(status=429, body=body, headers={"Retry-After": "20"}))
    with pytest.raises(SourceUnavailable, match=r"rate limiting us: HTTP 429, retry after 20 s"):
        _complete(server)


def test_500_is_source_unavailable_with_the_server_message(server: ChatServer) -> None:
    server.reply(llm_reply("error_500.json", status=500))
    with pytest.raises(SourceUnavailable, match=r"answered HTTP 500.*server had an error"):
        _complete(server)


def test_error_object_with_status_200_is_source_unavailable(server: ChatServer) -> None:
    server.reply(Reply.json({"error": {"message": f"model overloaded for {KEY}"}}))
    with pytest.raises(SourceUnavailable, match="model overloaded") as caught:
        _complete(server)
    assert KEY not in str(caught.value)


def test_timeout_is_source_unavailable_naming_the_bound(server: ChatServer) -> None:
    server.reply(llm_reply("answer_plain.json", delay_s=2.0))
    with pytest.raises(SourceUnavailable, match=r"did not answer within 0\.3 s"):
        _complete(server, timeout_s=0.3)


def test_unreachable_endpoint_is_source_unavailable() -> None:
    with ReplayServer() as stopped:
        url = stopped.url
    client = LLMClient(LLMEndpoint(url, "m", SecretStr(KEY), timeout_s=2.0))
    with pytest.raises(SourceUnavailable, match=rf"LLM endpoint {url}/chat/completions") as caught:
        asyncio.run(client.complete(MESSAGES, max_tokens=5))
    assert KEY not in str(caught.value)


def test_errors_are_not_logged_with_the_key(server: ChatServer, caplog: pytest.LogCaptureFixture) -> None:
    server.reply(Reply.json({"error": {"message": f"bad key {KEY}"}}, status=401))
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthFailed):
        _complete(server)
    assert KEY not in caplog.text


def test_endpoint_from_settings_reads_the_llm_variables() -> None:
    settings = Settings(
        _env_file=None, llm_base_url="http://localhost:11434/v1/", llm_model="qwen2.5", llm_api_key=SecretStr(KEY)
    )
    endpoint = LLMEndpoint.from_settings(settings)
    assert endpoint.url == "http://localhost:11434/v1/chat/completions"
    assert (endpoint.model, endpoint.timeout_s) == ("qwen2.5", settings.llm_timeout_s)
    assert KEY not in repr(endpoint)


def test_endpoint_from_settings_without_url_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="LLM_BASE_URL and LLM_MODEL"):
        LLMEndpoint.from_settings(Settings(_env_file=None))


def test_key_cut_by_the_excerpt_limit_leaves_no_fragment(server: ChatServer) -> None:
    # The key starts 190 characters into the message, so a cut at 200 before redacting would leak its head.
    server.reply(Reply.json({"error": {"message": "x" * 190 + KEY}}, status=500))
    with pytest.raises(SourceUnavailable) as caught:
        _complete(server)
    assert KEY[:10] not in str(caught.value)
