"""A client for any OpenAI-compatible `/chat/completions` endpoint with tools (OpenAI, GitHub Models, Ollama, vLLM).

Owns the HTTP exchange only: request body, SSE streaming, assembling streamed tool-call deltas, and turning
every failure into an adapters.errors type that names the endpoint. It never runs tools and never logs the key.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from pydantic import SecretStr

from adapters.errors import AuthFailed, PayloadInvalid, SourceUnavailable
from config.settings import Settings

__all__ = [
    "CHAT_PATH",
    "ChatReply",
    "LLMClient",
    "LLMEndpoint",
    "ToolCall",
    "estimate_tokens",
]

CHAT_PATH: Final = "/chat/completions"
_BODY_EXCERPT_CHARS: Final = 200
_REDACTED: Final = "[redacted]"
# Used only to bound the loop when a server reports no `usage` (common when streaming): the usual
# rule of thumb of about four characters of English per token. It never reaches an answer.
_CHARS_PER_TOKEN_ESTIMATE: Final = 4


def estimate_tokens(text: str) -> int:
    """Approximate token count of `text` (≈ 4 characters per token), for bounding a loop only."""
    return (len(text) + _CHARS_PER_TOKEN_ESTIMATE - 1) // _CHARS_PER_TOKEN_ESTIMATE


@dataclass(frozen=True)
class ToolCall:
    """One function call the model asked for: its id, the tool name and the arguments exactly as sent (JSON text)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChatReply:
    """One assistant turn: its text, the tool calls it asks for, why it stopped, and its completion tokens.

    `completion_tokens` is the server's `usage.completion_tokens`, or an estimate from the text when the
    server reports none (`tokens_estimated` is then True).
    """

    content: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str | None
    completion_tokens: int
    tokens_estimated: bool

    def assistant_message(self) -> dict[str, Any]:
        """The turn as a chat-completions `assistant` message, to send back with the tool results."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        return message


@dataclass(frozen=True)
class LLMEndpoint:
    """Where and how to ask: base URL (up to `/v1`), model, optional key, and a per-request timeout in seconds."""

    base_url: str
    model: str
    api_key: SecretStr | None = None
    timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMEndpoint:
        """The endpoint configured by `LLM_BASE_URL`, `LLM_MODEL`, `LLM_API_KEY` and `LLM_TIMEOUT_S`.

        Raises:
            ValueError: LLM_BASE_URL or LLM_MODEL is not set.
        """
        if not settings.llm_configured:
            raise ValueError("LLM mode needs LLM_BASE_URL and LLM_MODEL in .env (LLM_API_KEY if the server wants one)")
        return cls(settings.llm_base_url, settings.llm_model, settings.llm_api_key, settings.llm_timeout_s)

    @property
    def url(self) -> str:
        """The full chat-completions URL, e.g. "https://api.openai.com/v1/chat/completions"."""
        return self.base_url.rstrip("/") + CHAT_PATH

    def redact(self, text: str) -> str:
        """`text` with the API key replaced, for any message built from a server's answer (some echo the key)."""
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        return text.replace(key, _REDACTED) if key else text


class LLMClient:
    """Chat completions with tools against one endpoint; one aiohttp session per request, no state between calls."""

    def __init__(self, endpoint: LLMEndpoint) -> None:
        self.endpoint = endpoint

    @property
    def where(self) -> str:
        """How errors name the endpoint: URL and model, never the key."""
        return f"LLM endpoint {self.endpoint.url} (model {self.endpoint.model})"

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] = (),
        *,
        max_tokens: int,
        stream: bool = False,
        on_text: Callable[[str], None] | None = None,
        timeout_s: float | None = None,
    ) -> ChatReply:
        """The model's next turn for `messages`, offering `tools` (OpenAI `tools[]` entries).

        Args:
            messages: The conversation so far, as chat-completions messages.
            tools: Function schemas the model may call; empty = a plain answer.
            max_tokens: Upper bound on completion tokens for this turn.
            stream: Ask for SSE chunks; text deltas go to `on_text` as they arrive.
            on_text: Called with each piece of answer text (streaming), or once with the whole text.
            timeout_s: Bound on the whole exchange in seconds (default: the endpoint's timeout).

        Raises:
            AuthFailed: HTTP 401 or 403.
            SourceUnavailable: Timeout, connection failure, HTTP 429 or any other non-2xx answer.
            PayloadInvalid: The body (or an SSE chunk) is not a chat-completions answer.
        """
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "stream": stream,
        }
        if tools:
            body["tools"] = list(tools)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if self.endpoint.api_key is not None:
            headers["Authorization"] = f"Bearer {self.endpoint.api_key.get_secret_value()}"
        timeout = aiohttp.ClientTimeout(total=timeout_s if timeout_s is not None else self.endpoint.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.endpoint.url, json=body, headers=headers) as response,
            ):
                if not 200 <= response.status < 300:
                    await self._raise_for_status(response)
                if stream:
                    return await self._read_stream(response, on_text)
                reply = self._parse_reply(await self._read_json(response))
        except TimeoutError as exc:
            raise SourceUnavailable(f"{self.where} did not answer within {timeout.total:g} s") from exc
        except aiohttp.ClientError as exc:
            raise SourceUnavailable(f"{self.where} failed: {self.endpoint.redact(str(exc))}") from exc
        if on_text is not None and reply.content:
            on_text(reply.content)
        return reply

    async def _raise_for_status(self, response: aiohttp.ClientResponse) -> None:
        status = response.status
        excerpt = self._error_text(await response.read())
        if status in (401, 403):
            raise AuthFailed(f"{self.where} refused the API key (LLM_API_KEY): HTTP {status}: {excerpt}")
        if status == 429:
            retry_after = response.headers.get("Retry-After")
            wait = f", retry after {retry_after} s" if retry_after else ""
            raise SourceUnavailable(f"{self.where} is rate limiting us: HTTP 429{wait}: {excerpt}")
        raise SourceUnavailable(f"{self.where} answered HTTP {status}: {excerpt}")

    def _error_text(self, raw: bytes) -> str:
        """What a failed answer says: its `error.message` when the body is OpenAI's error object, else an excerpt."""
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        error = payload.get("error") if isinstance(payload, Mapping) else None
        said = error.get("message") if isinstance(error, Mapping) else None
        text = said if isinstance(said, str) else " ".join(raw.decode("utf-8", "replace").split())
        return self.endpoint.redact(text)[:_BODY_EXCERPT_CHARS]

    async def _read_json(self, response: aiohttp.ClientResponse) -> Any:
        raw = await response.read()
        try:
            return json.loads(raw)
        except ValueError as exc:
            excerpt = self.endpoint.redact(raw.decode("utf-8", "replace"))[:_BODY_EXCERPT_CHARS]
            raise PayloadInvalid(f"{self.where} answered with a body that is not JSON: {excerpt!r}") from exc

    def _invalid(self, what: str, field: str) -> PayloadInvalid:
        return PayloadInvalid(f"{self.where}: {what}", field=field)

    def _parse_reply(self, payload: Any) -> ChatReply:
        """A non-streamed answer: `choices[0].message` plus `usage`."""
        if isinstance(payload, Mapping) and isinstance(payload.get("error"), Mapping):
            said = self.endpoint.redact(str(payload["error"].get("message", payload["error"])))
            raise SourceUnavailable(f"{self.where} returned an error: {said}")
        choice = self._first_choice(payload)
        message = choice.get("message")
        if not isinstance(message, Mapping):
            raise self._invalid("choices[0].message is missing", "choices[0].message")
        content: Any = message.get("content") or ""
        if not isinstance(content, str):
            raise self._invalid("choices[0].message.content is not text", "choices[0].message.content")
        calls = []
        for i, raw in enumerate(message.get("tool_calls") or []):
            function = raw.get("function") if isinstance(raw, Mapping) else None
            if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
                raise self._invalid(f"tool_calls[{i}] has no function name", f"choices[0].message.tool_calls[{i}]")
            arguments = function.get("arguments")
            # Some servers send arguments as an object rather than the JSON text OpenAI specifies.
            text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
            calls.append(ToolCall(id=str(raw.get("id") or f"call_{i}"), name=function["name"], arguments=text))
        return self._reply(content, tuple(calls), choice.get("finish_reason"), payload.get("usage"))

    def _first_choice(self, payload: Any) -> Mapping[str, Any]:
        choices = payload.get("choices") if isinstance(payload, Mapping) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise self._invalid("the answer has no choices[0]", "choices")
        choice: Mapping[str, Any] = choices[0]
        return choice

    @staticmethod
    def _reply(content: str, calls: tuple[ToolCall, ...], finish: Any, usage: Any) -> ChatReply:
        tokens = usage.get("completion_tokens") if isinstance(usage, Mapping) else None
        estimated = not isinstance(tokens, int)
        if not isinstance(tokens, int):
            tokens = estimate_tokens(content + "".join(c.name + c.arguments for c in calls))
        return ChatReply(content, calls, finish if isinstance(finish, str) else None, tokens, estimated)

    async def _read_stream(self, response: aiohttp.ClientResponse, on_text: Callable[[str], None] | None) -> ChatReply:
        """A streamed answer: SSE `data:` events, each a chunk whose `delta` adds text or tool-call pieces."""
        assembly = _StreamAssembly(self)
        data_lines: list[str] = []
        async for raw_line in response.content:
            line = raw_line.decode("utf-8", "replace").rstrip("\r\n")
            if line.startswith("data:"):
                data_lines.append(line[5:].removeprefix(" "))
                continue
            if line or not data_lines:
                continue  # comments (":"), "event:"/"id:" fields and keep-alive blank lines carry no data
            event, data_lines = "\n".join(data_lines), []
            if event.strip() == "[DONE]":
                break
            assembly.add(event, on_text)
        else:
            if data_lines and "\n".join(data_lines).strip() != "[DONE]":
                assembly.add("\n".join(data_lines), on_text)  # a last event without its blank line
        return assembly.reply()


class _StreamAssembly:
    """Text and tool calls of one streamed turn, assembled from deltas (tool calls by their `index`)."""

    def __init__(self, client: LLMClient) -> None:
        self._client = client
        self._text: list[str] = []
        self._calls: dict[int, dict[str, str]] = {}
        self._finish: str | None = None
        self._usage: Any = None
        self._chunks = 0

    def add(self, event: str, on_text: Callable[[str], None] | None) -> None:
        client = self._client
        self._chunks += 1
        try:
            chunk = json.loads(event)
        except ValueError as exc:
            excerpt = client.endpoint.redact(event)[:_BODY_EXCERPT_CHARS]
            raise PayloadInvalid(f"{client.where}: SSE chunk {self._chunks} is not JSON: {excerpt!r}") from exc
        if isinstance(chunk, Mapping) and isinstance(chunk.get("error"), Mapping):
            message = client.endpoint.redact(str(chunk["error"].get("message", chunk["error"])))
            raise SourceUnavailable(f"{client.where} returned an error mid-stream: {message}")
        if isinstance(chunk, Mapping) and chunk.get("usage"):
            self._usage = chunk["usage"]
        if isinstance(chunk, Mapping) and chunk.get("choices") == []:
            return  # the usage-only chunk some servers send last
        choice = client._first_choice(chunk)
        if isinstance(choice.get("finish_reason"), str):
            self._finish = choice["finish_reason"]
        delta = choice.get("delta") or {}
        if not isinstance(delta, Mapping):
            raise client._invalid(f"SSE chunk {self._chunks}: delta is not an object", "choices[0].delta")
        text = delta.get("content")
        if isinstance(text, str) and text:
            self._text.append(text)
            if on_text is not None:
                on_text(text)
        for position, piece in enumerate(delta.get("tool_calls") or []):
            self._add_call_piece(position, piece)

    def _add_call_piece(self, position: int, piece: Any) -> None:
        if not isinstance(piece, Mapping):
            raise self._client._invalid(f"SSE chunk {self._chunks}: a tool_calls entry is not an object", "tool_calls")
        # OpenAI numbers parallel calls with `index`; a server that omits it sends whole calls, one per entry.
        index = piece.get("index")
        slot = self._calls.setdefault(
            index if isinstance(index, int) else len(self._calls) + position, {"id": "", "name": "", "arguments": ""}
        )
        if isinstance(piece.get("id"), str) and piece["id"]:
            slot["id"] = piece["id"]
        function = piece.get("function") or {}
        name = function.get("name") if isinstance(function, Mapping) else None
        # The name arrives whole in the first delta (OpenAI) but some servers repeat it in every delta.
        if isinstance(name, str) and name and name != slot["name"]:
            slot["name"] += name
        arguments = function.get("arguments") if isinstance(function, Mapping) else None
        if isinstance(arguments, str):
            slot["arguments"] += arguments
        elif isinstance(arguments, Mapping):
            slot["arguments"] += json.dumps(arguments)

    def reply(self) -> ChatReply:
        if self._chunks == 0:
            raise self._client._invalid("the stream ended without a single data chunk", "stream")
        calls = []
        for i, index in enumerate(sorted(self._calls)):
            slot = self._calls[index]
            if not slot["name"]:
                raise self._client._invalid(f"streamed tool call {index} has no function name", "tool_calls")
            calls.append(ToolCall(id=slot["id"] or f"call_{i}", name=slot["name"], arguments=slot["arguments"]))
        return LLMClient._reply("".join(self._text), tuple(calls), self._finish, self._usage)
