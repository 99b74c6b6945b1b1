"""Training in worker processes, so a busy web server cannot slow training down.

Why not threads: every thread of a Python process shares one GIL. PyTorch lets go of it inside
each tensor op and must win it back afterwards; while another thread is busy (the web server
drawing a chart, a second training run), each of the thousands of small ops per step can wait
for that thread's whole time slice. Measured here: a 4 s run took minutes beside a busy thread.

A `Pool` keeps up to `size` workers, forked from a warmed-up zygote (fmlab.zygote) that has
torch and every demo imported, so a worker shares that memory and is ready at once.
`pool.execute(demo, cfg, report, stop)` runs one demo in an idle worker, relays its progress
events to `report` as they come, and returns the Result with its charts drawn in both languages.
Setting `stop` cancels the run; a worker that dies (out of memory, killed) becomes a bilingual
error and is replaced.

Cores: the runs share every core but one (the web server's): a run alone on a 16-core box gets
15 threads; as more runs start, each busy worker is told its share, down to one each under load.

Messages, parent -> worker: ("run", demo_id, cfg, threads), ("threads", n), ("cancel",).
Worker -> parent: ("events", [Event, ...]), ("done", Result), ("cancelled",), ("failed", T).
The first event goes at once (the live view shows it within a second); later ones in batches,
at most one every FLUSH_SECONDS: a parent busy serving pages then reads a few dozen messages per
run, not thousands, and cannot hold the worker back.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from typing import Any, Callable

from .demo import Cancelled, Demo, Event, Result
from .text import LANGS, T, _
from .zygote import Zygote

log = logging.getLogger(__name__)

POLL_SECONDS = 0.2  # how often a waiting parent checks `stop` and the worker's health
FLUSH_SECONDS = 0.1  # how often a worker sends its pending progress events


class RunFailed(Exception):
    """A run that ended in an error inside the worker; `.text` says why in both languages."""

    def __init__(self, text: T):
        super().__init__(str(text))
        self.text = text


class _Lost(Exception):
    """The worker's pipe broke; `started` says whether it had already sent something for this run."""

    def __init__(self, started: bool):
        super().__init__(started)
        self.started = started


WORKER_DIED = _("the worker process running this demo stopped (out of memory?); please run it again",
                "运行该演示的工作进程意外退出（可能内存不足），请重新运行")


@dataclass(frozen=True)
class Drawn:
    """A chart's figure drawn ahead of time in each language: what crosses the process boundary."""

    figures: dict[str, Any]  # lang -> plotly Figure

    def __call__(self, lang: str) -> Any:
        fig = self.figures[lang]
        return fig.__class__(fig)  # a copy per caller


def drawn(result: Result) -> Result:
    """The result with each chart's `plot` replaced by figures drawn now, so it can be pickled."""
    charts = [replace(c, plot=Drawn({lang: c.plot(lang) for lang in LANGS})) for c in result.charts]
    return replace(result, charts=charts)


def serve(conn: Connection) -> None:
    """A worker's main loop: run demos on request until the parent closes the pipe."""
    from . import registry
    from .fit import configure_threads
    from .jobs import failure

    registry.demos()  # already imported when forked from a warm zygote
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "run":
            continue  # a "cancel" or "threads" that arrived after its run had finished
        _, demo_id, cfg, threads = message
        configure_threads(threads)
        relay = _Relay(conn)
        try:
            result = registry.get(demo_id).run(cfg, relay.report)
            relay.flush()
            conn.send(("done", drawn(result)))
        except Cancelled:
            conn.send(("cancelled",))
        except Exception as error:  # the parent shows the message; the worker lives on
            log.exception("demo %s failed with %r", demo_id, cfg)
            conn.send(("failed", failure(error)))


class Batches:
    """Progress events on their way to another process: the first goes at once, later ones at most one
    batch every FLUSH_SECONDS. `send(events)` delivers one batch."""

    def __init__(self, send: Callable[[list[Event]], None]) -> None:
        self.send = send
        self.pending: list[Event] = []
        self.sent_at = -FLUSH_SECONDS  # the first event goes at once

    def add(self, event: Event) -> None:
        self.pending.append(event)
        if time.monotonic() - self.sent_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.send(self.pending)
            self.pending = []
        self.sent_at = time.monotonic()


class _Relay:
    """The worker's `report` callback: batches events for the parent and obeys "cancel" and "threads"."""

    def __init__(self, conn: Connection) -> None:
        from .fit import configure_threads  # torch: imported by the worker, not by whoever imports this module

        self.conn = conn
        self.configure_threads = configure_threads
        self.batches = Batches(lambda events: conn.send(("events", events)))

    def report(self, event: Event) -> None:
        while self.conn.poll():
            message = self.conn.recv()
            if message[0] == "cancel":
                raise Cancelled
            if message[0] == "threads":
                self.configure_threads(message[1])
        self.batches.add(event)

    def flush(self) -> None:
        self.batches.flush()


class _Worker:
    """One worker process (a child of the zygote) and the parent's end of its socket."""

    def __init__(self, zygote: Zygote) -> None:
        sock, self.pid = zygote.fork_worker()
        self.conn = Connection(sock.detach())
        self.threads = 0  # what it was last told to use
        self._send_lock = threading.Lock()  # the driving thread and the pool's rebalancing both send

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.conn.send(message)

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        """Let it go without waiting: it reads EOF and exits; one stuck in a run is killed after 2 s."""
        self.conn.close()
        reaper = threading.Timer(2.0, self.kill)
        reaper.daemon = True
        reaper.start()


class Pool:
    """Up to `size` worker processes, forked on first use (or by `warm()`) and reused."""

    def __init__(self, size: int, zygote: Zygote | None = None) -> None:
        self.size = size
        self._zygote = zygote
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._lock = threading.Lock()

    def warm(self, background: bool = False) -> None:
        """Fork every worker now, so the first runs do not wait; in a thread when `background`."""
        if background:
            threading.Thread(target=self.warm, name="fmlab-pool-warm", daemon=True).start()
            return
        with self._lock:
            while len(self._idle) + len(self._busy) < self.size:
                self._idle.append(self._fork())

    def close(self) -> None:
        """Stop the idle workers and the zygote (busy workers exit when their run ends)."""
        with self._lock:
            idle, self._idle = self._idle, []
            zygote, self._zygote = self._zygote, None
        for worker in idle:
            worker.close()
        if zygote is not None:
            zygote.close()

    def execute(self, demo: Demo, cfg: Any, report, stop: threading.Event) -> Result:
        """Run `demo` with `cfg` in a worker; raises Cancelled or RunFailed like an in-process run would.

        A worker found dead before it sent anything is replaced and the run retried once.
        """
        for attempt in range(2):
            worker = self._checkout()
            try:
                return self._drive(worker, demo, cfg, report, stop)
            except _Lost as lost:
                if lost.started or attempt == 1:
                    raise RunFailed(WORKER_DIED) from None
            finally:
                self._retire(worker)
        raise AssertionError("unreachable")

    def _fork(self) -> _Worker:
        """A new worker from the zygote, starting a new zygote if there is none or it died. Holds `_lock`."""
        if self._zygote is not None:
            try:
                return _Worker(self._zygote)
            except OSError:
                log.warning("the zygote stopped; starting a new one")
        self._zygote = Zygote.start()
        return _Worker(self._zygote)

    def _checkout(self) -> _Worker:
        with self._lock:
            self._idle = [w for w in self._idle if w.alive()]
            worker = self._idle.pop() if self._idle else self._fork()
            self._busy.append(worker)
            self._rebalance(skip=worker)
            worker.threads = self._share()
        return worker

    def _retire(self, worker: _Worker) -> None:
        """A worker serves one run, then exits and a fresh fork takes its place: memory goes back after every run."""
        worker.close()
        with self._lock:
            self._busy.remove(worker)
            self._rebalance()
        self.warm(background=True)

    def _share(self) -> int:
        """Threads per busy worker: the cores but one (the server's) shared among the runs, at least one each.

        Measured on 2 cores with the browser on the same box: grad-cam took 7.2 s with 2 threads and
        4.7 s with 1, because two threads that must meet at every op stall whenever one is preempted.
        """
        return max(1, (self.size - 1) // max(1, len(self._busy)))

    def _rebalance(self, skip: _Worker | None = None) -> None:
        """Tell each running worker its share of the cores, when it changed. Holds `_lock`."""
        share = self._share()
        for worker in self._busy:
            if worker is not skip and worker.threads != share:
                worker.threads = share
                try:
                    worker.send(("threads", share))
                except OSError:
                    pass  # it died; its driver finds out

    @staticmethod
    def _drive(worker: _Worker, demo: Demo, cfg: Any, report, stop: threading.Event) -> Result:
        """Send the run, relay events, and turn the worker's last message into a return or a raise."""
        started = cancel_sent = False
        try:
            worker.send(("run", demo.id, cfg, worker.threads))
            while True:
                if stop.is_set() and not cancel_sent:
                    worker.send(("cancel",))
                    cancel_sent = True
                if not worker.conn.poll(POLL_SECONDS):
                    if not worker.alive():
                        raise EOFError
                    continue
                kind, *payload = worker.conn.recv()
                started = True
                if kind != "events":
                    break
                try:
                    for event in payload[0]:
                        report(event)
                except Cancelled:
                    stop.set()
        except (EOFError, OSError):
            raise _Lost(started) from None
        if kind == "done":
            return payload[0]
        if kind == "cancelled":
            raise Cancelled
        raise RunFailed(payload[0])
