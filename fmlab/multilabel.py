"""Multi-label classification: the losses, the metrics (checked against scikit-learn) and per-label thresholds.

One softmax makes K probabilities share one unit of mass, so a true label gets about 1/n of it with n
true labels; K independent sigmoids with binary cross-entropy answer K separate yes/no questions.
Subset accuracy: the whole label set right. Hamming loss: the share of wrong label decisions.
Micro-F1 pools every decision; macro-F1 is the mean of the per-label F1s, so rare labels weigh as much
as common ones.
"""
from __future__ import annotations

import torch
from torch import Tensor

from .text import _

GRID = torch.linspace(0.02, 0.98, 49)  # candidate thresholds
METRIC_NAMES = {"labels": _("labels per example", "每个样本的标签数"),
                "subset_accuracy": _("subset accuracy", "子集准确率"), "hamming": _("Hamming loss", "Hamming loss"),
                "micro_f1": _("micro-F1", "micro-F1"), "macro_f1": _("macro-F1", "macro-F1")}


def bce_with_logits(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean binary cross-entropy of K independent sigmoids from logits (B, K), computed stably:

    -[y log σ(z) + (1 - y) log(1 - σ(z))] = max(z, 0) - z·y + log(1 + e^(-|z|)): never log(0)."""
    return (logits.clamp_min(0) - logits * targets + torch.log1p(torch.exp(-logits.abs()))).mean()


def softmax_ce(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy of ONE softmax against the label set scaled to sum to 1 (wrong for independent labels)."""
    share = targets / targets.sum(1, keepdim=True).clamp_min(1)  # (B, K); an empty set gives an all-zero row
    return -(share * logits.log_softmax(dim=1)).sum(1).mean()


def true_label_probability(probs: Tensor, Y: Tensor, max_count: int = 5) -> list[float]:
    """Mean probability given to a true label, for examples with 1, 2, ... `max_count` true labels."""
    n = Y.sum(1)
    return [float((probs[n == c] * Y[n == c]).sum() / (Y[n == c]).sum()) if (n == c).any() else float("nan")
            for c in range(1, max_count + 1)]


def counts(Y: Tensor, P: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """True positives, false positives, false negatives of 0/1 predictions P (N, ..., K), summed over rows."""
    return (P * Y).sum(0), (P * (1 - Y)).sum(0), ((1 - P) * Y).sum(0)


def f1_from_counts(tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
    """2TP / (2TP + FP + FN); 0 where a label is neither present nor predicted (scikit-learn's zero_division=0)."""
    denominator = 2 * tp + fp + fn
    return torch.where(denominator > 0, 2 * tp / denominator.clamp_min(1e-12), torch.zeros_like(tp))


def per_label_f1(Y: Tensor, P: Tensor) -> Tensor:
    """F1 of each label, (K,), of 0/1 predictions P against labels Y, both (N, K)."""
    return f1_from_counts(*counts(Y, P.float()))


def multilabel_metrics(Y: Tensor, P: Tensor) -> dict[str, float]:
    """Subset accuracy, Hamming loss, micro- and macro-F1 of 0/1 predictions P against labels Y, both (N, K)."""
    P = P.float()
    tp, fp, fn = counts(Y, P)
    return {"labels": P.sum(1).mean().item(),
            "subset_accuracy": (P == Y).all(dim=1).float().mean().item(),
            "hamming": (P != Y).float().mean().item(),
            "micro_f1": f1_from_counts(tp.sum(), fp.sum(), fn.sum()).item(),
            "macro_f1": f1_from_counts(tp, fp, fn).mean().item()}


def tune_thresholds(probs: Tensor, Y: Tensor, grid: Tensor = GRID) -> Tensor:
    """For each label, the grid threshold with the best F1 on (validation) data: (K,)."""
    P = (probs[:, None, :] > grid[None, :, None]).float()  # (N, T, K): predictions at every threshold
    return grid[f1_from_counts(*counts(Y[:, None], P)).argmax(dim=0)]  # F1 (T, K) -> best threshold per label
