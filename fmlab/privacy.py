"""Differential privacy for training: one DP-SGD step by hand, the Gaussian mechanism's ε, and a
membership-inference attack.

DP-SGD (Abadi et al., 2016) makes each step's gradient private: compute every example's own
gradient, clip each to L2 norm C (one record can then move the sum by at most C), add Gaussian
noise N(0, σ²C²) to the sum and divide by the (expected) batch size. Opacus does the same with a
GradSampleModule and a DPOptimizer, and its RDP accountant turns (σ, sampling rate, steps, δ) into ε;
`tests/test_privacy.py` checks that `private_gradient` equals opacus's gradient. Opacus is imported
inside `train_private` only, so importing this module stays cheap.
"""
from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from .demo import Event, Report, silent

Grads = dict[str, Tensor]  # parameter name -> a tensor shaped like that parameter, or (B, *shape) per example
DELTA = 1e-5  # much smaller than 1/n for the few hundred records here
ORDERS = tuple(range(2, 65))  # integer RDP orders: fast to evaluate; ε barely looser than opacus's default grid


def per_example_grads(model: nn.Module, X: Tensor, y: Tensor) -> Grads:
    """Each example's own cross-entropy gradient, one backward pass per example: name -> (B, *param.shape).

    A plain loop (torch.func's vmap would do it in one call, but its first call costs seconds of imports).
    """
    params = dict(model.named_parameters())
    rows = [torch.autograd.grad(F.cross_entropy(model(x[None]), t[None]), list(params.values()))
            for x, t in zip(X, y)]  # B tuples of per-parameter gradients
    return {name: torch.stack([r[i] for r in rows]) for i, name in enumerate(params)}


def clip_factors(per_example: Grads, max_norm: float) -> Tensor:
    """min(1, C / ‖g_i‖) per example, ‖g_i‖ over all parameters together (opacus's "flat" clipping): (B,)."""
    norms = torch.stack([g.flatten(1).norm(dim=1) for g in per_example.values()], dim=1).norm(dim=1)  # (B,)
    return (max_norm / (norms + 1e-6)).clamp(max=1.0)  # the 1e-6 guards ‖g_i‖ = 0, as in opacus


def private_gradient(per_example: Grads, max_norm: float, noise_multiplier: float,
                     generator: torch.Generator | None = None, expected_batch_size: int | None = None) -> Grads:
    """One DP-SGD gradient: clip each example to norm C, sum, add N(0, σ²C²), divide by the batch size.

    The sum's sensitivity to one record is C, so the noise std is σ·C. The divisor is the expected batch
    size under Poisson sampling (opacus: the loader's batch_size), or B when not given. Noise is drawn
    parameter by parameter in order from `generator`, as opacus's DPOptimizer does.
    """
    factors = clip_factors(per_example, max_norm)  # (B,)
    size = expected_batch_size or len(factors)
    out = {}
    for name, g in per_example.items():  # g: (B, *shape)
        summed = torch.einsum("i,i...->...", factors, g)  # (*shape): sum of the clipped gradients
        noise = (torch.normal(0.0, noise_multiplier * max_norm, summed.shape, generator=generator)
                 if noise_multiplier > 0 else torch.zeros_like(summed))
        out[name] = (summed + noise) / size
    return out


def gaussian_epsilon(noise_multiplier: float, steps: int, delta: float = DELTA,
                     orders: Sequence[float] = ORDERS) -> float:
    """ε after `steps` full-batch Gaussian mechanisms with noise σ·C on a sum of sensitivity C.

    RDP of one step at order α is α / (2σ²); steps add up; the conversion to (ε, δ) is Balle et al. (2020),
    the one opacus uses: ε = min_α [rdp − (log δ + log α) / (α − 1) + log((α − 1) / α)]. No subsampling
    amplification: this is what DP-SGD would cost if every step used every record.
    """
    a = np.asarray(orders, dtype=float)
    rdp = steps * a / (2 * noise_multiplier ** 2)
    return float(np.min(rdp - (math.log(delta) + np.log(a)) / (a - 1) + np.log((a - 1) / a)))


class Rows(TensorDataset):
    """A TensorDataset that hands a DataLoader a whole batch, (X[idx], y[idx]), instead of one row per call."""

    def __getitems__(self, idx: list[int]) -> tuple[Tensor, ...]:
        return tuple(t[idx] for t in self.tensors)


def train_private(model: nn.Module, X: Tensor, y: Tensor, *, noise_multiplier: float, max_grad_norm: float,
                  batch_size: int, epochs: int, lr: float, seed: int,
                  report: Report = silent) -> tuple[float, list[float]]:
    """DP-SGD with opacus (Adam on the private gradients, Poisson-sampled batches): (ε at δ = DELTA, losses).

    `model` is trained in place. opacus needs its own DataLoader: the RDP accountant's ε assumes every
    record joins each batch independently with probability batch_size / N (Poisson sampling), which
    fmlab's `fit` (fixed-size shuffled batches from tensors) does not do; hence this short loop.
    """
    from opacus import PrivacyEngine

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(Rows(X, y), batch_size=batch_size, collate_fn=lambda batch: batch,  # batches come whole
                        generator=torch.Generator().manual_seed(seed))  # opacus's Poisson sampler draws from it
    total = epochs * math.ceil(len(X) / batch_size)  # expected number of steps
    losses: list[float] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # opacus warns about secure_mode and the RNG: not for the learner
        engine = PrivacyEngine(accountant="rdp", secure_mode=False)
        private, opt, batches = engine.make_private(module=model, optimizer=optimizer, data_loader=loader,
                                                    noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                                                    noise_generator=torch.Generator().manual_seed(seed))
        for epoch in range(1, epochs + 1):
            for xb, yb in batches:
                opt.zero_grad(set_to_none=True)
                loss = F.cross_entropy(private(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
                report(Event("step", min(len(losses) / total, 1.0), step=len(losses), epoch=epoch,
                             metrics={"loss": losses[-1]}))
        return engine.accountant.get_epsilon(delta=DELTA, alphas=list(ORDERS)), losses


def opacus_gradient(model: nn.Module, X: Tensor, y: Tensor, *, max_norm: float, noise_multiplier: float,
                    seed: int) -> Grads:
    """opacus's private gradient for the one batch (X, y): what its DPOptimizer would step with.

    A copy of `model` is wrapped (GradSampleModule hooks), the batch goes through a plain loader of
    batch size len(X), and `pre_step` clips, adds noise from a generator seeded with `seed`, and scales.
    """
    import copy

    from opacus import PrivacyEngine

    net = copy.deepcopy(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        private, opt, _loader = PrivacyEngine(secure_mode=False).make_private(
            module=net, optimizer=torch.optim.SGD(net.parameters(), lr=0.0),
            data_loader=DataLoader(TensorDataset(X, y), batch_size=len(X)), noise_multiplier=noise_multiplier,
            max_grad_norm=max_norm, poisson_sampling=False, noise_generator=torch.Generator().manual_seed(seed))
        F.cross_entropy(private(X), y).backward()
        opt.pre_step()
    return {name: p.grad.detach().clone() for name, p in net.named_parameters()}


@torch.no_grad()
def released(model: nn.Module, X: Tensor) -> Tensor:
    """What a prediction API returns: softmax probabilities (N, K), the model in eval mode."""
    return F.softmax(model.eval()(X), dim=1)


def true_class_confidence(probs: Tensor, y: Tensor) -> Tensor:
    """The probability each record's own label gets, the membership score: probs (N, K), y (N,) -> (N,)."""
    return probs.gather(1, y[:, None])[:, 0]


def noisy_outputs(probs: Tensor, std: float, queries: int, generator: torch.Generator) -> Tensor:
    """What an API that adds N(0, std²) to every released probability returns, averaged over `queries`
    repeated calls with fresh noise: (N, K) -> (N, K). An attacker may ask as often as they like."""
    noise = torch.randn((queries, *probs.shape), generator=generator) * std  # (Q, N, K)
    return probs + noise.mean(0)


def attack_auc(member_scores: Tensor, outsider_scores: Tensor) -> float:
    """ROC AUC of the threshold attack "higher score means it was in the training set": 0.5 is a coin flip."""
    labels = np.r_[np.ones(len(member_scores)), np.zeros(len(outsider_scores))]
    return float(roc_auc_score(labels, torch.cat([member_scores, outsider_scores]).numpy()))


def membership_auc(model: nn.Module, members: tuple[Tensor, Tensor], outsiders: tuple[Tensor, Tensor],
                   std: float = 0.0, queries: int = 1, generator: torch.Generator | None = None) -> float:
    """The attack's AUC against `model` behind an API adding N(0, std²) to each answer, `queries` averaged."""
    generator = generator or torch.Generator().manual_seed(0)
    scores = [true_class_confidence(noisy_outputs(released(model, X), std, queries, generator), y)
              for X, y in (members, outsiders)]
    return attack_auc(*scores)
