"""Fine-tuning under a parameter budget: head-only vs LoRA vs full fine-tuning.

We pretrain a 64-256-256-10 MLP on clean digits, then adapt it with few labels to a shifted target domain
(images rolled one pixel, lower contrast, a fixed overlay and noise). LoRA (`fmlab.lora`) freezes each
weight matrix W and learns a low-rank update y = W x + (α/r)·B A x: r·(in + out) trainable parameters per
layer instead of in·out, so fewer gradients and less Adam state; forward and backward still run through W.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit
from ..lora import add_lora, trainable, training_bytes
from ..nets import MLP, init_weights, num_params
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, join, sentences

RANKS = (1, 2, 4, 8, 16, 32)
WIDTH, PRETRAIN_EPOCHS = 256, 6  # the pretrained 64-256-256-10 MLP and its passes over the clean digits
METHOD_NAMES = {"none": _("no adaptation", "不迁移"), "head": _("head only", "只训练输出头"),
                "full": _("full fine-tuning", "全量微调")}
TARGET_ACC = _("target accuracy", "目标领域准确率")
TRAINABLE = _("trainable parameters", "可训练参数")
MEMORY = _("gradients + Adam state, KiB", "梯度 + Adam 状态，KiB")
LOG = _("{axis} (log)", "{axis}（对数）")


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
    epochs: int = epochs_param(15, high=60, label=_("Adaptation epochs", "迁移训练轮数"),
                               help=_("Passes over the labelled target data, the same for every method",
                                      "遍历目标领域有标签数据的次数，各方法相同"))
    lr: float = lr_param(3e-3, low=1e-4, high=3e-2,
                         help=_("Adam's step size for every adaptation run", "所有迁移训练所用 Adam 的学习率"))
    seed: int = seed_param()


def target_domain(split: data.Split, labels: float, seed: int) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """(X (N, 64), y (N,)) of the labelled share of training and of all validation, moved to the target domain."""
    g = torch.Generator().manual_seed(seed)
    overlay = 0.5 * torch.rand(64, generator=g)  # (64,): part of the domain, shared by train and val

    def shift(X: Tensor) -> Tensor:
        rolled = X.view(-1, 8, 8).roll(1, dims=2).reshape(-1, 64)
        return 0.7 * rolled + overlay + 0.1 * torch.randn(rolled.shape, generator=g)

    X_train = shift(split.X_train)
    labelled = torch.randperm(len(X_train), generator=torch.Generator().manual_seed(seed))
    labelled = labelled[:max(10, round(labels * len(X_train)))]
    return (X_train[labelled], split.y_train[labelled]), (shift(split.X_val), split.y_val)


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
    if method == "lora":  # adapters on both hidden layers
        add_lora(model, ("stem", "blocks.0.linear"), rank, alpha, torch.Generator().manual_seed(seed))
    return model


def method_name(key: str) -> T:
    """The bilingual name of a run key: "head", "full", "none" or "lora<r>"."""
    return METHOD_NAMES.get(key) or _("LoRA r={rank}", "LoRA r={rank}").format(rank=key.removeprefix("lora"))


@dataclass
class Adapted:
    name: T
    trainable: int
    memory: int  # bytes: gradients of the trainable parameters + Adam's two moments per parameter
    acc: float
    fit: Fit | None


def adapt(base: MLP, key: str, cfg: Config, target: tuple[Tensor, Tensor], val: tuple[Tensor, Tensor],
          report: Report) -> Adapted:
    """Adapt a copy of `base` to the target domain with method `key` ("none", "head", "lora<r>", "full")."""
    rank = int(key.removeprefix("lora")) if key.startswith("lora") else 0
    model = prepare(base, "lora" if rank else key, rank, cfg.alpha, cfg.seed)
    params = trainable(model)
    if not params:
        return Adapted(method_name(key), 0, 0, evaluate(model, *val)["acc"], None)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    result = fit(model, opt, target, epochs=cfg.epochs, batch_size=64, seed=cfg.seed, report=report)
    return Adapted(method_name(key), sum(p.numel() for p in params), training_bytes(params, opt),
                   evaluate(model, *val)["acc"], result)


def best_within(runs: dict[str, Adapted], budget: int) -> Adapted | None:
    """The most accurate method training at most `budget` parameters ("no adaptation" trains none: not a method)."""
    return max((a for a in runs.values() if a.fit is not None and a.trainable <= budget), key=lambda a: a.acc,
               default=None)


def lesson(m: Metrics) -> bool | None:
    within = [m[k] for k in m if k.startswith("acc_lora") and m[f"trainable_{k[4:]}"] <= m["budget"]]
    return m["acc_head"] + 0.02 < max(within) if within else None


CLAIM = Claim(
    _("within the budget of trainable parameters, a LoRA adapter beats head-only training by more than 2 points",
      "在可训练参数预算之内，LoRA 适配器比只训练输出头高出 2 个百分点以上"),
    lesson,
    fragile=_("The gap is a few points; fewer epochs, a small α or a tight budget shrink it.",
              "差距只有几个百分点；训练轮数少、α 小或预算紧都会让它缩小。"),
)


def verdict(cfg: Config, runs: dict[str, Adapted], metrics: Metrics, num_labels: int) -> T:
    head, full, none, top = runs["head"], runs["full"], runs["none"], runs[f"lora{max(cfg.ranks)}"]
    loras = join(_("r={rank} {acc:.1%} ({n:,})", "r={rank} {acc:.1%}（{n:,}）")
                 .format(rank=r, acc=runs[f"lora{r}"].acc, n=runs[f"lora{r}"].trainable) for r in sorted(cfg.ranks))
    best = best_within(runs, cfg.budget)
    return sentences(
        _("The pretrained MLP scores {src:.1%} on clean digits but {none:.1%} on the shifted domain.",
          "预训练 MLP 在干净数字上准确率 {src:.1%}，在偏移后的领域上只有 {none:.1%}。")
        .format(src=metrics["source_acc"], none=none.acc),
        _("With {labels} target labels: head only {head:.1%} ({head_n:,} trainable parameters); LoRA {loras}; "
          "full fine-tuning {full:.1%} ({full_n:,}, gradients + Adam state {full_kib:,.0f} KiB vs {top_kib:,.0f} KiB "
          "for {top}).",
          "用 {labels} 个目标领域标签：只训练输出头 {head:.1%}（{head_n:,} 个可训练参数）；LoRA {loras}；全量微调 "
          "{full:.1%}（{full_n:,} 个，梯度加 Adam 状态 {full_kib:,.0f} KiB，而 {top} 只需 {top_kib:,.0f} KiB）。")
        .format(labels=num_labels, head=head.acc, head_n=head.trainable, loras=loras, full=full.acc,
                full_n=full.trainable, full_kib=full.memory / 1024, top_kib=top.memory / 1024, top=top.name),
        _("Within a budget of {budget:,} trainable parameters the best is {best} ({acc:.1%}).",
          "在 {budget:,} 个可训练参数的预算内，最佳方法为：{best}（{acc:.1%}）。")
        .format(budget=cfg.budget, best=best.name, acc=best.acc) if best else None,
        lora_against_head(cfg, runs),
        CLAIM.verdict(metrics),
    )


def lora_against_head(cfg: Config, runs: dict[str, Adapted]) -> T | None:
    """The best rank's lead over head-only training, if over 2 points, and how much of the gap to full it closes."""
    head, full = runs["head"], runs["full"]
    best = max((runs[f"lora{r}"] for r in cfg.ranks), key=lambda a: a.acc)
    if best.acc <= head.acc + 0.02:
        return None  # the claim's own sentence says it was not shown, and what makes it fragile
    return sentences(
        _("{lora} beats head-only training by {points:.1f} points by adapting the frozen features with a low-rank "
          "update, using {share:.0%} of full fine-tuning's trainable parameters.",
          "{lora} 通过低秩更新调整冻结的特征，比只训练输出头高 {points:.1f} 个百分点，可训练参数只有全量微调的 {share:.0%}。")
        .format(lora=best.name, points=100 * (best.acc - head.acc), share=best.trainable / full.trainable),
        _("It closes {closed:.0%} of the head-to-full gap.", "它弥补了“只训练输出头”与全量微调之间 {closed:.0%} 的差距。")
        .format(closed=(best.acc - head.acc) / (full.acc - head.acc)) if full.acc - head.acc > 0.01 else None)


def run(cfg: Config, report: Report = silent) -> Result:
    """Pretrain on clean digits, then adapt to the shifted domain with each method; compare accuracy and cost."""
    split = data.digits(seed=cfg.seed)
    keys = ["none", "head", *(f"lora{r}" for r in sorted(cfg.ranks)), "full"]
    base = pretrain(split, cfg.seed, part(report, _("pretraining", "预训练"), 0, len(keys)))
    target, val = target_domain(split, cfg.labels, cfg.seed)
    runs = {key: adapt(base, key, cfg, target, val, part(report, method_name(key), i, len(keys)))
            for i, key in enumerate(keys)}  # "none" trains nothing, so slot 0 is pretraining's

    metrics = {"source_acc": evaluate(base, split.X_val, split.y_val)["acc"], "budget": float(cfg.budget)}
    for key, a in runs.items():
        metrics |= {f"acc_{key}": a.acc, f"trainable_{key}": float(a.trainable), f"state_bytes_{key}": float(a.memory)}
    metrics["best_acc_within_budget"] = best.acc if (best := best_within(runs, cfg.budget)) else math.nan
    told = verdict(cfg, runs, metrics, len(target[1]))
    return Result(metrics, told, charts(cfg, runs), [summary(runs, num_params(base))])


def frontier(runs: dict[str, Adapted], budget: int, lang: str):
    fig = plots.lines_xy({a.name.get(lang): ([a.trainable], [a.acc]) for a in runs.values() if a.trainable},
                         LOG.format(axis=TRAINABLE), TARGET_ACC, lang, log_x=True)
    fig.add_hline(y=runs["none"].acc, line_dash="dot", annotation_text=runs["none"].name.get(lang))
    fig.add_vline(x=budget, line_dash="dash")
    fig.add_annotation(x=math.log10(budget), y=0.5, yref="paper", xanchor="left", showarrow=False,
                       text=_("budget", "预算").get(lang))  # a log axis places annotations by log10(x)
    return fig.update_traces(marker=dict(size=12))


def charts(cfg: Config, runs: dict[str, Adapted]) -> list[Chart]:
    trained = [a for a in runs.values() if a.fit is not None]
    return [
        Chart(_("Target accuracy against trainable parameters", "目标领域准确率与可训练参数量"),
              lambda lang: frontier(runs, cfg.budget, lang),
              caption=_("Dotted: the pretrained model before adaptation; dashed: the parameter budget.",
                        "点线：迁移前的预训练模型；虚线：参数预算。")),
        Chart(_("Training memory beyond the frozen weights", "冻结权重之外的训练内存"),
              lambda lang: plots.bars({a.name.get(lang): a.memory / 1024 for a in trained}, plots.METHOD,
                                      LOG.format(axis=MEMORY), lang, log_y=True),
              caption=_("12 bytes per trainable fp32 parameter: its gradient and Adam's two moments.",
                        "每个 fp32 可训练参数 12 字节：梯度加 Adam 的两个矩估计。")),
        Chart(_("Training loss during adaptation", "迁移训练中的损失"),
              lambda lang: plots.curves({a.name.get(lang): a.fit.history["loss"] for a in trained}, plots.STEP,
                                        plots.LOSS_LOG, lang, log_y=True)),
    ]


def summary(runs: dict[str, Adapted], total: int) -> Table:
    """One row per method; `total` is the size of the whole model."""
    return Table(_("Methods", "各方法"),
                 {"method": plots.METHOD, "trainable": TRAINABLE, "share": _("share of the model", "占模型比例"),
                  "memory": MEMORY, "acc": TARGET_ACC},
                 [{"method": a.name, "trainable": a.trainable, "share": round(a.trainable / total, 4),
                   "memory": round(a.memory / 1024, 1), "acc": round(a.acc, 4)} for a in runs.values()])


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
    claim=CLAIM,
)
