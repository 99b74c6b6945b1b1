"""init-and-norm: He keeps ReLU activations at the input's scale, a too-small init makes them vanish,
and normalisation rescues the bad initialisations."""
import math

import pytest

from fmlab import data
from fmlab.demos import init_and_norm as demo
from fmlab.initialisation import INITS, activation_stds, layer_gain, predicted_gain


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    assert cfg.depth >= 10 and cfg.activation == "relu"
    assert {"small", "he", "large"} <= set(cfg.inits) and {"none", "batchnorm"} <= set(cfg.norms)
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_the_claim_on_hand_made_metrics():
    m = {"loss_small_none": 2.30, "loss_large_none": math.nan, "loss_he_none": 0.4,
         "loss_small_batchnorm": 0.4, "loss_large_batchnorm": 0.8}
    assert demo.CLAIM.check(m) is True  # a NaN (diverged) run did not train
    assert demo.CLAIM.check({**m, "loss_large_batchnorm": 1.5}) is False  # BatchNorm did not rescue N(0, 1)
    assert demo.CLAIM.check({**m, "loss_small_none": 0.5}) is False  # the small init trained (a shallow net)
    layernorm_only = {k.replace("batchnorm", "layernorm"): v for k, v in m.items()}
    assert demo.CLAIM.check(layernorm_only) is None  # no BatchNorm run: not tested


@pytest.fixture(scope="module")
def stds():
    """Per-layer activation std at initialisation for every init, without normalisation, at the default config."""
    cfg = demo.Config()
    X, _X_val = demo.standardise(data.digits(seed=cfg.seed))
    return {i: activation_stds(demo.build(i, "none", cfg, X.shape[1]), X[:256]) for i in INITS}, \
        X[:256].std().item()


def test_he_keeps_relu_activations_at_the_input_scale(stds):
    per_layer, input_std = stds
    assert all(input_std / 3 < s < 3 * input_std for s in per_layer["he"])


def test_too_small_init_collapses_by_orders_of_magnitude_and_too_large_explodes(stds, result):
    per_layer, input_std = stds
    assert per_layer["small"][-1] < 1e-6 * input_std
    assert all(b < a / 5 for a, b in zip(per_layer["small"], per_layer["small"][1:]))  # shrinks at every layer
    assert per_layer["large"][-1] > 1e6 * input_std
    assert per_layer["xavier"][-1] < per_layer["xavier"][0] / 5  # Xavier loses ~√2 per ReLU layer
    m = result[1].metrics
    assert m["grad_first_small"] < 1e-6 * m["grad_first_he"]  # the gradient vanishes as well


def test_per_layer_factor_matches_the_variance_formula(stds):
    """std(layer k+1) / std(layer k) = √(fan_in · Var(w) / 2) for ReLU, by hand: 0.08, 0.707, 1, 8, √(1/6)."""
    per_layer, _input_std = stds
    by_hand = {"small": math.sqrt(128 * 0.01 ** 2 / 2), "xavier": math.sqrt(0.5), "he": 1.0, "large": 8.0,
               "pytorch": math.sqrt(1 / 6)}
    for init, expected in by_hand.items():
        assert predicted_gain(init, 128, "relu") == pytest.approx(expected)
        assert layer_gain(per_layer[init]) == pytest.approx(expected, rel=0.05), init


def test_bad_inits_fail_to_train_and_normalisation_rescues_them(result):
    m = result[1].metrics
    chance = math.log(10)
    assert m["loss_small_none"] > 0.9 * chance  # stuck at chance
    assert not m["loss_large_none"] < chance  # diverged (NaN) or no better than chance
    assert m["loss_he_none"] < 0.5 * chance and m["acc_he_none"] > 0.8
    for init in ("small", "xavier", "he", "large"):
        assert m[f"loss_{init}_batchnorm"] < 0.5 * chance, init
        assert m[f"acc_{init}_batchnorm"] > 0.7, init
    assert m["acc_small_batchnorm"] > m["acc_small_none"] + 0.5


def test_normalisation_makes_the_forward_signal_independent_of_the_init_scale():
    cfg = demo.Config()
    X, _X_val = demo.standardise(data.digits(seed=cfg.seed))
    for norm in ("batchnorm", "layernorm"):
        per_layer = [activation_stds(demo.build(i, norm, cfg, X.shape[1]), X[:256]) for i in INITS]
        for stds in per_layer:
            assert layer_gain(stds) == pytest.approx(1.0, abs=0.05)
            assert 0.4 < min(stds) and max(stds) < 0.8  # ReLU of a unit-variance input: std √(1/2 − 1/(2π)) ≈ 0.58
