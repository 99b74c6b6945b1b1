"""Weight initialisation, and how it scales a signal layer by layer through a deep stack.

A linear layer multiplies the variance of its input by about fan_in · Var(w); ReLU then keeps half of it.
So with Var(w) = 2 / fan_in (Kaiming/He) the signal keeps its size through any depth, while a fixed small
std (0.01) shrinks it by the same factor at every layer until it vanishes, and std 1 blows it up. Xavier's
Var(w) = 2 / (fan_in + fan_out) suits tanh; under ReLU it loses half the variance at every layer.
`DeepMLP` shows every hidden layer's output, so `activation_stds` can measure what `predicted_gain` says.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

INITS = ("small", "xavier", "he", "large", "pytorch")


def weight_std(init: str, fan_in: int, fan_out: int) -> float:
    """The standard deviation each initialisation gives a weight, from its formula."""
    return {"small": 0.01, "large": 1.0,
            "xavier": math.sqrt(2 / (fan_in + fan_out)),  # Glorot: keeps the variance for a linear/tanh layer
            "he": math.sqrt(2 / fan_in),  # Kaiming: the 2 makes up for ReLU zeroing half its inputs
            "pytorch": math.sqrt(1 / (3 * fan_in))}[init]  # kaiming_uniform_(a=√5): uniform on ±1/√fan_in


def initialise(layer: nn.Linear, init: str, g: torch.Generator) -> None:
    """Set a linear layer's weights with torch.nn.init (from generator g) and its bias to 0."""
    w = layer.weight  # (fan_out, fan_in)
    if init == "xavier":
        nn.init.xavier_uniform_(w, generator=g)
    elif init == "he":
        nn.init.kaiming_normal_(w, nonlinearity="relu", generator=g)
    elif init == "pytorch":
        nn.init.kaiming_uniform_(w, a=math.sqrt(5), generator=g)
    else:
        nn.init.normal_(w, std=weight_std(init, w.shape[1], w.shape[0]), generator=g)
    nn.init.zeros_(layer.bias)


def predicted_gain(init: str, width: int, activation: str) -> float:
    """Factor by which the activation std changes per hidden layer: √(fan_in · Var(w) · ½ for ReLU).
    For tanh this is the small-signal value (tanh(z) ≈ z); a saturated tanh stays near 1 instead."""
    keep = 0.5 if activation == "relu" else 1.0  # ReLU passes half of a symmetric input's second moment
    return math.sqrt(width * weight_std(init, width, width) ** 2 * keep)


def layer_gain(stds: list[float]) -> float:
    """Geometric mean of std(layer k+1) / std(layer k) over the hidden layers after the first."""
    ratios = np.array(stds[1:]) / np.maximum(np.array(stds[:-1]), 1e-38)
    return float(np.exp(np.log(np.maximum(ratios, 1e-38)).mean())) if len(ratios) else float("nan")


class DeepMLP(nn.Module):
    """`depth` × (Linear -> norm -> activation), then a linear output layer; norm is "none", "batchnorm" or
    "layernorm", activation "relu" or "tanh"."""

    def __init__(self, in_dim: int, out_dim: int, depth: int, width: int, norm: str, activation: str):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(in_dim if i == 0 else width, width) for i in range(depth))
        make_norm = {"none": nn.Identity, "batchnorm": nn.BatchNorm1d, "layernorm": nn.LayerNorm}[norm]
        self.norms = nn.ModuleList(make_norm(width) for _ in range(depth))
        self.act = torch.relu if activation == "relu" else torch.tanh
        self.head = nn.Linear(width, out_dim)

    def weight_layers(self) -> list[nn.Linear]:
        """Every linear layer, input to output: the hidden ones, then the head."""
        return [*self.linears, self.head]

    def hidden(self, x: Tensor) -> list[Tensor]:
        """Every hidden layer's output, input to output: depth × (B, width)."""
        outs = []
        for linear, norm in zip(self.linears, self.norms):
            outs.append(x := self.act(norm(linear(x))))
        return outs

    def forward(self, x: Tensor) -> Tensor:  # (B, in_dim) -> (B, out_dim)
        return self.head(self.hidden(x)[-1])


@torch.no_grad()
def activation_stds(model: DeepMLP, X: Tensor) -> list[float]:
    """Std of each hidden layer's output over a batch, at the current weights (BatchNorm uses batch statistics)."""
    return [h.std().item() for h in model.hidden(X)]


def gradient_norms(model: DeepMLP, X: Tensor, y: Tensor) -> list[float]:
    """‖∂loss/∂W‖ of every weight matrix, input to output, for one batch."""
    model.zero_grad()
    F.cross_entropy(model(X), y).backward()
    norms = [layer.weight.grad.norm().item() for layer in model.weight_layers()]
    model.zero_grad()
    return norms
