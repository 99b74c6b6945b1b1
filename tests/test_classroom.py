"""A small class in a real browser against a real server: everyone gets a verdict, nothing fails, and the
shared preset is computed once. `python -m fmlab bench --classroom 30` runs the full class."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from fmlab import classroom

if os.environ.get("FMLAB_REQUIRE_BROWSER") != "1":  # CI: a missing browser fails instead of skipping
    pytest.importorskip("playwright.sync_api")
    if not Path(classroom.chromium()).exists():
        pytest.skip("chromium is not installed", allow_module_level=True)

STUDENTS = 6  # half on the question's preset, half on seeds of their own


@pytest.fixture(scope="module")
def lesson():
    return classroom.classroom(STUDENTS, smoke=True, run_timeout=240)


def test_every_student_gets_a_verdict_and_no_page_shows_an_error(lesson):
    assert lesson.errors() == []
    assert len(lesson.waits()) == STUDENTS


def test_the_shared_preset_is_computed_once(lesson):
    assert lesson.distinct == 1 + STUDENTS // 2
    assert lesson.runs_computed == lesson.distinct


def test_memory_goes_back_after_the_tabs_close(lesson):
    assert lesson.pss_after <= 1.1 * lesson.pss_idle + 50 * 2**20, (lesson.pss_idle, lesson.pss_after)


def test_percentile_is_nearest_rank():
    assert classroom.percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert classroom.percentile([3.0, 1.0, 2.0, 4.0], 0.95) == 4.0
    assert classroom.percentile([5.0], 0.95) == 5.0


# ---- faults: a student's tab closes, a worker is killed --------------------------------------------------


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """A server at default settings (runs that last a few seconds), with its run log."""
    run_log = tmp_path_factory.mktemp("classroom") / "runs.jsonl"
    with classroom.server(smoke=False, run_log=run_log) as (base, process):
        yield base, process, run_log


def start_run(browser, base: str, seed: int):
    """A student opens the Grad-CAM question, types a seed, presses Run and waits for the live curve."""
    page = browser.new_context().new_page()
    page.goto(f"{base}/explainability?q=explainability-gradcam-saliency&lang=en")
    page.wait_for_selector(classroom.RUN_BUTTON, timeout=120_000)
    classroom.set_seed(page, seed)
    page.locator(classroom.RUN_BUTTON).first.click()
    page.wait_for_selector(classroom.LIVE_POINT, timeout=60_000)
    return page


def ended(run_log: Path, seed: int, timeout: float = 30) -> str | None:
    """How the run with `seed` ended, per the server's run log (None if it did not within `timeout`)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for entry in classroom.logged_runs(run_log):
            if entry["event"] != "started" and f"seed={seed})" in entry["config"]:
                return entry["event"]
        time.sleep(0.5)
    return None


def test_a_tab_closed_mid_run_cancels_its_run(app, browser):
    base, _process, run_log = app
    page = start_run(browser, base, seed=41)
    page.context.close()
    assert ended(run_log, seed=41) == "cancelled"


def test_a_worker_killed_mid_run_fails_that_run_only_and_is_replaced(app, browser):
    base, process, run_log = app
    pages = [start_run(browser, base, seed) for seed in (51, 52)]
    victim = classroom.busiest(classroom.workers_of(process.pid))[0]
    victim.kill()
    outcomes = sorted(ended(run_log, seed, timeout=60) for seed in (51, 52))
    assert outcomes == ["done", "failed"]
    for page in pages:
        page.wait_for_selector(f"{classroom.VERDICT}, [data-testid='stAlertContentError']", timeout=60_000)
    errors = [p.locator("[data-testid='stAlertContentError']").all_inner_texts() for p in pages]
    assert sorted(len(e) for e in errors) == [0, 1]
    assert "worker process" in "".join(sum(errors, []))  # the bilingual WORKER_DIED message, in English here
    page = start_run(browser, base, seed=53)  # a new worker took the dead one's place
    page.wait_for_selector(classroom.VERDICT, timeout=60_000)
    for page in pages:
        page.context.close()
