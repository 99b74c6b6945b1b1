"""LoRA: a frozen linear layer plus a trainable low-rank update, and what training only some parameters costs.

LoRA freezes a weight matrix W (out × in) and learns y = W x + (α/r)·B A x, with A (r × in) random and
B (out × r) zero, so training starts exactly from the pretrained layer and costs r·(in + out) parameters
instead of in·out. Fewer trainable parameters mean fewer gradients and a smaller optimizer state (Adam
keeps two numbers per parameter); the forward and backward passes still run through the frozen weights.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update: y = W x + b + (α/r)·B A x."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, generator: torch.Generator):
        super().__init__()
        self.base = base.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(r, base.in_features, generator=generator) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))  # zero: B·A = 0, so training starts from W
        self.scale = alpha / r

    def forward(self, x: Tensor) -> Tensor:  # (N, in) -> (N, out)
        return self.base(x) + self.scale * (x @ self.A.T) @ self.B.T  # (N, r) -> (N, out): never forms B·A

    def merged(self) -> nn.Linear:
        """One plain Linear with weight W + (α/r)·B A: after training, LoRA adds no inference cost."""
        out = copy.deepcopy(self.base)
        with torch.no_grad():
            out.weight += self.scale * self.B @ self.A  # (out, r) @ (r, in) -> (out, in)
        return out


def trainable(model: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimizer should be given: those that still require a gradient."""
    return [p for p in model.parameters() if p.requires_grad]


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes of the optimizer's per-parameter state tensors (Adam: exp_avg and exp_avg_sq), as allocated."""
    return sum(t.numel() * t.element_size() for state in opt.state.values()
               for key, t in state.items() if key != "step")


def training_bytes(params: list[nn.Parameter], opt: torch.optim.Optimizer) -> int:
    """Training memory beyond the frozen weights: the gradients of `params` plus the optimizer's state."""
    grads = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    return grads + state_bytes(opt)


def add_lora(model: nn.Module, names: tuple[str, ...], r: int, alpha: float, generator: torch.Generator) -> nn.Module:
    """Wrap each named nn.Linear of `model` ("stem", "blocks.0.linear") in a LoRALinear, in place and in order."""
    for name in names:
        parent, _dot, child = name.rpartition(".")
        owner = model.get_submodule(parent)
        setattr(owner, child, LoRALinear(getattr(owner, child), r, alpha, generator))
    return model
