"""The SimPy simulators against queueing theory (Erlang C), and the token bucket and HPA rule by hand."""
import math

import numpy as np
import pytest

from fmlab import queueing as q


def always(now, server):
    return True


def test_erlang_c_by_hand():
    assert q.erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: an arrival waits with probability ρ
    # c = 2, a = 1: a²/(2!(1 − ρ)) = 1 against 1 + a = 2, so C = 1/3; Wq = C / (2 − 1)
    assert q.erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert q.mmc_wait(2, 1.0) == pytest.approx(1 / 3)
    assert q.mmc_wait(1, 0.5) == pytest.approx(0.5 / (1 - 0.5))  # ρ / (μ − λ)


def test_simulated_mmc_queue_matches_erlang_c():
    """A long seeded M/M/2 run at 50% utilisation: waiting probability, mean wait and utilisation."""
    lam, c, n = 1.0, 2, 80_000
    rng = np.random.default_rng(0)
    arrivals, service = q.poisson_arrivals(lam, n, rng), rng.exponential(1.0, n)
    served = q.serve(arrivals, service, c, always)
    wait = served.latency - service  # (N,) time in the queue before a worker took it
    assert np.mean(wait > 1e-9) == pytest.approx(q.erlang_c(c, lam), abs=0.01)
    assert np.mean(wait) == pytest.approx(q.mmc_wait(c, lam), rel=0.06)
    assert served.busy == pytest.approx(lam / c, abs=0.01)
    assert served.rejected == 0


def test_shedding_refuses_exactly_when_the_queue_is_full():
    rng = np.random.default_rng(1)
    arrivals, service = q.poisson_arrivals(3.0, 3000, rng), rng.exponential(1.0, 3000)  # 150% of 2 workers
    served = q.serve(arrivals, service, 2, lambda now, server: len(server.queue) < 5)
    assert served.waiting.max() <= 5
    assert np.array_equal(np.isnan(served.latency), served.waiting >= 5)
    assert 0.25 < served.rejected < 0.45  # about the excess, 1 − 1/1.5


def test_token_bucket_by_hand():
    bucket = q.TokenBucket(rate=1.0, burst=2)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]  # the burst, then empty
    assert bucket.take(0.5) is False  # half a token refilled
    assert bucket.take(1.0) is True  # a whole one now
    assert bucket.take(10.0) and bucket.take(10.0) and not bucket.take(10.0)  # refills only up to the burst


def test_hpa_formula_by_hand():
    scaler = q.Autoscaler(target=0.6, period=10, startup=5, low=1, high=4)
    assert q.hpa_desired(2, 0.9, scaler) == 3  # ceil(2 × 0.9 / 0.6)
    assert q.hpa_desired(2, 0.63, scaler) == 2  # within the 10% tolerance: no change
    assert q.hpa_desired(3, 3.0, scaler) == 4  # clamped to high
    assert q.hpa_desired(3, 0.0, scaler) == 1  # clamped to low


def test_a_fixed_fleet_is_the_same_queue_as_a_server_with_that_many_workers():
    """Replica processes sharing a priority store give the latencies a simpy.Resource gives."""
    rng = np.random.default_rng(2)
    arrivals, service = q.poisson_arrivals(2.4, 2000, rng), rng.exponential(1.0, 2000)
    served = q.serve(arrivals, service, 3, always)
    fleet = q.fleet(arrivals, service, horizon=arrivals[-1] + 200, fixed=3)
    assert np.allclose(fleet.latency, served.latency)
    assert fleet.cost == pytest.approx(3 * (arrivals[-1] + 200))


def test_the_autoscaler_follows_a_step_in_load():
    """Load 3 from the start: 1 replica, then ceil(3 / 0.6) = 5 once the first evaluation's replicas boot."""
    rng = np.random.default_rng(3)
    horizon = 3000.0
    arrivals = q.poisson_arrivals(3.0, 9500, rng)
    arrivals = arrivals[arrivals < horizon]
    service = rng.exponential(1.0, len(arrivals))
    scaler = q.Autoscaler(target=0.6, period=100, startup=50, low=1, high=10)
    fleet = q.fleet(arrivals, service, horizon, scaler=scaler)
    assert fleet.replicas[0] == 1 and fleet.replicas[1] >= 5
    assert 4 <= np.median(fleet.replicas) <= 7
    assert fleet.cost < 7 * horizon
    late = arrivals > 1000  # long after the start: the fleet keeps up
    assert np.percentile(fleet.latency[late], 99) < 15


def test_thinned_arrivals_follow_the_rate():
    rng = np.random.default_rng(4)
    times = q.thinned_arrivals(lambda t: np.where(t < 500, 1.0, 3.0), 3.0, 1000, rng)
    assert np.all(np.diff(times) > 0) and times[-1] < 1000
    assert len(times[times < 500]) == pytest.approx(500, rel=0.1)
    assert len(times[times >= 500]) == pytest.approx(1500, rel=0.1)


def test_p99_by_window():
    latency = np.array([1.0, 2.0, 3.0, 10.0])
    arrivals = np.array([0.5, 1.5, 2.5, 2.6])
    out = q.p99_by_window(latency, arrivals, width=1.0, horizon=4.0)
    assert out.shape == (4,) and out[0] == 1.0 and out[1] == 2.0 and out[3] == 0.0
    assert out[2] == pytest.approx(np.percentile([3.0, 10.0], 99))
    assert math.isfinite(out.sum())
