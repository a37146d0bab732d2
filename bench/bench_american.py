"""Benchmark: American price and price + all Greeks (risk_engine.american) for 1e3 ... 1e6 options.

Run: python bench/bench_american.py [--sizes 1000 10000]   (prints a table; target >= 100,000 options/s for the price
with delta, gamma, vega, theta and rho on 2 cores, peak memory < 1 GB at 1e6; all nine Greeks and the price alone
are shown for scale). Inputs follow the golden random rows: S log-uniform 5-5000, K = S x U(0.5, 1.5),
T log-uniform 1 day - 3 years, sigma log-uniform 5 %-200 %, r U(0, 6 %), q U(0, 5 %), calls and puts.
The machine may be shared: the table also shows CPU microseconds per option, which load on other cores does not
inflate. If QuantLib is installed (bench only), a per-option loop of its QdFp engine prices the first 1,000 options.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `python bench/bench_american.py` from anywhere
from risk_engine.american import american_greeks, american_price
from risk_engine.greeks import GreekName

SIZES = (1_000, 10_000, 100_000, 1_000_000)
TARGET_PER_S = 100_000.0
FIVE: tuple[GreekName, ...] = ("delta", "gamma", "vega", "theta", "rho")
# is_call, spot, strike, t_years, rate, carry, vol
Book = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _book(n: int, seed: int = 2024) -> Book:
    rng = np.random.default_rng(seed)
    s = np.exp(rng.uniform(np.log(5.0), np.log(5000.0), n))
    k = s * rng.uniform(0.5, 1.5, n)
    t = np.exp(rng.uniform(np.log(1 / 365), np.log(3.0), n))
    v = np.exp(rng.uniform(np.log(0.05), np.log(2.0), n))
    r = rng.uniform(0.0, 0.06, n)
    q = rng.uniform(0.0, 0.05, n)
    return rng.random(n) < 0.5, s, k, t, r, r - q, v


def _timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall seconds and the CPU seconds (all threads) of that run."""
    best_wall, best_cpu = float("inf"), float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best_wall:
            best_wall, best_cpu = wall, cpu
    return best_wall, best_cpu


def _peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def _quantlib_per_second(args: Book) -> float | None:
    """Options per second of a per-option QuantLib QdFp loop (price only), or None without QuantLib."""
    try:
        ql: Any = importlib.import_module("QuantLib")  # bench-only comparison, never a runtime dependency
    except ImportError:
        return None
    today = ql.Date(2, 1, 2024)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    spot_quote, rate_quote, div_quote, vol_quote = (ql.SimpleQuote(0.0) for _ in range(4))
    vol_curve = ql.BlackConstantVol(today, ql.NullCalendar(), ql.QuoteHandle(vol_quote), day_count)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot_quote),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(div_quote), day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(rate_quote), day_count)),
        ql.BlackVolTermStructureHandle(vol_curve),
    )
    engine = ql.QdFpAmericanEngine(process)
    call, s, k, t, r, b, v = args
    start = time.perf_counter()
    for i in range(s.size):
        maturity = today + max(round(float(t[i]) * 365), 1)
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if call[i] else ql.Option.Put, float(k[i]))
        option = ql.VanillaOption(payoff, ql.AmericanExercise(today, maturity))
        option.setPricingEngine(engine)
        spot_quote.setValue(float(s[i]))
        rate_quote.setValue(float(r[i]))
        div_quote.setValue(float(r[i] - b[i]))
        vol_quote.setValue(float(v[i]))
        option.NPV()
    return float(s.size / (time.perf_counter() - start))


def main() -> None:
    """Print the benchmark table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    sizes = parser.parse_args().sizes
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"risk_engine.american on {os.cpu_count()} CPUs, 1-minute load average {load:.1f} at start")
    american_greeks(*_book(100))  # warm-up: imports and thread pool
    print(f"{'options':>10} {'what':>16} {'seconds':>9} {'options/s':>12} {'CPU us/opt':>11} {'peak MB':>8}")
    for n in sizes:
        args = _book(n)
        repeats = 3 if n <= 100_000 else 2
        for label, run in (
            ("price+5 Greeks", partial(american_greeks, *args, greeks=FIVE)),
            ("price+9 Greeks", partial(american_greeks, *args)),
            ("price", partial(american_price, *args)),
        ):
            wall, cpu = _timed(run, repeats)
            peak = _peak_mb(run)
            verdict = ("  ok" if n / wall >= TARGET_PER_S else "  below target") if label == "price+5 Greeks" else ""
            print(f"{n:>10,} {label:>16} {wall:>9.3f} {n / wall:>12,.0f} {cpu / n * 1e6:>11.1f} {peak:>8.1f}{verdict}")
    per_s = _quantlib_per_second(_book(1_000))
    if per_s is None:
        print("QuantLib not installed: no per-option comparison row")
    else:
        label = "QuantLib QdFp"
        print(f"{1_000:>10,} {label:>16} {1_000 / per_s:>9.3f} {per_s:>12,.0f}  (price only, one option at a time)")


if __name__ == "__main__":
    main()
