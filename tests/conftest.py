"""Make the top-level app package (ui/) importable from the tests; the real browser the browser tests share."""
import os
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# One intra-op thread, as the app's workers use: small nets gain nothing from a second thread, and on a
# loaded 2-core machine oversubscribed threads made some training steps ~100x slower.
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright, one per test module. Skipped where it is missing, except in CI
    (FMLAB_REQUIRE_BROWSER=1), where a missing browser fails the build."""
    from fmlab.classroom import CHROMIUM_ARGS, chromium

    if os.environ.get("FMLAB_REQUIRE_BROWSER") != "1":
        pytest.importorskip("playwright.sync_api")
        if not Path(chromium()).exists():
            pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
