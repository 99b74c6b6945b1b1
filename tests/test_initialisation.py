"""Initialisation: the std formulas against torch.nn.init, the per-layer gain by hand and on random inputs."""
import math

import pytest
import torch
from torch import nn

from fmlab.initialisation import (INITS, DeepMLP, activation_stds, gradient_norms, initialise, layer_gain,
                                  predicted_gain, weight_std)


def test_weight_std_formula_matches_torch_init():
    g = torch.Generator().manual_seed(0)
    fan_in, fan_out = 512, 256
    for init in INITS:
        layer = nn.Linear(fan_in, fan_out)
        initialise(layer, init, g)
        assert layer.weight.std().item() == pytest.approx(weight_std(init, fan_in, fan_out), rel=0.02), init
        assert layer.bias.abs().max().item() == 0
    # the references: kaiming_normal_ has std gain / √fan_in with gain √2 for ReLU; nn.Linear's own default
    assert weight_std("he", fan_in, fan_out) == pytest.approx(nn.init.calculate_gain("relu") / math.sqrt(fan_in))
    assert nn.Linear(fan_in, fan_out).weight.std().item() == pytest.approx(
        weight_std("pytorch", fan_in, fan_out), rel=0.02)


def test_predicted_gain_by_hand():
    """√(fan_in · Var(w) / 2) for ReLU, √(fan_in · Var(w)) for tanh, at width 128."""
    by_hand = {"small": math.sqrt(128 * 0.01 ** 2 / 2), "xavier": math.sqrt(0.5), "he": 1.0, "large": 8.0,
               "pytorch": math.sqrt(1 / 6)}
    for init, expected in by_hand.items():
        assert predicted_gain(init, 128, "relu") == pytest.approx(expected)
        assert predicted_gain(init, 128, "tanh") == pytest.approx(expected * math.sqrt(2))


def test_layer_gain_is_the_geometric_mean_of_layer_to_layer_ratios():
    assert layer_gain([1.0, 2.0, 8.0]) == pytest.approx(math.sqrt(2 * 4))
    assert layer_gain([3.0, 3.0, 3.0]) == pytest.approx(1.0)
    assert 0 < layer_gain([1.0, 0.0]) < 1e-30  # a vanished signal: a tiny finite gain, not log(0)
    assert math.isnan(layer_gain([1.0]))


@pytest.mark.parametrize("init, activation", [("small", "relu"), ("xavier", "relu"), ("he", "relu"), ("large", "relu"),
                                              ("small", "tanh")])  # tanh ≈ identity only while the signal is small
def test_measured_gain_matches_the_formula_on_gaussian_inputs(init, activation):
    model = DeepMLP(256, 10, depth=8, width=256, norm="none", activation=activation)
    g = torch.Generator().manual_seed(0)
    for layer in model.weight_layers():
        initialise(layer, init, g)
    X = torch.randn(512, 256, generator=torch.Generator().manual_seed(1))
    assert layer_gain(activation_stds(model, X)) == pytest.approx(predicted_gain(init, 256, activation), rel=0.05)


def test_deep_mlp_shows_every_hidden_layer_and_its_gradients():
    model = DeepMLP(64, 10, depth=4, width=32, norm="layernorm", activation="relu")
    X, y = torch.randn(16, 64), torch.randint(0, 10, (16,))
    hidden = model.hidden(X)
    assert [h.shape for h in hidden] == [(16, 32)] * 4
    assert torch.equal(model(X), model.head(hidden[-1]))
    norms = gradient_norms(model, X, y)
    grads = torch.autograd.grad(nn.functional.cross_entropy(model(X), y),
                                [layer.weight for layer in model.weight_layers()])
    assert norms == pytest.approx([g.norm().item() for g in grads])
    assert all(p.grad is None for p in model.parameters())  # gradients are not left behind
