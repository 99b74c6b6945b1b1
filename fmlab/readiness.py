"""Pieces of a deployment-readiness gate: input validation in front of a model, the malformed requests
it must survive, activation memory measured with forward hooks, and a check against a budget."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor, nn

from .text import T, _


@dataclass(frozen=True)
class Check:
    """One line of the report: what was measured, the budget, and whether it passed."""

    name: T
    measured: float
    budget: float
    higher_is_better: bool
    unit: T

    @property
    def passed(self) -> bool:
        return self.measured >= self.budget if self.higher_is_better else self.measured <= self.budget


class Rejected(ValueError):
    """A request the service refuses with a clear message (an HTTP 400), instead of answering it."""

    def __init__(self, text: T):
        self.text = text
        super().__init__(text.en)


def validate(X: Tensor, num_features: int, low: float = 0.0, high: float = 1.0) -> Tensor:
    """Reject what the model was never trained on: wrong shape, NaN / inf, values outside [low, high]."""
    if X.ndim != 2 or X.shape[1] != num_features:
        raise Rejected(_("expected shape (batch, {n}), got {shape}", "期望形状为 (batch, {n})，实际为 {shape}")
                       .format(n=num_features, shape=tuple(X.shape)))
    if not torch.isfinite(X).all():
        raise Rejected(_("the input contains NaN or infinity", "输入包含 NaN 或无穷大"))
    if X.min() < low or X.max() > high:
        raise Rejected(_("values must lie in [{low}, {high}]", "取值必须在 [{low}, {high}] 之内").format(low=low, high=high))
    return X


MALFORMED: dict[str, Callable[[int], Tensor]] = {  # name -> a bad request for a model of `n` features
    "nan": lambda n: torch.full((1, n), float("nan")),
    "wrong shape": lambda n: torch.zeros(1, n + 1),
    "out of range": lambda n: torch.full((1, n), 255.0),  # raw 0-255 pixels sent to a model trained on [0, 1]
}
MALFORMED_NAMES = {"nan": _("NaN input", "NaN 输入"), "wrong shape": _("wrong shape", "形状错误"),
                   "out of range": _("pixels in 0-255, not [0, 1]", "像素为 0-255，而不是 [0, 1]")}


OUTCOMES = {"refused": _("refused with a clear message", "被明确拒绝"),
            "answered": _("answered as if valid", "照常给出答案"),
            "crashed": _("crashed (a stack trace, HTTP 500)", "崩溃（报错栈，HTTP 500）")}


def outcome(serve: Callable[[Tensor], Tensor], X: Tensor) -> str:
    """What the service did with a malformed request: "refused" (the only good answer), "answered" or "crashed"."""
    try:
        serve(X)
    except Rejected:
        return "refused"
    except Exception:
        return "crashed"
    return "answered"


def activation_bytes(model: nn.Module, X: Tensor) -> int:
    """Bytes of every module output in one forward pass of `X` (an upper bound on live activations)."""
    total = 0

    def count(_module, _inputs, output) -> None:
        nonlocal total
        if isinstance(output, Tensor):
            total += output.numel() * output.element_size()

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        with torch.inference_mode():
            model(X)
    finally:
        for h in hooks:
            h.remove()
    return total
