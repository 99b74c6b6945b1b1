"""Worker processes: same results as in-process, events relayed in order, stop, failures, dead workers."""
import dataclasses
import multiprocessing
import threading
import time

import plotly.graph_objects as go
import pytest
import torch

from fmlab import registry
from fmlab.demo import Cancelled, Event
from fmlab.jobs import Runner, State
from fmlab.workers import WORKER_DIED, Pool, RunFailed, _Relay

DEMO = registry.get("residual-depth")
SMOKE = registry.smoke_config(DEMO)


@pytest.fixture(scope="module")
def pool():
    pool = Pool(1)
    pool.warm()
    yield pool
    pool.close()


def idle_worker(pool: Pool):
    """The pool's one idle worker, once it has forked it (replacements are forked in the background)."""
    pool.warm()
    (worker,) = pool._idle
    return worker


def gone(worker, timeout: float = 5.0) -> bool:
    """Whether the worker's process has exited within `timeout` seconds."""
    end = time.monotonic() + timeout
    while worker.alive() and time.monotonic() < end:
        time.sleep(0.05)
    return not worker.alive()


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


def test_stop_cancels_the_run_and_a_fresh_worker_serves_the_next(pool):
    first = idle_worker(pool)
    stop = threading.Event()
    seen = []

    def report(event):
        seen.append(event)
        stop.set()

    with pytest.raises(Cancelled):
        pool.execute(DEMO, DEMO.config(), report, stop)
    assert seen and max(e.fraction for e in seen) < 0.5
    assert gone(first)  # a worker serves one run: its memory goes back when the run ends
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics
    assert idle_worker(pool).pid != first.pid


def test_an_error_inside_the_worker_is_a_bilingual_failure_and_the_pool_serves_on(pool):
    missing = dataclasses.replace(DEMO, id="no-such-demo")
    with pytest.raises(RunFailed) as err:
        pool.execute(missing, SMOKE, lambda e: None, threading.Event())
    assert "no-such-demo" in err.value.text.en and "未知" in err.value.text.zh
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics


def test_a_worker_killed_mid_run_fails_that_run_and_is_replaced(pool):
    worker = idle_worker(pool)
    with pytest.raises(RunFailed) as err:
        pool.execute(DEMO, DEMO.config(), lambda event: worker.kill(), threading.Event())
    assert err.value.text == WORKER_DIED
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics


def test_an_idle_worker_that_died_is_replaced_before_the_run(pool):
    worker = idle_worker(pool)
    worker.kill()
    assert gone(worker)
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics


def test_a_dead_zygote_is_replaced(pool):
    idle_worker(pool).kill()
    pool._zygote.process.kill()
    pool._zygote.process.wait()
    assert pool.execute(DEMO, SMOKE, lambda e: None, threading.Event()).metrics


def test_a_run_alone_gets_the_cores_but_the_servers_and_runs_side_by_side_share_them():
    pool = Pool(3)
    told = {}

    def note(key):
        def report(event):
            told.setdefault(key, set()).update(w.threads for w in pool._busy)
        return report

    try:
        pool.warm()
        pool.execute(DEMO, SMOKE, note("alone"), threading.Event())
        runs = [threading.Thread(target=pool.execute, args=(DEMO, DEMO.config(), note(i), threading.Event()))
                for i in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
    finally:
        pool.close()
    assert told["alone"] == {2}  # 3 cores, one kept for the web server
    assert 1 in told[0] | told[1]  # while both ran, each was told to use one core


def test_the_threads_message_sets_the_workers_torch_threads():
    ours, theirs = multiprocessing.Pipe()
    relay = _Relay(theirs)
    before = torch.get_num_threads()
    try:
        ours.send(("threads", 2))
        relay.report(Event("step", 0.1))
        assert torch.get_num_threads() == 2
        ours.send(("cancel",))
        with pytest.raises(Cancelled):
            relay.report(Event("step", 0.2))
    finally:
        torch.set_num_threads(before)


def test_the_runner_trains_in_the_pool(pool):
    runner = Runner(max_concurrent=1, execute=pool.execute)
    job = runner.submit(DEMO, SMOKE)
    assert job.wait(120)
    assert job.state is State.DONE and job.result.metrics == pytest.approx(DEMO.run(SMOKE).metrics, rel=1e-5)
    assert job.fraction == 1.0 and job.events()


def test_the_zygotes_warm_up_step_leaves_the_global_generator_as_it_was():
    from fmlab.zygote import one_training_step

    before = torch.random.get_rng_state().clone()
    one_training_step()
    assert torch.equal(torch.random.get_rng_state(), before)
