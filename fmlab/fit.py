"""The one training loop every demo uses.

`fit` trains a model on in-memory tensors, reports progress events through a callback,
is deterministic given `seed`, runs on whatever device `pick_device` chooses, and turns a
diverging run (NaN/inf loss) into a readable outcome instead of a crash.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .demo import Event, Report, silent
from .text import T, _

LossFn = Callable[[Tensor, Tensor], Tensor]
Penalty = Callable[[nn.Module], Tensor]  # a regularizer added to the loss, e.g. lambda m: 1e-4 * l1(m)
OnEpoch = Callable[[int, "Fit", nn.Module], bool]  # called after each epoch's validation; True stops training
BatchTransform = Callable[[nn.Module, Tensor, Tensor], tuple[Tensor, Tensor]]  # (model, X, y) -> the batch to train on


def pick_device(name: str | None = None) -> torch.device:
    """`name`, else $FMLAB_DEVICE, else CUDA, then Apple MPS, then CPU."""
    name = name or os.environ.get("FMLAB_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def configure_threads(per_run: int) -> None:
    """Intra-op threads per process: 1 on a shared server, so N concurrent runs use N cores."""
    torch.set_num_threads(max(1, per_run))


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed torch's global generator for this block, then restore it: nn.Dropout draws its masks from it."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Share of rows whose arg-max logit is the label: logits (N, K), y (N,)."""
    return (logits.argmax(dim=1) == y).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, X: Tensor, y: Tensor, loss_fn: LossFn = F.cross_entropy,
             batch_size: int = 1024) -> dict[str, float]:
    """Loss and accuracy in eval mode (BatchNorm uses running statistics); restores the mode."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    logits = torch.cat([model(X[i:i + batch_size].to(device)) for i in range(0, len(X), batch_size)])
    y = y.to(device)
    model.train(was_training)
    return {"loss": loss_fn(logits, y).item(), "acc": accuracy(logits, y)}


@dataclass
class Fit:
    """What `fit` did: per-step train loss, per-epoch val metrics, and whether it diverged."""

    history: dict[str, list[float]] = field(default_factory=lambda: {"loss": [], "val_loss": [], "val_acc": []})
    steps: int = 0
    diverged_at: int | None = None
    seconds: float = 0.0

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None

    def mean_loss(self, last: int) -> float:
        """Mean training loss over the `last` steps; NaN if the run diverged or has no steps."""
        losses = self.history["loss"]
        if self.diverged or not losses:
            return math.nan
        return sum(losses[-last:]) / len(losses[-last:])

    def final(self, key: str) -> float:
        """Last recorded value of a series, or NaN when it is empty."""
        values = self.history.get(key) or [math.nan]
        return values[-1]


def diverged_note(step: int) -> T:
    return _("diverged at step {step}: the loss became NaN/inf (try a lower learning rate)",
             "在第 {step} 步发散：损失变为 NaN/inf（请尝试更小的学习率）").format(step=step)


def fit(model: nn.Module, optimizer: torch.optim.Optimizer, train: tuple[Tensor, Tensor], *,
        epochs: int, batch_size: int = 64, loss_fn: LossFn = F.cross_entropy,
        val: tuple[Tensor, Tensor] | None = None, seed: int = 0, report: Report = silent,
        device: torch.device | None = None, clip: float | None = None, track_grad_norm: bool = False,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, penalty: Penalty | None = None,
        on_epoch: OnEpoch | None = None, batch_transform: BatchTransform | None = None) -> Fit:
    """Mini-batch training for `epochs` passes over `train` = (X, y).

    Every step reports Event("step", metrics={"loss"}); every epoch reports
    Event("epoch", metrics={"loss", "val_loss", "val_acc"}) when `val` is given.
    A non-finite loss stops training and sets `diverged_at`. The model's parameters
    are moved to `device` in place, so an optimizer built before the call still holds them.
    `clip` rescales the gradient to at most that global L2 norm; with `clip` or
    `track_grad_norm`, history["grad_norm"] holds each step's norm before clipping.
    `scheduler` steps once per optimizer step. `penalty(model)` is added to every batch's
    loss (history["loss"] records the sum). `on_epoch(epoch, fit, model)` runs after each
    epoch; returning True stops training there (early stopping). `batch_transform(model, X, y)` replaces
    each drawn batch before the forward pass: noise, augmentation, or adversarial examples made with the
    current weights.
    """
    start = time.perf_counter()
    device = device or pick_device()
    model.to(device).train()
    X, y = (t.to(device) for t in train)
    g = torch.Generator().manual_seed(seed)
    steps_per_epoch = math.ceil(len(X) / batch_size)
    total = epochs * steps_per_epoch
    out = Fit()
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(X), generator=g).to(device)
        for i in range(steps_per_epoch):
            idx = order[i * batch_size:(i + 1) * batch_size]
            X_batch, y_batch = X[idx], y[idx]
            if batch_transform is not None:
                X_batch, y_batch = batch_transform(model, X_batch, y_batch)
            loss = loss_fn(model(X_batch), y_batch)
            if penalty is not None:
                loss = loss + penalty(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None or track_grad_norm:
                norm = nn.utils.clip_grad_norm_(model.parameters(), math.inf if clip is None else clip)
                out.history.setdefault("grad_norm", []).append(norm.item())
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            out.steps += 1
            value = loss.item()
            if not math.isfinite(value):
                out.diverged_at = out.steps
                report(Event("stage", out.steps / total, step=out.steps, epoch=epoch, note=diverged_note(out.steps)))
                out.seconds = time.perf_counter() - start
                return out
            out.history["loss"].append(value)
            report(Event("step", out.steps / total, step=out.steps, epoch=epoch, metrics={"loss": value}))
        if val is not None:
            scores = evaluate(model, *val, loss_fn=loss_fn)
            out.history["val_loss"].append(scores["loss"])
            out.history["val_acc"].append(scores["acc"])
            report(Event("epoch", out.steps / total, step=out.steps, epoch=epoch,
                         metrics={"loss": value, "val_loss": scores["loss"], "val_acc": scores["acc"]}))
        if on_epoch is not None and on_epoch(epoch, out, model):
            break
    out.seconds = time.perf_counter() - start
    return out
