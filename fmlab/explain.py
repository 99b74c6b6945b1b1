"""Attribution maps, written out so you can read them, plus how to score them.

`grad_cam` is the whole method in a few lines; the demo also runs captum's
`LayerGradCam`, and a test checks the two agree.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def grad_cam(model: nn.Module, layer: nn.Module, X: Tensor, target: Tensor) -> Tensor:
    """Grad-CAM maps (B, h, w) at `layer`'s resolution: ReLU(Σ_k α_k A_k), α_k = mean of ∂y_c/∂A_k."""
    saved = []
    handle = layer.register_forward_hook(lambda module, inputs, output: saved.append(output))
    try:
        logits = model(X)  # (B, K)
    finally:
        handle.remove()
    A = saved[0]  # (B, C, h, w)
    score = logits.gather(1, target[:, None]).sum()  # Σ_b y_{target_b}: each image's gradient is its own
    (dA,) = torch.autograd.grad(score, A)  # (B, C, h, w)
    alpha = dA.mean(dim=(2, 3), keepdim=True)  # (B, C, 1, 1): one weight per channel
    return F.relu((alpha * A).sum(dim=1))  # (B, h, w)


def upsample(maps: Tensor, size: int) -> Tensor:
    """Bilinear resize of (B, h, w) maps to (B, size, size)."""
    return F.interpolate(maps[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def normalise(maps: Tensor) -> Tensor:
    """Scale each (h, w) map to [0, 1]; an all-zero map stays zero."""
    flat = maps.flatten(1)
    low, high = flat.min(1).values, flat.max(1).values
    return ((flat - low[:, None]) / (high - low).clamp_min(1e-12)[:, None]).view_as(maps)


def pointing_game(maps: Tensor, boxes: Tensor) -> Tensor:
    """Per image, 1.0 if the map's peak (B, H, W) falls inside its box (B, 4) = inclusive (x0, y0, x1, y1)."""
    width = maps.shape[-1]
    peak = maps.flatten(1).argmax(dim=1)  # (B,)
    row, col = peak // width, peak % width
    x0, y0, x1, y1 = boxes.unbind(dim=1)
    return ((col >= x0) & (col <= x1) & (row >= y0) & (row <= y1)).float()
