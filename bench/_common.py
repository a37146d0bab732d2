"""Timing and peak-memory measurement shared by the bench/ scripts (imported as `_common`: they run as scripts)."""

from __future__ import annotations

import statistics
import time
import tracemalloc
from collections.abc import Callable

__all__ = ["best_ms", "peak_mb"]


def best_ms(run: Callable[[], object], repeats: int) -> tuple[float, float, float]:
    """Best and median wall-clock ms over `repeats` calls of `run`, and the CPU ms (all threads) of the best one."""
    times = []
    for _ in range(repeats):
        cpu = time.process_time()
        start = time.perf_counter()
        run()
        wall_ms = (time.perf_counter() - start) * 1e3
        times.append((wall_ms, (time.process_time() - cpu) * 1e3))
    best = min(times)
    return best[0], statistics.median(t[0] for t in times), best[1]


def peak_mb(run: Callable[[], object]) -> float:
    """Peak Python heap in MiB (tracemalloc) during one call of `run`."""
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20
