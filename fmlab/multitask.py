"""Multi-task learning by hard parameter sharing: one trunk, one head per task, a weighted joint loss.

A row may lack a task's label (MISSING): each task's loss averages over the rows that have one, so a
batch with none adds 0, not NaN. One backward pass of L = L_A + λ·L_B sends both tasks' gradients into
the shared trunk, while each head hears only its own task.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .nets import num_params

MISSING = -1  # a label this row does not have; masked out of that task's loss


class TwoHeadNet(nn.Module):
    """Hard parameter sharing: a shared MLP trunk, a 10-way head for A and a 1-logit head for B."""

    def __init__(self, width: int = 128, features: int = 64):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                   nn.Linear(width, features), nn.ReLU())
        self.head_a = nn.Linear(features, 10)
        self.head_b = nn.Linear(features, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # (B, 64) -> (B, 10), (B,)
        h = self.trunk(x)  # (B, features): the representation both tasks share
        return self.head_a(h), self.head_b(h).squeeze(1)


def separate_params(net: TwoHeadNet) -> int:
    """Parameters of two single-task models instead: each head with its own copy of the trunk."""
    return 2 * num_params(net.trunk) + num_params(net.head_a) + num_params(net.head_b)


def masked_mean(losses: Tensor, mask: Tensor) -> Tensor:
    """Mean of per-row losses over the rows that have a label; 0 (not NaN) when none has."""
    return (losses * mask).sum() / mask.sum().clamp_min(1)


def task_losses(outputs: tuple[Tensor, Tensor], y: Tensor) -> tuple[Tensor, Tensor]:
    """L_A and L_B for y (B, 2) = (digit, B label), each averaged over the rows where it is not MISSING."""
    logits_a, logit_b = outputs
    has_a, has_b = y[:, 0] != MISSING, y[:, 1] != MISSING
    loss_a = F.cross_entropy(logits_a, y[:, 0].clamp_min(0), reduction="none")  # (B,)
    loss_b = F.binary_cross_entropy_with_logits(logit_b, y[:, 1].clamp_min(0).float(), reduction="none")  # (B,)
    return masked_mean(loss_a, has_a), masked_mean(loss_b, has_b)


def joint_loss(weight_b: float):
    """L = L_A + λ·L_B: one backward pass sends both tasks' gradients into the shared trunk."""

    def loss(outputs: tuple[Tensor, Tensor], y: Tensor) -> Tensor:
        loss_a, loss_b = task_losses(outputs, y)
        return loss_a + weight_b * loss_b

    return loss
