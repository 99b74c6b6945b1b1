"""Label-flip poisoning and its classic defence, k-nearest-neighbour sanitization.

The attacker relabels a share of the training set; the defender, before training, drops every
point whose label disagrees with the majority label of its k nearest neighbours. A flipped digit
usually sits among digits that carry its true label, so it is outvoted, until the poison is
common enough to win the vote in its own neighbourhood.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

ATTACKS = ("next", "random")  # y -> (y + 1) mod K, or y -> a uniformly random other class


def flip(y: Tensor, rate: float, seed: int, attack: str = "next", num_classes: int = 10) -> tuple[Tensor, Tensor]:
    """Relabel exactly round(rate · N) random points of y (N,); returns (poisoned labels (N,), is_poison (N,) bool).

    "next" sends every flipped label to the same wrong class, (y + 1) mod K, so the poison of one digit
    piles up in one place; "random" spreads it over the K − 1 other classes. Every flip changes the label.
    """
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; choose from {ATTACKS}")
    rng = np.random.default_rng(seed)
    chosen = torch.from_numpy(rng.choice(len(y), size=int(round(rate * len(y))), replace=False))
    shift = torch.ones(len(chosen), dtype=y.dtype) if attack == "next" else \
        torch.from_numpy(rng.integers(1, num_classes, len(chosen))).to(y.dtype)
    poisoned = y.clone()
    poisoned[chosen] = (y[chosen] + shift) % num_classes
    is_poison = torch.zeros(len(y), dtype=torch.bool)
    is_poison[chosen] = True
    return poisoned, is_poison


def knn_majority(X: Tensor, y: Tensor, k: int, num_classes: int = 10) -> Tensor:
    """The majority label (N,) among each point's k nearest OTHER points in X (N, D); ties go to the smaller label."""
    from sklearn.neighbors import NearestNeighbors  # here, not at import: the app imports every demo to list it

    # kneighbors() without a query set returns each training point's neighbours, the point itself left out
    _dist, idx = NearestNeighbors(n_neighbors=k).fit(X.numpy()).kneighbors()  # (N, k)
    votes = y.numpy()[idx]  # (N, k) the neighbours' labels
    counts = np.stack([(votes == c).sum(axis=1) for c in range(num_classes)], axis=1)  # (N, K)
    return torch.from_numpy(counts.argmax(axis=1)).to(y.dtype)


def sanitize(X: Tensor, y: Tensor, k: int, num_classes: int = 10) -> Tensor:
    """kNN sanitization: the mask (N,) of points whose label agrees with their k neighbours' majority (keep these)."""
    return knn_majority(X, y, k, num_classes) == y


def removal(keep: Tensor, is_poison: Tensor) -> tuple[float, float]:
    """(share of the poisoned points removed, share of the clean points removed), both masks (N,) bool."""
    removed = ~keep
    caught = removed[is_poison].float().mean().item() if is_poison.any() else 0.0
    return caught, removed[~is_poison].float().mean().item()
