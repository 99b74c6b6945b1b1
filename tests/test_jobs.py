"""The job runner: caching, sharing, the concurrency cap, queue positions, cancel and failures."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from fmlab.demo import Demo, Event, Result
from fmlab.jobs import JobSet, Progress, Runner, State
from fmlab.params import ConfigError, DemoConfig, param
from fmlab.text import _

FAILURES = ("", "config", "crash")


@dataclass(frozen=True)
class Config(DemoConfig):
    """Settings of the fake demo: how long it runs and how it fails."""

    steps: int = param(3, low=1, high=100_000, help=_("Steps", "步数"))
    pause: float = param(0.0, low=0.0, high=1.0, help=_("Seconds per step", "每步秒数"))
    seed: int = param(0, low=0, high=1000, help=_("Seed", "种子"))
    fail: str = param("", choices=FAILURES, help=_("How to fail", "失败方式"))


class Fake:
    """A fast demo that counts its calls and how many of them overlap; `gate` holds every step."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.calls = 0
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self.demo = Demo("fake", _("Fake", "假"), _("A fake demo", "假演示"), "structure", Config, self.run,
                         smoke={}, key_metric="loss", key_label=_("loss", "损失"), module=__name__)

    def run(self, cfg: Config, report) -> Result:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            return self._train(cfg, report)
        finally:
            with self._lock:
                self.active -= 1

    def _train(self, cfg: Config, report) -> Result:
        report(Event("stage", 0.0, note=_("Training", "训练中")))
        for i in range(cfg.steps):
            assert self.gate.wait(10), "test gate never opened"
            report(Event("step", (i + 1) / cfg.steps, run="a", step=i + 1, metrics={"loss": 1 / (i + 1)}))
            time.sleep(cfg.pause)
        if cfg.fail == "config":
            raise ConfigError(_("bad setting", "设置错误"))
        if cfg.fail == "crash":
            raise RuntimeError("boom")
        return Result({"loss": 1 / cfg.steps}, _(f"loss {1 / cfg.steps:.2f}", f"损失 {1 / cfg.steps:.2f}"))


def eventually(check, timeout: float = 5.0) -> None:
    """Wait until `check()` is true, failing the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.005)


@pytest.fixture
def fake() -> Fake:
    return Fake()


def test_a_run_reports_progress_and_a_result(fake):
    job = Runner(2).submit(fake.demo, Config(steps=4))
    assert job.wait(5)
    assert job.state is State.DONE and not job.active
    assert job.fraction == 1.0
    assert job.result.metrics == {"loss": 0.25}
    progress = Progress().update(job)
    assert progress.named_curves("en") == {"a": [1.0, 0.5, 1 / 3, 0.25]}
    assert progress.note.en == "Training" and progress.seen == len(job.events())
    assert job.error is None


def test_progress_reads_each_event_once(fake):
    fake.gate.clear()
    job = Runner(2).submit(fake.demo, Config(steps=6))
    progress = Progress()
    deadline = time.monotonic() + 5
    while progress.update(job).seen < 1 and time.monotonic() < deadline:  # the stage note; steps wait at the gate
        time.sleep(0.001)
    assert progress.note.en == "Training" and not progress.curves
    fake.gate.set()
    assert job.wait(5)
    progress.update(job).update(job)  # a second update with nothing new changes nothing
    assert progress.curves == {"a": [1 / (i + 1) for i in range(6)]}
    assert progress.last.step == 6


def test_a_finished_result_is_cached(fake):
    runner = Runner(2)
    first = runner.submit(fake.demo, Config())
    assert first.wait(5)
    again = runner.submit(fake.demo, Config())
    assert again.cached and again.state is State.DONE
    assert again.result is first.result
    assert fake.calls == 1
    assert runner.submit(fake.demo, Config(seed=1)).wait(5)
    assert fake.calls == 2


def test_identical_submissions_in_flight_share_one_run(fake):
    fake.gate.clear()
    runner = Runner(4)
    jobs = [runner.submit(fake.demo, Config()) for _ in range(3)]
    fake.gate.set()
    assert all(job.wait(5) for job in jobs)
    assert fake.calls == 1
    assert {id(job.result) for job in jobs} == {id(jobs[0].result)}


def test_never_more_than_max_concurrent_runs_at_once(fake):
    runner = Runner(max_concurrent=2)
    jobs = [runner.submit(fake.demo, Config(steps=5, pause=0.01, seed=s)) for s in range(8)]
    assert all(job.wait(10) for job in jobs)
    assert fake.calls == 8
    assert fake.max_active == 2
    assert runner.running == 0 and runner.queued == 0


def test_waiting_jobs_know_their_queue_position(fake):
    fake.gate.clear()
    runner = Runner(max_concurrent=1)
    first, second, third = (runner.submit(fake.demo, Config(seed=s)) for s in range(3))
    eventually(lambda: first.state is State.RUNNING)
    assert first.position is None
    assert (second.state, second.position) == (State.QUEUED, 1)
    assert (third.state, third.position) == (State.QUEUED, 2)
    second.cancel()
    assert second.state is State.CANCELLED
    eventually(lambda: third.position == 1)
    fake.gate.set()
    assert first.wait(5) and third.wait(5)
    assert fake.calls == 2


def test_cancel_stops_a_running_job_at_its_next_event(fake):
    runner = Runner(2)
    job = runner.submit(fake.demo, Config(steps=100_000, pause=0.001))
    eventually(lambda: len(job.events()) > 3)
    job.cancel()
    assert job.state is State.CANCELLED and job.wait(0)
    eventually(lambda: fake.active == 0)
    assert job.result is None
    rerun = runner.submit(fake.demo, Config(steps=100_000, pause=0.001))
    assert not rerun.cached and rerun.active
    rerun.cancel()


def test_one_submitter_cancelling_does_not_stop_a_shared_run(fake):
    fake.gate.clear()
    runner = Runner(2)
    leaver, stayer = runner.submit(fake.demo, Config()), runner.submit(fake.demo, Config())
    leaver.cancel()
    leaver.cancel()  # a second click on Stop changes nothing
    assert leaver.state is State.CANCELLED
    fake.gate.set()
    assert stayer.wait(5) and stayer.state is State.DONE
    leaver_after = runner.submit(fake.demo, Config())
    assert leaver_after.cached


def test_cancelling_a_finished_job_keeps_its_result(fake):
    job = Runner(1).submit(fake.demo, Config())
    assert job.wait(5)
    job.cancel()
    assert job.state is State.DONE and job.result is not None


def test_a_config_error_is_reported_in_both_languages_and_not_cached(fake):
    runner = Runner(1)
    job = runner.submit(fake.demo, Config(fail="config"))
    assert job.wait(5)
    assert job.state is State.FAILED and job.result is None
    assert (job.error.en, job.error.zh) == ("bad setting", "设置错误")
    assert runner.submit(fake.demo, Config(fail="config")).wait(5)
    assert fake.calls == 2


def test_a_crash_becomes_a_generic_bilingual_message(fake):
    job = Runner(1).submit(fake.demo, Config(fail="crash"))
    assert job.wait(5)
    assert job.state is State.FAILED
    assert job.error.en == "run failed: RuntimeError: boom"
    assert job.error.zh.startswith("运行失败") and "boom" in job.error.zh


def test_a_job_set_cancels_what_it_replaces_and_everything_on_release(fake):
    runner, jobs = Runner(2), JobSet()
    slow = Config(steps=100_000, pause=0.001)
    old = runner.submit(fake.demo, slow)
    jobs.put("panel", old)
    new = runner.submit(fake.demo, Config(steps=100_000, pause=0.001, seed=1))
    jobs.put("panel", new)
    assert old.state is State.CANCELLED and jobs.get("panel") is new
    jobs.cancel_all()
    assert new.state is State.CANCELLED and jobs.get("panel") is None
    eventually(lambda: fake.active == 0)


def test_shutdown_stops_queued_and_running_runs(fake):
    runner = Runner(1)
    running = runner.submit(fake.demo, Config(steps=100_000, pause=0.001))
    queued = runner.submit(fake.demo, Config(steps=100_000, pause=0.001, seed=1))
    eventually(lambda: running.state is State.RUNNING)
    runner.shutdown(timeout=5)
    assert running.state is State.CANCELLED and queued.state is State.CANCELLED
    assert fake.calls == 1 and fake.active == 0


def test_wait_for_first_step_returns_at_the_first_step_not_at_a_stage_or_the_end():
    fake = Fake()
    fake.gate.clear()  # the run reports its "Training" stage, then waits before its first step
    job = Runner(max_concurrent=1).submit(fake.demo, Config(steps=3, pause=0.5))
    assert not job.wait_for_first_step(0.3)  # a stage note is not a loss point
    fake.gate.set()
    assert job.wait_for_first_step(5)
    assert job.active and [e.kind for e in job.events()] == ["stage", "step"]
    assert job.wait(10) and job.state is State.DONE
    assert job.wait_for_first_step(0)  # a finished run never makes anyone wait
