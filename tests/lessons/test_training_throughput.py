"""training-throughput: what holds whatever the machine's load — a big batch needs more epochs at the small
batch's learning rate, a scaled rate wins some back, accumulation equals a big batch and autocast really runs
in low precision. The step, timing and autocast functions themselves: tests/test_throughput.py."""
import math

import pytest

from fmlab import throughput
from fmlab.demos import training_throughput as tt


@pytest.fixture(scope="module")
def result():
    cfg = tt.Config()
    return cfg, tt.run(cfg)


@pytest.fixture(scope="module")
def default(result):
    cfg, r = result
    return cfg, r.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(tt.CLAIM, r)


def test_the_claim_needs_a_reachable_target_and_fails_when_scaling_does_not_help():
    m = {"accum_max_grad_diff": 1e-8, "epochs_small": 3.0, "epochs_large": 9.0, "epochs_scaled": 6.0,
         "reached_small": 1.0, "reached_large": 1.0, "reached_scaled": 1.0}
    assert tt.CLAIM.check(m) is True
    assert tt.CLAIM.check({**m, "reached_small": 0.0}) is None  # nothing reached the target: not tested
    assert tt.CLAIM.check({**m, "epochs_scaled": 9.0}) is False  # the scaled rate won nothing back
    assert tt.CLAIM.check({**m, "epochs_scaled": 12.0, "reached_scaled": 0.0}) is False
    assert tt.CLAIM.check({**m, "reached_large": 0.0}) is True  # the big batch never got there: still slower
    assert tt.CLAIM.check({**m, "epochs_large": 4.0, "epochs_scaled": 3.0}) is False  # barely slower than small
    assert tt.CLAIM.check({**m, "accum_max_grad_diff": 1e-2}) is False


def test_recipes_scale_the_learning_rate_by_the_chosen_rule():
    cfg = tt.Config(small_batch=16, large_batch=256, lr=0.05)
    assert tt.recipes(cfg)["scaled"] == throughput.Recipe(256, pytest.approx(0.05 * math.sqrt(16)))
    assert tt.recipes(tt.Config(rule="linear", lr=0.05))["scaled"] == throughput.Recipe(256, pytest.approx(0.05 * 16))
    assert tt.recipes(cfg)["scaled"].name.en == "batch 256, lr 0.2"
    names = {k: s.name.en for k, s in tt.settings(cfg).items()}
    assert names["accumulate"] == "16 × 16 accumulated" and names["channels_last"] == "batch 256, channels-last"


def test_default_run_shows_the_lesson(default):
    cfg, m = default
    assert cfg.small_batch == 16 and cfg.large_batch == 256
    assert m["accum_max_grad_diff"] < 1e-5  # 16 micro-batches of 16 = one batch of 256
    assert m["accum_max_grad_diff_batchnorm"] > 1e-3  # ...but not with BatchNorm's per-batch statistics
    assert m["amp_matmul_share"] == 1.0 and m["amp_loss_fp32"] == 1.0 and m["amp_weights_fp32"] == 1.0
    for key in ("small", "large", "scaled"):
        assert m[f"reached_{key}"] == 1.0 and m[f"val_acc_{key}"] >= cfg.target
    # at the small batch's learning rate the big batch needs far more epochs; scaling the rate wins most back
    assert m["epochs_large"] >= m["epochs_small"] + 3
    assert m["epochs_large"] >= m["epochs_scaled"] + 2
