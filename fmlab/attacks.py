"""L∞ attacks written out in a few lines, and training on perturbed batches through `fit`'s batch_transform.

`fgsm` and `pgd` are the whole methods; tests check them against captum's `FGSM` and `PGD`.
Inputs live in [0, 1] (pixels), so every attacked input is clamped back into that box.
The loss is cross-entropy summed over the batch: each example's input gradient is its own,
not shrunk by 1/B (its sign, all FGSM uses, is the same either way).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .fit import BatchTransform

Perturb = Callable[[nn.Module, Tensor, Tensor], Tensor]  # (model, X, y) -> X' of the same shape


def input_gradient(model: nn.Module, X: Tensor, y: Tensor) -> Tensor:
    """∇ₓ of the summed cross-entropy at X: the direction that raises each example's loss fastest, X's shape."""
    X = X.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(model(X), y, reduction="sum"), X)
    return grad


def fgsm(model: nn.Module, X: Tensor, y: Tensor, eps: float) -> Tensor:
    """Fast gradient sign method: one step x + ε·sign(∇ₓL), clamped to [0, 1]; X's shape."""
    return (X + eps * input_gradient(model, X, y).sign()).clamp(0, 1).detach()


def pgd(model: nn.Module, X: Tensor, y: Tensor, eps: float, alpha: float, steps: int,
        random_start: bool = False, generator: torch.Generator | None = None) -> Tensor:
    """Projected gradient descent (ascent on the loss): `steps` signed steps of size α, each projected back
    into the ε-ball around X and into [0, 1]; optionally from a uniform random point of the ball."""
    X_adv = X.detach()
    if random_start:
        X_adv = (X_adv + torch.rand(X.shape, generator=generator, dtype=X.dtype) * 2 * eps - eps).clamp(0, 1)
    for _ in range(steps):
        X_adv = X_adv + alpha * input_gradient(model, X_adv, y).sign()
        X_adv = (X + (X_adv - X).clamp(-eps, eps)).clamp(0, 1).detach()  # project: |δ| ≤ ε, pixel in [0, 1]
    return X_adv


def random_sign(X: Tensor, eps: float, generator: torch.Generator) -> Tensor:
    """The same L∞ budget in a random direction: x ± ε per pixel, signs drawn at random, clamped to [0, 1]."""
    signs = torch.randint(0, 2, X.shape, generator=generator).to(X.dtype) * 2 - 1
    return (X + eps * signs).clamp(0, 1)


def gaussian_noise(sigma: float, generator: torch.Generator) -> Perturb:
    """Noise augmentation as a Perturb: x + σ·N(0, 1), clamped; it ignores the model and the labels."""
    return lambda model, X, y: (X + sigma * torch.randn(X.shape, generator=generator)).clamp(0, 1)


def fgsm_attack(eps: float) -> Perturb:
    """Adversarial examples as a Perturb: FGSM against the model as it is at this step."""
    return lambda model, X, y: fgsm(model, X, y, eps)


def half_perturbed(perturb: Perturb) -> BatchTransform:
    """For `fit(batch_transform=...)`: train on the clean batch and its perturbed copy together,
    i.e. ½·CE(clean) + ½·CE(perturbed), the copy made afresh at every step with the current weights."""
    def transform(model: nn.Module, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
        return torch.cat([X, perturb(model, X, y)]), torch.cat([y, y])  # (2B, ...), (2B,)

    return transform
