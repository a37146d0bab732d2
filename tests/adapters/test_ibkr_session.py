"""The IBKR session: its own loop thread, bounded calls, pacing, and a clear error when TWS is not there."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType

import ib_async
import ib_insync
import pytest

from adapters.errors import SourceUnavailable
from adapters.ibkr import close_ibkr_sessions, fetch_ibkr
from adapters.ibkr_session import (
    MAX_MESSAGES_PER_S,
    PACING_BURST,
    PACING_RATE_PER_S,
    IbkrSession,
    TokenBucket,
    ib_library,
)
from config.settings import Settings

LIBRARIES = pytest.mark.parametrize("lib", [ib_async, ib_insync], ids=["ib_async", "ib_insync"])


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def session() -> Iterator[IbkrSession]:
    live = IbkrSession("127.0.0.1", closed_port(), 17, timeout_s=1.0)
    yield live
    live.close()


def test_token_bucket_lets_a_burst_through_then_paces_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=MAX_MESSAGES_PER_S, burst=MAX_MESSAGES_PER_S, clock=clock)
    assert [bucket.reserve() for _ in range(50)] == [0.0] * 50
    assert bucket.reserve() == pytest.approx(1 / 50)
    assert bucket.reserve() == pytest.approx(2 / 50)


@pytest.mark.parametrize("gap_s", [0.0, 0.001, 0.03], ids=["all-at-once", "every-ms", "every-30ms"])
def test_session_pacing_never_exceeds_fifty_messages_in_any_second(gap_s: float) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=PACING_RATE_PER_S, burst=PACING_BURST, clock=clock)
    sent: list[float] = []
    for _ in range(400):
        delay = bucket.reserve()
        sent.append(clock.now + delay)
        clock.now += gap_s
    busiest = max(sum(1 for t in sent[index:] if t < start + 1.0 - 1e-9) for index, start in enumerate(sent))
    assert busiest <= MAX_MESSAGES_PER_S
    if gap_s < 1 / MAX_MESSAGES_PER_S:  # demand above the limit: pacing runs at the limit, not far below it
        assert busiest >= MAX_MESSAGES_PER_S - 1


def test_token_bucket_refills_after_idle_time() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=50, burst=50, clock=clock)
    for _ in range(60):
        bucket.reserve()
    clock.now += 10.0
    assert bucket.reserve() == 0.0


def test_session_runs_coroutines_for_a_thread_without_an_event_loop(session: IbkrSession) -> None:
    results: dict[str, object] = {}

    def streamlit_like_thread() -> None:
        try:
            asyncio.get_running_loop()
            results["had_loop"] = True
        except RuntimeError:
            results["had_loop"] = False

        async def where() -> str:
            await asyncio.sleep(0.01)
            return threading.current_thread().name

        results["ran_on"] = session.run(where, 2.0, "probe")

    thread = threading.Thread(target=streamlit_like_thread)
    thread.start()
    thread.join(5.0)
    assert results == {"had_loop": False, "ran_on": f"ibkr-127.0.0.1:{session.port}"}


def test_session_call_that_overruns_is_cancelled_with_an_error_naming_ibkr(session: IbkrSession) -> None:
    started = time.monotonic()
    with pytest.raises(SourceUnavailable, match=r"IBKR TWS/Gateway at 127\.0\.0\.1:\d+.*slow call took longer"):
        session.run(lambda: asyncio.sleep(30), 0.2, "slow call")
    assert time.monotonic() - started < 1.0


@LIBRARIES
def test_connection_refused_is_a_clear_error_within_the_timeout(lib: ModuleType) -> None:
    port = closed_port()
    live = IbkrSession("127.0.0.1", port, 17, timeout_s=1.5, library=lib)
    try:
        started = time.monotonic()
        with pytest.raises(SourceUnavailable, match=rf"IBKR TWS/Gateway at 127\.0\.0\.1:{port}.*ConnectionRefused"):
            live.run(live.connected, 5.0, "connecting")
        assert time.monotonic() - started < 1.5 + 0.5
    finally:
        live.close()


def test_fetch_ibkr_against_a_closed_port_raises_source_unavailable_in_time() -> None:
    port = closed_port()
    settings = Settings(_env_file=None, ibkr_port=port, ibkr_timeout_s=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(SourceUnavailable, match=rf"IBKR.*127\.0\.0\.1:{port}.*attempt"):
            fetch_ibkr(settings, datetime(2025, 5, 2, 14, 0, tzinfo=UTC))
    finally:
        close_ibkr_sessions()
    assert time.monotonic() - started < 1.0 + 1.0


def test_fetch_ibkr_unconfigured_says_which_setting() -> None:
    settings = Settings(_env_file=None, ibkr_port=None)
    with pytest.raises(SourceUnavailable, match="IBKR_PORT"):
        fetch_ibkr(settings, datetime(2025, 5, 2, 14, 0, tzinfo=UTC))


def test_prefers_ib_async() -> None:
    assert ib_library() is ib_async
