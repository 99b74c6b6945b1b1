"""weight-decay: ‖W‖ shrinks with λ, a moderate λ helps, Adam's weight_decay is coupled L2 and AdamW is not.

Checked against PyTorch: SGD's weight_decay equals a (λ/2)‖W‖² loss term, and AdamW's update
equals w − ηλw − η·m̂/(√v̂ + ε), computed by hand on a tiny case.
"""
import math

import plotly.graph_objects as go
import pytest
import torch
from torch import nn

from fmlab import decay, plots
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


def test_adamw_one_step_by_hand():
    """Tiny case: loss = c·w, so g = c; at t = 1, m̂ = g and v̂ = g², the Adam step is η·g/(|g| + ε)."""
    w0, c = torch.tensor([1.0, -2.0, 0.5]), torch.tensor([0.3, 0.0, -4.0])
    lr, lam, eps = 0.1, 0.2, 1e-8
    w = w0.clone().requires_grad_(True)
    opt = torch.optim.AdamW([w], lr=lr, weight_decay=lam, eps=eps)
    (c * w).sum().backward()
    opt.step()
    expected = w0 - lr * lam * w0 - lr * c / (c.abs() + eps)  # w − ηλw − η·m̂/(√v̂ + ε)
    assert torch.allclose(w.detach(), expected, atol=1e-6)
    # the middle weight has no gradient: AdamW still shrinks it by exactly ηλ
    assert w[1].item() == pytest.approx(-2.0 * (1 - lr * lam))
    ours, _m, _v = decay.adam_step(w0, c, torch.zeros(3), torch.zeros(3), 1, lr, lam, decoupled=True, eps=eps)
    assert torch.allclose(ours, expected, atol=1e-6)


def test_our_adam_step_matches_torch_for_several_steps():
    torch.manual_seed(0)
    for decoupled, cls in ((False, torch.optim.Adam), (True, torch.optim.AdamW)):
        w = torch.randn(5, requires_grad=True)
        ours, m, v = w.detach().clone(), torch.zeros(5), torch.zeros(5)
        opt = cls([w], lr=0.05, weight_decay=0.1)
        for t in range(1, 6):
            target = torch.randn(5)
            opt.zero_grad()
            ((w - target) ** 2).sum().backward()
            opt.step()
            g = 2 * (ours - target)
            ours, m, v = decay.adam_step(ours, g, m, v, t, 0.05, 0.1, decoupled)
        assert torch.allclose(ours, w.detach(), atol=1e-6), cls


def test_sgd_weight_decay_is_a_half_lambda_norm_squared_penalty():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    X, y = torch.randn(8, 4), torch.randint(0, 2, (8,))
    lam = 0.3
    # the penalty: ½ Σ‖W‖² over weight matrices, equal to torch's vector norm
    expected = sum(0.5 * torch.linalg.vector_norm(p) ** 2 for p in model.parameters() if p.ndim > 1)
    assert torch.allclose(decay.l2_penalty(model), expected)
    a = decay.train_copy(model, X, y, 5, decay.torch_stepper("sgd", 0.0, 0.1), penalty=lam)
    b = decay.train_copy(model, X, y, 5, decay.torch_stepper("sgd", lam, 0.1))
    assert torch.allclose(a, b, atol=1e-6)
    # biases are left alone by both
    bias_only = decay.decay_groups(model, lam)[1]
    assert bias_only["weight_decay"] == 0 and all(p.ndim == 1 for p in bias_only["params"])


def test_adam_and_adamw_are_the_same_algorithm_at_zero_decay():
    torch.manual_seed(0)
    model = wd.mlp(16, seed=0)
    X, y = torch.rand(32, 64), torch.randint(0, 10, (32,))
    a = decay.train_copy(model, X, y, 10, decay.torch_stepper("adam", 0.0, 1e-2))
    b = decay.train_copy(model, X, y, 10, decay.torch_stepper("adamw", 0.0, 1e-2))
    assert torch.equal(a, b)  # so the demo trains λ = 0 once for both


def test_histogram_helper_counts_every_value():
    series = {"a": [0.0, 0.1, 0.1, 1.0], "b": [-1.0, 0.5]}
    edges, counts = plots.histogram_counts(series, bins=4)
    assert edges[0] == -1.0 and edges[-1] == 1.0 and len(edges) == 5
    assert counts["a"].sum() == 4 and counts["b"].sum() == 2
    fig = plots.histograms(series, T("x", "x"), T("n", "n"), "en", log_y=True)
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
