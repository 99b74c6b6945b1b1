"""fmlab.batcher: every request gets its own answer, batches respect max_batch and max_wait, shutdown is clean."""
import asyncio
import threading
import time

import numpy as np
import pytest
import torch

from fmlab.batcher import Batcher, poisson_arrivals, saturated_throughput, serve_stream
from fmlab.nets import MLP, init_weights


@pytest.fixture(scope="module")
def model():
    return init_weights(MLP(64, 10, width=32, depth=2, batchnorm=True, residual=True), 0).eval()


@pytest.fixture(scope="module")
def X():
    return torch.rand(64, 64, generator=torch.Generator().manual_seed(0))


def alone(model, x):
    with torch.inference_mode():
        return model(x[None])[0]  # (K,): the input on its own, no batch


def test_every_request_gets_exactly_its_own_answer(model, X):
    async def main():
        async with Batcher(model, max_batch=8, max_wait_ms=5.0) as batcher:
            answers = await asyncio.gather(*[batcher.predict(x) for x in X])
        return answers, batcher.batch_sizes

    answers, sizes = asyncio.run(main())
    for x, y in zip(X, answers):
        torch.testing.assert_close(y, alone(model, x), atol=1e-5, rtol=1e-5)
    assert sum(sizes) == len(X) and max(sizes) == 8  # they really were served in full batches


def test_no_batch_exceeds_max_batch_under_a_stream(model, X):
    arrivals = poisson_arrivals(3000, 0.2, seed=1)  # faster than one-at-a-time serving
    served = serve_stream(model, X, arrivals, max_batch=4, max_wait_ms=2.0)
    assert len(served.requests) == len(arrivals)
    assert max(served.batch_sizes) <= 4 and sum(served.batch_sizes) == len(arrivals)
    assert all(1 <= r.batch_size <= 4 for r in served.requests)
    for i in (0, len(arrivals) // 2, len(arrivals) - 1):  # the stream cycles through X
        r = served.requests[i]
        torch.testing.assert_close(r.future.result(), alone(model, X[i % len(X)]), atol=1e-5, rtol=1e-5)


def test_a_lone_request_waits_about_max_wait(model, X):
    async def one(max_wait_ms):
        async with Batcher(model, max_batch=32, max_wait_ms=max_wait_ms) as batcher:
            request = batcher.submit(X[0])
            await request.future
        return request.latency_ms

    waited = asyncio.run(one(30.0))
    assert 30.0 <= waited < 30.0 + 100.0  # it waited for company until the deadline, then went alone
    assert asyncio.run(one(0.0)) < 30.0  # with no wait it goes at once


def test_a_full_batch_does_not_wait(model, X):
    async def main():
        async with Batcher(model, max_batch=4, max_wait_ms=2000.0) as batcher:
            requests = [batcher.submit(x) for x in X[:4]]
            await requests[-1].future
        return requests

    requests = asyncio.run(main())
    assert requests[-1].latency_ms < 1000.0 and {r.batch_size for r in requests} == {4}


def test_closing_answers_what_is_queued_and_leaves_no_thread(model, X):
    before = threading.active_count()

    async def main():
        async with Batcher(model, max_batch=16, max_wait_ms=1000.0) as batcher:
            requests = [batcher.submit(x) for x in X[:10]]
        return requests, batcher  # leaving the block closes it at once, without the 1 s wait

    start = time.perf_counter()
    requests, batcher = asyncio.run(main())
    assert time.perf_counter() - start < 0.9
    assert all(r.future.done() for r in requests) and batcher.task.done()
    serve_stream(model, X, poisson_arrivals(500, 0.1, seed=0), max_batch=8, max_wait_ms=1.0)
    assert threading.active_count() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("fmlab-")]


def test_poisson_arrivals_are_seeded_and_at_the_rate():
    a, b = poisson_arrivals(1000, 2.0, seed=3), poisson_arrivals(1000, 2.0, seed=3)
    assert np.array_equal(a, b) and not np.array_equal(a, poisson_arrivals(1000, 2.0, seed=4))
    assert np.all(np.diff(a) > 0) and a[-1] < 2.0
    assert 1800 < len(a) < 2200  # 1000/s for 2 s, within ~4.5 standard deviations
    gaps = np.diff(a)
    assert abs(gaps.std() / gaps.mean() - 1) < 0.1  # exponential gaps: std = mean


def test_batching_multiplies_the_throughput_of_a_call_dominated_model(X):
    deep = init_weights(MLP(64, 10, width=64, depth=8, batchnorm=True, residual=True), 0).eval()
    one = max(saturated_throughput(deep, X, 1, num=64) for _ in range(2))
    many = max(saturated_throughput(deep, X, 32, num=128) for _ in range(2))
    assert many > 3 * one  # measured ~10-20× here; wall-clock, so a wide margin
