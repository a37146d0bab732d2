"""The real page in headless Chromium: banner, an assistant answer, and a full-page screenshot in artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dashboard.browser import ARTIFACTS, BANNER, CHROMIUM, CHROMIUM_ARGS, streamlit_server

pytestmark = pytest.mark.browser

_TIMEOUT_MS = 60_000


def test_page_shows_banner_and_answers_a_question_in_a_real_browser() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.wait_for_selector(BANNER, timeout=_TIMEOUT_MS)
            # demo_market.yaml: VIX 18.4 with no higher clause holding — neutral volatility.
            expect(page.locator("h2", has_text="Regime:")).to_contain_text("Neutral Volatility")
            expect(page).to_have_title("riskdash — Neutral Volatility", timeout=_TIMEOUT_MS)
            expect(page.locator("[data-testid='stMetric']")).to_have_count(5, timeout=_TIMEOUT_MS)
            chat = page.get_by_test_id("stChatInputTextArea")
            chat.fill("What is my vega?")
            chat.press("Enter")
            answer = page.locator("[data-testid='stChatMessage']").filter(has_text="$/vol pt")
            expect(answer.first).to_be_visible(timeout=_TIMEOUT_MS)
            vega_card = page.locator("[data-testid='stMetric']").nth(3).get_by_test_id("stMetricValue").inner_text()
            expect(answer.first).to_contain_text(vega_card.strip())
            page.wait_for_timeout(500)  # let the charts settle before the screenshot
            # Streamlit scrolls inside its main block, so the window must be as tall as the content.
            height = page.evaluate("Math.max(...Array.from(document.querySelectorAll('*')).map(e => e.scrollHeight))")
            page.set_viewport_size({"width": 1600, "height": int(height) + 100})
            page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            browser.close()
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
