"""Benchmark: European price + five Greeks, and implied volatility, against py_vollib_vectorized and QuantLib.

Run: python bench/bench_greeks.py [--sizes 1000 10000 100000 1000000]

Every implementation runs in this one process, interleaved round by round on the same inputs, and the best
round counts, so the ratios hold on a noisy machine. Competitors come from the `bench` extra
(pip install -e '.[bench]'); a missing one is reported and skipped. Peak MB is tracemalloc's peak of one call
(numpy allocations; numba's own allocations are not traced).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from models.conventions import CALENDAR_DAYS_PER_YEAR
from risk_engine.greeks import GreekName, compute_greeks
from risk_engine.implied_vol import implied_vol

FIVE: tuple[GreekName, ...] = ("price", "delta", "gamma", "vega", "theta", "rho")
PRICE: tuple[GreekName, ...] = ("price",)
VEGA: tuple[GreekName, ...] = ("vega",)
QUANTLIB_MAX_N = 10_000  # a per-option Python loop: larger sizes only measure the loop
ROUNDS = {1_000: 15, 10_000: 9, 100_000: 5, 1_000_000: 3}


@dataclass(frozen=True)
class Book:
    """Random European options, integer days to expiry so QuantLib's date-based engine sees the same T."""

    is_call: np.ndarray
    flag: np.ndarray
    spot: np.ndarray
    strike: np.ndarray
    t: np.ndarray
    days: np.ndarray
    rate: np.ndarray
    div: np.ndarray
    vol: np.ndarray
    price: np.ndarray


def make_book(n: int, seed: int = 7) -> Book:
    """n options: S 20-500, K/S 0.7-1.3, 1 day to 2 years, r 0-5 %, q 0-3 %, vol 10-80 %, calls and puts."""
    rng = np.random.default_rng(seed)
    spot = rng.uniform(20.0, 500.0, n)
    days = rng.integers(1, 731, n)
    is_call = rng.random(n) < 0.5
    book = dict(
        is_call=is_call,
        flag=np.where(is_call, "c", "p"),
        spot=spot,
        strike=np.round(spot * rng.uniform(0.7, 1.3, n), 2),
        t=days / CALENDAR_DAYS_PER_YEAR,
        days=days,
        rate=rng.uniform(0.0, 0.05, n),
        div=rng.uniform(0.0, 0.03, n),
        vol=rng.uniform(0.1, 0.8, n),
    )
    price = compute_greeks(
        is_call, book["spot"], book["strike"], book["t"], book["rate"], book["div"], book["vol"], greeks=PRICE
    ).price
    return Book(price=price, **book)


def ours_greeks(b: Book) -> object:
    return compute_greeks(b.is_call, b.spot, b.strike, b.t, b.rate, b.div, b.vol, greeks=FIVE)


def ours_iv(b: Book) -> np.ndarray:
    return implied_vol(b.price, b.is_call, b.spot, b.strike, b.t, b.rate, b.div).vol


def _load_vollib() -> tuple[Callable[[Book], object], Callable[[Book], np.ndarray]] | str:
    try:
        import py_vollib_vectorized as pvv  # type: ignore[import-untyped]
    except Exception as exc:  # any import failure means "not available here"
        return f"py_vollib_vectorized not available ({type(exc).__name__}: {exc}); pip install -e '.[bench]'"

    def greeks(b: Book) -> object:
        price = pvv.vectorized_black_scholes_merton(
            b.flag, b.spot, b.strike, b.t, b.rate, b.vol, b.div, return_as="numpy"
        )
        others = pvv.get_all_greeks(
            b.flag, b.spot, b.strike, b.t, b.rate, b.vol, b.div, model="black_scholes_merton", return_as="dict"
        )
        return price, others

    def iv(b: Book) -> np.ndarray:
        return np.asarray(
            pvv.vectorized_implied_volatility(
                b.price,
                b.spot,
                b.strike,
                b.t,
                b.rate,
                b.flag,
                q=b.div,
                model="black_scholes_merton",
                on_error="ignore",
                return_as="numpy",
            )
        )

    return greeks, iv


def _load_quantlib() -> tuple[Callable[[Book], object], Callable[[Book], np.ndarray]] | str:
    try:
        import QuantLib as ql  # type: ignore[import-untyped]  # noqa: N813 - the library's own name
    except Exception as exc:
        return f"QuantLib not available ({type(exc).__name__}: {exc}); pip install -e '.[bench]'"
    today = ql.Date(2, 1, 2025)
    ql.Settings.instance().evaluationDate = today
    day_count, calendar = ql.Actual365Fixed(), ql.NullCalendar()
    spot_q, rate_q, div_q, vol_q = (ql.SimpleQuote(0.0) for _ in range(4))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(spot_q),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(div_q), day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, ql.QuoteHandle(rate_q), day_count)),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(today, calendar, ql.QuoteHandle(vol_q), day_count)),
    )
    engine = ql.AnalyticEuropeanEngine(process)

    def option(b: Book, i: int) -> Any:
        spot_q.setValue(float(b.spot[i]))
        rate_q.setValue(float(b.rate[i]))
        div_q.setValue(float(b.div[i]))
        vol_q.setValue(float(b.vol[i]))
        kind = ql.Option.Call if b.is_call[i] else ql.Option.Put
        opt = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, float(b.strike[i])), ql.EuropeanExercise(today + int(b.days[i]))
        )
        opt.setPricingEngine(engine)
        return opt

    def greeks(b: Book) -> object:
        out = np.empty((b.spot.size, 6))
        for i in range(b.spot.size):
            opt = option(b, i)
            out[i] = (opt.NPV(), opt.delta(), opt.gamma(), opt.vega(), opt.theta(), opt.rho())
        return out

    def iv(b: Book) -> np.ndarray:
        out = np.full(b.spot.size, np.nan)
        for i in range(b.spot.size):
            # QuantLib raises where its solver fails; that is its "no volatility".
            with contextlib.suppress(RuntimeError):
                out[i] = option(b, i).impliedVolatility(float(b.price[i]), process, 1e-10, 200, 1e-4, 10.0)
        return out

    return greeks, iv


def _best_times(runs: dict[str, Callable[[], object]], rounds: int) -> dict[str, tuple[float, float]]:
    """(best wall time, best process CPU time) in seconds of each run over `rounds` interleaved rounds.

    CPU time sums all threads: on a machine shared with other work it is the steadier measure of cost.
    """
    best = {name: (float("inf"), float("inf")) for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    return best


def _peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


Row = tuple[int, str, float, float, float | None, float]


def _table(title: str, n_rows: list[Row]) -> None:
    print(f"\n{title}")
    header = f"{'options':>10}  {'implementation':<28}{'seconds':>10}{'options/s':>14}{'x pvv':>9}{'cpu s':>10}"
    print(f"{header}{'peak MB':>10}")
    for n, name, seconds, cpu, ratio, peak in n_rows:
        ratio_text = f"{ratio:>8.3g}x" if ratio is not None else f"{'-':>9}"
        print(f"{n:>10,}  {name:<28}{seconds:>10.4f}{n / seconds:>14,.0f}{ratio_text}{cpu:>10.4f}{peak:>10.1f}")


def _accuracy(book: Book, name: str, vols: np.ndarray) -> str:
    # Rows whose price carries volatility information (vega per vol point > 1e-8 of spot).
    vega = compute_greeks(book.is_call, book.spot, book.strike, book.t, book.rate, book.div, book.vol, greeks=VEGA)
    informative = vega.vega > 1e-8 * book.spot
    err = np.abs(vols - book.vol)[informative]
    zeros = int(np.sum(vols == 0.0))
    nans = int(np.sum(np.isnan(vols)))
    return f"  {name:<24} max |vol error| {np.nanmax(err):.1e} on informative rows; NaN {nans}, exactly 0.0 {zeros}"


def main() -> None:
    """Print the benchmark tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    sizes = parser.parse_args().sizes
    warnings.simplefilter("ignore")  # competitors warn about the very rows the comparison is about
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, {os.cpu_count()} CPUs"
    )
    competitors = {"py_vollib_vectorized": _load_vollib(), "QuantLib (per-option loop)": _load_quantlib()}
    for name, loaded in competitors.items():
        if isinstance(loaded, str):
            print(f"skipped {name}: {loaded}")
    available = {name: fns for name, fns in competitors.items() if not isinstance(fns, str)}
    warm = make_book(200)
    for fns in available.values():  # numba compiles (or loads its cache) on first use
        fns[0](warm)
        fns[1](warm)

    greeks_rows: list[Row] = []
    iv_rows: list[Row] = []
    notes: list[str] = []
    for n in sizes:
        book = make_book(n)
        rounds = ROUNDS.get(n, 3)
        for kind, rows, ours in (("greeks", greeks_rows, ours_greeks), ("iv", iv_rows, ours_iv)):
            runs: dict[str, Callable[[], object]] = {"riskdash": functools.partial(ours, book)}
            for name, fns in available.items():
                if name.startswith("QuantLib") and n > QUANTLIB_MAX_N:
                    continue
                runs[name] = functools.partial(fns[0] if kind == "greeks" else fns[1], book)
            quantlib_rounds = 1 if n >= QUANTLIB_MAX_N else 3
            best = _best_times({k: v for k, v in runs.items() if not k.startswith("QuantLib")}, rounds)
            best |= _best_times({k: v for k, v in runs.items() if k.startswith("QuantLib")}, quantlib_rounds)
            reference = best["py_vollib_vectorized"][0] if "py_vollib_vectorized" in best else None
            for name, (seconds, cpu) in best.items():
                ratio = reference / seconds if reference is not None else None
                rows.append((n, name, seconds, cpu, ratio, _peak_mb(runs[name])))
            if kind == "iv" and n == max(sizes):
                notes.append(_accuracy(book, "riskdash", ours_iv(book)))
                if "py_vollib_vectorized" in available:
                    notes.append(_accuracy(book, "py_vollib_vectorized", available["py_vollib_vectorized"][1](book)))
    print(f"load average {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs): other work shares the cores")
    _table("European price + delta, gamma, vega, theta, rho (BSM)", greeks_rows)
    _table("Implied volatility (BSM, prices of the same options)", iv_rows)
    print(f"\nIV accuracy at n = {max(sizes):,}:")
    print("\n".join(notes))


if __name__ == "__main__":
    main()
