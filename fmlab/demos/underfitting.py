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

from .. import data, plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import evaluate, fit
from ..nets import MLP, init_weights
from ..params import DemoConfig, param
from ..text import T, _

SIZES = (50, 100, 200, 400, 800)  # training-set sizes for the linear model's learning curve
DECAY_STEPS = (0.0, 0.1, 0.3, 1.0)  # the weight-decay sweep, as shares of the heavy decay
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
    lr: float = param(0.1, low=1e-3, high=1.0, log=True, label=_("Learning rate (SGD)", "学习率（SGD）"),
                      help=_("The same for every model", "所有模型相同"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same run", "相同种子，相同结果"))


def build(hidden: tuple[int, ...], seed: int) -> nn.Module:
    """Logistic regression for `hidden` = (), else an MLP with those ReLU hidden layers (all one width)."""
    if not hidden:
        model: nn.Module = nn.Linear(2, 2)  # softmax over two logits = logistic regression
    else:
        model = MLP(2, 2, width=hidden[0], depth=len(hidden) - 1)
    return init_weights(model, seed)


def train(model: nn.Module, X: Tensor, y: Tensor, cfg: Config, decay: float, report: Report,
          steps: int | None = None) -> list[float]:
    """Full-batch SGD (momentum 0.9) with L2 weight decay `decay`; returns the loss per step."""
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=decay)
    return fit(model, opt, (X, y), epochs=steps or cfg.steps, batch_size=len(X), seed=cfg.seed,
               report=report).history["loss"]


def accuracy(model: nn.Module, X: Tensor, y: Tensor) -> float:
    return evaluate(model, X, y)["acc"]


@torch.no_grad()
def probability_map(model: nn.Module, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """P(class 1) on the grid: (len(ys), len(xs))."""
    model.eval()
    gx, gy = np.meshgrid(xs, ys)
    points = torch.tensor(np.c_[gx.ravel(), gy.ravel()], dtype=torch.float32)  # (G, 2)
    device = next(model.parameters()).device
    probs = model(points.to(device)).softmax(dim=1)[:, 1].cpu().numpy()
    return probs.reshape(len(ys), len(xs))


def accuracy_lines(xs: list, train: list[float], val: list[float], x: T, lang: str):
    """Train and validation accuracy against one setting (categorical or numeric xs)."""
    return plots.lines_xy({_("train", "训练").get(lang): (xs, train), _("validation", "验证").get(lang): (xs, val)},
                          x, _("accuracy", "准确率"), lang)


def runs_plan(cfg: Config) -> dict[str, tuple[tuple[int, ...], float]]:
    """Name -> (hidden layers, weight decay): a capacity ladder, then a decay sweep on the big net."""
    big = (cfg.width, cfg.width)
    plan = {"linear": ((), 0.0), "tiny": ((cfg.tiny_width,), 0.0), "small": ((8,), 0.0), "big": (big, 0.0)}
    for share in DECAY_STEPS[1:]:
        plan[f"decay_{cfg.heavy_decay * share:g}"] = (big, cfg.heavy_decay * share)
    return plan


def names(cfg: Config) -> dict[str, T]:
    """Readable names of the headline models."""
    return {"linear": _("logistic regression", "逻辑回归"),
            "tiny": _(f"MLP, {cfg.tiny_width} hidden units", f"MLP，{cfg.tiny_width} 个隐藏单元"),
            "big": _(f"MLP {cfg.width}-{cfg.width}", f"MLP {cfg.width}-{cfg.width}"),
            "heavy": _(f"MLP {cfg.width}-{cfg.width}, weight decay {cfg.heavy_decay:g}",
                       f"MLP {cfg.width}-{cfg.width}，权重衰减 {cfg.heavy_decay:g}")}


def verdict(cfg: Config, m: dict[str, float]) -> T:
    n = names(cfg)
    scores_en = "; ".join(f"{n[k].en} {m[f'train_acc_{k}']:.1%} / {m[f'val_acc_{k}']:.1%}" for k in n)
    scores_zh = "；".join(f"{n[k].zh} {m[f'train_acc_{k}']:.1%} / {m[f'val_acc_{k}']:.1%}" for k in n)
    lc_en = (f"With {SIZES[0]} to {SIZES[-1]} examples the linear model's val accuracy stayed between "
             f"{m['lc_val_min']:.1%} and {m['lc_val_max']:.1%}.")
    lc_zh = f"训练样本从 {SIZES[0]} 增加到 {SIZES[-1]}，线性模型的验证准确率始终在 {m['lc_val_min']:.1%} 到 {m['lc_val_max']:.1%} 之间。"
    fixed = m["train_acc_big"] - m["train_acc_linear"] > 0.2 and m["train_acc_big"] - m["train_acc_heavy"] > 0.2
    if fixed:
        end_en = ("The underfit models are poor on their own training data, with validation close behind: high bias. "
                  "More capacity fixed it, and so did removing the excess weight decay; more data did not.")
        end_zh = "欠拟合的模型连自己的训练数据都拟合不好，验证准确率也相差无几：这就是高偏差。增加容量能解决，去掉过强的权重衰减也能解决；增加数据则不行。"
    else:
        end_en = ("Here the big net did not clearly beat the underfit models: try circles or spirals, more steps, "
                  "or a heavier decay.")
        end_zh = "本次大网络没有明显胜过欠拟合的模型：可以换成同心圆环或双螺旋数据、增加步数，或调大权重衰减。"
    if m["tiny_batch_acc"] == 1.0:
        sanity_en = ("The pipeline itself works: the big net memorised 16 randomly labelled points to 100%, so the "
                     "failures are about capacity and regularisation, not a bug.")
        sanity_zh = "训练流程本身没有问题：大网络能把 16 个随机标注的点全部记住，所以问题出在容量和正则化上，而不是 bug。"
    else:
        sanity_en = (f"Warning: the big net fitted only {m['tiny_batch_acc']:.0%} of 16 randomly labelled points; "
                     "check the optimisation (learning rate, steps) before blaming capacity.")
        sanity_zh = f"注意：大网络只拟合了 16 个随机标注点中的 {m['tiny_batch_acc']:.0%}；在归咎于容量之前，先检查优化（学习率、步数）。"
    return _(f"Train / val accuracy: {scores_en}. {lc_en} {end_en} {sanity_en}",
             f"训练 / 验证准确率：{scores_zh}。{lc_zh}{end_zh}{sanity_zh}")


def run(cfg: Config, report: Report = silent) -> Result:
    split = data.toy2d(cfg.dataset, num=1200, noise=cfg.noise, seed=cfg.seed)  # 840 train, 360 val
    plan = runs_plan(cfg)
    total = len(plan) + len(SIZES) + 1
    models: dict[str, nn.Module] = {}
    losses: dict[str, list[float]] = {}
    for i, (key, (hidden, decay)) in enumerate(plan.items()):
        models[key] = build(hidden, cfg.seed)
        losses[key] = train(models[key], split.X_train, split.y_train, cfg, decay, part(report, key, i, total))
    models["heavy"] = models[f"decay_{cfg.heavy_decay:g}"]

    metrics: dict[str, float] = {}
    for key, model in models.items():
        metrics[f"train_acc_{key}"] = accuracy(model, split.X_train, split.y_train)
        metrics[f"val_acc_{key}"] = accuracy(model, split.X_val, split.y_val)

    for j, size in enumerate(SIZES):  # more data for the model that cannot represent the boundary
        X, y = split.X_train[:size], split.y_train[:size]
        linear = build((), cfg.seed)
        train(linear, X, y, cfg, 0.0, part(report, f"linear n={size}", len(plan) + j, total))
        metrics[f"lc_train_acc_n{size}"] = accuracy(linear, X, y)
        metrics[f"lc_val_acc_n{size}"] = accuracy(linear, split.X_val, split.y_val)
    metrics["lc_val_min"] = min(metrics[f"lc_val_acc_n{size}"] for size in SIZES)
    metrics["lc_val_max"] = max(metrics[f"lc_val_acc_n{size}"] for size in SIZES)

    # sanity check first in practice: can the big net memorise 16 points with random labels?
    X16, y16 = split.X_train[:16], torch.randint(0, 2, (16,), generator=torch.Generator().manual_seed(cfg.seed))
    memoriser = build((cfg.width, cfg.width), cfg.seed)
    train(memoriser, X16, y16, cfg, 0.0, part(report, "sanity check", total - 1, total),
          steps=2 * cfg.steps)  # memorising noise takes longer than learning a pattern
    metrics["tiny_batch_acc"] = accuracy(memoriser, X16, y16)

    n = names(cfg)
    xs = ys = np.linspace(-2.5, 2.5, 61)
    maps = {k: probability_map(models[k], xs, ys) for k in n}
    points = split.X_train.numpy(), split.y_train.numpy()
    capacity = ["linear", "tiny", "small", "big"]
    capacity_labels = lambda lang: [_("none (linear)", "无（线性）").get(lang), f"{cfg.tiny_width}", "8",
                                    f"{cfg.width}-{cfg.width}"]
    decays = [k for k in plan if k == "big" or k.startswith("decay_")]
    decay_labels = [f"{plan[k][1]:g}" for k in decays]
    train_of = lambda keys: [metrics[f"train_acc_{k}"] for k in keys]
    val_of = lambda keys: [metrics[f"val_acc_{k}"] for k in keys]
    charts = [
        Chart(_("Decision boundaries (colour: P(class 1); points: training data)",
                "决策边界（颜色：属于类别 1 的概率；点：训练数据）"),
              lambda lang: plots.decision_boundaries(
                  {f"{n[k].get(lang)}: {metrics[f'train_acc_{k}']:.0%} / {metrics[f'val_acc_{k}']:.0%}": maps[k]
                   for k in n}, xs, ys, *points, lang),
              caption=_("Titles give train / val accuracy.", "标题中为训练 / 验证准确率。")),
        Chart(_("More capacity: train and val accuracy rise together", "增加容量：训练和验证准确率一起上升"),
              lambda lang: accuracy_lines(capacity_labels(lang), train_of(capacity), val_of(capacity),
                                          _("hidden layers", "隐藏层"), lang)),
        Chart(_(f"More weight decay on the {cfg.width}-{cfg.width} net: train accuracy falls",
                f"{cfg.width}-{cfg.width} 网络的权重衰减越大，训练准确率越低"),
              lambda lang: accuracy_lines(decay_labels, train_of(decays), val_of(decays),
                                          _("weight decay", "权重衰减"), lang)),
        Chart(_("Learning curve of logistic regression", "逻辑回归的学习曲线"),
              lambda lang: accuracy_lines(list(SIZES), [metrics[f"lc_train_acc_n{s}"] for s in SIZES],
                                          [metrics[f"lc_val_acc_n{s}"] for s in SIZES],
                                          _("training examples", "训练样本数"), lang),
              caption=_("Flat and low: more data does not help a model that cannot represent the boundary.",
                        "又平又低：模型表达不了这条边界时，增加数据也无济于事。")),
    ]
    table = Table(_("Models", "各模型"),
                  {"model": _("model", "模型"), "train": _("train accuracy", "训练准确率"),
                   "val": _("val accuracy", "验证准确率"), "gap": _("train − val", "训练 − 验证")},
                  [{"model": n[k].en, "train": round(metrics[f"train_acc_{k}"], 4), "val": round(metrics[f"val_acc_{k}"], 4),
                    "gap": round(metrics[f"train_acc_{k}"] - metrics[f"val_acc_{k}"], 4)} for k in n])
    history = {key: {"loss": values} for key, values in losses.items()}
    return Result(metrics, verdict(cfg, metrics), history, charts, [table])


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
)
