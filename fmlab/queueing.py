"""Queues as capacity planners reason about them: discrete-event simulation with SimPy, next to queueing theory.

Time is measured in mean service times (τ): one worker finishes one request per τ on average, so
"load 1.2" means 1.2 × what the workers can finish. A simulation in τ gives the same numbers on
every machine; the demos turn τ into milliseconds with the service time they measured.
SimPy is imported inside the simulators, so importing this module stays cheap.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from . import data
from .demo import Report, silent
from .fit import evaluate, fit
from .latency import Latency, timings_ms
from .nets import MLP, init_weights

Admit = Callable[[float, Any], bool]  # (now, the simpy.Resource) -> accept this request?
STOP = -1  # a work item that tells the replica taking it to shut down


@dataclass(frozen=True)
class Calibration:
    """The real model behind the simulated server: its test accuracy and per-request latency samples (ms)."""

    accuracy: float
    samples_ms: np.ndarray  # (repeats,) batch-1 forward passes on the CPU

    @property
    def latency(self) -> Latency:
        return Latency.of(self.samples_ms)


def calibrate(seed: int, report: Report = silent, epochs: int = 8, repeats: int = 300) -> Calibration:
    """Train a digits MLP (64 -> 64 -> 64 -> 10) briefly, then time single-request forward passes on the CPU."""
    split = data.digits(seed=seed)
    model = init_weights(MLP(64, 10, width=64, depth=1), seed)
    fit(model, torch.optim.Adam(model.parameters(), lr=3e-3), (split.X_train, split.y_train), epochs=epochs,
        batch_size=64, seed=seed, report=report)
    model.eval().cpu()
    x = split.X_val[:1]  # (1, 64): one request

    with torch.inference_mode():
        samples = timings_ms(lambda: model(x), repeats, warmup=20)
    return Calibration(evaluate(model, split.X_val, split.y_val)["acc"], samples)


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival has to wait in an M/M/c queue offered a = λ/μ Erlangs (needs a < c)."""
    below = sum(a ** k / math.factorial(k) for k in range(c))
    at_c = a ** c / math.factorial(c) * c / (c - a)
    return at_c / (below + at_c)


def mmc_wait(c: int, lam: float, mu: float = 1.0) -> float:
    """Mean time in the queue of M/M/c, Wq = C(c, λ/μ) / (cμ − λ), before service starts."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def poisson_arrivals(rate: float, num: int, rng: np.random.Generator) -> np.ndarray:
    """Arrival times (num,) of a Poisson stream: exponential gaps with mean 1 / rate."""
    return np.cumsum(rng.exponential(1 / rate, num))


def thinned_arrivals(rate: Callable[[np.ndarray], np.ndarray], peak: float, horizon: float,
                     rng: np.random.Generator) -> np.ndarray:
    """Arrival times in [0, horizon) of a Poisson stream whose rate(t) ≤ peak varies (Lewis–Shedler thinning)."""
    times = np.cumsum(rng.exponential(1 / peak, int(peak * horizon * 1.2) + 100))
    times = times[times < horizon]
    return times[rng.random(len(times)) < rate(times) / peak]


@dataclass
class TokenBucket:
    """Rate limiting: a request takes a token or is refused; tokens refill at `rate` per τ up to `burst`."""

    rate: float
    burst: float
    tokens: float = math.inf  # starts full
    last: float = 0.0

    def take(self, now: float) -> bool:
        """Refill for the time since the last request, then spend one token if there is one."""
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class Served:
    """One simulated run. latency (N,): arrival to completion in τ, NaN where refused;
    waiting (N,): requests already queued (not in service) when each one arrived; busy: worker utilisation."""

    arrivals: np.ndarray
    latency: np.ndarray
    waiting: np.ndarray
    busy: float

    @property
    def rejected(self) -> float:  # share of requests refused
        return float(np.isnan(self.latency).mean())

    def p99(self) -> float:
        """99th percentile latency of the requests that were served."""
        return float(np.percentile(self.latency[~np.isnan(self.latency)], 99))


def serve(arrivals: np.ndarray, service: np.ndarray, workers: int, admit: Admit) -> Served:
    """A server with `workers` parallel workers and one FIFO queue: each arrival is let in if `admit` says so."""
    import simpy

    env = simpy.Environment()
    server = simpy.Resource(env, capacity=workers)
    latency = np.full(len(arrivals), np.nan)
    waiting = np.zeros(len(arrivals))

    def request(i: int):
        with server.request() as turn:
            yield turn  # wait for a free worker
            yield env.timeout(service[i])
        latency[i] = env.now - arrivals[i]

    def source():
        for i, t in enumerate(arrivals):
            yield env.timeout(t - env.now)
            waiting[i] = len(server.queue)
            if admit(env.now, server):
                env.process(request(i))

    env.process(source())
    env.run()
    busy = service[~np.isnan(latency)].sum() / (workers * env.now)
    return Served(arrivals, latency, waiting, float(busy))


@dataclass(frozen=True)
class Autoscaler:
    """An HPA-like rule: every `period` τ, want ceil(current × utilisation / target) replicas in [low, high];
    a new replica serves after `startup` τ; scaling down waits until `window` evaluations in a row agree."""

    target: float
    period: float
    startup: float
    low: int
    high: int
    window: int = 3
    tolerance: float = 0.1  # Kubernetes' default: no change while utilisation is within 10% of the target


def hpa_desired(current: int, utilisation: float, scaler: Autoscaler) -> int:
    """Kubernetes' HPA formula, desired = ceil(current × metric / target), clamped to [low, high]."""
    ratio = utilisation / scaler.target
    if abs(ratio - 1) <= scaler.tolerance:
        return current
    return min(scaler.high, max(scaler.low, math.ceil(current * ratio - 1e-9)))


@dataclass
class Fleet:
    """One simulated fleet. latency (N,) in τ (requests unfinished at the end count up to then);
    times, replicas: the replica count (starting ones included) after each evaluation; cost in replica-τ."""

    latency: np.ndarray
    times: np.ndarray
    replicas: np.ndarray
    cost: float


def fleet(arrivals: np.ndarray, service: np.ndarray, horizon: float, scaler: Autoscaler | None = None,
          fixed: int = 1, progress: Callable[[float], None] = lambda done: None) -> Fleet:
    """Replicas sharing one FIFO queue for `horizon` τ: `fixed` of them, or as many as `scaler` decides.

    The utilisation the rule reads is the work that arrived in the last period over what the fleet
    could do, starting replicas counted as idle as Kubernetes does when scaling up (a requests-per-second
    metric: CPU utilisation would saturate at 100% and scale up more slowly).
    `progress(share)` is called as simulated time passes, 20 times in all.
    """
    import simpy

    env = simpy.Environment()
    queue = simpy.PriorityStore(env)  # requests by arrival time; STOP items jump the queue
    latency = np.full(len(arrivals), np.nan)
    alive = {"ready": 0, "size": 0}  # size: launched minus asked to stop
    spans: list[list[float]] = []  # [launched, stopped] per replica: what the fleet paid for
    times, counts = [0.0], []

    def replica(startup: float):
        span = [env.now, horizon]
        spans.append(span)
        yield env.timeout(startup)  # pulling the image, loading the weights: paid for, not serving
        alive["ready"] += 1
        while (item := (yield queue.get()).item) != STOP:
            yield env.timeout(service[item])
            latency[item] = env.now - arrivals[item]
        alive["ready"] -= 1
        span[1] = env.now

    def launch(n: int, startup: float) -> None:
        alive["size"] += n
        for _ in range(n):
            env.process(replica(startup))

    def source():
        for i, t in enumerate(arrivals):
            yield env.timeout(t - env.now)
            queue.put(simpy.PriorityItem(t, i))

    def controller():
        wanted = deque(maxlen=scaler.window)
        while True:
            yield env.timeout(scaler.period)
            arrived = np.searchsorted(arrivals, env.now) - np.searchsorted(arrivals, env.now - scaler.period)
            current = max(alive["size"], 1)
            wanted.append(hpa_desired(current, arrived / (current * scaler.period), scaler))  # 1 τ per request
            goal = wanted[-1] if wanted[-1] > alive["size"] else max(wanted)  # up at once, down when all agree
            if goal > alive["size"]:
                launch(goal - alive["size"], scaler.startup)
            for _ in range(alive["size"] - goal):
                alive["size"] -= 1
                queue.put(simpy.PriorityItem(-1.0, STOP))
            times.append(env.now)
            counts.append(alive["size"])

    launch(scaler.low if scaler else fixed, 0.0)
    counts.append(alive["size"])
    env.process(source())
    if scaler:
        env.process(controller())
    for k in range(1, 21):
        env.run(until=horizon * k / 20)
        progress(k / 20)
    times.append(horizon)
    counts.append(alive["size"])
    unfinished = np.isnan(latency)
    latency[unfinished] = horizon - arrivals[unfinished]
    return Fleet(latency, np.array(times), np.array(counts), float(sum(end - start for start, end in spans)))


def p99_by_window(latency: np.ndarray, arrivals: np.ndarray, width: float, horizon: float) -> np.ndarray:
    """p99 latency of the requests that arrived in each window [k·width, (k+1)·width): (horizon / width,); 0 if none."""
    index = (arrivals // width).astype(int)
    out = np.zeros(int(math.ceil(horizon / width)))
    for k in np.unique(index):
        out[k] = np.percentile(latency[index == k], 99)
    return out
