"""Worker processes: same results as in-process, events relayed in order, stop, failures, dead workers."""
import dataclasses
import threading

import plotly.graph_objects as go
import pytest

from fmlab import registry
from fmlab.demo import Cancelled
from fmlab.jobs import Runner, State
from fmlab.workers import WORKER_DIED, Pool, RunFailed

DEMO = registry.get("residual-depth")
SMOKE = registry.smoke_config(DEMO)


@pytest.fixture(scope="module")
def pool():
    pool = Pool(1)
    pool.warm()
    yield pool
    pool.close()


def worker_pid(pool: Pool) -> int:
    (worker,) = pool._idle
    return worker.process.pid


def test_a_run_in_a_worker_matches_the_same_run_in_process(pool):
    events = []
    result = pool.execute(DEMO, SMOKE, events.append, threading.Event())
    # one thread in the worker vs the test's thread count: sums may round differently in the last bits
    assert result.metrics == pytest.approx(DEMO.run(SMOKE).metrics, rel=1e-5)
    fractions = [e.fraction for e in events]
    assert len(events) > 10 and fractions == sorted(fractions)
    for chart in result.charts:
        first, second = chart.plot("zh"), chart.plot("zh")
        assert isinstance(first, go.Figure) and first is not second  # each caller gets its own copy
    assert result.charts[0].plot("zh").layout.xaxis.title.text == "步数"


def test_stop_cancels_the_run_and_the_worker_serves_the_next(pool):
    pid = worker_pid(pool)
    stop = threading.Event()
    seen = []

    def report(event):
        seen.append(event)
        stop.set()

    with pytest.raises(Cancelled):
        pool.execute(DEMO, DEMO.config(), report, stop)
    assert seen and max(e.fraction for e in seen) < 0.5
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics
    assert worker_pid(pool) == pid


def test_an_error_inside_the_worker_is_a_bilingual_failure_and_the_worker_lives(pool):
    pid = worker_pid(pool)
    missing = dataclasses.replace(DEMO, id="no-such-demo")
    with pytest.raises(RunFailed) as err:
        pool.execute(missing, SMOKE, lambda e: None, threading.Event())
    assert "no-such-demo" in err.value.text.en and "未知" in err.value.text.zh
    assert worker_pid(pool) == pid


def test_a_worker_killed_mid_run_fails_that_run_and_is_replaced(pool):
    pid = worker_pid(pool)

    def kill_on_first_event(event):
        pool_worker.kill()

    (pool_worker,) = pool._idle
    with pytest.raises(RunFailed) as err:
        pool.execute(DEMO, DEMO.config(), kill_on_first_event, threading.Event())
    assert err.value.text == WORKER_DIED
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics
    assert worker_pid(pool) != pid


def test_an_idle_worker_that_died_is_replaced_before_the_run(pool):
    (worker,) = pool._idle
    worker.kill()
    worker.process.wait()
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics


def test_the_runner_trains_in_the_pool(pool):
    runner = Runner(max_concurrent=1, execute=pool.execute)
    job = runner.submit(DEMO, SMOKE)
    assert job.wait(120)
    assert job.state is State.DONE and job.result.metrics == pytest.approx(DEMO.run(SMOKE).metrics, rel=1e-5)
    assert job.fraction == 1.0 and job.events()
