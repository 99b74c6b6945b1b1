"""A small class in a real browser against a real server: everyone gets a verdict, nothing fails, and the
shared preset is computed once. `python -m fmlab bench --classroom 30` runs the full class."""
from __future__ import annotations

import os
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
