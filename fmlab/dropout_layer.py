"""Dropout by hand: a random mask in train mode, the identity in eval mode.

In train mode dropout zeroes each activation with probability p and scales the survivors by 1/(1 − p)
("inverted" dropout), so the expected activation is unchanged and eval mode simply passes activations
through. `inverted_dropout` writes out what `F.dropout` computes (the same draw, the same output), and
`Dropout` is `nn.Dropout` built on it. `model.train()` / `model.eval()` switch it on and off;
`torch.no_grad()` does not, which `true_class_probability` shows over repeated forward passes.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def inverted_dropout(x: Tensor, p: float, generator: torch.Generator | None = None,
                     training: bool = True) -> Tensor:
    """Dropout by hand: in training keep each entry with probability 1 − p and scale it by 1/(1 − p); else x.

    The same draw and arithmetic as `F.dropout` on the CPU: with the generator in the same state, the same output.
    """
    if not training or p == 0:
        return x
    if p >= 1:
        return torch.zeros_like(x)
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)  # same shape as x: 1 = kept, 0 = dropped
    return x * (keep / (1 - p))  # E[keep / (1 − p)] = 1: the expected activation is unchanged


class Dropout(nn.Module):
    """nn.Dropout(p) written with `inverted_dropout`: random in train mode, the identity in eval mode."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        return inverted_dropout(x, self.p, training=self.training)  # masks from torch's global generator


def mask_stats(x: Tensor, dropped: Tensor) -> dict[str, float]:
    """For activations x and dropped = dropout(x): the share of nonzero entries zeroed, and mean(dropped)/mean(x)."""
    alive = x != 0
    return {"dropped_share": (((dropped == 0) & alive).sum() / alive.sum()).item(),
            "mean_ratio": (dropped.mean() / x.mean()).item()}


@torch.no_grad()
def true_class_probability(model: nn.Module, x: Tensor, label: int, passes: int, training: bool) -> Tensor:
    """P(label) for one input x (1, in) over `passes` forward passes, all under no_grad: (passes,)."""
    was_training = model.training
    model.train(training)
    device = next(model.parameters()).device
    probs = torch.stack([model(x.to(device)).softmax(dim=1)[0, label] for _ in range(passes)])
    model.train(was_training)
    return probs.cpu()
