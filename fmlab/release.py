"""Releasing a model safely: a router that sends a slice of traffic to a canary, and the gate that
promotes or rolls it back, run as a SimPy discrete-event simulation.

The serving reference (`Router.incumbent`) is swapped in one assignment, so no request ever sees
a half-updated model, and the old one stays at hand for rollback.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

Stream = Callable[[int, int], tuple[np.ndarray, np.ndarray]]  # (time, n) -> X (n, d), y (n,)


def bootstrap_ci(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, num_resamples: int = 2000,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile-bootstrap interval of mean(a) - mean(b), resampling each sample with replacement."""
    ia = rng.integers(len(a), size=(num_resamples, len(a)))  # (R, len(a)) indices
    ib = rng.integers(len(b), size=(num_resamples, len(b)))
    diffs = a[ia].mean(1) - b[ib].mean(1)  # (R,)
    low, high = np.percentile(diffs, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


@dataclass
class Router:
    """Who serves: the incumbent, and while a release is on, a canary taking `share` of the requests."""

    incumbent: Any
    name: str
    canary: Any = None
    canary_name: str = ""
    share: float = 0.1
    shadow: Any = None  # answers every request too, logged and never served (shadow mode)
    log: list[dict] = field(default_factory=list)  # one row per time step
    events: list[tuple[int, str, str]] = field(default_factory=list)  # (time, version, "promoted" | "rolled back")
    window: dict[str, list[np.ndarray]] = field(default_factory=lambda: {"canary": [], "incumbent": []})

    def serve(self, t: int, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        """Answer one time step's requests, scoring each answer (labels arrive with the feedback)."""
        to_canary = (rng.random(len(X)) < self.share) if self.canary is not None else np.zeros(len(X), bool)
        correct = np.empty(len(X), bool)
        correct[~to_canary] = self.incumbent.predict(X[~to_canary]) == y[~to_canary]
        if to_canary.any():
            correct[to_canary] = self.canary.predict(X[to_canary]) == y[to_canary]
            self.window["canary"].append(correct[to_canary])
            self.window["incumbent"].append(correct[~to_canary])
        row = {"t": t, "served": float(correct.mean()), "serving": self.name, "canary_share": float(to_canary.mean())}
        if self.shadow is not None:
            row["shadow"] = float(np.mean(self.shadow.predict(X) == y))
        self.log.append(row)

    def start_canary(self, model: Any, name: str) -> None:
        self.canary, self.canary_name = model, name
        self.window = {"canary": [], "incumbent": []}

    def finish_canary(self, t: int, promote: bool) -> None:
        """Promote (one assignment swaps the serving reference) or roll back; either way the canary ends."""
        if promote:
            self.incumbent, self.name = self.canary, self.canary_name
        self.events.append((t, self.canary_name, "promoted" if promote else "rolled back"))
        self.canary, self.canary_name = None, ""


def gate(canary: np.ndarray, incumbent: np.ndarray, rng: np.random.Generator,
         tolerance: float) -> tuple[bool, tuple[float, float]]:
    """Promote when the whole interval of (canary - incumbent) accuracy lies above -tolerance (not worse)."""
    low, high = bootstrap_ci(canary.astype(float), incumbent.astype(float), rng)
    return low > -tolerance, (low, high)


def simulate(stream: Stream, v1: Any, releases: list[tuple[int, Any, str]], *, steps: int, requests: int,
             share: float, window: int, tolerance: float, seed: int, shadow: Any = None,
             on_step: Callable[[int, dict], None] = lambda t, row: None) -> tuple[Router, list[dict]]:
    """Run traffic for `steps` time units with SimPy; each release (time, model, name) gets a canary of `window` steps.

    Returns the router (its log, with the shadow's accuracy when one is given, and its events) and one row per
    gate decision with the interval it saw. `on_step(t, row)` sees each time step's log row as it is served.
    """
    import simpy

    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    router, decisions = Router(v1, "v1", share=share, shadow=shadow), []

    def traffic():
        for t in range(steps):
            X, y = stream(t, int(rng.poisson(requests)))
            router.serve(t, X, y, rng)
            on_step(t, router.log[-1])
            yield env.timeout(1)

    def release(at: int, model: Any, name: str):
        yield env.timeout(at)
        router.start_canary(model, name)
        yield env.timeout(window)
        canary, incumbent = (np.concatenate(router.window[k]) for k in ("canary", "incumbent"))
        promote, (low, high) = gate(canary, incumbent, rng, tolerance)
        decisions.append({"version": name, "t": int(env.now), "canary_acc": float(canary.mean()),
                          "incumbent_acc": float(incumbent.mean()), "low": low, "high": high, "promoted": promote})
        router.finish_canary(int(env.now), promote)

    env.process(traffic())
    for at, model, name in releases:
        env.process(release(at, model, name))
    env.run(until=steps)
    return router, decisions
