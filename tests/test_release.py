"""release: the bootstrap interval agrees with scipy's, the gate promotes a better model and rejects a worse one,
the router swaps the serving reference in one step and keeps the canary to its share (SimPy)."""
import numpy as np
import pytest
from scipy.stats import bootstrap

from fmlab import release


class Constant:
    """A model that answers `label` to every request."""

    def __init__(self, label: int):
        self.label = label

    def predict(self, X):
        return np.full(len(X), self.label)


def test_the_bootstrap_interval_agrees_with_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.random(300) < 0.8, rng.random(900) < 0.7
    ours = release.bootstrap_ci(a.astype(float), b.astype(float), np.random.default_rng(1), num_resamples=4000)
    ref = bootstrap((a.astype(float), b.astype(float)), lambda x, y, axis=-1: x.mean(axis) - y.mean(axis),
                    method="percentile", n_resamples=4000, random_state=2).confidence_interval
    assert ours == pytest.approx((ref.low, ref.high), abs=0.01)
    assert ours[0] < a.mean() - b.mean() < ours[1]


def test_the_gate_promotes_the_better_and_rejects_the_worse():
    rng = np.random.default_rng(0)
    good, base, bad = (rng.random(n) < p for n, p in ((150, 0.9), (1350, 0.8), (150, 0.5)))
    assert release.gate(good, base, rng, tolerance=0.02)[0] is True
    assert release.gate(bad, base, rng, tolerance=0.02)[0] is False


def stream(t: int, n: int):
    """Every request's label is 1."""
    return np.zeros((n, 2)), np.ones(n, int)


def test_a_right_candidate_is_promoted_and_a_wrong_one_rolled_back():
    router, decisions = release.simulate(stream, Constant(0), [(2, Constant(1), "v2"), (6, Constant(0), "v3")],
                                         steps=10, requests=400, share=0.1, window=2, tolerance=0.02, seed=0,
                                         shadow=Constant(0))
    assert [(d["version"], d["t"], d["promoted"]) for d in decisions] == [("v2", 4, True), ("v3", 8, False)]
    assert router.events == [(4, "v2", "promoted"), (8, "v3", "rolled back")]
    serving = [row["serving"] for row in router.log]
    assert serving == ["v1"] * 4 + ["v2"] * 6  # swapped between two steps, never mixed within one
    trial = [row["canary_share"] for row in router.log[2:4] + router.log[6:8]]
    assert all(0.05 < s < 0.15 for s in trial)  # the canary got about its 10%
    assert all(row["canary_share"] == 0 for row in router.log[:2] + router.log[4:6] + router.log[8:])
    assert all(row["shadow"] == 0 for row in router.log)  # the shadow answered every request, served none
    assert router.log[-1]["served"] == 1.0
