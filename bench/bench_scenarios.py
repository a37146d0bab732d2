"""Benchmark: stress grid 41 × 11 × 3 on 2,000 positions, historical VaR 4,000 days × 200 positions, Monte Carlo
VaR 10,000 paths × 200 positions — full revaluation, with tracemalloc peak memory.

Run: python bench/bench_scenarios.py            (targets: 200 ms, 300 ms, 1 s; European/Black-76 + linear book)
     python bench/bench_scenarios.py --american (also the demo mix, whose American rows use the American pricer:
                                                the grid solves one boundary per (row, horizon, vol) for all spots,
                                                VaR shares boundaries interpolated in vol per row)

"first ms" is each case's first call on its book (cold caches, fresh memory); best and median are over the
--repeats calls after it, the steady state of a dashboard that recomputes on every interaction.
"""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime

from _common import best_ms, peak_mb

from adapters.demo import load_demo_book, load_demo_snapshot
from adapters.market_history import load_spx_vix_closes
from models.positions import ExerciseStyle, UnifiedPosition
from risk_engine.arrays import PositionArrays, to_arrays
from risk_engine.stress import stress_grid
from risk_engine.var import historical_var, monte_carlo_var

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def _book(n: int, american: bool) -> PositionArrays:
    """n demo-shaped rows, every option a distinct contract (strike moved 0.05 % per copy, and its IV 0.1 %, as a
    skew would), under distinct accounts.

    Without `american`, only European, Black-76 and linear rows of the demo book are used.
    """
    demo = list(load_demo_book(NOW).positions)
    rows: list[UnifiedPosition] = [
        p for p in demo if american or not (p.is_option and p.exercise_style is ExerciseStyle.AMERICAN)
    ]
    book = []
    for i in range(n):
        row, copy = rows[i % len(rows)], i // len(rows)
        update: dict[str, object] = {"account": f"BENCH-{copy:04d}"}
        if row.strike is not None:
            update["strike"] = row.strike * (1.0 + 0.0005 * copy)
        if row.iv is not None:
            # Copies with equal rates, vol and expiry would share one exercise boundary, which a real book's
            # strikes, each on its own IV, rarely do.
            update["iv"] = row.iv * (1.0 + 0.001 * copy)
        book.append(row.model_copy(update=update))
    return to_arrays(book, load_demo_snapshot(NOW), NOW)


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--american", action="store_true", help="also time the demo mix with American rows (slow)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    history = load_spx_vix_closes()
    cases: list[tuple[str, int, float, Callable[[PositionArrays], object]]] = [
        ("stress grid 41x11x3", 2000, 200.0, lambda p: stress_grid(p)),
        ("historical VaR 4,000 days", 200, 300.0, lambda p: historical_var(p, history, window_days=4000)),
        ("Monte Carlo VaR 10,000 paths", 200, 1000.0, lambda p: monte_carlo_var(p, history, paths=10_000)),
    ]
    books = [("European/B76/linear", False)] + ([("demo mix (American)", True)] if args.american else [])
    print(
        f"{'case':<30} {'book':<22} {'positions':>9} {'options':>8} {'first ms':>9} {'best ms':>9} {'median ms':>10} "
        f"{'cpu ms':>8} {'target ms':>9} {'peak MB':>8}"
    )
    for book_name, american in books:
        for name, n, target, run in cases:
            p = _book(n, american)
            case = functools.partial(run, p)
            start = time.perf_counter()
            case()
            first = (time.perf_counter() - start) * 1e3
            best, median, cpu = best_ms(case, args.repeats)
            peak = peak_mb(case)
            options = int((p.is_option & p.priced).sum())
            print(
                f"{name:<30} {book_name:<22} {n:>9} {options:>8} {first:>9.1f} {best:>9.1f} {median:>10.1f} "
                f"{cpu:>8.1f} {target:>9.0f} {peak:>8.1f}"
            )


if __name__ == "__main__":
    main()
