"""fmlab.decay: SGD's weight_decay is a (λ/2)‖W‖² penalty, AdamW's update is w − ηλw − η·m̂/(√v̂ + ε) by hand,
and a weight no data gradient reaches keeps exactly (1 − ηλ)^steps under AdamW, next to nothing under Adam."""
import pytest
import torch
from torch import nn

from fmlab import decay
from fmlab.penalties import l2_penalty
from fmlab.nets import MLP, init_weights


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
    assert torch.allclose(l2_penalty(model), expected)
    a = decay.train_copy(model, X, y, 5, decay.torch_stepper("sgd", 0.0, 0.1), penalty=lam)
    b = decay.train_copy(model, X, y, 5, decay.torch_stepper("sgd", lam, 0.1))
    assert torch.allclose(a, b, atol=1e-6)
    # biases are left alone by both
    bias_only = decay.decay_groups(model, lam)[1]
    assert bias_only["weight_decay"] == 0 and all(p.ndim == 1 for p in bias_only["params"])


def test_adam_and_adamw_are_the_same_algorithm_at_zero_decay():
    torch.manual_seed(0)
    model = init_weights(MLP(64, 10, width=16, depth=1), 0)
    X, y = torch.rand(32, 64), torch.randint(0, 10, (32,))
    a = decay.train_copy(model, X, y, 10, decay.torch_stepper("adam", 0.0, 1e-2))
    b = decay.train_copy(model, X, y, 10, decay.torch_stepper("adamw", 0.0, 1e-2))
    assert torch.equal(a, b)  # so the demo trains λ = 0 once for both


def test_flat_weights_are_the_weight_matrices_and_their_squared_norm_is_twice_the_penalty():
    model = init_weights(MLP(5, 3, width=4, depth=1), 0)
    flat = decay.flat_weights(model)
    assert flat.shape == (5 * 4 + 4 * 4 + 4 * 3,)  # biases excluded
    assert torch.equal(flat, torch.cat([layer.weight.detach().flatten() for layer in model.linears()]))
    assert torch.allclose(flat.pow(2).sum(), 2 * l2_penalty(model))


def test_unreached_inputs_and_their_weights_by_hand():
    X = torch.tensor([[0.0, 1.0, 0.0], [0.0, -2.0, 0.0]])
    unreached = decay.unreached_inputs(X)
    assert unreached.tolist() == [True, False, True]
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 9.0, -2.0], [-3.0, 9.0, 4.0]]))
    assert decay.unreached_size(layer, unreached) == pytest.approx((1 + 2 + 3 + 4) / 4)


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_a_weight_no_gradient_reaches_keeps_the_decoupled_shrink_under_adamw_only(name):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    X, y = torch.randn(16, 3), torch.randint(0, 2, (16,))
    X[:, 1] = 0  # input 1 is always blank: its first-layer weights get the decay term alone
    unreached = decay.unreached_inputs(X)
    before = decay.unreached_size(model[0], unreached)
    lr, lam, steps = 0.01, 0.1, 40
    opt = decay.make_optimizer(name, model, lam, lr)
    for _step in range(steps):
        opt.zero_grad()
        nn.functional.cross_entropy(model(X), y).backward()
        opt.step()
    kept = decay.unreached_size(model[0], unreached) / before
    if name == "adamw":
        assert kept == pytest.approx(decay.decoupled_shrink(lr, lam, steps), rel=1e-5)
    else:  # each step moves the weight by about lr whatever lam is: erased long before (1 - lr·lam)^steps
        assert kept < 0.5 * decay.decoupled_shrink(lr, lam, steps)
