"""A real aiohttp server on 127.0.0.1 (port 0) that replays recorded payloads and scripted failures.

HTTP adapters are tested against it instead of patching their internals. It runs its own event loop in a
daemon thread, so a synchronous adapter call (which blocks the test's thread) still gets its answers.

    with ReplayServer() as server:
        server.script("GET", "/public-search", Reply.from_file(path), Reply(status=500))
        settings = Settings(_env_file=None, polymarket_gamma_url=server.url)
        ...
        assert server.requests[0].query["q"] == "recession"

Replies for one (method, path) are served in order; the last one repeats. An unscripted path answers 404
with a body that names it, and is recorded like every other request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from aiohttp import web

__all__ = ["RecordedRequest", "ReplayServer", "Reply"]

_START_TIMEOUT_S: Final = 5.0
_STOP_TIMEOUT_S: Final = 5.0
# A scripted delay longer than the client's timeout leaves a handler sleeping after the client gave up;
# handler cancellation plus a short shutdown lets the server stop at once instead of waiting it out.
_SHUTDOWN_TIMEOUT_S: Final = 0.5


@dataclass(frozen=True)
class Reply:
    """One scripted answer: status, body bytes, headers, and how long to sleep before answering (seconds)."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    @classmethod
    def json(cls, payload: Any, *, status: int = 200, delay_s: float = 0.0) -> Reply:
        """A JSON answer built from `payload`."""
        body = json.dumps(payload).encode("utf-8")
        return cls(status=status, body=body, headers={"Content-Type": "application/json"}, delay_s=delay_s)

    @classmethod
    def from_file(cls, path: Path, *, status: int = 200, delay_s: float = 0.0) -> Reply:
        """A recorded body replayed byte for byte (a fixture file), served as JSON."""
        if not path.exists():
            raise FileNotFoundError(f"recording {path} is missing: see the README next to it for how it was made")
        return cls(
            status=status,
            body=path.read_bytes(),
            headers={"Content-Type": "application/json"},
            delay_s=delay_s,
        )


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received: method, path, query parameters and headers."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]


class ReplayServer:
    """A real HTTP server on 127.0.0.1 with an OS-chosen port, answering from a script of `Reply`s."""

    def __init__(self) -> None:
        self._scripts: dict[tuple[str, str], list[Reply]] = {}
        self._served: dict[tuple[str, str], int] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._port: int | None = None

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. "http://127.0.0.1:54321" (no trailing slash)."""
        if self._port is None:
            raise RuntimeError("ReplayServer is not running: use it as a context manager or call start()")
        return f"http://127.0.0.1:{self._port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    def script(self, method: str, path: str, *replies: Reply) -> None:
        """Answer `method path` with `replies` in order, repeating the last; replaces any earlier script."""
        if not replies:
            raise ValueError(f"script for {method} {path} needs at least one Reply")
        with self._lock:
            self._scripts[(method.upper(), path)] = list(replies)
            self._served[(method.upper(), path)] = 0

    def start(self) -> None:
        """Start listening on 127.0.0.1 at a free port chosen by the OS."""
        if self._loop is not None:
            raise RuntimeError("ReplayServer is already running")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="replay-server", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            asyncio.run_coroutine_threadsafe(self._serve(), loop).result(timeout=_START_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the server, its loop and its thread; safe to call twice."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=_STOP_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_STOP_TIMEOUT_S)
        loop.close()
        if self._sock is not None:
            self._sock.close()  # SockSite leaves a socket it was handed open
        self._loop = self._thread = self._runner = None
        self._sock, self._port = None, None

    def __enter__(self) -> ReplayServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        site = web.SockSite(runner, sock)
        await site.start()
        self._runner = runner
        self._port = int(sock.getsockname()[1])

    def _next_reply(self, method: str, path: str) -> Reply | None:
        with self._lock:
            replies = self._scripts.get((method, path))
            if replies is None:
                return None
            served = self._served[(method, path)]
            self._served[(method, path)] = served + 1
            return replies[min(served, len(replies) - 1)]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            self._requests.append(
                RecordedRequest(
                    method=request.method,
                    path=request.path,
                    query=dict(request.query),
                    headers=dict(request.headers),
                )
            )
        reply = self._next_reply(request.method, request.path)
        if reply is None:
            return web.Response(status=404, text=f"ReplayServer: nothing scripted for {request.method} {request.path}")
        if reply.delay_s > 0:
            await asyncio.sleep(reply.delay_s)
        return web.Response(status=reply.status, body=reply.body, headers=dict(reply.headers))
