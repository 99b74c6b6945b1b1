"""Weight-decay update rules side by side: an L2 penalty in the loss, `weight_decay` in SGD, Adam and AdamW.

For SGD, `weight_decay=λ` is the gradient of a (λ/2)‖W‖² penalty, so the two make the same update.
Adam rescales that λW term by 1/√v̂ with the rest of the gradient (coupled L2); AdamW shrinks the
weights by ηλ outside the adaptive step (decoupled). `adam_step` writes both by hand, and
`update_rule_gaps` trains identical copies under each rule to show which coincide.
The difference is starkest on a weight no data gradient reaches (fed by an input that is always 0):
AdamW leaves exactly (1 − ηλ)^steps of it, while Adam's 1/√v̂ turns λw into a step of about η.
"""
from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .penalties import l2_penalty

CHECK_LAMBDA, CHECK_STEPS = 0.01, 30  # PyTorch's AdamW default λ; a short full-batch run
# metric name: (rule, rule it is compared with, what the comparison shows a reader)
CHECKS = {"sgd_penalty_vs_weight_decay": ("sgd+penalty", "sgd(wd)", "SGD + (λ/2)‖W‖² vs SGD(weight_decay=λ)"),
          "adam_penalty_vs_weight_decay": ("adam+penalty", "adam(wd)", "Adam + (λ/2)‖W‖² vs Adam(weight_decay=λ)"),
          "adam_weight_decay_vs_adamw": ("adam(wd)", "adamw", "Adam(weight_decay=λ) vs AdamW(weight_decay=λ)"),
          "adamw_vs_formula": ("adamw", "adamw by hand", "AdamW vs w − ηλw − η·m̂/(√v̂ + ε) by hand"),
          "adam_weight_decay_vs_formula": ("adam(wd)", "adam by hand",
                                           "Adam(weight_decay=λ) vs an Adam step on g + λw by hand")}


def flat_weights(model: nn.Module) -> Tensor:
    """Every weight-matrix entry (what decays; biases excluded), flattened on the CPU: (num_weights,)."""
    return torch.cat([p.detach().flatten().cpu() for p in model.parameters() if p.ndim > 1])


def unreached_inputs(X: Tensor) -> Tensor:
    """(D,) mask of the input features that are 0 in every row of X (N, D): no data gradient reaches their weights."""
    return X.abs().sum(dim=0) == 0


def unreached_size(layer: nn.Linear, unreached: Tensor) -> float:
    """Mean |w| of the weights of `layer` fed by the `unreached` inputs; NaN if there are none."""
    return layer.weight.detach().cpu()[:, unreached].abs().mean().item()  # of (out_features, num_unreached)


def decoupled_shrink(lr: float, lam: float, steps: int) -> float:
    """The share of a weight no data gradient reaches that AdamW keeps after `steps` steps: (1 − ηλ)^steps."""
    return (1 - lr * lam) ** steps


def decay_groups(model: nn.Module, lam: float) -> list[dict]:
    """Parameter groups: weight matrices decay by `lam`, biases do not."""
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": lam},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]


def make_optimizer(name: str, model: nn.Module, lam: float, lr: float) -> torch.optim.Optimizer:
    """'adam': Adam(weight_decay=λ), 'adamw': AdamW(weight_decay=λ), 'sgd': SGD + momentum(weight_decay=λ)."""
    if name == "adam":
        return torch.optim.Adam(decay_groups(model, lam), lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(decay_groups(model, lam), lr=lr)
    if name == "sgd":
        return torch.optim.SGD(decay_groups(model, lam), lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}")


def adam_step(w: Tensor, g: Tensor, m: Tensor, v: Tensor, t: int, lr: float, wd: float, decoupled: bool,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam step by hand, returning (w, m, v). decoupled=False is Adam(weight_decay), True is AdamW."""
    if decoupled:
        w = w - lr * wd * w  # AdamW: every weight shrinks by the same fraction lr·wd
    else:
        g = g + wd * w  # Adam: the L2 gradient joins g and is rescaled by 1/√v̂ below
    m = betas[0] * m + (1 - betas[0]) * g
    v = betas[1] * v + (1 - betas[1]) * g * g
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return w - lr * m_hat / (v_hat.sqrt() + eps), m, v


Stepper = Callable[[nn.Module], Callable[[int], None]]  # model -> step(t), called after backward()


def torch_stepper(name: str, lam: float, lr: float) -> Stepper:
    """PyTorch's optimizer `name` with weight_decay=lam on the weight matrices."""
    def make(model: nn.Module) -> Callable[[int], None]:
        opt = make_optimizer(name, model, lam, lr)
        return lambda t: opt.step()
    return make


def hand_stepper(lam: float, lr: float, decoupled: bool) -> Stepper:
    """Our `adam_step` on every parameter: weight matrices decay by lam, biases do not."""
    def make(model: nn.Module) -> Callable[[int], None]:
        state = {p: (torch.zeros_like(p), torch.zeros_like(p)) for p in model.parameters()}

        @torch.no_grad()
        def step(t: int) -> None:
            for p in model.parameters():
                w, m, v = adam_step(p, p.grad, *state[p], t, lr, lam if p.ndim > 1 else 0.0, decoupled)
                p.copy_(w)
                state[p] = (m, v)
        return step
    return make


def train_copy(model: nn.Module, X: Tensor, y: Tensor, steps: int, stepper: Stepper, penalty: float = 0.0) -> Tensor:
    """Full-batch training of a copy of `model`; `penalty` adds penalty·½‖W‖² to the loss. All parameters, flat."""
    model = copy.deepcopy(model)  # identical starting weights for every rule
    step = stepper(model)
    for t in range(1, steps + 1):
        loss = F.cross_entropy(model(X), y) + penalty * l2_penalty(model)
        model.zero_grad(set_to_none=True)
        loss.backward()
        step(t)
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def update_rule_gaps(model: nn.Module, X: Tensor, y: Tensor, lr: float, lam: float = CHECK_LAMBDA,
                     steps: int = CHECK_STEPS) -> dict[str, float]:
    """Largest |weight difference| after `steps` full-batch steps between rules that should, or should not, agree.

    Every rule starts from a copy of `model`; SGD runs at lr 0.1, the Adams at `lr`. Keys are those of CHECKS.
    """
    rules = {"sgd+penalty": (torch_stepper("sgd", 0.0, 0.1), lam), "sgd(wd)": (torch_stepper("sgd", lam, 0.1), 0.0),
             "adam+penalty": (torch_stepper("adam", 0.0, lr), lam), "adam(wd)": (torch_stepper("adam", lam, lr), 0.0),
             "adamw": (torch_stepper("adamw", lam, lr), 0.0),
             "adam by hand": (hand_stepper(lam, lr, decoupled=False), 0.0),
             "adamw by hand": (hand_stepper(lam, lr, decoupled=True), 0.0)}
    w = {name: train_copy(model, X, y, steps, stepper, penalty) for name, (stepper, penalty) in rules.items()}
    return {key: (w[a] - w[b]).abs().max().item() for key, (a, b, _label) in CHECKS.items()}
