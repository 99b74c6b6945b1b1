"""latency: percentiles agree with NumPy's, warm-up calls are not timed, checkpoint size is what torch.save writes."""
import time

import numpy as np
import torch
from torch import nn

from fmlab import latency


def test_percentiles_of_known_samples():
    samples = np.arange(1, 101, dtype=float)  # 1 … 100 ms
    lat = latency.Latency.of(samples)
    assert lat.p50 == np.percentile(samples, 50) == 50.5
    assert lat.p99 == np.percentile(samples, 99)
    assert lat.mean == 50.5


def test_warmup_calls_are_not_timed():
    calls = []

    def call():
        time.sleep(0.02 if len(calls) < 3 else 0.0)  # the first three calls are slow, like a cold start
        calls.append(1)

    ms = latency.timings_ms(call, repeats=10, warmup=3)
    assert len(calls) == 13 and ms.shape == (10,)
    assert ms.max() < 10  # none of the slow calls was timed


def test_checkpoint_bytes_is_the_saved_file(tmp_path):
    model = nn.Linear(100, 50)  # torch.save names the records inside the zip after the file (archive/…)
    torch.save(model.state_dict(), tmp_path / "archive.pt")
    assert latency.checkpoint_bytes(model) == (tmp_path / "archive.pt").stat().st_size
    assert latency.checkpoint_bytes(model) > 4 * 100 * 50  # fp32 weights are all there


def test_measure_times_a_forward_pass():
    lat = latency.measure(nn.Linear(8, 2), torch.zeros(4, 8), repeats=5, warmup=1)
    assert 0 < lat.p50 <= lat.p99
