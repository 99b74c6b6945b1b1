"""Training speed = samples per second × how few samples you need.

Execution (`fmlab.throughput`): a bigger batch spreads each step's fixed cost over more examples; channels-last
and autocast (bf16, or fp16 with a GradScaler on a GPU) pay off where the hardware has kernels for them; k
accumulated micro-batches give the big batch's gradient in a small one's memory, one piece at a time.
Optimisation: a big batch takes fewer steps per epoch, so it needs more epochs unless the learning rate grows.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Event, Metrics, Report, Result, Table, part, silent
from ..fit import pick_device
from ..nets import CNN, init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, join, sentences
from ..throughput import (LR_RULES, Curve, Recipe, Setting, amp_dtype, autocast_dtypes, machine, max_grad_diff,
                          samples_per_second, scaled_lr, time_to_accuracy)

RULE_NAMES = {"sqrt": _("square root: lr × √k", "平方根：lr × √k"), "linear": _("linear: lr × k", "线性：lr × k")}
RECIPES = ("small", "large", "scaled")
SAMPLES_S = _("samples / s", "样本数 / 秒")


@dataclass(frozen=True)
class Config(DemoConfig):
    small_batch: int = param(16, choices=(8, 16, 32), label=_("Small batch", "小批量"),
                             help=_("Examples per step of the small-batch runs (and each accumulated micro-batch)",
                                    "小批量训练每步的样本数（也是梯度累积中每个微批次的大小）"))
    large_batch: int = param(256, choices=(64, 128, 256, 512), label=_("Large batch", "大批量"),
                             help=_("Examples per step of the large-batch runs", "大批量训练每步的样本数"))
    lr: float = lr_param(0.05, low=1e-3, high=0.5, optimizer="SGD",
                         help=_("Step size at the small batch (momentum 0.9)", "小批量时的学习率（动量 0.9）"))
    rule: str = param("sqrt", choices=tuple(LR_RULES), choice_labels=RULE_NAMES, label=_("LR scaling rule", "学习率缩放规则"),
                      help=_("How the scaled large-batch run grows the learning rate with k = large / small",
                             "大批量缩放组如何随 k = 大批量 / 小批量 放大学习率"))
    target: float = param(0.9, low=0.5, high=0.98, label=_("Target accuracy", "目标准确率"),
                          help=_("Validation accuracy that stops a time-to-accuracy run", "时间-准确率实验在验证准确率达到该值时停止"))
    examples: int = param(1258, low=256, high=1258, label=_("Training examples", "训练样本数"),
                          help=_("Digits used for training (of 1,258); fewer make every run quicker",
                                 "用于训练的手写数字个数（共 1258 个）；越少每组跑得越快"))
    max_epochs: int = epochs_param(12, high=40, help=_("Give up on reaching the target after this many epochs",
                                                       "超过该轮数仍未达标即放弃"))
    timing_steps: int = param(8, low=2, high=50, label=_("Timed steps", "计时步数"),
                              help=_("Optimizer steps timed per setting (fewer for slow ones: about 0.1 s each); "
                                     "the median step time is used",
                                     "每种设置计时的优化器步数（慢的设置少计几步：每种约 0.1 秒）；取步时的中位数"))
    seed: int = seed_param(_("Same seed, same run (timings still vary with machine load)",
                             "相同种子，相同结果（计时仍随机器负载变化）"))


def build(seed: int, batchnorm: bool = True) -> CNN:
    """A small CNN for 8×8 digits: 1 -> 16 channels, two conv blocks, global average pool, 10 classes."""
    return init_weights(CNN(in_channels=1, num_classes=10, width=16, depth=2, batchnorm=batchnorm), seed)


def settings(cfg: Config) -> dict[str, Setting]:
    """The execution settings timed: three batch sizes, then the large one with each trick."""
    k, big = cfg.large_batch // cfg.small_batch, cfg.large_batch
    return {"small": Setting(cfg.small_batch), "middle": Setting(cfg.small_batch * 4), "large": Setting(big),
            "channels_last": Setting(big, channels_last=True), "amp": Setting(big, amp=True),
            "accumulate": Setting(big, micro_batches=k)}


def recipes(cfg: Config) -> dict[str, Recipe]:
    """The time-to-accuracy runs. Layout and accumulation make the same updates, so need no run."""
    return {"small": Recipe(cfg.small_batch, cfg.lr), "large": Recipe(cfg.large_batch, cfg.lr),
            "scaled": Recipe(cfg.large_batch, scaled_lr(cfg.lr, cfg.large_batch // cfg.small_batch, cfg.rule))}


def train_recipes(cfg: Config, split: data.Split, report: Report) -> dict[str, Curve]:
    """Each recipe trained with SGD (momentum 0.9) from the same weights until it reaches cfg.target."""
    curves = {}
    for i, (key, recipe) in enumerate(recipes(cfg).items()):
        model = build(cfg.seed)
        opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9)
        curves[key] = time_to_accuracy(model, opt, (split.X_train, split.y_train), (split.X_val, split.y_val),
                                       batch_size=recipe.batch, target=cfg.target, max_epochs=cfg.max_epochs,
                                       seed=cfg.seed, report=part(report, recipe.name, i, len(RECIPES) + 1))
    return curves


def lesson(m: Metrics) -> bool | None:
    """Big batch at the small batch's lr: 2+ more epochs; the scaled lr needs fewer; accumulation is exact."""
    small, large, scaled = (m[f"epochs_{key}"] if m[f"reached_{key}"] else math.inf for key in RECIPES)
    if small == math.inf:
        return None  # not even the small batch reached the target: nothing to compare against
    return large >= small + 2 and scaled < large and m["accum_max_grad_diff"] < 1e-5


CLAIM = Claim(
    _("at the small batch's learning rate a big batch needs more epochs to reach the target, a scaled learning "
      "rate wins some of them back, and accumulated micro-batches give the big batch's gradient exactly",
      "沿用小批量的学习率时，大批量要多训练几轮才能达标，放大学习率能省回一部分轮数，而微批次梯度累积得到的梯度与大批量完全相同"),
    lesson,
    fragile=_("How many epochs the √k rule saves varies with the seed (1 to 5 at the defaults); the linear rule's "
              "larger rate can overshoot and need more epochs, not fewer.",
              "√k 规则能省下多少轮随种子而变（默认设置下为 1 到 5 轮）；线性规则的学习率更大，可能冲过头，反而需要更多轮。"),
)


def speed_verdict(cfg: Config, device: torch.device, speed: dict[str, float], m: Metrics) -> T:
    """What each execution setting ran at, and whether autocast paid off here."""
    amp = "fp16 + GradScaler" if amp_dtype(device) == torch.float16 else "bf16"
    amp_gain = speed["amp"] / speed["large"]
    return sentences(
        _("Measured on this machine ({where}): batch {small} ran {s:,.0f} samples/s, batch {large} {l:,.0f} "
          "({ratio:.1f}×); channels-last {cl:,.0f}; {amp} autocast {a:,.0f}.",
          "本机实测（{where}）：批量 {small} 每秒 {s:,.0f} 个样本，批量 {large} 每秒 {l:,.0f} 个（{ratio:.1f} 倍）；"
          "channels-last 每秒 {cl:,.0f} 个；{amp} autocast 每秒 {a:,.0f} 个。")
        .format(where=machine(device), small=cfg.small_batch, large=cfg.large_batch, s=speed["small"], l=speed["large"],
                ratio=speed["large"] / speed["small"], cl=speed["channels_last"], amp=amp, a=speed["amp"]),
        _("{k} accumulated micro-batches of {small} ran {acc:,.0f} samples/s ({ratio:.1f}×), matching the big batch's "
          "gradient to {diff:.0e} (with BatchNorm the gap is {bn:.0e}, since each micro-batch is normalised by its own "
          "statistics).",
          "{k} 个大小为 {small} 的微批次做梯度累积每秒 {acc:,.0f} 个（{ratio:.1f} 倍），其梯度与大批量相差不超过 {diff:.0e}"
          "（带 BatchNorm 时相差 {bn:.0e}，因为每个微批次都用自己的统计量做归一化）。")
        .format(k=cfg.large_batch // cfg.small_batch, small=cfg.small_batch, acc=speed["accumulate"],
                ratio=speed["accumulate"] / speed["small"], diff=m["accum_max_grad_diff"],
                bn=m["accum_max_grad_diff_batchnorm"]),
        _("Autocast paid off: this device has fast low-precision units.",
          "autocast 在这里带来了加速：该设备有高速的低精度计算单元。") if amp_gain > 1.2 else
        _("Autocast did not pay off here ({gain:.2f}× of fp32): without fast low-precision units (GPU Tensor Cores, "
          "CPU AMX or AVX-512 BF16) the low-precision kernels only add conversions.",
          "autocast 在这里没有带来加速（仅为 fp32 的 {gain:.2f} 倍）：没有高速的低精度计算单元（GPU 的 Tensor Core、"
          "CPU 的 AMX 或 AVX-512 BF16）时，低精度算子只会多出类型转换的开销。").format(gain=amp_gain),
    )


def curves_verdict(cfg: Config, curves: dict[str, Curve], speed: dict[str, float]) -> T:
    """How many epochs each recipe needed, and time-to-accuracy as examples needed ÷ samples/s."""
    took = _("{name} took {n} epoch(s) ({s:.2f} s)", "{name} 用了 {n} 轮（{s:.2f} 秒）")
    missed = _("{name} did not get there in {n} epoch(s)", "{name} 在 {n} 轮内没有达到")
    recipe = recipes(cfg)
    each = join(((took if c.reached else missed).format(name=recipe[key].name, n=len(c.val_acc), s=c.seconds[-1])
                 for key, c in curves.items()), _("; ", "；"))
    needed = curves["scaled"].samples[-1]
    return sentences(
        _("Reaching {target:.0%} validation accuracy: {each}.", "达到 {target:.0%} 验证准确率：{each}。")
        .format(target=cfg.target, each=each),
        _("Time-to-accuracy is examples needed ÷ samples/s: the same {n:,} examples take about {cl:.2f} s of steps at "
          "channels-last speed and {acc:.2f} s accumulated in micro-batches, which make the same updates.",
          "达到目标精度的时间 = 所需样本数 ÷ 每秒样本数：同样的 {n:,} 个样本，按 channels-last 的速度约需 {cl:.2f} 秒的"
          "训练步，用微批次梯度累积（更新完全相同）约需 {acc:.2f} 秒。")
        .format(n=needed, cl=needed / speed["channels_last"], acc=needed / speed["accumulate"])
        if curves["scaled"].reached else None,
    )


def exactness_checks(cfg: Config, X: Tensor, y: Tensor) -> Metrics:
    """Accumulation vs one big batch (with and without BatchNorm) and autocast's dtypes, on one large batch."""
    k, device = cfg.large_batch // cfg.small_batch, X.device
    Xb, yb = X[:cfg.large_batch], y[:cfg.large_batch]  # (large, 1, 8, 8), (large,)
    amp = autocast_dtypes(build(cfg.seed).to(device), Xb, amp_dtype(device))
    return {"accum_max_grad_diff": max_grad_diff(build(cfg.seed, batchnorm=False).to(device), Xb, yb, k),
            "accum_max_grad_diff_batchnorm": max_grad_diff(build(cfg.seed).to(device), Xb, yb, k),
            **{f"amp_{key}": v for key, v in amp.items()}}


def run(cfg: Config, report: Report = silent) -> Result:
    """Time-to-accuracy of three recipes, samples/s of six execution settings, and exactness checks."""
    device = pick_device()
    split = data.digits(seed=cfg.seed, image_size=8)  # X: (N, 1, 8, 8)
    split.X_train, split.y_train = split.X_train[:cfg.examples], split.y_train[:cfg.examples]
    curves = train_recipes(cfg, split, report)

    report(Event("stage", len(RECIPES) / (len(RECIPES) + 1), note=_("Timing optimizer steps", "为优化器步计时")))
    X, y = split.X_train.to(device), split.y_train.to(device)
    speed = {key: samples_per_second(s, build(cfg.seed), X, y, cfg.timing_steps, cfg.seed)
             for key, s in settings(cfg).items()}
    report(Event("stage", 1.0, note=_("Checking gradient accumulation and autocast", "检查梯度累积与 autocast")))
    metrics = exactness_checks(cfg, X, y)
    for key, c in curves.items():
        metrics |= {f"epochs_{key}": float(len(c.val_acc)), f"reached_{key}": float(c.reached),
                    f"val_acc_{key}": c.val_acc[-1]}
    told = sentences(speed_verdict(cfg, device, speed, metrics), curves_verdict(cfg, curves, speed),
                     CLAIM.verdict(metrics))
    return Result(metrics, told, charts(cfg, speed, curves), tables(cfg, speed, curves))


def charts(cfg: Config, speed: dict[str, float], curves: dict[str, Curve]) -> list[Chart]:
    """Samples/s per setting; validation accuracy against seconds and against examples seen."""
    setting, recipe = settings(cfg), recipes(cfg)

    def against(x: str, label: T, lang: str):
        return plots.lines_xy({recipe[k].name.get(lang): (getattr(c, x), c.val_acc) for k, c in curves.items()},
                              label, plots.VAL_ACCURACY, lang)

    return [
        Chart(_("Throughput per setting (this machine, now)", "各设置的吞吐（本机，当前）"),
              lambda lang: plots.bars({setting[k].name.get(lang): v for k, v in speed.items()},
                                      _("setting", "设置"), SAMPLES_S, lang),
              caption=_("Median of timed optimizer steps; shared machines make these numbers move.",
                        "取计时优化器步的中位数；机器负载会让数字波动。")),
        Chart(_("Validation accuracy against wall-clock time", "验证准确率与墙钟时间"),
              lambda lang: against("seconds", _("seconds (training + validation)", "秒（训练 + 验证）"), lang)
              .add_hline(y=cfg.target, line_dash="dot"),
              caption=_("Each run stops at the dotted target, {target:.0%}.", "每组在达到点线所示的目标 {target:.0%} 时停止。")
              .format(target=cfg.target)),
        Chart(_("Validation accuracy against examples seen", "验证准确率与已见样本数"),
              lambda lang: against("samples", _("training examples seen", "已训练的样本数"), lang),
              caption=_("How many examples each recipe needs: the optimisation side of time-to-accuracy.",
                        "每种配方需要多少样本：这是“达到目标精度所需时间”中优化的那一半。")),
    ]


def tables(cfg: Config, speed: dict[str, float], curves: dict[str, Curve]) -> list[Table]:
    """Samples/s per setting; epochs, examples and seconds per recipe."""
    setting, recipe = settings(cfg), recipes(cfg)
    return [
        Table(_("Throughput", "吞吐"),
              {"setting": _("setting", "设置"), "samples_s": SAMPLES_S,
               "vs_small": _("× batch {b}", "相对批量 {b} 的倍数").format(b=cfg.small_batch)},
              [{"setting": setting[k].name, "samples_s": round(v), "vs_small": round(v / speed["small"], 2)}
               for k, v in speed.items()]),
        Table(_("Time to accuracy", "达到目标准确率的时间"),
              {"recipe": _("recipe", "配方"), "epochs": _("epochs", "轮数"), "samples": _("examples seen", "已见样本数"),
               "seconds": _("seconds", "秒"), "acc": _("final val accuracy", "最终验证准确率"),
               "reached": _("reached target", "是否达标")},
              [{"recipe": recipe[k].name, "epochs": len(c.val_acc), "samples": c.samples[-1],
                "seconds": round(c.seconds[-1], 3), "acc": round(c.val_acc[-1], 4), "reached": c.reached}
               for k, c in curves.items()]),
    ]


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
    claim=CLAIM,
    gpu=True,
)
