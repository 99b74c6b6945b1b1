"""residual-depth: a deep plain MLP stalls near chance while the residual one trains, and the plain
net's early-layer gradients vanish before any training."""
import math

import pytest

from fmlab.demos import residual_depth as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    assert max(cfg.depths) >= 20
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_deep_plain_net_stalls_where_the_residual_net_trains(result):
    cfg, r = result
    m, d = r.metrics, max(cfg.depths)
    assert m[f"loss_plain_d{d}"] > 0.8 * math.log(10)  # stuck near chance
    assert m[f"loss_residual_d{d}"] < m[f"loss_plain_d{d}"] - 1.5
    assert m[f"acc_residual_d{d}"] > 0.85


def test_depth_hurts_the_plain_net_and_its_early_gradients_vanish(result):
    cfg, r = result
    m = r.metrics
    shallow, deep = min(cfg.depths), max(cfg.depths)
    assert m[f"loss_plain_d{deep}"] > m[f"loss_plain_d{shallow}"] + 1.0
    assert m[f"grad_ratio_plain_d{deep}"] > 1000 * m[f"grad_ratio_residual_d{deep}"]


def test_shallow_settings_do_not_test_the_claim():
    m = {"depth_deepest": 10.0, "loss_plain_d10": 2.3, "loss_residual_d10": 0.1}
    assert demo.CLAIM.check(m) is None
    assert demo.CLAIM.check({**m, "depth_deepest": 20.0}) is None  # depth 20 was not run
    assert demo.CLAIM.check({"depth_deepest": 20.0, "loss_plain_d20": 2.3, "loss_residual_d20": 1.5}) is False
