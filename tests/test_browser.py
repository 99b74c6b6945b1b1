"""The app in a real browser: every page URL opened fresh (deep link), the language switch, a live demo run.

Starts `streamlit run app.py` with FMLAB_SMOKE=1 (forms prefilled with each demo's fast smoke
settings) and drives Debian's chromium through Playwright. Screenshots go to artifacts/screenshots/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import ui
from fmlab import bank, registry
from fmlab.bank import CATEGORIES
from fmlab.classroom import chromium, server

if os.environ.get("FMLAB_REQUIRE_BROWSER") == "1":  # CI: a missing browser fails instead of skipping
    import playwright.sync_api as sync_api  # noqa: F401
else:
    sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = chromium()
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
NAV_LINKS = '[data-testid="stSidebar"] [data-testid="stPageLink-NavLink"]'
PAGES = {page.file: page for page in ui.PAGES}  # the one declared page list
VERDICT = '[class*="st-key-verdict"] [data-testid="stAlert"]'
ALERTS = '[data-testid="stAlertContentError"], [data-testid="stAlertContentWarning"]'
STARTUP = 90  # seconds for the server to answer its health check
RUN_TIMEOUT = 120_000  # ms for a smoke demo run, torch import included

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("FMLAB_REQUIRE_BROWSER") != "1",
                                reason="chromium is not installed")


def first_runnable_question(category: str) -> str | None:
    """The first question of a topic whose demo exists: the one the browser runs for that topic."""
    demos = registry.demos()
    return next((q.id for q in bank.load().in_category(category) if q.demo in demos), None)


RUNNABLE = {cat: first_runnable_question(cat) for cat in ui.TOPIC_PAGES}


@pytest.fixture(scope="module")
def base_url():
    """The app for this module's tests, started as scripts/app.sh starts it, forms prefilled with smoke settings."""
    with server(smoke=True, startup_timeout=STARTUP) as (base, _process):
        yield base


@pytest.fixture
def fresh_page(browser):
    """A page in a brand-new context (no cookies, no session), as a first visit would be."""
    contexts = []

    def open_page(url: str, locale: str = "en-US"):
        context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        page = context.new_page()
        page.goto(url)
        settle(page)
        return page

    yield open_page
    for context in contexts:
        context.close()


def settle(page, timeout: int = 60_000) -> None:
    """Wait until the script has run and the sidebar is drawn.

    "notRunning" comes when the script ends, but widgets whose code the browser loads lazily
    (radio, page links) can appear a moment later, so wait for them too.
    """
    page.wait_for_selector(IDLE, timeout=timeout)
    page.wait_for_selector("h1", timeout=timeout)
    page.wait_for_selector('[data-testid="stSidebar"] [data-testid="stRadio"]', timeout=timeout)
    page.wait_for_function(f"document.querySelectorAll('{NAV_LINKS}').length === {len(PAGES)}", timeout=timeout)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def assert_healthy(page, title: str) -> None:
    """No exception, error or warning box, the right title, and the bilingual sidebar navigation."""
    assert page.locator('[data-testid="stException"]').count() == 0
    alerts = page.locator(ALERTS)
    assert alerts.count() == 0, [alerts.nth(i).inner_text() for i in range(alerts.count())]
    assert page.locator("h1").first.inner_text().strip() == title
    assert page.locator(NAV_LINKS).count() == len(PAGES)
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


@pytest.mark.parametrize("page_file", PAGES)
def test_every_page_url_opened_first_shows_the_full_app(fresh_page, base_url, page_file):
    page = fresh_page(base_url + "/" + PAGES[page_file].url_path)
    assert_healthy(page, PAGES[page_file].title.en)
    shot(page, f"en-{Path(page_file).stem}")


def test_a_chinese_browser_gets_chinese_and_links_keep_it(fresh_page, base_url):
    page = fresh_page(base_url + "/", locale="zh-CN")
    assert_healthy(page, ui.HOME.zh)
    page.locator('[data-testid="stSidebar"]').get_by_text(CATEGORIES["optimization"].zh).click()
    page.wait_for_url(re.compile(r"/optimization\?.*lang=zh"))
    settle(page)
    assert_healthy(page, CATEGORIES["optimization"].zh)
    shot(page, "zh-optimization")


def test_the_language_switch_turns_a_page_into_chinese(fresh_page, base_url):
    page = fresh_page(base_url + "/questions")
    assert_healthy(page, ui.BROWSER.en)
    page.locator('[data-testid="stSidebar"]').get_by_text("中文", exact=True).click()
    page.wait_for_function("() => document.querySelector('h1')?.innerText.trim() === '全部题目'")
    settle(page)
    assert_healthy(page, ui.BROWSER.zh)
    assert "lang=zh" in page.url


@pytest.mark.parametrize("category", [cat for cat, qid in RUNNABLE.items() if qid])
def test_each_topic_runs_a_demo_live_with_verdict_and_charts(fresh_page, base_url, category):
    page = fresh_page(f"{base_url}/{category}?lang=en&q={RUNNABLE[category]}")
    page.locator('[data-testid="stForm"]').first.get_by_role("button", name="Run").click()
    page.wait_for_selector(f'[data-testid="stProgress"], {VERDICT}', timeout=RUN_TIMEOUT)
    shot(page, f"run-live-{category}")
    page.wait_for_selector(VERDICT, timeout=RUN_TIMEOUT)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .js-plotly-plot', timeout=RUN_TIMEOUT)
    settle(page)
    assert_healthy(page, CATEGORIES[category].en)
    said = page.locator(VERDICT).first.inner_text().strip()
    assert re.search(r"This run (showed|did NOT show) the lesson|These settings do not test the lesson", said), said
    page.locator(VERDICT).first.scroll_into_view_if_needed()
    shot(page, f"run-done-{category}")
