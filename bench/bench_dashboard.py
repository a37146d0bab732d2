"""Benchmark: the real page in headless Chromium — time to banner, to last chart, and a widget re-render.

Run: python bench/bench_dashboard.py [--rounds 3]
Pages, each served by its own `streamlit run` on a free localhost port: a bare one-line Streamlit page (the
floor), the demo book, and a synthetic 2,000-position book (the demo rows copied across four accounts).
Cold = first load after the server starts (empty caches); warm = a new browser tab on the running server.
Interaction = remove one account in the sidebar (bare page: tick a checkbox) until the page shows the change, the
script has stopped and two frames have painted; tab switch = open the lazy "Theta & vega by DTE" tab until its chart
is drawn (bare page: untick).
Targets: cold load to full render < 3 s; a widget interaction (account removal, tab switch) < 500 ms.
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
_CHARTS = 2  # gamma by DTE and theta vs vega; the closed "Theta & vega by DTE" tab draws nothing until opened
_DRAWN = "[...document.querySelectorAll('.js-plotly-plot')].filter(chart => chart.querySelector('.main-svg')).length"

_BARE = 'import streamlit as st; st.write("bare page: on" if st.checkbox("toggle", key="t") else "bare page: off")\n'

# The page's own imports must run inside app.py (after its chart warm-up, as for any book), so dashboard.sources is
# patched from an import hook the moment app.py has imported it, not imported here first.
_SYNTHETIC = f"""
import builtins, runpy, sys
sys.path.insert(0, {str(REPO)!r})
_import = getattr(builtins, "_bench_original_import", builtins.__import__)  # reruns must not stack hooks
builtins._bench_original_import = _import

def _book(now):
    from adapters.demo import load_demo_book
    demo = load_demo_book(now)
    rows = demo.positions
    copies = []
    for i in range(2000):
        row = rows[i % len(rows)]
        copies.append(row.model_copy(update={{"account": f"BENCH-{{i % 4}}", "symbol": f"{{row.symbol}}#{{i}}"}}))
    return demo.model_copy(update={{"positions": tuple(copies)}})

def _patching_import(*args, **kwargs):
    module = _import(*args, **kwargs)
    sources = sys.modules.get("dashboard.sources")
    if sources is not None and getattr(sources, "load_demo_book", None) is not _book and hasattr(sources, "gather"):
        sources.load_demo_book = _book
    return module

builtins.__import__ = _patching_import
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
    page.wait_for_function(f"{_DRAWN} >= {_CHARTS}", timeout=_TIMEOUT_MS)
    return Timing(banner, (time.perf_counter() - start) * 1e3)


def _settled(page: Any, condition: str) -> float:
    """Waits until the JS `condition` holds, the script has stopped and two frames have painted; returns perf ms."""
    idle = "document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state') === 'notRunning'"
    page.wait_for_function(f"({condition}) && {idle}", timeout=_TIMEOUT_MS)
    page.evaluate("new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    return time.perf_counter() * 1e3


def _shows(text: str) -> str:
    return f"document.body.innerText.includes({text!r})"


def _interact(page: Any, bare: bool) -> float:
    """Milliseconds from a click to the re-rendered page: one account removed (bare page: the checkbox ticked)."""
    start = time.perf_counter() * 1e3
    if bare:
        page.get_by_text("toggle").click()
        return _settled(page, _shows("bare page: on")) - start
    page.locator("[data-testid='stSidebar'] button[aria-label^='Remove ']").first.click()
    return _settled(page, _shows("accounts: 3")) - start


def _open_tab(page: Any, bare: bool) -> float:
    """Milliseconds from clicking the closed "Theta & vega by DTE" tab to its chart drawn (bare: untick)."""
    start = time.perf_counter() * 1e3
    if bare:
        page.get_by_text("toggle").click()
        return _settled(page, _shows("bare page: off")) - start
    page.get_by_role("tab", name="Theta & vega by DTE").click()
    titles = "[...document.querySelectorAll('.js-plotly-plot .gtitle')].map(title => title.textContent)"
    return _settled(page, f"{titles}.some(text => text.includes('Theta and vega by DTE'))") - start


def _measure(script: Path, bare: bool, rounds: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    colds: list[Timing] = []
    warms: list[Timing] = []
    clicks: list[float] = []
    tabs: list[float] = []
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
                    page.wait_for_timeout(300)
                    tabs.append(_open_tab(page, bare))
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
        "tab switch": med(tabs),
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
    columns = ["cold banner", "cold last chart", "warm banner", "warm last chart", "interaction", "tab switch"]
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
