"""Model extraction through a prediction API, and the transfer attack a stolen copy enables.

The attacker never sees the victim's weights or training data: it sends its own unlabelled inputs
to the API, trains a surrogate on the answers, and then crafts adversarial examples on the
surrogate, where it has gradients, to use against the victim.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODES = ("probs", "labels")  # what the API returns: the softmax vector, or only the top-1 class
Api = Callable[[Tensor, str], Tensor]


def prediction_api(victim: nn.Module) -> Api:
    """The deployed endpoint: `api(X, mode)` answers X (N, D) with probabilities (N, K) or top-1 labels (N,)."""

    @torch.no_grad()
    def api(X: Tensor, mode: str) -> Tensor:
        probs = F.softmax(victim.eval()(X), dim=1)  # (N, K)
        return probs if mode == "probs" else probs.argmax(dim=1)

    return api


def steal_loss(logits: Tensor, answers: Tensor) -> Tensor:
    """Cross-entropy against what the API returned: −Σ p log q with probabilities p (N, K), or CE with labels (N,).

    With probabilities this is KL(p ‖ q) plus the API's entropy H(p), a constant: the surrogate is pulled
    towards the victim's whole output distribution, not only its top class (`F.cross_entropy` takes both).
    """
    if answers.dtype.is_floating_point:
        return -(answers * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    return F.cross_entropy(logits, answers)


@torch.no_grad()
def agreement(a: nn.Module, b: nn.Module, X: Tensor) -> float:
    """Share of inputs X (N, D) on which the two models predict the same class."""
    return (a.eval()(X).argmax(dim=1) == b.eval()(X).argmax(dim=1)).float().mean().item()


def fgsm(model: nn.Module, X: Tensor, y: Tensor, eps: float) -> Tensor:
    """FGSM: clip(X + ε·sign(∇_X CE(model(X), y)), 0, 1), the loss gradient with respect to the INPUT; (N, D)."""
    X = X.clone().requires_grad_(True)
    grad, = torch.autograd.grad(F.cross_entropy(model.eval()(X), y), X)  # (N, D)
    return (X + eps * grad.sign()).clamp(0, 1).detach()


def sign_noise(X: Tensor, eps: float, seed: int) -> Tensor:
    """The control: X (N, D) moved by ±ε in every pixel at random (the same size as FGSM's step), clipped to [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    signs = torch.randint(0, 2, X.shape, generator=g).to(X.dtype) * 2 - 1  # (N, D) of ±1
    return (X + eps * signs).clamp(0, 1)


@torch.no_grad()
def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """Share of X (N, D) the model labels y (N,)."""
    return (model.eval()(X).argmax(dim=1) == y).float().mean().item()
