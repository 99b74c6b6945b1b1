"""A scalable model family: one builder, so a member's size is two numbers (depth, width), not new code.

`make_model(depth, width)` stacks identical pre-norm residual blocks in an `nn.ModuleList`; parameters grow
like depth·width² (`param_formula` counts them by hand). With `share=True` one block is applied at every layer
(ALBERT-style cross-layer sharing): the parameters shrink to a one-block model's, the compute does not.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from .nets import init_weights


class Block(nn.Module):
    """Pre-norm residual block x + ReLU(W·LayerNorm(x)): same width in and out, so it stacks."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:  # (B, W) -> (B, W)
        return x + F.relu(self.linear(self.norm(x)))


class Family(nn.Module):
    """stem (in_dim -> width) -> `depth` blocks -> LayerNorm -> head (width -> num_classes).

    `share=True` keeps a single block and applies it `depth` times (cross-layer sharing).
    """

    def __init__(self, depth: int, width: int, share: bool = False, in_dim: int = 64, num_classes: int = 10):
        super().__init__()
        self.depth = depth
        self.stem = nn.Linear(in_dim, width)
        self.blocks = nn.ModuleList(Block(width) for _ in range(1 if share else depth))  # never `self.modules`
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, num_classes)

    def forward(self, x: Tensor) -> Tensor:  # (B, in_dim) -> (B, num_classes)
        h = self.stem(x)  # (B, W)
        for i in range(self.depth):
            h = self.blocks[i % len(self.blocks)](h)
        return self.head(self.norm(h))


def make_model(depth: int, width: int, share: bool = False, seed: int = 0) -> Family:
    """Every member of the family comes from here: 8×8 digits in, 10 classes out, weights from `seed`."""
    return init_weights(Family(depth, width, share), seed)


def param_formula(depth: int, width: int, share: bool = False, in_dim: int = 64, num_classes: int = 10) -> int:
    """Parameters by hand: stem (in_dim + 1)·w, each block w² + w (linear) + 2w (LayerNorm), LN 2w, head (w + 1)·K."""
    blocks = 1 if share else depth
    return (in_dim + 1) * width + blocks * (width * width + 3 * width) + 2 * width + (width + 1) * num_classes
