"""How fast training runs: samples per second of one step, and seconds to a target accuracy.

`train_step` executes one optimizer step with a batch size, channels-last, autocast or gradient
accumulation; `samples_per_second` times it on whatever device the tensors live on;
`accumulated_grads` and `autocast_dtypes` check that accumulation and autocast compute what they
claim to; `time_to_accuracy` trains until a validation accuracy is reached, timing each epoch;
`scaled_lr` grows the learning rate with the batch so a big batch needs fewer epochs.
"""
from __future__ import annotations

import copy
import math
import statistics
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .demo import Report, silent
from .fit import Fit, fit
from .text import T, _, same


def amp_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (with a GradScaler), bf16 elsewhere: bf16 keeps fp32's exponent range, so needs no scaler."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def train_step(model: nn.Module, opt: torch.optim.Optimizer, X: Tensor, y: Tensor, micro_batches: int = 1,
               amp: torch.dtype | None = None, scaler: torch.amp.GradScaler | None = None) -> float:
    """One optimizer step on (X, y), run as `micro_batches` chunks whose gradients add up to the batch's.

    Each chunk's mean loss is divided by the number of chunks. Under `amp`, convolutions and
    matmuls run in that dtype while the weights (and so the optimizer) stay fp32.
    """
    opt.zero_grad(set_to_none=True)
    total = 0.0
    for xb, yb in zip(X.chunk(micro_batches), y.chunk(micro_batches)):
        with torch.autocast(X.device.type, dtype=amp, enabled=amp is not None):
            loss = F.cross_entropy(model(xb), yb) / micro_batches
        (scaler.scale(loss) if scaler is not None else loss).backward()  # .grad accumulates across calls
        total += loss.item()
    if scaler is not None:
        scaler.step(opt)  # unscales, skips the step if any gradient overflowed
        scaler.update()
    else:
        opt.step()
    return total


def accumulated_grads(model: nn.Module, X: Tensor, y: Tensor, micro_batches: int) -> list[Tensor]:
    """Gradients of the mean loss over (X, y), accumulated over `micro_batches` chunks (1 = one big batch)."""
    model.zero_grad(set_to_none=True)
    for xb, yb in zip(X.chunk(micro_batches), y.chunk(micro_batches)):
        (F.cross_entropy(model(xb), yb) / micro_batches).backward()
    return [p.grad.clone() for p in model.parameters()]


def max_grad_diff(model: nn.Module, X: Tensor, y: Tensor, micro_batches: int) -> float:
    """Largest |difference| between accumulated and one-big-batch gradients, from identical copies of `model`."""
    big = accumulated_grads(copy.deepcopy(model), X, y, 1)
    small = accumulated_grads(copy.deepcopy(model), X, y, micro_batches)
    return max((a - b).abs().max().item() for a, b in zip(big, small))


def autocast_dtypes(model: nn.Module, X: Tensor, dtype: torch.dtype) -> dict[str, float]:
    """Under autocast: share of conv/linear outputs in `dtype`, and whether the loss and weights stay fp32."""
    seen: list[torch.dtype] = []
    layers = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    hooks = [m.register_forward_hook(lambda _m, _i, out: seen.append(out.dtype)) for m in layers]
    with torch.autocast(X.device.type, dtype=dtype):
        loss = F.cross_entropy(model(X), torch.zeros(len(X), dtype=torch.long, device=X.device))
    for hook in hooks:
        hook.remove()
    return {"matmul_share": sum(d == dtype for d in seen) / len(seen),
            "loss_fp32": float(loss.dtype == torch.float32),
            "weights_fp32": float(all(p.dtype == torch.float32 for p in model.parameters()))}


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so a timer measures the work and not just its launch."""
    if device.type == "cuda":
        torch.cuda.synchronize()


@dataclass(frozen=True)
class Setting:
    """How one optimizer step is executed: examples per step, chunks, memory layout, autocast."""

    batch: int
    micro_batches: int = 1
    channels_last: bool = False
    amp: bool = False

    @property
    def name(self) -> T:
        if self.micro_batches > 1:
            return _("{k} × {b} accumulated", "{k} × {b} 梯度累积").format(k=self.micro_batches,
                                                                      b=self.batch // self.micro_batches)
        how = "channels-last" if self.channels_last else "autocast" if self.amp else None
        return (_("batch {b}, {how}", "批量 {b}，{how}").format(b=self.batch, how=how) if how
                else _("batch {b}", "批量 {b}").format(b=self.batch))


def samples_per_second(setting: Setting, model: nn.Module, X: Tensor, y: Tensor, steps: int, seed: int = 0,
                       budget: float = 0.1) -> float:
    """Examples per second training `model` (a fresh one: it is trained): median time of up to `steps`
    optimizer steps after one warm-up step.

    Timing stops once `budget` seconds are spent (after at least two timed steps), so a slow
    setting costs about as much as a fast one. `seed` picks the random batches.
    """
    device = X.device
    model = model.to(device)
    if setting.channels_last:
        model = model.to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)  # (N, C, H, W) with NHWC strides
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)  # tiny lr: timing only
    amp = amp_dtype(device) if setting.amp else None
    scaler = torch.amp.GradScaler("cuda") if amp == torch.float16 else None
    g = torch.Generator().manual_seed(seed)
    times: list[float] = []
    for i in range(steps + 1):
        idx = torch.randint(0, len(X), (setting.batch,), generator=g).to(device)
        sync(device)
        start = time.perf_counter()
        train_step(model, opt, X[idx], y[idx], setting.micro_batches, amp, scaler)
        sync(device)
        if i:  # the first step pays one-time costs (allocations, kernel selection)
            times.append(time.perf_counter() - start)
        if len(times) >= 2 and sum(times) > budget:
            break
    return setting.batch / statistics.median(times)


def machine(device: torch.device) -> T:
    """What a timing ran on: "cpu, 4 thread(s)" (there the intra-op threads set the speed) or "cuda"."""
    if device.type != "cpu":
        return same(device.type)
    return _("{device}, {n} thread(s)", "{device}，{n} 个线程").format(device=device.type, n=torch.get_num_threads())


LR_RULES = {"sqrt": math.sqrt, "linear": float}  # k -> the factor the learning rate grows by for a k× batch


def scaled_lr(lr: float, k: int, rule: str) -> float:
    """The learning rate for a k× larger batch: lr·√k ("sqrt": each update's gradient noise keeps its variance)
    or lr·k ("linear": one big step stands in for k small ones, Goyal et al. 2017)."""
    return lr * LR_RULES[rule](k)


@dataclass(frozen=True)
class Recipe:
    """How a time-to-accuracy run trains: examples per step and learning rate."""

    batch: int
    lr: float

    @property
    def name(self) -> T:
        return _("batch {batch}, lr {lr:.3g}", "批量 {batch}，lr {lr:.3g}").format(batch=self.batch, lr=self.lr)


@dataclass
class Curve:
    """A time-to-accuracy run: validation accuracy after each epoch, with the examples and seconds spent."""

    val_acc: list[float]
    samples: list[int]
    seconds: list[float]
    reached: bool


def time_to_accuracy(model: nn.Module, opt: torch.optim.Optimizer, train: tuple[Tensor, Tensor],
                     val: tuple[Tensor, Tensor], *, batch_size: int, target: float, max_epochs: int, seed: int = 0,
                     report: Report = silent) -> Curve:
    """Train with fit() until validation accuracy reaches `target` (or `max_epochs`), timing every epoch."""
    seconds: list[float] = []
    start = time.perf_counter()

    def on_epoch(_epoch: int, result: Fit, _model: nn.Module) -> bool:
        seconds.append(time.perf_counter() - start)
        return result.history["val_acc"][-1] >= target

    acc = fit(model, opt, train, epochs=max_epochs, batch_size=batch_size, val=val, seed=seed, report=report,
              on_epoch=on_epoch).history["val_acc"]
    return Curve(acc, [len(train[0]) * (e + 1) for e in range(len(acc))], seconds, bool(acc) and acc[-1] >= target)
