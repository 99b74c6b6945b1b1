"""Knowledge distillation: a student learns the teacher's softened distribution, with the T² factor.

    p_T = softmax(z / T)                                       soften teacher (t) and student (s) alike
    L_KD = T² · (1/B) Σ_i Σ_k p_T^t[i,k] · (log p_T^t[i,k] − log p_T^s[i,k])     = T² · KL(p_t ‖ p_s)

`nn.KLDivLoss` computes Σ target · (log target − input): its *input* must be the student's
log-probabilities and its *target* the teacher's probabilities, and `reduction="batchmean"` divides
by the batch size B only (the default "mean" also divides by the number of classes). The gradient of
KL at temperature T with respect to the student's logits is (p_T^s − p_T^t) / T, and at high T the
difference p_T^s − p_T^t itself shrinks like 1/T: the gradient falls like 1/T², and T² undoes that.
"""
from __future__ import annotations

import warnings
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def soften(logits: Tensor, T: float) -> Tensor:
    """Probabilities at temperature T, softmax(logits / T): (B, K) -> (B, K); T > 1 flattens them, keeping the order."""
    return F.softmax(logits / T, dim=1)


def distill_loss(student_logits: Tensor, teacher_logits: Tensor, T: float) -> Tensor:
    """T² · KL(p_T^teacher ‖ p_T^student), averaged over the batch: logits (B, K) -> a scalar."""
    log_p_s = F.log_softmax(student_logits / T, dim=1)  # (B, K) input: LOG-probabilities
    p_t = F.softmax(teacher_logits / T, dim=1)  # (B, K) target: probabilities
    return T ** 2 * nn.KLDivLoss(reduction="batchmean")(log_p_s, p_t)


def distill_loss_by_hand(student_logits: Tensor, teacher_logits: Tensor, T: float) -> Tensor:
    """The same number from the formula: T² · mean over rows of Σ_k p_t (log p_t − log p_s)."""
    p_t, p_s = soften(teacher_logits, T), soften(student_logits, T)  # (B, K) each
    return T ** 2 * (p_t * (p_t.log() - p_s.log())).sum(dim=1).mean()


def mistakes(student_logits: Tensor, teacher_logits: Tensor, T: float) -> dict[str, float]:
    """What the classic wrong calls of KLDivLoss return on the same logits (each times T², like the right one)."""
    log_p_s, log_p_t = F.log_softmax(student_logits / T, 1), F.log_softmax(teacher_logits / T, 1)
    p_s, p_t = log_p_s.exp(), log_p_t.exp()
    kl = nn.KLDivLoss(reduction="batchmean")
    with warnings.catch_warnings():  # PyTorch rightly warns about reduction="mean"; here it is the point
        warnings.simplefilter("ignore", UserWarning)
        mean = nn.KLDivLoss(reduction="mean")(log_p_s, p_t).item()
    return {
        "log_probs_as_target": T ** 2 * kl(log_p_s, log_p_t).item(),  # log p_t < 0 is not a probability: NaN
        "probs_as_input": T ** 2 * kl(p_s, p_t).item(),  # input must be log p_s: a wrong, finite number
        "swapped": T ** 2 * kl(log_p_t, p_s).item(),  # KL(p_s ‖ p_t): the other direction
        "mean_reduction": T ** 2 * mean,  # also ÷ K classes
    }


def soft_gradient_norm(student_logits: Tensor, teacher_logits: Tensor, T: float, squared_factor: bool = True) -> float:
    """‖∂L/∂student_logits‖ of the soft term, with (L_KD) or without (L_KD / T²) the T² factor."""
    s = student_logits.detach().clone().requires_grad_(True)
    loss = distill_loss(s, teacher_logits.detach(), T)
    (loss if squared_factor else loss / T ** 2).backward()
    return s.grad.norm().item()


def pack(teacher_logits: Tensor, y: Tensor | None = None) -> Tensor:
    """One training target per row: the teacher's K logits, then the label or −1 (unlabelled): (N, K + 1)."""
    labels = torch.full((len(teacher_logits),), -1) if y is None else y
    return torch.cat([teacher_logits, labels[:, None].to(teacher_logits.dtype)], dim=1)


def soft_targets(teacher: nn.Module, X_transfer: Tensor, X_labelled: Tensor, y_labelled: Tensor,
                 alpha: float) -> tuple[Tensor, Tensor]:
    """The distilled student's data: the transfer images (N, D) with the frozen teacher's logits and no label,
    plus, only when α < 1, the labelled images with their labels: X (N [+ M], D), packed (N [+ M], K + 1)."""
    if alpha == 1:
        X, y = X_transfer, None
    else:
        X, y = torch.cat([X_transfer, X_labelled]), torch.cat([torch.full((len(X_transfer),), -1), y_labelled])
    with torch.no_grad():
        return X, pack(teacher(X), y)


def student_objective(T: float, alpha: float) -> Callable[[Tensor, Tensor], Tensor]:
    """A loss_fn(logits (B, K), packed (B, K + 1)) for `fit`: α · L_KD + (1 − α) · CE on the labelled rows.

    With α = 1 no label is ever read; with α < 1, rows labelled −1 add only their soft term.
    """
    def loss(logits: Tensor, packed: Tensor) -> Tensor:
        teacher_logits, y = packed[:, :-1], packed[:, -1].long()  # (B, K), (B,)
        soft = distill_loss(logits, teacher_logits, T)
        labelled = y >= 0
        if alpha == 1 or not labelled.any():
            return alpha * soft
        return alpha * soft + (1 - alpha) * F.cross_entropy(logits[labelled], y[labelled])

    return loss
