"""The IBKR connection's home: a daemon thread running its own asyncio loop, request pacing, reconnect with backoff.

Streamlit's script thread has no event loop (ib_insync#563), so no IB object ever lives there: every coroutine
runs on the session's loop via run_coroutine_threadsafe, with a timeout, and callers stay synchronous.
"""

from __future__ import annotations

import asyncio
import importlib
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from types import ModuleType
from typing import Any, Final, TypeVar

from adapters.errors import AdapterError, SourceUnavailable

__all__ = ["MAX_MESSAGES_PER_S", "PACING_BURST", "PACING_RATE_PER_S", "IbkrSession", "TokenBucket", "ib_library"]

T = TypeVar("T")

MAX_MESSAGES_PER_S: Final = 50
"""TWS disconnects a client that sends more than 50 messages per second."""

PACING_BURST: Final = 5
PACING_RATE_PER_S: Final = MAX_MESSAGES_PER_S - PACING_BURST
"""A token bucket lets `burst + rate × w` messages through in any window of w seconds, so burst + rate must stay
within TWS's 50 per second."""

_LIBRARIES: Final = ("ib_async", "ib_insync")  # ib_async is the maintained fork; ib_insync the user's original choice


def ib_library() -> ModuleType:
    """The installed IB API library: ib_async when present, else ib_insync; SourceUnavailable when neither is."""
    for name in _LIBRARIES:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise SourceUnavailable("IBKR: neither ib_async nor ib_insync is installed (pip install ib_async)")


class TokenBucket:
    """Request pacing: `rate_per_s` messages per second on average, with bursts of up to `burst` (at most
    `burst + rate_per_s × w` in any window of w seconds).

    `reserve()` books one message and says how long to wait before sending it, so callers queue fairly.

    Example:
        >>> clock = iter([0.0, 0.0, 0.0]).__next__
        >>> bucket = TokenBucket(rate_per_s=50, burst=2, clock=clock)
        >>> bucket.reserve(), bucket.reserve(), bucket.reserve()
        (0.0, 0.0, 0.02)
    """

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"TokenBucket needs rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self._rate = rate_per_s
        self._burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Seconds to wait before sending the message just booked (0.0 when a token is free now)."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
            self._last = now
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self._rate

    async def pace(self) -> None:
        """Sleep until the next message may be sent."""
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


class IbkrSession:
    """One read-only API connection to TWS / IB Gateway, owned by a daemon thread with its own event loop.

    Args:
        host, port, client_id: Where TWS listens and which API client id to use.
        timeout_s: Bound on connecting (all attempts together) and on each request.
        backoff_s: First reconnect delay; it doubles per failed attempt up to `max_backoff_s`.
        library: The IB API module (ib_async or ib_insync); `ib_library()` when None.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: int,
        timeout_s: float,
        *,
        backoff_s: float = 0.25,
        max_backoff_s: float = 8.0,
        library: ModuleType | None = None,
    ) -> None:
        self.host, self.port, self.client_id, self.timeout_s = host, port, client_id, timeout_s
        self._backoff_s, self._max_backoff_s = backoff_s, max_backoff_s
        self._library = library
        self.pacer = TokenBucket(PACING_RATE_PER_S, PACING_BURST)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, name=f"ibkr-{host}:{port}", daemon=True)
        self._thread.start()
        self._ib: Any = None
        self._closed = False

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def where(self) -> str:
        """ "IBKR TWS/Gateway at host:port (client id n)", for messages."""
        return f"IBKR TWS/Gateway at {self.host}:{self.port} (client id {self.client_id})"

    def run(self, make: Callable[[], Awaitable[T]], timeout_s: float, what: str) -> T:
        """The result of the coroutine `make()` run on the session's loop, waiting at most `timeout_s` seconds.

        Raises:
            SourceUnavailable: the coroutine took longer (it is cancelled) or raised a non-adapter error.
        """
        if self._closed:
            raise SourceUnavailable(f"{self.where}: session is closed")

        async def call() -> T:
            return await make()

        future = asyncio.run_coroutine_threadsafe(call(), self._loop)
        try:
            return future.result(timeout=timeout_s)
        except FutureTimeout as exc:
            future.cancel()
            raise SourceUnavailable(f"{self.where}: {what} took longer than {timeout_s:.1f} s") from exc
        except AdapterError:
            raise
        except Exception as exc:
            raise SourceUnavailable(f"{self.where}: {what} failed: {type(exc).__name__}: {exc}") from exc

    async def connected(self) -> Any:
        """The connected IB object, (re)connecting read-only with exponential backoff within `timeout_s`.

        Raises:
            SourceUnavailable: no connection before the deadline; names host, port and the last error.
        """
        if self._ib is not None and self._ib.isConnected():
            return self._ib
        library = self._library or ib_library()
        deadline = time.monotonic() + self.timeout_s
        delay, attempts, last = self._backoff_s, 0, ""
        while True:
            attempts += 1
            remaining = deadline - time.monotonic()
            ib = library.IB()
            try:
                await ib.connectAsync(self.host, self.port, clientId=self.client_id, timeout=remaining, readonly=True)
                self._ib = ib
                return ib
            except (OSError, TimeoutError, ConnectionError) as exc:
                ib.disconnect()
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if time.monotonic() + delay >= deadline:
                break
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff_s)
        raise SourceUnavailable(
            f"{self.where}: no API connection after {attempts} attempt(s) in {self.timeout_s:.1f} s "
            f"(is TWS/IB Gateway running with the API enabled on port {self.port}?): {last}"
        )

    def close(self) -> None:
        """Disconnect, stop the loop and its thread, and close the loop."""
        if self._closed:
            return
        self._closed = True

        async def disconnect() -> None:
            if self._ib is not None:
                self._ib.disconnect()
                self._ib = None

        try:
            asyncio.run_coroutine_threadsafe(disconnect(), self._loop).result(timeout=self.timeout_s)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=self.timeout_s)
            if not self._thread.is_alive():
                self._loop.close()
