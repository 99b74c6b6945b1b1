"""Underfitting (high bias): a model that does badly on its own training data.

On two concentric rings no straight line separates the classes, so logistic regression stays
near 50% on the training set itself, with validation close behind, and more data does not
move it. A net with 2 hidden units bends the boundary but cannot close it; a 64-64 net fits.
The same 64-64 net under a huge weight decay has its weights pulled toward zero and underfits
again. The cure is to make fitting easier: more capacity or less regularisation. Before
blaming capacity, check that training works at all: a healthy setup can memorise a tiny batch.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from .. import data, overfitting, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..capacity import classifier, probability_map, tiny_batch
from ..fit import evaluate, fit
from ..params import DemoConfig, lr_param, param, seed_param
from ..text import T, _, join, same, sentences

SIZES = (50, 100, 200, 400, 800)  # training-set sizes for the linear model's learning curve
DECAY_STEPS = (0.0, 0.1, 0.3, 1.0)  # the weight-decay sweep, as shares of the heavy decay
TINY_BATCH, TINY_GAP = 16, 0.2  # the sanity check memorises 16 random labels on points at least 0.2 apart
DATASET_NAMES = {"moons": _("two moons", "双月"), "spirals": _("two spirals", "双螺旋"),
                 "circles": _("two rings", "同心圆环"), "xor": _("XOR quadrants", "异或象限")}


@dataclass(frozen=True)
class Config(DemoConfig):
    dataset: str = param("circles", choices=data.TOY_NAMES, choice_labels=DATASET_NAMES,
                         label=_("Data set", "数据集"),
                         help=_("A 2-D problem that no straight line separates", "一个无法用直线分开的二维问题"))
    noise: float = param(0.15, low=0.0, high=0.5, label=_("Noise", "噪声"),
                         help=_("Standard deviation of the noise added to every point", "每个点所加噪声的标准差"))
    tiny_width: int = param(2, low=1, high=16, label=_("Tiny net: hidden units", "小网络的隐藏单元数"),
                            help=_("One hidden layer this wide", "只有一个这么宽的隐藏层"))
    width: int = param(64, low=8, high=256, label=_("Big net: width", "大网络的宽度"),
                       help=_("Two hidden layers this wide", "两个这么宽的隐藏层"))
    heavy_decay: float = param(0.1, low=1e-4, high=1.0, log=True, label=_("Heavy weight decay", "过强的权重衰减"),
                               help=_("L2 weight decay of the over-regularised big net; the sweep tries shares of it",
                                      "过度正则化的大网络所用的 L2 权重衰减；扫描时取它的若干比例"))
    steps: int = param(150, low=10, high=2000, label=_("Steps", "迭代步数"),
                       help=_("Full-batch SGD steps (momentum 0.9) per model", "每个模型的全批量 SGD（动量 0.9）步数"))
    lr: float = lr_param(0.1, low=1e-3, high=1.0, optimizer="SGD",
                         help=_("The same for every model", "所有模型相同"))
    seed: int = seed_param()


def train(model: nn.Module, X: Tensor, y: Tensor, cfg: Config, decay: float, report: Report,
          steps: int | None = None) -> None:
    """Full-batch SGD (momentum 0.9) with L2 weight decay `decay`, for `steps` steps (default: cfg.steps)."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=decay)
    fit(model, opt, (X, y), epochs=steps or cfg.steps, batch_size=len(X), seed=cfg.seed, report=report)


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    """Share of (X, y) the model gets right, in eval mode."""
    return evaluate(model, X, y)["acc"]


def accuracy_lines(xs: list, train: list[float], val: list[float], x: T, lang: str):
    """Train and validation accuracy against one setting (categorical or numeric xs)."""
    return plots.lines_xy({plots.TRAIN.get(lang): (xs, train), plots.VALIDATION.get(lang): (xs, val)},
                          x, plots.ACCURACY, lang)


def runs_plan(cfg: Config) -> dict[str, tuple[tuple[int, ...], float]]:
    """Name -> (hidden layers, weight decay): a capacity ladder, then a decay sweep on the big net."""
    big = (cfg.width, cfg.width)
    plan = {"linear": ((), 0.0), "tiny": ((cfg.tiny_width,), 0.0), "small": ((8,), 0.0), "big": (big, 0.0)}
    for share in DECAY_STEPS[1:]:
        plan[f"decay_{cfg.heavy_decay * share:g}"] = (big, cfg.heavy_decay * share)
    return plan


def model_name(hidden: tuple[int, ...], decay: float) -> T:
    """"logistic regression", "MLP, 2 hidden units", "MLP 64-64", "MLP 64-64, weight decay 0.1"."""
    name = (_("logistic regression", "逻辑回归") if not hidden
            else _("MLP, {n} hidden units", "MLP，{n} 个隐藏单元").format(n=hidden[0]) if len(hidden) == 1
            else _("MLP {layers}", "MLP {layers}").format(layers="-".join(map(str, hidden))))
    with_decay = _("{name}, weight decay {decay:g}", "{name}，权重衰减 {decay:g}")
    return with_decay.format(name=name, decay=decay) if decay else name


def model_names(cfg: Config) -> dict[str, T]:
    """Readable names of the headline models."""
    plan = runs_plan(cfg) | {"heavy": ((cfg.width, cfg.width), cfg.heavy_decay)}
    return {k: model_name(*plan[k]) for k in ("linear", "tiny", "big", "heavy")}


def fit_plan(cfg: Config, split: data.Split, report: Report, total: int) -> dict[str, nn.Module]:
    """Train every model of `runs_plan` on the full training set; "heavy" is the most decayed big net."""
    models: dict[str, nn.Module] = {}
    for i, (key, (hidden, decay)) in enumerate(runs_plan(cfg).items()):
        models[key] = classifier(hidden, cfg.seed)
        train(models[key], split.X_train, split.y_train, cfg, decay, part(report, model_name(hidden, decay), i, total))
    models["heavy"] = models[f"decay_{cfg.heavy_decay:g}"]
    return models


def learning_curve(cfg: Config, split: data.Split, report: Report, first: int, total: int) -> Metrics:
    """Logistic regression on growing prefixes of the training set: train and val accuracy per size."""
    def fit_linear(X: Tensor, y: Tensor, j: int) -> nn.Module:  # (size, 2), (size,)
        linear = classifier((), cfg.seed)
        label = _("logistic regression, {n} examples", "逻辑回归，{n} 个样本").format(n=len(X))
        train(linear, X, y, cfg, 0.0, part(report, label, first + j, total))
        return linear

    metrics: Metrics = {}
    curve = overfitting.learning_curve(fit_linear, split.X_train, split.y_train, SIZES, (split.X_val, split.y_val))
    for size, (train_acc, val_acc) in curve.items():
        metrics[f"lc_train_acc_n{size}"], metrics[f"lc_val_acc_n{size}"] = train_acc, val_acc
    metrics["lc_val_min"] = min(metrics[f"lc_val_acc_n{size}"] for size in SIZES)
    metrics["lc_val_max"] = max(metrics[f"lc_val_acc_n{size}"] for size in SIZES)
    return metrics


def sanity_check(cfg: Config, split: data.Split, report: Report) -> float:
    """Sanity check first in practice: the share of a tiny randomly labelled batch the big net memorises."""
    X, y = tiny_batch(split.X_train, TINY_BATCH, TINY_GAP, cfg.seed)
    memoriser = classifier((cfg.width, cfg.width), cfg.seed)
    train(memoriser, X, y, cfg, 0.0, report, steps=2 * cfg.steps)  # memorising noise takes longer than a pattern
    return accuracy(memoriser, X, y)


def lesson(m: Metrics) -> bool | None:
    """Linear and heavy-decay models: over 20 points below the big net on training data, val within 10 points."""
    underfit = [k for k in ("linear", "heavy") if m[f"train_acc_{k}"] < m["train_acc_big"] - 0.2
                and abs(m[f"train_acc_{k}"] - m[f"val_acc_{k}"]) < 0.1]
    return len(underfit) == 2


CLAIM = Claim(
    _("logistic regression and the big net under heavy weight decay both score over 20 points below the undecayed "
      "big net on their own training data, with validation within 10 points of training: high bias, not overfitting",
      "逻辑回归和权重衰减过强的大网络在自己的训练数据上都比不加衰减的大网络低 20 个百分点以上，"
      "验证准确率与训练准确率相差不到 10 个百分点：这是高偏差，不是过拟合"),
    lesson,
    fragile=_("On two moons a straight line already gets most points right, and a weight decay well below 0.1 no "
              "longer stops the big net from fitting: then the gaps shrink below 20 points.",
              "在双月数据上一条直线就能分对大部分点；权重衰减远小于 0.1 时也拦不住大网络拟合：这时差距会小于 20 个百分点。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Train / val accuracy per model, the learning curve, and the sanity check."""
    n = model_names(cfg)
    scores = join((_("{name} {train:.1%} / {val:.1%}", "{name} {train:.1%} / {val:.1%}")
                   .format(name=n[k], train=m[f"train_acc_{k}"], val=m[f"val_acc_{k}"]) for k in n), _("; ", "；"))
    sane = m["tiny_batch_acc"] == 1.0
    return sentences(
        _("Train / val accuracy: {scores}.", "训练 / 验证准确率：{scores}。").format(scores=scores),
        _("With {lo} to {hi} examples the linear model's val accuracy stayed between {a:.1%} and {b:.1%}{so}.",
          "训练样本从 {lo} 增加到 {hi}，线性模型的验证准确率始终在 {a:.1%} 到 {b:.1%} 之间{so}。")
        .format(lo=SIZES[0], hi=SIZES[-1], a=m["lc_val_min"], b=m["lc_val_max"],
                so=_(": more data does not help a model that cannot represent the boundary",
                     "：模型表达不了这条边界时，增加数据也无济于事")
                if m["lc_val_max"] < m["val_acc_big"] - 0.2 else same("")),
        (_("The pipeline itself works: the big net memorised {n} randomly labelled points to {acc:.0%}, so the "
           "failures are about capacity and regularisation, not a bug.",
           "训练流程本身没有问题：大网络把 {n} 个随机标注的点记住了 {acc:.0%}，所以问题出在容量和正则化上，而不是 bug。") if sane
         else _("Warning: the big net fitted only {acc:.0%} of {n} randomly labelled points; check the optimisation "
                "(learning rate, steps) before blaming capacity.",
                "注意：大网络只拟合了 {n} 个随机标注点中的 {acc:.0%}；在归咎于容量之前，先检查优化（学习率、步数）。"))
        .format(n=TINY_BATCH, acc=m["tiny_batch_acc"]),
        CLAIM.verdict(m),
    )


def run(cfg: Config, report: Report = silent) -> Result:
    """Fit a capacity ladder and a weight-decay sweep on a 2-D problem; a learning curve; a sanity check."""
    split = data.toy2d(cfg.dataset, num=1200, noise=cfg.noise, seed=cfg.seed)  # 840 train, 360 val
    plan = runs_plan(cfg)
    total = len(plan) + len(SIZES) + 1
    models = fit_plan(cfg, split, report, total)
    metrics: Metrics = {}
    for key, model in models.items():
        metrics[f"train_acc_{key}"] = accuracy(model, split.X_train, split.y_train)
        metrics[f"val_acc_{key}"] = accuracy(model, split.X_val, split.y_val)
    metrics["train_loss_linear"] = evaluate(models["linear"], split.X_train, split.y_train)["loss"]
    metrics |= learning_curve(cfg, split, report, len(plan), total)
    metrics["tiny_batch_acc"] = sanity_check(cfg, split, part(report, _("sanity check", "健全性检查"), total - 1, total))
    return Result(metrics, verdict(cfg, metrics), charts(cfg, plan, models, split, metrics), [summary(cfg, metrics)])


def charts(cfg: Config, plan: dict, models: dict[str, nn.Module], split: data.Split, m: Metrics) -> list[Chart]:
    """Decision boundaries, accuracy along the capacity ladder and the decay sweep, the learning curve."""
    n = model_names(cfg)
    xs = ys = np.linspace(-2.5, 2.5, 61)
    maps = {k: probability_map(models[k], xs, ys) for k in n}
    points = split.X_train.numpy(), split.y_train.numpy()
    capacity = ["linear", "tiny", "small", "big"]
    capacity_labels = lambda lang: [_("none (linear)", "无（线性）").get(lang), f"{cfg.tiny_width}", "8",
                                    f"{cfg.width}-{cfg.width}"]
    decays = [k for k in plan if k == "big" or k.startswith("decay_")]
    train_of = lambda keys: [m[f"train_acc_{k}"] for k in keys]
    val_of = lambda keys: [m[f"val_acc_{k}"] for k in keys]
    panel = lambda k, lang: _("{name}: {train:.0%} / {val:.0%}", "{name}：{train:.0%} / {val:.0%}").format(
        name=n[k], train=m[f"train_acc_{k}"], val=m[f"val_acc_{k}"]).get(lang)
    return [
        Chart(_("Decision boundaries (colour: P(class 1); points: training data)",
                "决策边界（颜色：属于类别 1 的概率；点：训练数据）"),
              lambda lang: plots.decision_boundaries({panel(k, lang): maps[k] for k in n}, xs, ys, *points, lang),
              caption=_("Titles give train / val accuracy.", "标题中为训练 / 验证准确率。")),
        Chart(_("More capacity: train and val accuracy rise together", "增加容量：训练和验证准确率一起上升"),
              lambda lang: accuracy_lines(capacity_labels(lang), train_of(capacity), val_of(capacity),
                                          _("hidden layers", "隐藏层"), lang)),
        Chart(_("More weight decay on the {w}-{w} net: train accuracy falls", "{w}-{w} 网络的权重衰减越大，训练准确率越低")
              .format(w=cfg.width),
              lambda lang: accuracy_lines([f"{plan[k][1]:g}" for k in decays], train_of(decays), val_of(decays),
                                          _("weight decay", "权重衰减"), lang)),
        Chart(_("Learning curve of logistic regression", "逻辑回归的学习曲线"),
              lambda lang: accuracy_lines(list(SIZES), [m[f"lc_train_acc_n{s}"] for s in SIZES],
                                          [m[f"lc_val_acc_n{s}"] for s in SIZES],
                                          _("training examples", "训练样本数"), lang),
              caption=_("Flat and low: more data does not help a model that cannot represent the boundary.",
                        "又平又低：模型表达不了这条边界时，增加数据也无济于事。")),
    ]


def summary(cfg: Config, m: Metrics) -> Table:
    """One row per headline model: train and val accuracy and their gap."""
    return Table(plots.SUMMARY,
                 {"model": plots.MODEL, "train": plots.TRAIN_ACCURACY, "val": plots.VAL_ACCURACY,
                  "gap": _("train − val", "训练 − 验证")},
                 [{"model": name, "train": round(m[f"train_acc_{k}"], 4), "val": round(m[f"val_acc_{k}"], 4),
                   "gap": round(m[f"train_acc_{k}"] - m[f"val_acc_{k}"], 4)} for k, name in model_names(cfg).items()])


DEMO = Demo(
    id="underfitting",
    title=_("Underfitting: capacity and regularisation", "欠拟合：容量与正则化"),
    summary=_("Logistic regression, a tiny MLP, a 64-64 MLP and the same MLP with huge weight decay on two rings: "
              "who fails on their own training data, and what fixes it.",
              "在同心圆环数据上比较逻辑回归、小 MLP、64-64 MLP 以及权重衰减极大的同一 MLP：谁连训练数据都拟合不好，怎样才能解决。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(steps=10),
    key_metric="train_acc_linear",
    key_label=_("train accuracy of logistic regression", "逻辑回归的训练准确率"),
    claim=CLAIM,
)
