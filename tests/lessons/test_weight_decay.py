"""weight-decay: ‖W‖ shrinks with λ, a moderate λ helps, Adam's weight_decay is coupled L2 and AdamW is not.

The update rules themselves are checked against PyTorch and by hand in tests/test_decay.py.
"""
import math

import plotly.graph_objects as go
import pytest

from fmlab import plots
from fmlab.demos import weight_decay as wd
from fmlab.text import T


@pytest.fixture(scope="module")
def result():
    cfg = wd.Config()
    return cfg, wd.run(cfg)


@pytest.fixture(scope="module")
def demo(result):
    cfg, r = result
    return cfg, sorted(cfg.lambdas), r.metrics


def test_the_claim_holds_at_the_defaults(result, shows_claim):
    _cfg, r = result
    shows_claim(wd.CLAIM, r)


def test_the_claim_on_hand_made_metrics():
    kept = (1 - 0.01 * 0.01) ** 150  # AdamW's share of the blank-pixel weights at λ = 0.01
    m = {"lr": 0.01, "steps": 150.0, "quiet_pixels": 5.0, "val_acc_adamw_0": 0.79, "val_acc_adam_0": 0.79,
         "val_acc_adamw_0.01": 0.80, "val_acc_adam_0.01": 0.85, "quiet_adamw_0.01": kept, "quiet_adam_0.01": 2e-4}
    assert wd.swept(m) == [0.0, 0.01]
    assert wd.CLAIM.check(m) is True
    assert wd.CLAIM.check({**m, "val_acc_adam_0.01": 0.795}) is False  # no λ beat λ = 0 by a point
    assert wd.CLAIM.check({**m, "quiet_adam_0.01": kept}) is False  # Adam behaving like AdamW: not coupled
    assert wd.CLAIM.check({**m, "quiet_pixels": 0.0}) is None  # no weight without a data gradient
    no_zero = {k: v for k, v in m.items() if not k.endswith("_0")}
    assert wd.CLAIM.check(no_zero) is None  # nothing to compare against without λ = 0
    erased = {"lr": 0.01, "steps": 150.0, "quiet_pixels": 5.0, "val_acc_adamw_0": 0.79, "val_acc_adamw_10": 0.4,
              "val_acc_adam_10": 0.1, "quiet_adamw_10": 0.0, "quiet_adam_10": 0.0}
    assert wd.CLAIM.check(erased) is None  # at λ = 10 AdamW erases them too: nothing tells the rules apart


def test_weight_norm_shrinks_as_lambda_grows(demo):
    _cfg, lams, m = demo
    for o in wd.OPTIMIZERS:
        norms = [m[f"norm_{wd.key(o, lam)}"] for lam in lams]
        assert all(b < a for a, b in zip(norms, norms[1:])), (o, norms)


def test_a_moderate_lambda_helps_and_a_large_one_underfits(demo):
    _cfg, lams, m = demo
    assert lams[0] == 0
    for o in wd.OPTIMIZERS:
        accs = {lam: m[f"val_acc_{o}_{lam:g}"] for lam in lams}
        assert max(accs.values()) > accs[0.0] + 0.04, (o, accs)
        assert accs[lams[-1]] < accs[0.0] - 0.2, (o, accs)
    assert m["train_acc_adamw_0"] > 0.85  # with 30% wrong labels: the undecayed net memorises


def test_the_same_lambda_decays_far_harder_in_adam_than_in_adamw(demo):
    _cfg, lams, m = demo
    for lam in lams[1:]:
        assert m[f"norm_adam_{lam:g}"] < m[f"norm_adamw_{lam:g}"]


def test_weights_without_data_gradient_adamw_follows_the_formula_adam_zeroes_them(demo):
    cfg, lams, m = demo
    assert m["quiet_pixels"] >= 3  # digits have pixels that are blank in every image
    steps = int(m["steps"])
    assert steps == cfg.epochs * math.ceil(cfg.num_train / 50)
    for lam in lams[1:]:
        assert m[f"quiet_adamw_{lam:g}"] == pytest.approx((1 - cfg.lr * lam) ** steps, abs=1e-4)
        assert m[f"quiet_adam_{lam:g}"] < 0.01  # whatever λ is


def test_which_update_rules_coincide(demo):
    _cfg, _lams, m = demo
    assert m["sgd_penalty_vs_weight_decay"] < 1e-5
    assert m["adam_penalty_vs_weight_decay"] < 1e-5
    assert m["adamw_vs_formula"] < 1e-4
    assert m["adam_weight_decay_vs_formula"] < 1e-4
    assert m["adam_weight_decay_vs_adamw"] > 0.05


def test_histogram_helper_counts_every_value():
    series = {"a": [0.0, 0.1, 0.1, 1.0], "b": [-1.0, 0.5]}
    edges, counts = plots.histogram_counts(series, bins=4)
    assert edges[0] == -1.0 and edges[-1] == 1.0 and len(edges) == 5
    assert counts["a"].sum() == 4 and counts["b"].sum() == 2
    fig = plots.histograms(series, T("x", "x"), T("n", "n"), "en", log_y=True)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
