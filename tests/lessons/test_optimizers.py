"""optimizers: at one shared learning rate Adam beats plain SGD on digits, momentum cuts along the
ill-conditioned valley, and the verdict names the real fastest and slowest of the six."""
import math

import pytest

from fmlab.demos import optimizers as demo


@pytest.fixture(scope="module")
def result():
    cfg = demo.Config()
    assert set(cfg.optimizers) == set(demo.OPTIMIZERS)
    return cfg, demo.run(cfg)


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(demo.CLAIM, r)


def test_adam_beats_plain_sgd_and_momentum_cuts_the_valley(result):
    _cfg, r = result
    m = r.metrics
    assert m["loss_adam"] < m["loss_sgd"] / 4
    assert m["val_acc_adam"] > m["val_acc_sgd"] + 0.2
    assert m["surface_dist_momentum"] < m["surface_dist_sgd"] / 4  # ill-conditioned valley


def test_the_verdict_names_the_fastest_and_slowest_of_the_six(result):
    cfg, r = result
    losses = {n: r.metrics[f"loss_{n}"] for n in cfg.optimizers}
    assert all(math.isfinite(v) for v in losses.values())  # none diverged at the defaults, so all six race
    fastest, slowest = min(losses, key=losses.get), max(losses, key=losses.get)
    fast, slow = demo.OPTIMIZER_NAMES[fastest], demo.OPTIMIZER_NAMES[slowest]
    assert f"{fast.en} trained fastest on digits (final loss {losses[fastest]:.3f}" in r.verdict.en
    assert f"{slow.en} was slowest (loss {losses[slowest]:.3f}" in r.verdict.en
    assert f"{fast.zh} 在手写数字上训练最快（最终损失 {losses[fastest]:.3f}" in r.verdict.zh
    assert f"{slow.zh} 最慢（损失 {losses[slowest]:.3f}" in r.verdict.zh


def test_the_verdict_names_the_closest_and_farthest_on_the_surface(result):
    cfg, r = result
    dist = {n: r.metrics[f"surface_dist_{n}"] for n in cfg.optimizers}
    closest, farthest = min(dist, key=dist.get), max(dist, key=dist.get)
    assert (f"{demo.OPTIMIZER_NAMES[closest].en} ended {dist[closest]:.3g} from the minimum and "
            f"{demo.OPTIMIZER_NAMES[farthest].en} {dist[farthest]:.3g}") in r.verdict.en
    assert f"{demo.OPTIMIZER_NAMES[closest].zh} 距最小值 {dist[closest]:.3g}" in r.verdict.zh


def test_settings_without_adam_or_sgd_do_not_test_the_claim():
    assert demo.CLAIM.check({"loss_adam": 0.1, "loss_momentum": 0.2}) is None
    assert demo.CLAIM.check({"loss_adam": 0.5, "loss_sgd": 1.0}) is False
    assert demo.CLAIM.check({"loss_adam": math.nan, "loss_sgd": 2.3}) is False  # Adam diverged
