"""linear-regression-gd: GD reaches the closed form, scaling sets GD's speed, and constant-step SGD
stays noisy until its step decays. The least-squares maths itself is tested in tests/test_least_squares.py."""
import numpy as np
import pytest

from fmlab.demos import linear_regression_gd as demo
from fmlab.plots import contour_paths
from fmlab.text import T


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_gradient_descent_reaches_the_closed_form(result):
    m = result[1].metrics
    assert m["slope_batch"] == pytest.approx(m["slope_closed"], abs=1e-4)
    assert m["intercept_batch"] == pytest.approx(m["intercept_closed"], abs=1e-4)
    assert m["excess_batch"] < 1e-8
    assert m["excess_minibatch"] < 0.02 and m["excess_sgd_decay"] < 0.02
    assert all(m[f"excess_{v}"] >= 0 for v in demo.VARIANTS)  # nothing beats the closed form


def test_standardising_turns_a_crawl_into_one_step(result):
    m = result[1].metrics
    assert m["kappa_raw"] > 100 and m["kappa_std"] == pytest.approx(1.0, abs=1e-6)
    assert m["excess_batch_raw"] > 0.05  # same passes, same step 1/L: still far from the optimum
    assert m["excess_batch_raw"] > 1e4 * max(m["excess_batch"], 1e-12)


def test_constant_step_sgd_stays_noisy_and_a_decaying_step_settles(result):
    m = result[1].metrics
    assert m["excess_sgd"] > 5 * m["excess_sgd_decay"]
    assert m["jitter_sgd"] > 3 * m["jitter_sgd_decay"]
    assert m["jitter_sgd"] > 3 * m["jitter_minibatch"]  # averaging 16 examples quiets the steps
    assert m["jitter_batch"] < 1e-4


def test_contour_paths_takes_axis_names():
    xs = ys = np.linspace(-1, 1, 5)
    fig = contour_paths(xs, ys, np.ones((5, 5)), {"a": np.zeros((2, 2))}, (0.0, 0.0), "zh",
                        axes=(T("slope", "斜率"), T("intercept", "截距")))
    assert fig.layout.xaxis.title.text == "斜率" and fig.layout.yaxis.title.text == "截距"
    assert contour_paths(xs, ys, np.ones((5, 5)), {}, (0.0, 0.0), "en").layout.xaxis.title.text == "x"


def test_the_predicate_on_hand_made_metrics():
    m = {"kappa_raw": 800.0, "excess_batch_raw": 0.4, "excess_batch": 0.0, "jitter_sgd": 0.3, "jitter_sgd_decay": 0.04}
    assert demo.CLAIM.check(m) is True
    assert demo.CLAIM.check({**m, "kappa_raw": 1.2}) is None  # x near 0: scaling has nothing to fix
    assert demo.CLAIM.check({**m, "excess_batch_raw": 0.05, "excess_batch": 0.01}) is False  # raw x barely slower
    assert demo.CLAIM.check({**m, "jitter_sgd": 0.05}) is False  # constant-step SGD was not noisier
