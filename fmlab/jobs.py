"""Running demos for a shared classroom server: a queue, a concurrency cap and a result cache.

`Runner.submit(demo, cfg)` returns a `Job` at once and trains from a background thread: in
that thread itself, or, given `execute=Pool(n).execute` (fmlab.workers), in a worker process.
At most `max_concurrent` runs train at a time (a process-wide BoundedSemaphore); the rest
wait in first-come order and know their place in the queue. A finished result is cached
by (demo id, config), and identical submissions still in flight share one run, so a class
running the same preset computes it once. Plain Python: no Streamlit here.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import threading
import time
import weakref
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Callable

from .demo import Cancelled, Demo, Event, Result
from .text import T, _, local

log = logging.getLogger(__name__)


class State(StrEnum):
    """Where a job is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED = (State.DONE, State.FAILED, State.CANCELLED)


Execute = Callable[[Demo, Any, Callable[[Event], None], threading.Event], Result]


def in_thread(demo: Demo, cfg: Any, report: Callable[[Event], None], stop: threading.Event) -> Result:
    """Run the demo in the calling thread (`report` raises Cancelled once `stop` is set)."""
    return demo.run(cfg, report)


def failure(error: BaseException) -> T:
    """The bilingual message shown for a run that raised `error`."""
    if isinstance(getattr(error, "text", None), T):  # ConfigError, workers.RunFailed
        return error.text
    detail = f"{type(error).__name__}: {error}"
    return _("run failed: {detail}", "运行失败：{detail}").format(detail=detail)


class _Run:
    """One training run, shared by every job that asked for the same (demo, config)."""

    def __init__(self, demo: Demo, cfg: Any, execute: Execute):
        self.demo, self.cfg, self._execute = demo, cfg, execute
        self.key = (demo.id, cfg)
        self.state = State.QUEUED
        self.fraction = 0.0
        self.result: Result | None = None
        self.error: T | None = None
        self.holders = 0
        self.stop = threading.Event()
        self.finished = threading.Event()
        self.stepped = threading.Event()  # set at the first training step (the live view's first point)
        self._events: list[Event] = []
        self._lock = threading.Lock()

    def report(self, event: Event) -> None:
        """The `report` callback handed to `demo.run`: records progress, or stops the run."""
        if self.stop.is_set():
            raise Cancelled
        with self._lock:
            self._events.append(event)
            self.fraction = min(1.0, max(self.fraction, event.fraction))
        if event.kind == "step":
            self.stepped.set()

    def events(self, since: int = 0) -> list[Event]:
        """A copy of the events reported so far, from index `since`."""
        with self._lock:
            return self._events[since:]

    def join(self) -> bool:
        """Add a holder if the run is still wanted and may yet succeed; False otherwise."""
        with self._lock:
            if self.stop.is_set() or self.state in (State.FAILED, State.CANCELLED):
                return False
            self.holders += 1
            return True

    def release(self) -> bool:
        """One holder lets go; stop the run when nobody still wants it. True if it was still going."""
        with self._lock:
            if self.state in FINISHED:
                return False
            self.holders -= 1
            if self.holders <= 0:
                self.stop.set()
            return True

    def finish(self, state: State, result: Result | None = None, error: T | None = None) -> None:
        with self._lock:
            self.state, self.result, self.error = state, result, error
            if state is State.DONE:
                self.fraction = 1.0
        self.finished.set()
        self.stepped.set()

    def execute(self) -> None:
        """Run the demo and record how it ended."""
        try:
            result = self._execute(self.demo, self.cfg, self.report, self.stop)
        except Cancelled:
            self.finish(State.CANCELLED)
        except Exception as error:  # any demo error becomes a message, not a dead thread
            log.exception("demo %s failed with %r", self.demo.id, self.cfg)
            self.finish(State.FAILED, error=failure(error))
        else:
            self.finish(State.CANCELLED if self.stop.is_set() else State.DONE, result=result)


class Job:
    """One submitter's handle on a run: progress, result, and a `cancel()` that only withdraws this submitter."""

    def __init__(self, runner: Runner, run: _Run, cached: bool = False):
        self._runner, self._run = runner, run
        self._withdrawn = False
        self.cached = cached

    @property
    def demo(self) -> Demo:
        """The demo being run."""
        return self._run.demo

    @property
    def cfg(self) -> Any:
        """The config it runs with."""
        return self._run.cfg

    @property
    def state(self) -> State:
        """Cancelled once this submitter withdrew, else the run's state."""
        return State.CANCELLED if self._withdrawn else self._run.state

    @property
    def active(self) -> bool:
        """Queued or running."""
        return self.state not in FINISHED

    @property
    def fraction(self) -> float:
        """Share of the run done, in [0, 1]; never goes down."""
        return self._run.fraction

    @property
    def position(self) -> int | None:
        """1 for the next run to start, 2 after it, ...; None unless queued."""
        return self._runner.position(self._run) if self.state is State.QUEUED else None

    @property
    def result(self) -> Result | None:
        """The result once done, else None."""
        return self._run.result if self.state is State.DONE else None

    @property
    def error(self) -> T | None:
        """The bilingual failure message once failed, else None."""
        return self._run.error if self.state is State.FAILED else None

    def events(self, since: int = 0) -> list[Event]:
        """Progress events so far (a copy; safe to read while the run goes on)."""
        return self._run.events(since)

    def cancel(self) -> None:
        """Stop waiting for this run; it stops at its next event once no other submitter wants it."""
        if self._withdrawn:
            return
        self._withdrawn = self._run.release()
        self._runner.wake()

    def wait_for_first_step(self, timeout: float) -> bool:
        """Block until the run's first training step (or its end), up to `timeout` s: a live view then opens
        with its first loss point drawn instead of waiting for the next refresh."""
        return self._withdrawn or self._run.stepped.wait(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run finishes (or this job was cancelled); True if it did within `timeout`."""
        return self._withdrawn or self._run.finished.wait(timeout)


@dataclass
class Progress:
    """What a live view shows of a job, kept up to date from the events it has not read yet.

    curves: training loss per run name (a `T`, or "" for a demo's only run), from "step" events.
    """

    seen: int = 0
    curves: dict[T | str, list[float]] = field(default_factory=dict)
    note: T | None = None  # the latest stage note
    last: Event | None = None

    def update(self, job: "Job") -> "Progress":
        """Read the events reported since the last update, and only those."""
        new = job.events(self.seen)
        self.seen += len(new)
        for e in new:
            if e.kind == "step" and "loss" in e.metrics:
                self.curves.setdefault(e.run, []).append(e.metrics["loss"])
            if e.note is not None:
                self.note = e.note
        self.last = new[-1] if new else self.last
        return self

    def named_curves(self, lang: str, unnamed: str = "loss") -> dict[str, list[float]]:
        """The curves keyed by run names in `lang`; the unnamed run is called `unnamed`."""
        return {local(run, lang) or unnamed: values for run, values in self.curves.items()}


class Runner:
    """Queue, cap and cache for demo runs; one per process, shared by every session."""

    def __init__(self, max_concurrent: int | None = None, max_cached: int = 64, execute: Execute = in_thread,
                 watch: Callable[[str, Demo, Any], None] | None = None):
        self.max_concurrent = max_concurrent or os.cpu_count() or 1
        self.execute = execute
        self.watch = watch  # told ("started" | how it ended, demo, cfg) of every computed run: a classroom counts them
        self.max_cached = max_cached
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._cond = threading.Condition()
        self._queue: deque[_Run] = deque()
        self._live: dict[tuple, _Run] = {}
        self._done: OrderedDict[tuple, _Run] = OrderedDict()
        self._running = 0
        _RUNNERS.add(self)

    def submit(self, demo: Demo, cfg: Any) -> Job:
        """A job for `demo.run(cfg)`: the cached result, the identical run in flight, or a new run."""
        key = (demo.id, cfg)
        with self._cond:
            if key in self._done:
                self._done.move_to_end(key)
                return Job(self, self._done[key], cached=True)
            run = self._live.get(key)
            if run is not None and run.join():
                return Job(self, run)
            run = _Run(demo, cfg, self.execute)
            run.join()
            self._live[key] = run
            self._queue.append(run)
            job = Job(self, run)
        threading.Thread(target=self._work, args=(run,), name=f"fmlab-{demo.id}", daemon=True).start()
        return job

    def position(self, run: _Run) -> int | None:
        """1-based place of a waiting run in the queue."""
        with self._cond:
            return self._queue.index(run) + 1 if run in self._queue else None

    @property
    def running(self) -> int:
        """How many runs are training now."""
        return self._running

    @property
    def queued(self) -> int:
        """How many runs wait for a slot."""
        return len(self._queue)

    def shutdown(self, timeout: float = 5.0) -> None:
        """Cancel every queued or running run and wait up to `timeout` seconds for them to stop."""
        with self._cond:
            runs = list(self._live.values())
            for run in runs:
                run.stop.set()
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for run in runs:
            run.finished.wait(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """Let waiting runs re-check whether they were cancelled."""
        with self._cond:
            self._cond.notify_all()

    def _admit(self, run: _Run) -> bool:
        """Wait until `run` heads the queue and a slot is free; False if it was cancelled meanwhile."""
        with self._cond:
            while not run.stop.is_set():
                if self._queue[0] is run and self._slots.acquire(blocking=False):
                    self._queue.popleft()
                    self._running += 1
                    run.state = State.RUNNING
                    self._cond.notify_all()
                    return True
                self._cond.wait()
            self._queue.remove(run)
            self._cond.notify_all()
            return False

    def _work(self, run: _Run) -> None:
        """Thread body: queue, train under a slot, then cache or forget the run."""
        if self._admit(run):
            try:
                self._tell("started", run)
                run.execute()
            finally:
                with self._cond:
                    self._running -= 1
                    self._slots.release()
                    self._cond.notify_all()
            self._tell(str(run.state), run)
        else:
            run.finish(State.CANCELLED)
        self._retire(run)

    def _tell(self, what: str, run: _Run) -> None:
        if self.watch is not None:
            self.watch(what, run.demo, run.cfg)

    def _retire(self, run: _Run) -> None:
        """Move a finished run out of flight; keep it in the cache only if it succeeded."""
        with self._cond:
            if self._live.get(run.key) is run:
                del self._live[run.key]
            if run.state is State.DONE:
                self._done[run.key] = run
                while len(self._done) > self.max_cached:
                    self._done.popitem(last=False)


def run_log(path: str) -> Callable[[str, Demo, Any], None]:
    """A `watch` callback that appends one JSON line per computed run's start and end to the file at `path`."""
    lock = threading.Lock()

    def note(what: str, demo: Demo, cfg: Any) -> None:
        line = json.dumps({"event": what, "demo": demo.id, "config": repr(cfg), "at": time.time()})
        with lock, open(path, "a", encoding="utf-8") as out:
            out.write(line + "\n")

    return note


_RUNNERS: weakref.WeakSet[Runner] = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    """At exit, stop runs still going: torch aborts the process if a thread is killed mid-operation."""
    for runner in list(_RUNNERS):
        runner.shutdown()


class JobSet:
    """The jobs one browser session started, by panel; `cancel_all()` when the session ends."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, slot: str) -> Job | None:
        """The job of one panel, if it started one."""
        with self._lock:
            return self._jobs.get(slot)

    def put(self, slot: str, job: Job) -> None:
        """Hold `job` for `slot`, cancelling the job it replaces."""
        with self._lock:
            old, self._jobs[slot] = self._jobs.get(slot), job
        if old is not None and old is not job:
            old.cancel()

    def cancel_all(self) -> None:
        """Withdraw from every job (the session ended)."""
        with self._lock:
            jobs, self._jobs = list(self._jobs.values()), {}
        for job in jobs:
            job.cancel()
