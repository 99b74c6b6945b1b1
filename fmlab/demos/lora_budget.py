"""Fine-tuning under a parameter budget: head-only vs LoRA vs full fine-tuning.

We pretrain a 64-256-256-10 MLP on clean handwritten digits, then adapt it to a shifted target
domain (images rolled one pixel, lower contrast, a fixed overlay and noise) with few labels.
LoRA freezes each weight matrix W (out × in) and learns a low-rank update: y = W x + (α/r)·B A x,
with A (r × in) random and B (out × r) zero, so training starts exactly from the pretrained
model and costs r·(in + out) parameters per layer instead of in·out. Fewer trainable parameters
mean fewer gradients and a smaller optimizer state (Adam keeps two numbers per parameter);
the forward and backward passes still run through the whole frozen network.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..nets import MLP, init_weights, num_params
from ..params import DemoConfig, param
from ..text import T, _

RANKS = (1, 2, 4, 8, 16, 32)
WIDTH = 256
PRETRAIN_EPOCHS = 6


@dataclass(frozen=True)
class Config(DemoConfig):
    ranks: tuple = param((1, 4, 16), choices=RANKS, label=_("LoRA ranks", "LoRA 秩"),
                         help=_("Rank r of the low-rank update B·A on both hidden layers, one run per rank",
                                "两个隐藏层上低秩更新 B·A 的秩 r，每个秩各训练一组"))
    alpha: float = param(16.0, low=1.0, high=64.0, log=True, label=_("LoRA α", "LoRA α"),
                         help=_("The update is scaled by α / r", "低秩更新乘以 α / r"))
    budget: int = param(10_000, low=1_000, high=100_000, log=True,
                        label=_("Trainable-parameter budget", "可训练参数预算"),
                        help=_("The verdict picks the best method that trains at most this many parameters",
                               "结论中选出可训练参数不超过该值的最佳方法"))
    labels: float = param(0.3, low=0.05, high=1.0, label=_("Labelled share of target data", "目标领域有标签的比例"),
                          help=_("Share of the 1,258 training images that are labelled in the target domain",
                                 "1258 张训练图像中在目标领域有标签的比例"))
    epochs: int = param(15, low=1, high=60, label=_("Adaptation epochs", "迁移训练轮数"),
                        help=_("Passes over the labelled target data, the same for every method",
                               "遍历目标领域有标签数据的次数，各方法相同"))
    lr: float = param(3e-3, low=1e-4, high=3e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size for every adaptation run", "所有迁移训练所用 Adam 的学习率"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


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


def target_domain(split: data.Split, seed: int) -> tuple[Tensor, Tensor]:
    """Training and validation digits (N, 64) moved to the target domain: rolled one pixel right,
    contrast 0.7, one fixed overlay pattern on every image, and fresh noise."""
    g = torch.Generator().manual_seed(seed)
    overlay = 0.5 * torch.rand(64, generator=g)  # (64,): part of the domain, shared by train and val

    def shift(X: Tensor) -> Tensor:
        rolled = X.view(-1, 8, 8).roll(1, dims=2).reshape(-1, 64)
        return 0.7 * rolled + overlay + 0.1 * torch.randn(rolled.shape, generator=g)

    return shift(split.X_train), shift(split.X_val)


def pretrain(split: data.Split, seed: int, report: Report) -> MLP:
    """The "pretrained model": a 64-256-256-10 MLP trained on the clean source digits."""
    model = init_weights(MLP(64, 10, width=WIDTH, depth=1), seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    fit(model, opt, (split.X_train, split.y_train), epochs=PRETRAIN_EPOCHS, batch_size=64, seed=seed, report=report)
    return model


def prepare(base: MLP, method: str, rank: int, alpha: float, seed: int) -> MLP:
    """A copy of `base` with only the parameters that `method` trains left trainable."""
    model = copy.deepcopy(base).requires_grad_(method == "full")
    if method in ("head", "lora"):
        model.head.requires_grad_(True)  # the new task's classifier is trained in both
    if method == "lora":
        g = torch.Generator().manual_seed(seed)
        model.stem = LoRALinear(model.stem, rank, alpha, g)
        model.blocks[0].linear = LoRALinear(model.blocks[0].linear, rank, alpha, g)
    return model


def trainable(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def state_bytes(opt: torch.optim.Optimizer) -> int:
    """Bytes of the optimizer's per-parameter state tensors (Adam: exp_avg and exp_avg_sq), as allocated."""
    return sum(t.numel() * t.element_size() for state in opt.state.values()
               for key, t in state.items() if key != "step")


@dataclass
class Adapted:
    name: T
    trainable: int
    grad_bytes: int  # gradients of the trainable parameters
    state_bytes: int  # Adam's two moments per trainable parameter
    acc: float
    fit: Fit | None


def adapt(base: MLP, method: str, rank: int, cfg: Config, target: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor],
          report: Report) -> Adapted:
    """Adapt a copy of `base` to the target domain with `method` ("none", "head", "lora", "full")."""
    model = prepare(base, method, rank, cfg.alpha, cfg.seed)
    params = trainable(model)
    name = METHOD_NAMES[method] if method != "lora" else _(f"LoRA r={rank}", f"LoRA r={rank}")
    if not params:
        return Adapted(name, 0, 0, 0, evaluate(model, *val)["acc"], None)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    result = fit(model, opt, target, epochs=cfg.epochs, batch_size=64, seed=cfg.seed, report=report)
    grads = sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None)
    return Adapted(name, sum(p.numel() for p in params), grads, state_bytes(opt), evaluate(model, *val)["acc"], result)


METHOD_NAMES = {"none": _("no adaptation", "不迁移"), "head": _("head only", "只训练输出头"),
                "full": _("full fine-tuning", "全量微调")}


def verdict(cfg: Config, runs: dict[str, Adapted], source_acc: float, num_labels: int) -> T:
    head, full, none = runs["head"], runs["full"], runs["none"]
    loras = [runs[f"lora{r}"] for r in sorted(cfg.ranks)]
    within = [a for a in runs.values() if a.trainable <= cfg.budget and a.fit is not None]
    best = max(within, key=lambda a: a.acc) if within else None
    lora_txt_en = ", ".join(f"r={r} {a.acc:.1%} ({a.trainable:,})" for r, a in zip(sorted(cfg.ranks), loras))
    lora_txt_zh = "，".join(f"r={r} {a.acc:.1%}（{a.trainable:,}）" for r, a in zip(sorted(cfg.ranks), loras))
    en = (f"The pretrained MLP scores {source_acc:.1%} on clean digits but {none.acc:.1%} on the shifted domain. "
          f"With {num_labels} target labels: head only {head.acc:.1%} ({head.trainable:,} trainable parameters); "
          f"LoRA {lora_txt_en}; full fine-tuning {full.acc:.1%} ({full.trainable:,}, gradients + Adam state "
          f"{(full.grad_bytes + full.state_bytes) / 1024:,.0f} KiB vs {(loras[-1].grad_bytes + loras[-1].state_bytes) / 1024:,.0f} "
          f"KiB for LoRA r={max(cfg.ranks)}).")
    zh = (f"预训练 MLP 在干净数字上准确率 {source_acc:.1%}，在偏移后的领域上只有 {none.acc:.1%}。"
          f"用 {num_labels} 个目标领域标签：只训练输出头 {head.acc:.1%}（{head.trainable:,} 个可训练参数）；"
          f"LoRA {lora_txt_zh}；全量微调 {full.acc:.1%}（{full.trainable:,} 个，梯度加 Adam 状态 "
          f"{(full.grad_bytes + full.state_bytes) / 1024:,.0f} KiB，而 LoRA r={max(cfg.ranks)} 只需 "
          f"{(loras[-1].grad_bytes + loras[-1].state_bytes) / 1024:,.0f} KiB）。")
    if best is not None:
        en += f" Within a budget of {cfg.budget:,} trainable parameters the best is {best.name.en} ({best.acc:.1%})."
        zh += f"在 {cfg.budget:,} 个可训练参数的预算内，最佳方法为：{best.name.zh}（{best.acc:.1%}）。"
    best_lora = max(loras, key=lambda a: a.acc)
    if best_lora.acc > head.acc + 0.02:
        share = best_lora.trainable / full.trainable
        en += (f" {best_lora.name.en} beats head-only training by {100 * (best_lora.acc - head.acc):.1f} points by "
               f"adapting the frozen features with a low-rank update, using {share:.0%} of full fine-tuning's "
               f"trainable parameters")
        zh += (f"{best_lora.name.zh} 通过低秩更新调整冻结的特征，比只训练输出头高 {100 * (best_lora.acc - head.acc):.1f} 个百分点，"
               f"可训练参数只有全量微调的 {share:.0%}")
        if full.acc - head.acc > 0.01:
            closed = (best_lora.acc - head.acc) / (full.acc - head.acc)
            en += f"; it closes {closed:.0%} of the head-to-full gap."
            zh += f"；它弥补了“只训练输出头”与全量微调之间 {closed:.0%} 的差距。"
        else:
            en += "."
            zh += "。"
    else:
        en += " Here LoRA did not beat head-only training clearly: try more epochs or a larger α."
        zh += "本次 LoRA 没有明显胜过只训练输出头：可以增加训练轮数或调大 α。"
    return T(en, zh)


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.digits(seed=cfg.seed)
    methods = [("none", 0), ("head", 0), *(("lora", r) for r in sorted(cfg.ranks)), ("full", 0)]
    count = len(methods)  # pretraining takes the first slot; "none" trains nothing
    base = pretrain(split, cfg.seed, part(report, "pretrain", 0, count))
    source_acc = evaluate(base, split.X_val, split.y_val)["acc"]

    X_train, X_val = target_domain(split, cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    labelled = torch.randperm(len(X_train), generator=g)[:max(10, round(cfg.labels * len(X_train)))]
    target, val = (X_train[labelled], split.y_train[labelled]), (X_val, split.y_val)
    runs: dict[str, Adapted] = {}
    for i, (method, rank) in enumerate(methods):  # "none" trains nothing, so slot 0 is pretraining's
        key = f"lora{rank}" if method == "lora" else method
        runs[key] = adapt(base, method, rank, cfg, target, val, part(report, key, i, count))

    metrics: dict[str, float] = {"source_acc": source_acc}
    for key, a in runs.items():
        metrics |= {f"acc_{key}": a.acc, f"trainable_{key}": float(a.trainable),
                    f"state_bytes_{key}": float(a.grad_bytes + a.state_bytes)}
    within = [a.acc for a in runs.values() if a.trainable <= cfg.budget and a.fit is not None]
    metrics["best_acc_within_budget"] = max(within) if within else float("nan")

    def frontier(lang: str):
        fig = plots.lines_xy({a.name.get(lang): ([a.trainable], [a.acc]) for a in runs.values() if a.trainable},
                             _("trainable parameters (log)", "可训练参数（对数）"), _("target accuracy", "目标领域准确率"),
                             lang)
        fig.add_hline(y=runs["none"].acc, line_dash="dot", annotation_text=runs["none"].name.get(lang))
        fig.add_vline(x=cfg.budget, line_dash="dash")
        fig.add_annotation(x=math.log10(cfg.budget), y=0.5, yref="paper", xanchor="left", showarrow=False,
                           text=_("budget", "预算").get(lang))  # a log axis places annotations by log10(x)
        fig.update_traces(marker=dict(size=12))
        fig.update_xaxes(type="log")
        return fig

    trained = {k: a for k, a in runs.items() if a.fit is not None}
    charts = [
        Chart(_("Target accuracy against trainable parameters", "目标领域准确率与可训练参数量"), frontier,
              caption=_("Dotted: the pretrained model before adaptation; dashed: the parameter budget.",
                        "点线：迁移前的预训练模型；虚线：参数预算。")),
        Chart(_("Training memory beyond the frozen weights", "冻结权重之外的训练内存"),
              lambda lang: plots.bars({a.name.get(lang): (a.grad_bytes + a.state_bytes) / 1024 for a in trained.values()},
                                      _("method", "方法"), _("gradients + Adam state (KiB, log)", "梯度 + Adam 状态（KiB，对数）"),
                                      lang, log_y=True),
              caption=_("12 bytes per trainable fp32 parameter: its gradient and Adam's two moments.",
                        "每个 fp32 可训练参数 12 字节：梯度加 Adam 的两个矩估计。")),
        Chart(_("Training loss during adaptation", "迁移训练中的损失"),
              lambda lang: plots.curves({a.name.get(lang): a.fit.history["loss"] for a in trained.values()},
                                        _("step", "步数"), _("loss (log)", "损失（对数）"), lang, log_y=True)),
    ]
    total = num_params(base)
    table = Table(_("Methods", "各方法"),
                  {"method": _("method", "方法"), "trainable": _("trainable parameters", "可训练参数"),
                   "share": _("share of the model", "占模型比例"),
                   "memory": _("gradients + Adam state (KiB)", "梯度 + Adam 状态（KiB）"),
                   "acc": _("target accuracy", "目标领域准确率")},
                  [{"method": a.name.en, "trainable": a.trainable, "share": round(a.trainable / total, 4),
                    "memory": round((a.grad_bytes + a.state_bytes) / 1024, 1), "acc": round(a.acc, 4)}
                   for a in runs.values()])
    history = {a.name.en: a.fit.history for a in trained.values()}
    return Result(metrics, verdict(cfg, runs, source_acc, len(labelled)), history, charts, [table])


DEMO = Demo(
    id="lora-budget",
    title=_("LoRA vs head-only vs full fine-tuning", "LoRA、只训练输出头与全量微调"),
    summary=_("Adapt a pretrained digits MLP to a shifted domain with few labels: trainable parameters, optimizer "
              "memory and accuracy of head-only training, hand-written LoRA at several ranks, and full fine-tuning.",
              "用少量标签把预训练的手写数字 MLP 迁移到偏移后的领域：比较只训练输出头、手写 LoRA（多种秩）"
              "与全量微调的可训练参数、优化器内存和准确率。"),
    category="optimization",
    config=Config,
    run=run,
    smoke=dict(ranks=(2,), epochs=1),
    key_metric="best_acc_within_budget",
    key_label=_("best target accuracy within the parameter budget", "参数预算内的最佳目标领域准确率"),
)
