"""Weight penalties added to a loss: L1 = λ·Σ|w| and L2 = (λ/2)·Σw², over the weight matrices only.

Their gradients differ in kind: L2 pulls each weight by λw, a pull that fades as the weight shrinks;
L1 pulls by λ·sign(w), the same whatever its size, so it drives unneeded weights to (about) zero.
A penalised `logistic_regression` shows it, and `feature_weights` reads off how much it still uses
each input. (Plain SGD on the kink of |w| leaves such weights jittering within about η·λ of zero;
exact zeros need a proximal step, i.e. soft-thresholding.)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from .demo import Report, silent
from .fit import Penalty, fit
from .nets import init_weights


def l1_penalty(model: nn.Module) -> Tensor:
    """Σ|w| over the weight matrices (biases are not penalised)."""
    return sum(p.abs().sum() for p in model.parameters() if p.ndim > 1)


def l2_penalty(model: nn.Module) -> Tensor:
    """½·Σw² over the weight matrices: its gradient is w itself."""
    return sum(0.5 * p.pow(2).sum() for p in model.parameters() if p.ndim > 1)


def penalty(kind: str, lam: float) -> Penalty | None:
    """The loss term λ·l1_penalty for kind "l1", λ·l2_penalty for "l2"; None (no term) for any other kind."""
    if kind == "l1":
        return lambda model: lam * l1_penalty(model)
    if kind == "l2":
        return lambda model: lam * l2_penalty(model)
    return None


def logistic_regression(X: Tensor, y: Tensor, *, steps: int, penalty: Penalty | None = None, lr: float = 0.1,
                        seed: int = 0, report: Report = silent) -> nn.Linear:
    """A linear layer from X (N, D) to 2 logits after `steps` full-batch plain-SGD steps on cross-entropy + penalty."""
    model = init_weights(nn.Linear(X.shape[1], 2), seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    fit(model, opt, (X, y), epochs=steps, batch_size=len(X), seed=seed, report=report, penalty=penalty)
    return model


def feature_weights(linear: nn.Linear) -> np.ndarray:
    """Size of each input feature's weights, ‖W[:, j]‖ over the outputs: (in_features,)."""
    return linear.weight.detach().cpu().norm(dim=0).numpy()
