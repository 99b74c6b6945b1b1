"""Make the top-level app package (ui/) importable from the tests."""
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# One intra-op thread, as the app's workers use: small nets gain nothing from a second thread, and on a
# loaded 2-core machine oversubscribed threads made some training steps ~100x slower.
import torch  # noqa: E402

torch.set_num_threads(1)
