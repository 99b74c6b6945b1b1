"""What a model in production can watch without labels: input drift (PSI), its own confidence,
and what it costs to abstain (the risk-coverage curve)."""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

EPS = 1e-4  # floor for an empty bin's share, so the log stays finite


def bin_edges(reference: np.ndarray, num_bins: int = 10) -> np.ndarray:
    """Inner edges of `num_bins` equal-count bins of the reference sample: (num_bins - 1,)."""
    return np.quantile(reference, np.linspace(0, 1, num_bins + 1)[1:-1])


def shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """The share of `values` in each bin cut by `edges`, floored at EPS and renormalised: (len(edges) + 1,)."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    p = np.maximum(counts / max(len(values), 1), EPS)
    return p / p.sum()


def psi(reference: np.ndarray, current: np.ndarray, num_bins: int = 10) -> float:
    """Population stability index: sum over bins of (a - e) * ln(a / e), bins from the reference's quantiles.

    Rule of thumb: < 0.1 stable, 0.1-0.25 a moderate shift, > 0.25 a major one.
    """
    edges = bin_edges(reference, num_bins)
    e, a = shares(reference, edges), shares(current, edges)
    return float(np.sum((a - e) * np.log(a / e)))


def drifted(X: Tensor, severity: float, shift: float, noise: float, generator: torch.Generator) -> Tensor:
    """Images (B, 64) in [0, 1] brightened by severity * shift and noised by severity * noise (std)."""
    noisy = X + severity * shift + severity * noise * torch.randn(X.shape, generator=generator)
    return noisy.clamp(0, 1)


def risk_coverage(confidence: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Error rate of the accepted predictions when only the most confident share c is accepted.

    Returns (coverage, risk), both (N,): coverage k/N for k = 1..N, risk = error rate among the top-k confident.
    """
    order = np.argsort(-confidence, kind="stable")
    errors = np.cumsum(~correct[order])  # (N,) errors among the k most confident
    k = np.arange(1, len(order) + 1)
    return k / len(order), errors / k


def risk_at(coverage: np.ndarray, risk: np.ndarray, target: float) -> float:
    """The risk at the largest coverage not above `target`."""
    return float(risk[np.searchsorted(coverage, target, side="right") - 1])
