"""Small models every demo builds on: an MLP, a CNN and a tiny transformer encoder.

All three take BatchNorm / residual toggles or sizes as plain arguments, and
`init_weights(model, seed)` initialises them from a private generator, so a run is
reproducible even while other runs build models in other threads.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DenseBlock(nn.Module):
    """Linear -> (BatchNorm) -> ReLU, with an optional identity shortcut: y = x + F(x)."""

    def __init__(self, width: int, batchnorm: bool, residual: bool):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.norm = nn.BatchNorm1d(width) if batchnorm else nn.Identity()
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:  # (B, W) -> (B, W)
        out = F.relu(self.norm(self.linear(x)))
        return x + out if self.residual else out


class MLP(nn.Module):
    """in -> Linear -> `depth` DenseBlocks of `width` -> Linear -> out."""

    def __init__(self, in_dim: int, out_dim: int, width: int = 64, depth: int = 2,
                 batchnorm: bool = False, residual: bool = False):
        super().__init__()
        self.stem = nn.Linear(in_dim, width)
        self.blocks = nn.Sequential(*[DenseBlock(width, batchnorm, residual) for _ in range(depth)])
        self.head = nn.Linear(width, out_dim)

    def forward(self, x: Tensor) -> Tensor:  # (B, in_dim) -> (B, out_dim)
        x = F.relu(self.stem(x.flatten(1)))
        return self.head(self.blocks(x))

    def linears(self) -> list[nn.Linear]:
        """The weight layers from input to output (for per-layer statistics)."""
        return [self.stem, *(b.linear for b in self.blocks), self.head]


class ConvBlock(nn.Module):
    """3×3 conv -> (BatchNorm) -> ReLU, keeping the shape, with an optional shortcut."""

    def __init__(self, channels: int, batchnorm: bool, residual: bool):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=not batchnorm)
        self.norm = nn.BatchNorm2d(channels) if batchnorm else nn.Identity()
        self.residual = residual

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, C, H, W)
        out = F.relu(self.norm(self.conv(x)))
        return x + out if self.residual else out


class CNN(nn.Module):
    """stem conv -> `depth` ConvBlocks (max-pool /2 before the first two) -> global average pool -> linear.

    On 32×32 inputs with depth ≥ 2 the last block works at 8×8: `cam_layer` is the module
    whose output Grad-CAM reads.
    """

    def __init__(self, in_channels: int = 3, num_classes: int = 3, width: int = 16, depth: int = 2,
                 batchnorm: bool = True, residual: bool = False):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1)
        layers: list[nn.Module] = []
        for i in range(depth):
            if i < 2:
                layers.append(nn.MaxPool2d(2))
            layers.append(ConvBlock(width, batchnorm, residual))
        self.blocks = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)

    @property
    def cam_layer(self) -> nn.Module:
        return self.blocks[-1]

    def forward(self, x: Tensor) -> Tensor:  # (B, C, H, W) -> (B, num_classes)
        x = self.blocks(F.relu(self.stem(x)))  # (B, width, H/4, W/4)
        return self.head(x.mean(dim=(2, 3)))  # global average pool: (B, width)


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention that also returns its weights."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, D)
        weights = (q @ k.transpose(-2, -1) / math.sqrt(C // self.heads)).softmax(dim=-1)  # (B, H, T, T)
        y = (weights @ v).transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        return self.out(y), weights


class EncoderBlock(nn.Module):
    """Pre-norm transformer block: x + Attn(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:  # (B, T, C)
        a, weights = self.attn(self.norm1(x))
        x = x + a
        return x + self.mlp(self.norm2(x)), weights


class TinyTransformer(nn.Module):
    """Token + position embeddings -> encoder blocks -> per-token or mean-pooled logits."""

    def __init__(self, vocab: int, num_classes: int, max_len: int, dim: int = 32, heads: int = 2,
                 layers: int = 2, pool: str = "mean"):
        super().__init__()
        if pool not in ("mean", "none"):
            raise ValueError("pool must be 'mean' (one label per sequence) or 'none' (one per token)")
        self.embed = nn.Embedding(vocab, dim)
        self.position = nn.Parameter(torch.zeros(max_len, dim))
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        self.pool = pool

    def forward(self, tokens: Tensor, return_attention: bool = False):
        """tokens (B, T) -> logits (B, K) or (B, T, K); with `return_attention`, also a list of (B, H, T, T)."""
        x = self.embed(tokens) + self.position[: tokens.shape[1]]  # (B, T, C)
        attentions = []
        for block in self.blocks:
            x, weights = block(x)
            attentions.append(weights)
        x = self.norm(x)
        logits = self.head(x.mean(dim=1) if self.pool == "mean" else x)
        return (logits, attentions) if return_attention else logits


def init_weights(model: nn.Module, seed: int) -> nn.Module:
    """Re-initialise every parameter like PyTorch's defaults, but from a private generator."""
    g = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=g)
            if module.bias is not None:
                bound = 1 / math.sqrt(nn.init._calculate_fan_in_and_fan_out(module.weight)[0])
                nn.init.uniform_(module.bias, -bound, bound, generator=g)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, generator=g)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    if isinstance(model, TinyTransformer):
        nn.init.normal_(model.position, std=0.02, generator=g)
    return model


def num_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
