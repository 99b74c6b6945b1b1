"""Weight penalties: L1 and L2 against torch.linalg.vector_norm and by hand, with their gradients, and
what each does to a logistic regression's weights on features that carry no signal."""
import numpy as np
import torch
from torch import nn

from fmlab.penalties import feature_weights, l1_penalty, l2_penalty, logistic_regression, penalty


def test_penalties_match_torch_vector_norms():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    weights = [p for p in model.parameters() if p.ndim > 1]
    assert len(weights) == 3  # biases are not penalised
    l1 = sum(torch.linalg.vector_norm(w, ord=1) for w in weights)
    l2 = sum(0.5 * torch.linalg.vector_norm(w, ord=2) ** 2 for w in weights)
    assert torch.allclose(l1_penalty(model), l1)
    assert torch.allclose(l2_penalty(model), l2)


def test_penalties_and_their_gradients_by_hand():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0], [3.0, -4.0]]))
        layer.bias.fill_(100.0)  # ignored by both penalties
    assert l1_penalty(layer).item() == 10.0
    assert l2_penalty(layer).item() == 15.0  # ½ (1 + 4 + 9 + 16)
    (g1,) = torch.autograd.grad(l1_penalty(layer), layer.weight)
    (g2,) = torch.autograd.grad(l2_penalty(layer), layer.weight)
    assert torch.equal(g1, torch.sign(layer.weight))  # L1: a constant pull, whatever the size
    assert torch.equal(g2, layer.weight)  # L2: a pull proportional to the weight


def test_penalty_scales_by_lambda_and_is_none_for_other_kinds():
    layer = nn.Linear(2, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, -2.0], [3.0, -4.0]]))
    assert penalty("l1", 0.1)(layer).item() == torch.tensor(0.1 * 10.0).item()
    assert penalty("l2", 0.1)(layer).item() == torch.tensor(0.1 * 15.0).item()
    assert penalty("none", 0.1) is None and penalty("dropout", 0.1) is None


def test_feature_weights_are_column_norms():
    layer = nn.Linear(3, 2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 0.0, 1.0], [4.0, 0.0, -1.0]]))
    assert np.allclose(feature_weights(layer), [5.0, 0.0, np.sqrt(2)])


def test_l1_switches_off_noise_features_and_l2_only_shrinks_them():
    g = torch.Generator().manual_seed(0)
    signal = torch.randn(400, 2, generator=g)
    y = (signal[:, 0] + signal[:, 1] > 0).long()
    X = torch.cat([signal, torch.randn(400, 10, generator=g)], dim=1)  # 2 informative + 10 noise features
    sizes = {kind: feature_weights(logistic_regression(X, y, steps=300, penalty=penalty(kind, lam)))
             for kind, lam in (("none", 0.0), ("l1", 0.03), ("l2", 0.1))}
    lr, lam = 0.1, 0.03
    assert (sizes["l1"][2:] < 4 * lr * lam).all()  # plain SGD leaves them jittering within ~η·λ of 0
    assert sizes["l1"][:2].min() > 10 * sizes["l1"][2:].mean()  # the informative ones stay
    assert sizes["l2"][2:].mean() < sizes["none"][2:].mean()  # L2 shrinks the noise weights ...
    assert (sizes["l2"][2:] < 4 * lr * lam).mean() <= 0.3  # ... without zeroing them
