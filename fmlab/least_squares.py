"""Least squares for a line y ≈ w·x + b: the normal equations, the MSE's Hessian and gradient descent on it.

With A = [x, 1] the MSE mean((Aθ − y)²) is a convex quadratic: its minimum solves AᵀA·θ = Aᵀy,
and its Hessian 2AᵀA / n is the same everywhere. The Hessian's condition number κ sets how fast
gradient descent gets there; a step above 2/L (L: the largest eigenvalue) diverges.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .demo import Event, Report, silent
from .fit import fit


def design(x: np.ndarray) -> np.ndarray:
    """A = [x, 1] (N, 2): the column of ones carries the intercept."""
    return np.c_[x, np.ones_like(x)]


def closed_form(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(slope, intercept) from the normal equations AᵀA θ = Aᵀy, solved without forming an inverse."""
    A = design(x)
    return np.linalg.solve(A.T @ A, A.T @ y)


def hessian(x: np.ndarray) -> np.ndarray:
    """Hessian of the MSE mean((A θ − y)²) with respect to θ: 2AᵀA / n, the same everywhere."""
    A = design(x)
    return 2 * A.T @ A / len(x)


def condition(H: np.ndarray) -> float:
    """κ = largest / smallest eigenvalue."""
    eig = np.linalg.eigvalsh(H)
    return float(eig.max() / eig.min())


def mse(x: np.ndarray, y: np.ndarray, thetas: np.ndarray) -> np.ndarray:
    """Full-data MSE at each (slope, intercept) row of thetas (S, 2) -> (S,)."""
    return ((x[None, :] * thetas[:, :1] + thetas[:, 1:] - y[None, :]) ** 2).mean(axis=1)


def recording(report: Report, model: nn.Linear, path: list[tuple[float, float]]) -> Report:
    """A report that also appends (slope, intercept) after every optimizer step."""

    def hook(event: Event) -> None:
        if event.kind == "step":
            path.append((model.weight.item(), model.bias.item()))
        report(event)

    return hook


def descend(x: np.ndarray, y: np.ndarray, *, batch_size: int, lr: float, epochs: int, seed: int,
            decay: bool = False, report: Report = silent) -> np.ndarray:
    """(Mini-batch) gradient descent on the MSE from (0, 0); returns the path of (slope, intercept) (steps + 1, 2).

    `decay` scales the step by 1/t: it halves after one pass, is a third after two, ...
    """
    model = nn.Linear(1, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    steps_per_epoch = -(-len(x) // batch_size)
    scheduler = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1 / (1 + t / steps_per_epoch)) if decay else None
    path = [(0.0, 0.0)]
    X = torch.tensor(x, dtype=torch.float32)[:, None]  # (N, 1)
    Y = torch.tensor(y, dtype=torch.float32)[:, None]  # (N, 1)
    fit(model, opt, (X, Y), epochs=epochs, batch_size=batch_size, loss_fn=F.mse_loss, seed=seed,
        report=recording(report, model, path), scheduler=scheduler)
    return np.array(path)
