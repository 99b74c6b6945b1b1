"""Training speed = samples per second × how few samples you need.

Throughput is an execution question: a bigger batch spreads each step's fixed cost over more
examples; channels-last memory layout lets convolution kernels read pixels' channels together;
autocast runs convolutions and matmuls in bf16 (fp16 with a GradScaler on a GPU) where the
hardware has fast low-precision units; gradient accumulation over k micro-batches computes the
big batch's gradient in the memory of a small one, but does the same work one piece at a time.
Time-to-accuracy also depends on optimisation: a big batch takes fewer steps per epoch, so it
needs more epochs unless the learning rate grows with it.
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

from .. import data, plots
from ..demo import Chart, Demo, Event, Report, Result, Table, part, silent
from ..fit import fit, pick_device
from ..nets import CNN, init_weights
from ..params import DemoConfig, param
from ..text import T, _

RULES = ("sqrt", "linear")
RULE_NAMES = {"sqrt": _("square root: lr × √k", "平方根：lr × √k"), "linear": _("linear: lr × k", "线性：lr × k")}


@dataclass(frozen=True)
class Config(DemoConfig):
    small_batch: int = param(16, choices=(8, 16, 32), label=_("Small batch", "小批量"),
                             help=_("Examples per step of the small-batch runs (and each accumulated micro-batch)",
                                    "小批量训练每步的样本数（也是梯度累积中每个微批次的大小）"))
    large_batch: int = param(256, choices=(64, 128, 256, 512), label=_("Large batch", "大批量"),
                             help=_("Examples per step of the large-batch runs", "大批量训练每步的样本数"))
    lr: float = param(0.05, low=1e-3, high=0.5, log=True, label=_("Learning rate (small batch)", "学习率（小批量）"),
                      help=_("SGD (momentum 0.9) step size at the small batch", "小批量时 SGD（动量 0.9）的学习率"))
    rule: str = param("sqrt", choices=RULES, choice_labels=RULE_NAMES, label=_("LR scaling rule", "学习率缩放规则"),
                      help=_("How the scaled large-batch run grows the learning rate with k = large / small",
                             "大批量缩放组如何随 k = 大批量 / 小批量 放大学习率"))
    target: float = param(0.9, low=0.5, high=0.98, label=_("Target accuracy", "目标准确率"),
                          help=_("Validation accuracy that stops a time-to-accuracy run", "时间-准确率实验在验证准确率达到该值时停止"))
    examples: int = param(1258, low=256, high=1258, label=_("Training examples", "训练样本数"),
                          help=_("Digits used for training (of 1,258); fewer make every run quicker",
                                 "用于训练的手写数字个数（共 1258 个）；越少每组跑得越快"))
    max_epochs: int = param(12, low=1, high=40, label=_("Max epochs", "最多轮数"),
                            help=_("Give up on reaching the target after this many epochs", "超过该轮数仍未达标即放弃"))
    timing_steps: int = param(8, low=2, high=50, label=_("Timed steps", "计时步数"),
                              help=_("Optimizer steps timed per setting (fewer for slow ones: about 0.1 s "
                                     "each); the median step time is used",
                                     "每种设置计时的优化器步数（慢的设置少计几步：每种约 0.1 秒）；取步时的中位数"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run (timings still vary with machine load)",
                             "相同种子，相同结果（计时仍随机器负载变化）"))


def build(seed: int, batchnorm: bool = True) -> CNN:
    """A small CNN for 8×8 digits: 1 -> 16 channels, two conv blocks, global average pool, 10 classes."""
    return init_weights(CNN(in_channels=1, num_classes=10, width=16, depth=2, batchnorm=batchnorm), seed)


def amp_dtype(device: torch.device) -> torch.dtype:
    """fp16 on CUDA (with a GradScaler), bf16 elsewhere: bf16 keeps fp32's exponent range, so needs no scaler."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def train_step(model: nn.Module, opt: torch.optim.Optimizer, X: Tensor, y: Tensor, micro_batches: int = 1,
               amp: torch.dtype | None = None, scaler: torch.amp.GradScaler | None = None) -> float:
    """One optimizer step on the batch (X, y), run as `micro_batches` equal chunks whose gradients add up.

    Each chunk's mean loss is divided by the number of chunks, so the summed gradient is the
    gradient of the whole batch's mean loss. Under `amp`, convolutions and matmuls run in that
    dtype while the weights (and so the optimizer) stay fp32.
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
        logits = model(X)
        loss = F.cross_entropy(logits, torch.zeros(len(X), dtype=torch.long, device=X.device))
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


def samples_per_second(setting: Setting, X: Tensor, y: Tensor, steps: int, seed: int,
                       budget: float = 0.1) -> float:
    """Examples per second of `setting`: median time of up to `steps` optimizer steps after one warm-up step.

    Timing stops early once `budget` seconds are spent (after at least two timed steps), so a slow
    setting costs about as much as a fast one.
    """
    device = X.device
    model = build(seed).to(device)
    if setting.channels_last:
        model = model.to(memory_format=torch.channels_last)
        X = X.contiguous(memory_format=torch.channels_last)
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


@dataclass
class Curve:
    """A time-to-accuracy run: validation accuracy after each epoch, with the samples and seconds spent."""

    batch: int
    lr: float
    val_acc: list[float]
    samples: list[int]
    seconds: list[float]
    reached: bool


def time_to_accuracy(cfg: Config, split: data.Split, batch: int, lr: float, report: Report) -> Curve:
    """Train with fit() until validation accuracy reaches cfg.target (or cfg.max_epochs), timing every epoch."""
    model = build(cfg.seed)
    X = split.X_train
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    seconds: list[float] = []
    start = time.perf_counter()

    def on_epoch(epoch: int, result, _model) -> bool:
        seconds.append(time.perf_counter() - start)
        return result.history["val_acc"][-1] >= cfg.target

    result = fit(model, opt, (X, split.y_train), epochs=cfg.max_epochs, batch_size=batch,
                 val=(split.X_val, split.y_val), seed=cfg.seed, report=report, on_epoch=on_epoch)
    acc = result.history["val_acc"]
    samples = [len(X) * (epoch + 1) for epoch in range(len(acc))]
    return Curve(batch, lr, acc, samples, seconds, bool(acc) and acc[-1] >= cfg.target)


SETTING_NAMES = {
    "small": lambda c: _(f"batch {c.small_batch}", f"批量 {c.small_batch}"),
    "middle": lambda c: _(f"batch {c.small_batch * 4}", f"批量 {c.small_batch * 4}"),
    "large": lambda c: _(f"batch {c.large_batch}", f"批量 {c.large_batch}"),
    "channels_last": lambda c: _(f"batch {c.large_batch}, channels-last", f"批量 {c.large_batch}，channels-last"),
    "amp": lambda c: _(f"batch {c.large_batch}, autocast", f"批量 {c.large_batch}，autocast"),
    "accumulate": lambda c: _(f"{c.large_batch // c.small_batch} × {c.small_batch} accumulated",
                              f"{c.large_batch // c.small_batch} × {c.small_batch} 梯度累积"),
}


def settings(cfg: Config) -> dict[str, Setting]:
    k = cfg.large_batch // cfg.small_batch
    return {"small": Setting(cfg.small_batch), "middle": Setting(cfg.small_batch * 4),
            "large": Setting(cfg.large_batch), "channels_last": Setting(cfg.large_batch, channels_last=True),
            "amp": Setting(cfg.large_batch, amp=True), "accumulate": Setting(cfg.large_batch, micro_batches=k)}


def recipes(cfg: Config) -> dict[str, tuple[int, float]]:
    """Time-to-accuracy runs: (batch, learning rate). Execution-only changes (layout, accumulation) make the
    same updates, so they need the same examples; only their samples/s differ."""
    k = cfg.large_batch // cfg.small_batch
    scaled = cfg.lr * (math.sqrt(k) if cfg.rule == "sqrt" else k)
    return {"small": (cfg.small_batch, cfg.lr), "large": (cfg.large_batch, cfg.lr), "scaled": (cfg.large_batch, scaled)}


def recipe_name(batch: int, lr: float) -> T:
    return _(f"batch {batch}, lr {lr:.3g}", f"批量 {batch}，lr {lr:.3g}")


def verdict(cfg: Config, device: torch.device, speed: dict[str, float], curves: dict[str, Curve],
            m: dict[str, float]) -> T:
    k = cfg.large_batch // cfg.small_batch
    amp_name = "fp16 + GradScaler" if amp_dtype(device) == torch.float16 else "bf16"
    where = f"{device.type}, {torch.get_num_threads()} thread(s)" if device.type == "cpu" else device.type
    where_zh = f"{device.type}，{torch.get_num_threads()} 个线程" if device.type == "cpu" else device.type
    ratio = {key: v / speed["small"] for key, v in speed.items()}
    en = [f"Measured on this machine ({where}): batch {cfg.small_batch} ran {speed['small']:,.0f} samples/s, "
          f"batch {cfg.large_batch} {speed['large']:,.0f} ({ratio['large']:.1f}×); channels-last "
          f"{speed['channels_last']:,.0f}; {amp_name} autocast {speed['amp']:,.0f}; {k} accumulated micro-batches of "
          f"{cfg.small_batch} {speed['accumulate']:,.0f} ({ratio['accumulate']:.1f}×), with the big batch's gradient "
          f"to {m['accum_max_grad_diff']:.0e} (with BatchNorm the gap is {m['accum_max_grad_diff_batchnorm']:.0e}, "
          f"since each micro-batch is normalised by its own statistics)."]
    zh = [f"本机实测（{where_zh}）：批量 {cfg.small_batch} 每秒 {speed['small']:,.0f} 个样本，批量 {cfg.large_batch} 每秒 "
          f"{speed['large']:,.0f} 个（{ratio['large']:.1f} 倍）；channels-last 每秒 {speed['channels_last']:,.0f} 个；"
          f"{amp_name} autocast 每秒 {speed['amp']:,.0f} 个；{k} 个大小为 {cfg.small_batch} 的微批次做梯度累积每秒 "
          f"{speed['accumulate']:,.0f} 个（{ratio['accumulate']:.1f} 倍），其梯度与大批量相差不超过 "
          f"{m['accum_max_grad_diff']:.0e}（带 BatchNorm 时相差 {m['accum_max_grad_diff_batchnorm']:.0e}，"
          f"因为每个微批次都用自己的统计量做归一化）。"]
    if speed["amp"] > 1.2 * speed["large"]:
        en.append("Autocast paid off: this device has fast low-precision units.")
        zh.append("autocast 在这里带来了加速：该设备有高速的低精度计算单元。")
    else:
        en.append(f"Autocast did not pay off here ({speed['amp'] / speed['large']:.2f}× of fp32): without fast "
                  f"low-precision units (GPU Tensor Cores, CPU AMX or AVX-512 BF16) the low-precision kernels only "
                  f"add conversions.")
        zh.append(f"autocast 在这里没有带来加速（仅为 fp32 的 {speed['amp'] / speed['large']:.2f} 倍）：没有高速的低精度"
                  f"计算单元（GPU 的 Tensor Core、CPU 的 AMX 或 AVX-512 BF16）时，低精度算子只会多出类型转换的开销。")
    for c in curves.values():
        name = recipe_name(c.batch, c.lr)
        if c.reached:
            en.append(f"{name.en}: {cfg.target:.0%} after {len(c.val_acc)} epoch(s), {c.seconds[-1]:.2f} s.")
            zh.append(f"{name.zh}：{len(c.val_acc)} 轮、{c.seconds[-1]:.2f} 秒达到 {cfg.target:.0%}。")
        else:
            en.append(f"{name.en}: did not reach {cfg.target:.0%} in {len(c.val_acc)} epoch(s).")
            zh.append(f"{name.zh}：{len(c.val_acc)} 轮内未达到 {cfg.target:.0%}。")
    small, large, scaled = curves["small"], curves["large"], curves["scaled"]
    if large.reached and scaled.reached and len(large.val_acc) > len(scaled.val_acc):
        en.append(f"At the small batch's learning rate the big batch needed {len(large.val_acc)} epochs against "
                  f"{len(small.val_acc)}; scaling the rate cut that to {len(scaled.val_acc)}.")
        zh.append(f"沿用小批量的学习率时，大批量需要 {len(large.val_acc)} 轮（小批量 {len(small.val_acc)} 轮）；"
                  f"放大学习率后减到 {len(scaled.val_acc)} 轮。")
    if scaled.reached:
        needed = scaled.samples[-1]
        en.append(f"Time-to-accuracy is examples needed ÷ samples/s: the same {needed:,} examples take about "
                  f"{needed / speed['channels_last']:.2f} s of steps at channels-last speed and "
                  f"{needed / speed['accumulate']:.2f} s accumulated in micro-batches, which make the same updates.")
        zh.append(f"达到目标精度的时间 = 所需样本数 ÷ 每秒样本数：同样的 {needed:,} 个样本，按 channels-last 的速度约需 "
                  f"{needed / speed['channels_last']:.2f} 秒的训练步，用微批次梯度累积（更新完全相同）约需 "
                  f"{needed / speed['accumulate']:.2f} 秒。")
    return T(" ".join(en), "".join(zh))


def run(cfg: Config, report: Report = silent) -> Result:
    device = pick_device()
    split = data.digits(seed=cfg.seed, image_size=8)  # (N, 1, 8, 8)
    split.X_train, split.y_train = split.X_train[:cfg.examples], split.y_train[:cfg.examples]
    runs = recipes(cfg)
    steps = len(runs) + 1
    curves = {key: time_to_accuracy(cfg, split, batch, lr, part(report, recipe_name(batch, lr).en, i, steps))
              for i, (key, (batch, lr)) in enumerate(runs.items())}

    report(Event("stage", len(runs) / steps, note=_("Timing optimizer steps", "为优化器步计时")))
    X, y = split.X_train.to(device), split.y_train.to(device)
    speed = {key: samples_per_second(s, X, y, cfg.timing_steps, cfg.seed) for key, s in settings(cfg).items()}
    report(Event("stage", 1.0, note=_("Checking gradient accumulation and autocast", "检查梯度累积与 autocast")))

    k = cfg.large_batch // cfg.small_batch
    Xb, yb = X[:cfg.large_batch], y[:cfg.large_batch]
    checks = autocast_dtypes(build(cfg.seed).to(device), Xb, amp_dtype(device))
    metrics: dict[str, float] = {
        "accum_max_grad_diff": max_grad_diff(build(cfg.seed, batchnorm=False).to(device), Xb, yb, k),
        "accum_max_grad_diff_batchnorm": max_grad_diff(build(cfg.seed).to(device), Xb, yb, k),
        "amp_matmul_share": checks["matmul_share"], "amp_loss_fp32": checks["loss_fp32"],
        "amp_weights_fp32": checks["weights_fp32"],
    }
    for key, c in curves.items():
        metrics[f"epochs_{key}"] = float(len(c.val_acc))
        metrics[f"reached_{key}"] = float(c.reached)
        metrics[f"val_acc_{key}"] = c.val_acc[-1]

    names = {key: SETTING_NAMES[key](cfg) for key in speed}
    curve_names = {key: recipe_name(c.batch, c.lr) for key, c in curves.items()}
    charts = [
        Chart(_("Throughput per setting (this machine, now)", "各设置的吞吐（本机，当前）"),
              lambda lang: plots.bars({names[k_].get(lang): v for k_, v in speed.items()},
                                      _("setting", "设置"), _("samples / s", "样本数 / 秒"), lang),
              caption=_("Median of timed optimizer steps; shared machines make these numbers move.",
                        "取计时优化器步的中位数；机器负载会让数字波动。")),
        Chart(_("Validation accuracy against wall-clock time", "验证准确率与墙钟时间"),
              lambda lang: plots.lines_xy({curve_names[k_].get(lang): (c.seconds, c.val_acc) for k_, c in curves.items()},
                                          _("seconds (training + validation)", "秒（训练 + 验证）"),
                                          _("val accuracy", "验证准确率"), lang).add_hline(y=cfg.target, line_dash="dot"),
              caption=_(f"Each run stops at the dotted target, {cfg.target:.0%}.",
                        f"每组在达到点线所示的目标 {cfg.target:.0%} 时停止。")),
        Chart(_("Validation accuracy against examples seen", "验证准确率与已见样本数"),
              lambda lang: plots.lines_xy({curve_names[k_].get(lang): (c.samples, c.val_acc) for k_, c in curves.items()},
                                          _("training examples seen", "已训练的样本数"),
                                          _("val accuracy", "验证准确率"), lang),
              caption=_("How many examples each recipe needs: the optimisation side of time-to-accuracy.",
                        "每种配方需要多少样本：这是“达到目标精度所需时间”中优化的那一半。")),
    ]
    speed_table = Table(_("Throughput", "吞吐"),
                        {"setting": _("setting", "设置"), "samples_s": _("samples / s", "样本数 / 秒"),
                         "vs_small": _(f"× batch {cfg.small_batch}", f"相对批量 {cfg.small_batch} 的倍数")},
                        [{"setting": names[key].en, "samples_s": round(v), "vs_small": round(v / speed["small"], 2)}
                         for key, v in speed.items()])
    curve_table = Table(_("Time to accuracy", "达到目标准确率的时间"),
                        {"recipe": _("recipe", "配方"), "epochs": _("epochs", "轮数"),
                         "samples": _("examples seen", "已见样本数"), "seconds": _("seconds", "秒"),
                         "acc": _("final val accuracy", "最终验证准确率"), "reached": _("reached target", "是否达标")},
                        [{"recipe": curve_names[key].en, "epochs": len(c.val_acc), "samples": c.samples[-1],
                          "seconds": round(c.seconds[-1], 3), "acc": round(c.val_acc[-1], 4), "reached": c.reached}
                         for key, c in curves.items()])
    history = {curve_names[key].en: {"val_acc": c.val_acc, "seconds": c.seconds} for key, c in curves.items()}
    return Result(metrics, verdict(cfg, device, speed, curves, metrics), history, charts, [speed_table, curve_table])


DEMO = Demo(
    id="training-throughput",
    title=_("Throughput and time-to-accuracy", "吞吐与达到目标精度的时间"),
    summary=_("Samples per second for batch size, channels-last, autocast and gradient accumulation on a small CNN, "
              "and how fast each training recipe reaches a target accuracy.",
              "在小型 CNN 上测量批量大小、channels-last、autocast 和梯度累积对每秒样本数的影响，"
              "以及各训练配方达到目标准确率的速度。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(examples=256, max_epochs=1, timing_steps=2, small_batch=32, large_batch=64),
    key_metric="accum_max_grad_diff",
    key_label=_("gradient accumulation vs one big batch: max |Δgrad|", "梯度累积与单个大批量：梯度最大差值"),
)
