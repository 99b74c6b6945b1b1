"""underfitting: poor on the training set itself; capacity fixes it, heavy regularisation causes it.

The capacity helpers (models, boundary map, tiny batch) are checked in tests/test_capacity.py."""
import math

import numpy as np
import plotly.graph_objects as go
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

from fmlab import data, plots
from fmlab.demos import underfitting


@pytest.fixture(scope="module")
def result():
    cfg = underfitting.Config()
    return cfg, underfitting.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(underfitting.CLAIM, r)


def test_the_claim_fails_when_a_model_fits_or_overfits():
    m = {"train_acc_big": 1.0, "train_acc_linear": 0.66, "val_acc_linear": 0.65,
         "train_acc_heavy": 0.52, "val_acc_heavy": 0.53}
    assert underfitting.CLAIM.check(m) is True
    assert underfitting.CLAIM.check({**m, "train_acc_linear": 0.87, "val_acc_linear": 0.86}) is False  # moons
    assert underfitting.CLAIM.check({**m, "train_acc_heavy": 0.75, "val_acc_heavy": 0.55}) is False  # a big gap


def test_underfit_models_are_poor_on_their_own_training_data(result):
    _cfg, r = result
    m = r.metrics
    for key in ("linear", "heavy"):
        assert m[f"train_acc_{key}"] < 0.75, key  # underfitting: bad on the training set itself
        assert abs(m[f"train_acc_{key}"] - m[f"val_acc_{key}"]) < 0.08, key  # ... with a small train-val gap
    assert m["train_acc_tiny"] < 0.9


def test_more_capacity_raises_train_and_val_accuracy(result):
    _cfg, r = result
    m = r.metrics
    for split in ("train", "val"):
        assert m[f"{split}_acc_big"] > m[f"{split}_acc_linear"] + 0.25, split
        assert m[f"{split}_acc_big"] > m[f"{split}_acc_tiny"] + 0.1, split
    assert m["train_acc_linear"] < m["train_acc_tiny"] < m["train_acc_big"]
    assert m["train_acc_big"] > 0.97 and m["val_acc_big"] > 0.95


def test_heavy_weight_decay_makes_the_big_net_underfit(result):
    _cfg, r = result
    m = r.metrics
    assert m["train_acc_heavy"] < m["train_acc_big"] - 0.3
    assert m["val_acc_heavy"] < m["val_acc_big"] - 0.3


def test_more_data_does_not_cure_high_bias(result):
    _cfg, r = result
    m = r.metrics
    assert m["lc_val_max"] < 0.75
    assert m[f"lc_train_acc_n{underfitting.SIZES[-1]}"] < 0.75


def test_the_big_net_can_memorise_a_tiny_batch(result):
    _cfg, r = result
    assert r.metrics["tiny_batch_acc"] == 1.0  # the pipeline works: the problem is capacity, not a bug


def test_our_logistic_regression_reaches_sklearns_optimum(result):
    """Underfitting is not an optimisation failure here: the linear model is at the best a line can do."""
    cfg, r = result
    split = data.toy2d(cfg.dataset, num=1200, noise=cfg.noise, seed=cfg.seed)
    X, y = split.X_train.numpy(), split.y_train.numpy()
    reference = LogisticRegression(C=np.inf, max_iter=1000).fit(X, y)
    ours = r.metrics["train_loss_linear"]  # full-batch cross-entropy after the last step
    assert math.isclose(ours, log_loss(y, reference.predict_proba(X)), abs_tol=2e-3)
    assert abs(r.metrics["train_acc_linear"] - reference.score(X, y)) < 0.02


def test_decision_boundaries_plot():
    xs = ys = np.linspace(-1, 1, 4)
    panels = {"a": np.zeros((4, 4)), "b": np.ones((4, 4)), "c": np.full((4, 4), 0.5)}
    X, y = np.random.default_rng(0).normal(size=(10, 2)), np.arange(10) % 2
    fig = plots.decision_boundaries(panels, xs, ys, X, y, "en")
    assert isinstance(fig, go.Figure)
    assert len(fig.data) == 3 * 4  # per panel: heat map, 0.5 contour, one scatter per class
    assert [a.text for a in fig.layout.annotations] == ["a", "b", "c"]
