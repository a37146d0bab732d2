"""Benchmark: the real page in headless Chromium — time to banner, to last chart, and a widget re-render.

Run: python bench/bench_dashboard.py [--rounds 3]
Pages, each served by its own `streamlit run` on a free localhost port: a bare one-line Streamlit page (the
floor), the demo book, and a synthetic 2,000-position book (the demo rows copied across four accounts).
Cold = first load after the server starts (empty caches); warm = a new browser tab on the running server.
Interaction = remove one account in the sidebar (bare page: tick a checkbox) until the page shows the change.
Targets: cold load to full render < 3 s; interaction < 500 ms.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.dashboard.browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server  # noqa: E402

_TIMEOUT_MS = 60_000
_CHARTS = 3  # gamma by DTE, theta/vega by DTE (hidden tab, still drawn), theta vs vega

_BARE = 'import streamlit as st; st.write("bare page: on" if st.checkbox("toggle", key="t") else "bare page: off")\n'

_SYNTHETIC = f"""
import runpy, sys
sys.path.insert(0, {str(REPO)!r})
import dashboard.sources as sources
from adapters.demo import load_demo_book

def _book(now):
    demo = load_demo_book(now)
    rows = demo.positions
    copies = []
    for i in range(2000):
        row = rows[i % len(rows)]
        copies.append(row.model_copy(update={{"account": f"BENCH-{{i % 4}}", "symbol": f"{{row.symbol}}#{{i}}"}}))
    return demo.model_copy(update={{"positions": tuple(copies)}})

sources.load_demo_book = _book
runpy.run_path({str(REPO / "dashboard" / "app.py")!r}, run_name="__main__")
"""


@dataclass(frozen=True)
class Timing:
    """Milliseconds from navigation to the banner (bare: its text) and to the last chart drawn."""

    banner_ms: float
    last_chart_ms: float


def _load(page: Any, url: str, bare: bool) -> Timing:
    start = time.perf_counter()
    page.goto(url)
    if bare:
        page.wait_for_selector("text=bare page: off", timeout=_TIMEOUT_MS)
        ms = (time.perf_counter() - start) * 1e3
        return Timing(ms, ms)
    page.wait_for_selector("h2:has-text('Regime:')", timeout=_TIMEOUT_MS)
    banner = (time.perf_counter() - start) * 1e3
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {_CHARTS}", timeout=_TIMEOUT_MS
    )
    return Timing(banner, (time.perf_counter() - start) * 1e3)


def _interact(page: Any, bare: bool) -> float:
    start = time.perf_counter()
    if bare:
        page.get_by_text("toggle").click()
        page.wait_for_selector("text=bare page: on", timeout=_TIMEOUT_MS)
    else:
        page.locator("[data-testid='stSidebar'] button[aria-label^='Remove ']").first.click()
        page.wait_for_selector("text=accounts: 3", timeout=_TIMEOUT_MS)
    return (time.perf_counter() - start) * 1e3


def _measure(script: Path, bare: bool, rounds: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    colds: list[Timing] = []
    warms: list[Timing] = []
    clicks: list[float] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            for _ in range(rounds):
                with streamlit_server(script) as url:
                    page = browser.new_page(viewport={"width": 1600, "height": 1000})
                    colds.append(_load(page, url, bare))
                    page.close()
                    page = browser.new_page(viewport={"width": 1600, "height": 1000})
                    warms.append(_load(page, url, bare))
                    page.wait_for_timeout(300)
                    clicks.append(_interact(page, bare))
                    page.close()
        finally:
            browser.close()

    def med(values: list[float]) -> float:
        return statistics.median(values)

    return {
        "cold banner": med([t.banner_ms for t in colds]),
        "cold last chart": med([t.last_chart_ms for t in colds]),
        "warm banner": med([t.banner_ms for t in warms]),
        "warm last chart": med([t.last_chart_ms for t in warms]),
        "interaction": med(clicks),
    }


def main(argv: list[str] | None = None) -> None:
    """Print the table: median milliseconds per page, and each page over the bare page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="server starts per page (median reported)")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="riskdash-bench-") as folder:
        bare, synthetic = Path(folder) / "bare.py", Path(folder) / "synthetic_2000.py"
        bare.write_text(_BARE, encoding="utf-8")
        synthetic.write_text(_SYNTHETIC, encoding="utf-8")
        pages: list[tuple[str, Path, bool]] = [
            ("bare one-line page", bare, True),
            ("demo book (48 positions)", REPO / "dashboard" / "app.py", False),
            ("synthetic 2,000 positions", synthetic, False),
        ]
        results: dict[str, dict[str, float]] = {}
        for name, script, is_bare in pages:
            results[name] = _measure(script, is_bare, args.rounds)
    columns = ["cold banner", "cold last chart", "warm banner", "warm last chart", "interaction"]
    floor = results["bare one-line page"]
    ratio: Callable[[str, str], str] = lambda page, col: f"{results[page][col] / floor[col]:.1f}×"  # noqa: E731
    print(f"median of {args.rounds} server starts, milliseconds (targets: cold < 3000, interaction < 500)")
    print(f"{'page':<28}" + "".join(f"{c:>17}" for c in columns))
    for name, row in results.items():
        print(f"{name:<28}" + "".join(f"{row[c]:>17.0f}" for c in columns))
    for name in results:
        if name != "bare one-line page":
            print(f"{name + ' / bare':<28}" + "".join(f"{ratio(name, c):>17}" for c in columns))


if __name__ == "__main__":
    main()
