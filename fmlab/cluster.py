"""Running demos on a Ray cluster, for a class that outgrows one server.

Set FMLAB_RAY_ADDRESS (e.g. `10.0.0.5:6379`) and the app sends each run to the cluster instead of
its local worker pool: `Cluster.connect(address).execute` is an `Execute` for `jobs.Runner`.

- Each run is one Ray task with one CPU (and a share of a GPU when the cluster has GPUs and the
  demo trains a network big enough to gain from one).
- One named, detached actor, the `Broker`, is the cluster's record of runs. Every app replica talks
  to the same broker, so identical requests from any replica share one task and a finished
  result is cached once for all of them: a class's shared preset is computed once, however many
  servers sit behind the load balancer.
- Progress: the task sends its events to the broker in batches (workers.Batches); each replica
  polls the broker for the events it has not seen and hands them to the page's live view.
- Stop: a replica whose students all left releases the run; when no replica holds it any more,
  the broker cancels the task (`ray.cancel`), which stops at its next report.

Only this module imports ray, and only when a cluster is asked for.
"""
from __future__ import annotations

import os
import pickle
import socket
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .demo import Cancelled, Demo, Event, Result
from .text import _
from .workers import WORKER_DIED, Batches, RunFailed, drawn

NAMESPACE = "fmlab"
BROKER = "fmlab-runs"
POLL_SECONDS = 0.25  # how often a replica asks the broker for new events
GPU_SHARE = 0.25  # four runs share one GPU

NOT_REACHED = _("could not reach the Ray cluster at {address} ({detail}). Check FMLAB_RAY_ADDRESS, and with "
                "token authentication set RAY_AUTH_MODE=token and the cluster's token (RAY_AUTH_TOKEN).",
                "无法连接 Ray 集群 {address}（{detail}）。请检查 FMLAB_RAY_ADDRESS；若集群启用令牌认证，"
                "请设置 RAY_AUTH_MODE=token 并提供集群令牌（RAY_AUTH_TOKEN）。")


class ClusterUnreachable(RuntimeError):
    """The cluster at FMLAB_RAY_ADDRESS did not answer; `.text` says what to check, in both languages."""

    def __init__(self, address: str, detail: str):
        self.text = NOT_REACHED.format(address=address, detail=detail)
        super().__init__(str(self.text))


def run_key(demo_id: str, cfg: Any) -> str:
    """The broker's name for a run: a frozen config's repr lists every field, so equal configs name one run."""
    return f"{demo_id}:{cfg!r}"


# ---- in the cluster: the task and the broker ---------------------------------------------------------


class _Report:
    """The task's `report` callback: ships events to the broker, which answers whether to stop."""

    def __init__(self, broker: Any, ticket: tuple[str, int]) -> None:
        import ray

        self.stop = False

        def send(events: list[Event]) -> None:
            self.stop = ray.get(broker.report.remote(ticket, events))

        self.batches = Batches(send)

    def __call__(self, event: Event) -> None:
        if self.stop:
            raise Cancelled
        self.batches.add(event)


def train(ticket: tuple[str, int], demo_id: str, cfg_bytes: bytes, broker: Any) -> tuple:
    """One run, as a Ray task: ("done", Result with drawn charts) | ("cancelled",) | ("failed", T).

    ticket: (run key, launch number): a cancelled task's late messages cannot touch a newer run of the same key.
    """
    from . import registry
    from .fit import configure_threads
    from .jobs import failure

    configure_threads(1)  # the task holds one CPU
    broker.started.remote(ticket, os.getpid())
    report = _Report(broker, ticket)
    try:
        result = registry.get(demo_id).run(pickle.loads(cfg_bytes), report)
        report.batches.flush()
        outcome: tuple = ("done", drawn(result))
    except (Cancelled, KeyboardInterrupt):  # KeyboardInterrupt: how ray.cancel interrupts a task
        outcome = ("cancelled",)
    except Exception as error:
        outcome = ("failed", failure(error))
    broker.finished.remote(ticket, outcome[0] == "done")
    return outcome


@cache
def remote_train() -> Any:
    """`train` as a Ray remote function: no retries, so a killed worker is reported, not silently rerun."""
    import ray

    return ray.remote(max_retries=0)(train)


@dataclass
class _Flight:
    """A run the broker launched and nobody has seen finish."""

    ref: Any  # the task's ObjectRef
    number: int  # which launch of this key it is
    holders: int = 1  # replicas that want it
    events: list[Event] = field(default_factory=list)
    pid: int | None = None  # the Ray worker running it, once started


class Broker:
    """The cluster's one record of runs (a detached Ray actor): in flight, finished and cached, and counted."""

    def __init__(self, max_cached: int = 64) -> None:
        self.flights: dict[str, _Flight] = {}
        self.done: OrderedDict[str, Any] = OrderedDict()  # key -> ObjectRef of a run that succeeded
        self.computed: Counter[str] = Counter()  # tasks launched per key
        self.max_cached = max_cached
        self.handle: Any = None

    # called by replicas

    def join(self, key: str, demo_id: str, cfg_bytes: bytes, options: dict) -> list:
        """The run for `key`: cached, in flight (one more holder), or launched now. Returns [its ObjectRef]."""
        import ray

        if key in self.done:
            self.done.move_to_end(key)
            return [self.done[key]]
        flight = self.flights.get(key)
        if flight is not None and not ray.wait([flight.ref], timeout=0)[0]:
            flight.holders += 1
            return [flight.ref]
        if self.handle is None:
            self.handle = ray.get_runtime_context().current_actor
        self.computed[key] += 1
        ticket = (key, self.computed[key])
        ref = remote_train().options(**options).remote(ticket, demo_id, cfg_bytes, self.handle)
        self.flights[key] = _Flight(ref, ticket[1])
        return [ref]

    def events(self, key: str, since: int) -> list[Event]:
        """The run's progress events from index `since` (none once it finished)."""
        flight = self.flights.get(key)
        return flight.events[since:] if flight is not None else []

    def release(self, key: str) -> None:
        """A replica no longer wants the run; cancel the task once no replica does."""
        import ray

        flight = self.flights.get(key)
        if flight is None:
            return
        flight.holders -= 1
        if flight.holders <= 0:
            del self.flights[key]
            ray.cancel(flight.ref)

    def stats(self) -> dict:
        """What the cluster computed: tasks launched per run key, runs in flight (with their worker pid), cached."""
        return {"computed": dict(self.computed), "cached": list(self.done),
                "in_flight": {key: f.pid for key, f in self.flights.items()}}

    # called by tasks

    def _flight(self, ticket: tuple[str, int]) -> _Flight | None:
        """The flight a task's ticket names, unless it was cancelled (and maybe launched anew since)."""
        flight = self.flights.get(ticket[0])
        return flight if flight is not None and flight.number == ticket[1] else None

    def started(self, ticket: tuple[str, int], pid: int) -> None:
        if (flight := self._flight(ticket)) is not None:
            flight.pid = pid

    def report(self, ticket: tuple[str, int], events: list[Event]) -> bool:
        """Record a batch of events; True tells the task to stop (nobody wants it any more)."""
        flight = self._flight(ticket)
        if flight is None:
            return True
        flight.events.extend(events)
        return False

    def finished(self, ticket: tuple[str, int], ok: bool) -> None:
        """The task ended: cache its result if it succeeded, forget its events either way."""
        if self._flight(ticket) is None:
            return
        flight = self.flights.pop(ticket[0])
        if ok:
            self.done[ticket[0]] = flight.ref
            while len(self.done) > self.max_cached:
                self.done.popitem(last=False)


# ---- in an app replica --------------------------------------------------------------------------------


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail in seconds, not after Ray's minute of retries, when nothing listens at a "host:port" address."""
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        return  # not host:port (e.g. "auto"): Ray resolves it
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except OSError as error:
        raise ClusterUnreachable(address, f"{type(error).__name__}: {error}") from None


class Cluster:
    """An app replica's connection to the cluster: `execute` runs a demo there."""

    def __init__(self, broker: Any, cpus: int, gpus: float) -> None:
        self.broker, self.cpus, self.gpus = broker, cpus, gpus

    @classmethod
    def connect(cls, address: str) -> "Cluster":
        """Join the cluster at `address` (once per process) and find, or create, its broker."""
        import ray

        if not ray.is_initialized():
            check_reachable(address)
            try:
                ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING",
                         runtime_env={"py_modules": [str(Path(__file__).parent)]})  # the cluster gets this fmlab
            except Exception as error:  # ConnectionError, AuthenticationError, ...
                raise ClusterUnreachable(address, f"{type(error).__name__}: {error}"[:300]) from None
        broker = ray.remote(Broker).options(name=BROKER, lifetime="detached", get_if_exists=True,
                                            num_cpus=0, max_concurrency=1).remote()
        resources = ray.cluster_resources()
        return cls(broker, int(resources.get("CPU", 1)), float(resources.get("GPU", 0)))

    def options(self, demo: Demo) -> dict:
        """Ray resources for one run of `demo`."""
        gpus = GPU_SHARE if self.gpus > 0 and demo.gpu else 0
        return {"num_cpus": 1, "num_gpus": gpus}

    def execute(self, demo: Demo, cfg: Any, report, stop: threading.Event) -> Result:
        """Run `demo` with `cfg` on the cluster; raises Cancelled or RunFailed like the local pool does."""
        import ray

        key = run_key(demo.id, cfg)
        [ref] = ray.get(self.broker.join.remote(key, demo.id, pickle.dumps(cfg), self.options(demo)))
        seen = 0
        try:
            while True:
                if stop.is_set():
                    raise Cancelled
                ready, _ = ray.wait([ref], timeout=POLL_SECONDS)
                new = ray.get(self.broker.events.remote(key, seen))
                seen += len(new)
                for event in new:
                    report(event)  # raises Cancelled once this replica's students left
                if ready:
                    break
            outcome = ray.get(ref)
        except Cancelled:
            self.broker.release.remote(key)
            raise
        except ray.exceptions.TaskCancelledError:
            raise Cancelled from None
        except ray.exceptions.RayError:  # the worker died (killed, out of memory) or its node went away
            raise RunFailed(WORKER_DIED) from None
        kind, *payload = outcome
        if kind == "done":
            return payload[0]
        if kind == "cancelled":
            raise Cancelled
        raise RunFailed(payload[0])

    def stats(self) -> dict:
        """The broker's counts (see Broker.stats)."""
        import ray

        return ray.get(self.broker.stats.remote())

