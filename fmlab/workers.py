"""Training in worker processes, so a busy web server cannot slow training down.

Why not threads: every thread of a Python process shares one GIL. PyTorch lets go of it inside
each tensor op and must win it back afterwards; while another thread is busy (the web server
drawing a chart, a second training run), each of the thousands of small ops per step can wait
for that thread's whole time slice. Measured here: a 4 s run took minutes beside a busy thread.

A `Pool` keeps up to `size` spawned workers, each with torch and every demo imported once.
`pool.execute(demo, cfg, report, stop)` runs one demo in an idle worker, relays its progress
events to `report` as they come, and returns the Result with its charts drawn in both languages.
Setting `stop` cancels the run; a worker that dies (out of memory, killed) becomes a bilingual
error and is replaced.

Messages, parent -> worker: ("run", demo_id, cfg), ("cancel",).
Worker -> parent: ("events", [Event, ...]), ("done", Result), ("cancelled",), ("failed", T).
Events go in batches, at most one every FLUSH_SECONDS: a parent busy serving pages then
reads a few dozen messages per run, not thousands, and cannot hold the worker back.
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .demo import Cancelled, Demo, Event, Result
from .text import LANGS, T, _

log = logging.getLogger(__name__)

PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)  # so a worker imports this same fmlab
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


def serve_fd(fd: int) -> None:
    """Entry point of a worker process: serve on the socket inherited as file descriptor `fd`."""
    serve(Connection(fd))


def serve(conn: Connection) -> None:
    """A worker's main loop: run demos on request until the parent closes the pipe."""
    from . import registry
    from .fit import configure_threads
    from .jobs import failure

    configure_threads(1)  # one core per run; the pool has one worker per core
    registry.demos()  # import torch and every demo now, not during the first run
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] != "run":
            continue  # a "cancel" that arrived after its run had finished
        _, demo_id, cfg = message
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


class _Relay:
    """The worker's `report` callback: batches events for the parent and notices a "cancel"."""

    def __init__(self, conn) -> None:
        self.conn = conn
        self.pending: list[Event] = []
        self.sent_at = time.monotonic()

    def report(self, event: Event) -> None:
        if self.conn.poll() and self.conn.recv()[0] == "cancel":
            raise Cancelled
        self.pending.append(event)
        if time.monotonic() - self.sent_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.conn.send(("events", self.pending))
            self.pending = []
        self.sent_at = time.monotonic()


class _Worker:
    """One worker process and the parent's end of a socket pair to it.

    Started with `python -c` rather than multiprocessing's spawn: spawn re-runs the parent's
    `__main__`, which under Streamlit is the page script being executed.
    """

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        code = "import sys; from fmlab.workers import serve_fd; serve_fd(int(sys.argv[1]))"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [PACKAGE_ROOT, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen([sys.executable, "-c", code, str(theirs.fileno())],
                                        pass_fds=[theirs.fileno()], env=env)
        theirs.close()
        self.conn = Connection(ours.detach())

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()

    def close(self) -> None:
        self.conn.close()  # the worker reads EOF and exits
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Pool:
    """Up to `size` worker processes, started on first use (or by `warm()`) and reused."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def warm(self) -> None:
        """Start every worker now, so the first runs do not wait for torch to import."""
        with self._lock:
            while len(self._idle) < self.size:
                self._idle.append(_Worker())

    def close(self) -> None:
        """Stop the idle workers."""
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.close()

    def execute(self, demo: Demo, cfg: Any, report, stop: threading.Event) -> Result:
        """Run `demo` with `cfg` in a worker; raises Cancelled or RunFailed like an in-process run would.

        A worker found dead before it sent anything is replaced and the run retried once.
        """
        for attempt in range(2):
            worker = self._checkout()
            try:
                return self._drive(worker, demo, cfg, report, stop)
            except _Lost as lost:
                worker.close()
                worker = None
                if lost.started or attempt == 1:
                    raise RunFailed(WORKER_DIED) from None
            finally:
                if worker is not None:  # done, cancelled or failed inside the demo: the worker is fine
                    with self._lock:
                        self._idle.append(worker)
        raise AssertionError("unreachable")

    def _checkout(self) -> _Worker:
        with self._lock:
            self._idle = [w for w in self._idle if w.alive()]
            return self._idle.pop() if self._idle else _Worker()

    @staticmethod
    def _drive(worker: _Worker, demo: Demo, cfg: Any, report, stop: threading.Event) -> Result:
        """Send the run, relay events, and turn the worker's last message into a return or a raise."""
        started = cancel_sent = False
        try:
            worker.conn.send(("run", demo.id, cfg))
            while True:
                if stop.is_set() and not cancel_sent:
                    worker.conn.send(("cancel",))
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
