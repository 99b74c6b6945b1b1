"""Capacity of a 2-D classifier: build one from logistic regression up, see where its boundary runs,
and check first that it can fit anything at all.

A model too simple for the data is poor on its own training set (high bias). Before blaming
capacity, make sure training works: a healthy pipeline memorises a tiny batch of random labels.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .nets import MLP, init_weights


def classifier(hidden: tuple[int, ...], seed: int) -> nn.Module:
    """Logistic regression for `hidden` = (), else an MLP 2 -> hidden ReLU layers (all one width) -> 2 logits."""
    if not hidden:
        model: nn.Module = nn.Linear(2, 2)  # softmax over two logits = logistic regression
    else:
        model = MLP(2, 2, width=hidden[0], depth=len(hidden) - 1)
    return init_weights(model, seed)


@torch.no_grad()
def probability_map(model: nn.Module, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """P(class 1) on the grid: (len(ys), len(xs)); its 0.5 contour is the decision boundary."""
    model.eval()
    gx, gy = np.meshgrid(xs, ys)
    points = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)  # (G, 2)
    device = next(model.parameters()).device
    probs = model(points.to(device)).softmax(dim=1)[:, 1].cpu().numpy()
    return probs.reshape(len(ys), len(xs))


def tiny_batch(X: Tensor, size: int, gap: float, seed: int) -> tuple[Tensor, Tensor]:
    """The first `size` rows of X at least `gap` apart, with random 0/1 labels: (≤ size, D), (≤ size,).

    Two nearly equal points with different labels would defeat any net; the check is about the pipeline.
    """
    picked: list[int] = []
    for i in range(len(X)):
        if len(picked) < size and all((X[i] - X[j]).norm() > gap for j in picked):
            picked.append(i)
    return X[picked], torch.randint(0, 2, (len(picked),), generator=torch.Generator().manual_seed(seed))
