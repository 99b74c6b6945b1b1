"""Multi-label metrics, checked against scikit-learn, and per-label thresholds tuned for F1.

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


def counts(Y: Tensor, P: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """True positives, false positives, false negatives of 0/1 predictions P (N, ..., K), summed over rows."""
    return (P * Y).sum(0), (P * (1 - Y)).sum(0), ((1 - P) * Y).sum(0)


def f1_from_counts(tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
    """2TP / (2TP + FP + FN); 0 where a label is neither present nor predicted (scikit-learn's zero_division=0)."""
    denominator = 2 * tp + fp + fn
    return torch.where(denominator > 0, 2 * tp / denominator.clamp_min(1e-12), torch.zeros_like(tp))


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
