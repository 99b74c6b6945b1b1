"""Learning-rate schedules from `torch.optim.lr_scheduler`, stepped once per optimizer step, and the curves they draw.

A schedule lr(t) scales the optimizer's step over training: step decay cuts it at fixed points, cosine lowers
it smoothly, one-cycle ramps it up then far down, and warm-up starts small and ramps linearly to the peak
before the decay. The peak is always the optimizer's own lr. `logging_lr` records the rate every training step
actually used, to compare with the drawn curve.
"""
from __future__ import annotations

import math

import torch
from torch.optim import lr_scheduler

from .demo import Event, Report

SHAPES = ("constant", "step", "cosine", "warmup_cosine", "one_cycle")


def schedule(name: str, opt: torch.optim.Optimizer, steps: int, warmup: int) -> lr_scheduler.LRScheduler:
    """A per-step scheduler for `steps` optimizer steps; the peak is the optimizer's lr."""
    if name == "constant":
        return lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    if name == "step":  # ×0.1 after each third of training
        return lr_scheduler.StepLR(opt, step_size=math.ceil(steps / 3), gamma=0.1)
    if name == "cosine":
        return lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    if name == "warmup_cosine":  # linear ramp 1% -> 100% over `warmup` steps, then cosine down to 0
        warm = min(warmup, steps - 1)
        ramp = lr_scheduler.LinearLR(opt, start_factor=0.01, total_iters=warm)
        return lr_scheduler.SequentialLR(opt, [ramp, lr_scheduler.CosineAnnealingLR(opt, T_max=steps - warm)],
                                         milestones=[warm])
    if name == "one_cycle":
        return lr_scheduler.OneCycleLR(opt, max_lr=opt.param_groups[0]["lr"], total_steps=steps)
    raise ValueError(f"unknown schedule {name!r}")


def lr_curve(name: str, peak: float, steps: int, warmup: int) -> list[float]:
    """The learning rate each of `steps` optimizer steps uses under schedule `name` (a dummy optimizer)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    sched = schedule(name, opt, steps, warmup)
    lrs = []
    for _step in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # the optimizer first, then the scheduler, as in training
        sched.step()
    return lrs


def logging_lr(report: Report, opt: torch.optim.Optimizer, lrs: list[float]) -> Report:
    """A report that also logs optimizer.param_groups[0]["lr"] after each step (the next step's rate)."""

    def hook(event: Event) -> None:
        if event.kind == "step":
            lrs.append(opt.param_groups[0]["lr"])
        report(event)

    return hook
