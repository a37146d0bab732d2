"""Benchmark: compute_greeks for 1e3…1e6 options and the whole pipeline for 200 and 2,000 positions.

Run: python bench/bench_pipeline.py        (prints a table; targets: pipeline < 50 ms at 200, < 200 ms at 2,000)
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime

import numpy as np
from _common import best_ms, peak_mb

from adapters.demo import load_demo_book, load_demo_snapshot
from config.risk_matrix import load_risk_matrix
from models.positions import UnifiedPosition
from risk_engine.greeks import compute_greeks
from risk_engine.report import build_risk_report

TARGET_MS = {200: 50.0, 2000: 200.0}


def _synthetic_book(demo: list[UnifiedPosition], n: int) -> list[UnifiedPosition]:
    # Copies of the demo book under distinct accounts: real-shaped rows, n of them.
    return [demo[i % len(demo)].model_copy(update={"account": f"BENCH-{i // len(demo):04d}"}) for i in range(n)]


def main() -> None:
    """Print the benchmark table."""
    rng = np.random.default_rng(1)
    print("compute_greeks (European BSM, price + 5 Greeks + vanna/charm/vomma)")
    print(f"{'options':>10} {'best ms':>10} {'median ms':>10} {'options/s':>14} {'peak MB':>9}")
    for n in (1_000, 10_000, 100_000, 1_000_000):
        s = rng.uniform(20, 500, n)
        args = (
            rng.random(n) < 0.5,
            s,
            s * rng.uniform(0.7, 1.3, n),
            rng.uniform(1 / 365, 2, n),
            0.04,
            0.01,
            rng.uniform(0.1, 0.8, n),
        )
        run = functools.partial(compute_greeks, *args)
        best, median, _ = best_ms(run, 7 if n < 1_000_000 else 3)
        peak = peak_mb(run)
        print(f"{n:>10,} {best:>10.2f} {median:>10.2f} {n / best * 1e3:>14,.0f} {peak:>9.1f}")

    now = datetime.now(UTC)
    matrix = load_risk_matrix()
    demo = list(load_demo_book(now).positions)
    snapshot = load_demo_snapshot(now)
    print()
    print("pipeline: to_arrays + Greeks (American where listed) + aggregation + regime + limits")
    print(f"{'positions':>10} {'best ms':>10} {'median ms':>10} {'target ms':>10} {'peak MB':>9}  verdict")
    for n in (200, 2000):
        pipeline = functools.partial(build_risk_report, _synthetic_book(demo, n), snapshot, matrix, now)
        best, median, _ = best_ms(pipeline, 15)
        peak = peak_mb(pipeline)
        verdict = "ok" if median < TARGET_MS[n] else "SLOW"
        print(f"{n:>10,} {best:>10.2f} {median:>10.2f} {TARGET_MS[n]:>10.0f} {peak:>9.1f}  {verdict}")


if __name__ == "__main__":
    main()
