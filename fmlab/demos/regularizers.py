"""Regularisers side by side: L2, L1 and dropout on a small noisy problem, and the sparsity L1 brings.

Two-moons points carry 2 informative coordinates plus 20 features of pure noise, and only
200 of them are for training: an MLP can reach 100% training accuracy by fitting the noise.
Each regulariser narrows the train–validation gap in its own way: L2 adds (λ/2)·Σw² (its pull
λw fades as a weight shrinks), L1 adds λ·Σ|w| (a constant pull λ·sign(w)), dropout zeroes
random hidden units. A logistic regression on the same features shows the difference between
the penalties (`fmlab.penalties`): L1 drives the weights of the noise features to (near) zero,
feature selection; L2 only makes them smaller.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import data, plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import Fit, evaluate, fit, seeded_global_rng
from ..nets import init_weights
from ..penalties import feature_weights, logistic_regression, penalty
from ..params import DemoConfig, epochs_param, param, seed_param
from ..text import T, _, join, names, same, sentences

RUNS = ("none", "l2", "l1", "dropout")
NAMES = {"none": _("none", "无正则化"), "l2": _("L2", "L2"), "l1": _("L1", "L1"), "dropout": _("dropout", "dropout")}
LINEAR_RUNS = ("none", "l2", "l1")
REGULARISER = _("regulariser", "正则化方法")
NUM_VAL = 2000
NEAR_ZERO = 0.01  # a weight this small (features scaled to about unit size) contributes nothing
NARROWER = 0.01  # a gap this much below the unregularised one counts as narrowed
SPARSER = 0.4  # L1 shows feature selection when it zeroes this much larger a share of noise weights than L2


@dataclass(frozen=True)
class Config(DemoConfig):
    num_noise: int = param(20, low=0, high=100, label=_("Noise features", "噪声特征数"),
                           help=_("Pure-noise features appended to the 2 informative ones",
                                  "在 2 个有用特征之后追加的纯噪声特征数"))
    num_train: int = param(200, low=50, high=2000, label=_("Training points", "训练样本数"),
                           help=_("Few points and many features: room to fit noise", "样本少、特征多：足以拟合噪声"))
    l2: float = param(0.1, low=1e-4, high=1.0, log=True, label=_("L2 λ (MLP)", "L2 的 λ（MLP）"),
                      help=_("Adds (λ/2)·Σw² over the MLP's weight matrices", "在 MLP 各权重矩阵上加 (λ/2)·Σw²"))
    l1: float = param(5e-3, low=1e-5, high=0.1, log=True, label=_("L1 λ (MLP)", "L1 的 λ（MLP）"),
                      help=_("Adds λ·Σ|w| over the MLP's weight matrices", "在 MLP 各权重矩阵上加 λ·Σ|w|"))
    dropout: float = param(0.5, low=0.0, high=0.9, label=_("Dropout p (MLP)", "dropout 比例 p（MLP）"),
                           help=_("Probability of dropping each hidden unit in the dropout run",
                                  "dropout 那组中每个隐藏单元被丢弃的概率"))
    epochs: int = epochs_param(60, low=5, high=300, help=_("The MLP's passes over the training points with Adam "
                                                           "(batches of 50)", "MLP 用 Adam 遍历训练样本的次数（批大小 50）"))
    linear_l2: float = param(0.1, low=1e-4, high=1.0, log=True, label=_("L2 λ (logistic regression)", "L2 的 λ（逻辑回归）"),
                             help=_("L2 strength for the linear model that shows sparsity", "用于展示稀疏性的线性模型的 L2 强度"))
    linear_l1: float = param(0.03, low=1e-4, high=0.3, log=True, label=_("L1 λ (logistic regression)", "L1 的 λ（逻辑回归）"),
                             help=_("L1 strength for the linear model that shows sparsity", "用于展示稀疏性的线性模型的 L1 强度"))
    linear_steps: int = param(300, low=10, high=3000, label=_("Steps (logistic regression)", "迭代步数（逻辑回归）"),
                              help=_("Full-batch plain SGD steps for the linear model", "线性模型的全批量普通 SGD 迭代步数"))
    seed: int = seed_param()


def moons_with_noise(cfg: Config) -> data.Split:
    """Two moons (noise 0.3) with `num_noise` standard-normal features appended: X (N, 2 + num_noise)."""
    split = data.toy2d("moons", num=cfg.num_train + NUM_VAL, noise=0.3, seed=cfg.seed,
                       val_fraction=NUM_VAL / (cfg.num_train + NUM_VAL))
    g = torch.Generator().manual_seed(cfg.seed)
    X_train, X_val = (torch.cat([X, torch.randn(len(X), cfg.num_noise, generator=g)], dim=1)
                      for X in (split.X_train, split.X_val))
    return data.Split(X_train, split.y_train, X_val, split.y_val, split.classes)


def mlp(in_dim: int, p: float, seed: int) -> nn.Sequential:
    """in -> 64 -> 64 -> 2, dropout after each hidden activation (p = 0: none)."""
    model = nn.Sequential(nn.Linear(in_dim, 64), nn.ReLU(), nn.Dropout(p),
                          nn.Linear(64, 64), nn.ReLU(), nn.Dropout(p), nn.Linear(64, 2))
    return init_weights(model, seed)


def train_mlp(run: str, cfg: Config, split: data.Split, report: Report) -> tuple[nn.Module, Fit]:
    """The MLP with run's regulariser (or none), Adam at 3e-3, batches of 50."""
    model = mlp(split.X_train.shape[1], cfg.dropout if run == "dropout" else 0.0, cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    with seeded_global_rng(cfg.seed):  # nn.Dropout's masks, seeded for this run only
        result = fit(model, opt, (split.X_train, split.y_train), epochs=cfg.epochs, batch_size=50,
                     val=(split.X_val, split.y_val), seed=cfg.seed, report=report,
                     penalty=penalty(run, cfg.l1 if run == "l1" else cfg.l2))
    return model, result


def measure(cfg: Config, mlps: dict[str, tuple[nn.Module, Fit]], linears: dict[str, nn.Linear],
            sizes: dict[str, np.ndarray], split: data.Split) -> Metrics:
    """Per MLP run: train and val accuracy, val loss, their gap. Per penalty: the logistic regression's weights."""
    m: Metrics = {}
    for r, (model, _fit) in mlps.items():
        train, val = evaluate(model, split.X_train, split.y_train), evaluate(model, split.X_val, split.y_val)
        m |= {f"train_acc_{r}": train["acc"], f"val_acc_{r}": val["acc"], f"val_loss_{r}": val["loss"],
              f"gap_{r}": train["acc"] - val["acc"]}
    for r, w in sizes.items():
        noise = w[2:]  # (num_noise,)
        m[f"noise_near_zero_{r}"] = float(np.mean(noise < NEAR_ZERO)) if len(noise) else 0.0
        m[f"noise_mean_{r}"] = float(noise.mean()) if len(noise) else 0.0
        m[f"informative_{r}"] = float(w[:2].mean())
        m[f"linear_val_acc_{r}"] = evaluate(linears[r], split.X_val, split.y_val)["acc"]
    m["num_noise"] = float(cfg.num_noise)
    return m


def narrowed(m: Metrics) -> list[str]:
    """The regularised MLP runs whose train–validation gap is clearly below the unregularised one."""
    return [r for r in RUNS[1:] if m[f"gap_{r}"] < m["gap_none"] - NARROWER]


def lesson(m: Metrics) -> bool | None:
    if m["num_noise"] == 0:
        return None  # no noise features: nothing for L1 to switch off
    every = len(narrowed(m)) == 3 and all(m[f"val_loss_{r}"] < m["val_loss_none"] - 0.2 for r in RUNS[1:])
    sparse = m["noise_near_zero_l1"] >= 0.5 and m["noise_near_zero_l1"] >= m["noise_near_zero_l2"] + SPARSER
    return every and sparse


CLAIM = Claim(
    _("every regulariser narrows the MLP's train–validation gap and lowers its validation loss, and L1 drives most "
      "noise-feature weights of a logistic regression to about zero while L2 only shrinks them",
      "每种正则化都缩小了 MLP 训练与验证的差距并降低了验证损失；L1 把逻辑回归中大部分噪声特征的权重压到约为 0，"
      "L2 只是把它们缩小"),
    lesson,
    fragile=_("Dropout is the mildest of the three here: its gap is only 2–5 points below the unregularised one "
              "(seeds 0–4), so a smaller p or another seed can leave it no narrower.",
              "这里 dropout 是三者中最温和的：它的差距只比无正则化时小 2–5 个百分点（种子 0–4），"
              "p 更小或换个种子就可能不再更小。"),
)


def verdict(cfg: Config, m: Metrics) -> T:
    """Each MLP's accuracies, which regularisers narrowed the gap, and what L1 did to the noise weights."""
    rows = join((same("{name} {train:.0%} / {val:.0%}").format(name=NAMES[r], train=m[f"train_acc_{r}"],
                                                                 val=m[f"val_acc_{r}"]) for r in RUNS), T("; ", "；"))
    left = [NAMES[r] for r in RUNS[1:] if r not in narrowed(m)]
    gap = (_("Not every regulariser narrowed the gap here ({left} did not): its strength may be too small or too "
             "large for {n} noise features.", "本次并非每种正则化都缩小了差距（{left} 没有）：对于 {n} 个噪声特征，"
             "其强度可能过小或过大。").format(left=names(left), n=cfg.num_noise) if left else
           _("Every regulariser narrowed the train–validation gap (no regularisation: {gap:.2f}).",
             "每种正则化都缩小了训练与验证的差距（无正则化时为 {gap:.2f}）。").format(gap=m["gap_none"]))
    accuracies = _("MLP accuracy, train / validation: {rows}.", "MLP 准确率（训练 / 验证）：{rows}。").format(rows=rows)
    return sentences(accuracies, gap, sparsity(cfg, m), CLAIM.verdict(m))


def sparsity(cfg: Config, m: Metrics) -> T:
    """What L1 and L2 did to the logistic regression's noise-feature weights."""
    if cfg.num_noise == 0:
        return _("With no noise features there is nothing for L1 to switch off.",
                 "没有噪声特征时，L1 也就没有可以关掉的特征。")
    if m["noise_near_zero_l1"] < m["noise_near_zero_l2"] + SPARSER:
        return _("In the logistic regression L1 zeroed {l1:.0%} of the noise weights and L2 {l2:.0%}: raise the L1 λ "
                 "to see sparsity.", "在逻辑回归中，L1 压到 0 的噪声权重占 {l1:.0%}，L2 占 {l2:.0%}：调大 L1 的 λ "
                 "才能看到稀疏性。").format(l1=m["noise_near_zero_l1"], l2=m["noise_near_zero_l2"])
    return _("In the logistic regression, L1 drove {l1:.0%} of the {n} noise features' weights below {eps:g} "
             "(L2: {l2:.0%}, none: {none:.0%}) while keeping the 2 informative ones at {kept:.2f} on average: "
             "feature selection.", "在逻辑回归中，L1 让 {n} 个噪声特征中 {l1:.0%} 的权重低于 {eps:g}（L2：{l2:.0%}，"
             "无正则化：{none:.0%}），同时 2 个有用特征的权重平均仍有 {kept:.2f}：这就是特征选择。").format(
        l1=m["noise_near_zero_l1"], n=cfg.num_noise, eps=NEAR_ZERO, l2=m["noise_near_zero_l2"],
        none=m["noise_near_zero_none"], kept=m["informative_l1"])


def run(cfg: Config, report: Report = silent) -> Result:
    """Train the MLP four ways and the logistic regression three ways on noisy moons; compare gaps and weights."""
    split = moons_with_noise(cfg)
    total = len(RUNS) + len(LINEAR_RUNS)
    mlps = {r: train_mlp(r, cfg, split, part(report, _("MLP, {name}", "MLP，{name}").format(name=NAMES[r]), i, total))
            for i, r in enumerate(RUNS)}
    linears = {r: logistic_regression(split.X_train, split.y_train, steps=cfg.linear_steps, seed=cfg.seed,
                                      penalty=penalty(r, cfg.linear_l1 if r == "l1" else cfg.linear_l2),
                                      report=part(report, _("logistic regression, {name}", "逻辑回归，{name}")
                                                  .format(name=NAMES[r]), len(RUNS) + i, total))
               for i, r in enumerate(LINEAR_RUNS)}
    sizes = {r: feature_weights(model) for r, model in linears.items()}  # (2 + num_noise,) each
    metrics = measure(cfg, mlps, linears, sizes, split)
    return Result(metrics, verdict(cfg, metrics), charts(cfg, mlps, sizes, metrics), tables(metrics))


def charts(cfg: Config, mlps: dict[str, tuple[nn.Module, Fit]], sizes: dict[str, np.ndarray],
           m: Metrics) -> list[Chart]:
    """MLP train/val accuracy per run, val loss per epoch, linear weight per feature, first-layer weights."""
    features = ["x₁", "x₂"] + [f"n{j + 1}" for j in range(cfg.num_noise)]
    sets = {"train": plots.TRAIN, "val": plots.VALIDATION}
    return [
        Chart(_("MLP accuracy: train vs validation", "MLP 准确率：训练与验证"),
              lambda lang: plots.lines_xy(
                  {sets[s].get(lang): ([NAMES[r].get(lang) for r in RUNS], [m[f"{s}_acc_{r}"] for r in RUNS])
                   for s in sets}, REGULARISER, plots.ACCURACY, lang),
              caption=_("The vertical distance between the two lines is the overfitting gap.",
                        "两条线之间的竖直距离就是过拟合的差距。")),
        Chart(_("MLP validation loss per epoch", "MLP 每轮验证损失"),
              lambda lang: plots.curves({NAMES[r].get(lang): res.history["val_loss"] for r, (_m, res) in mlps.items()},
                                        plots.EPOCH, plots.CROSS_ENTROPY, lang)),
        Chart(_("Logistic regression: weight size per input feature", "逻辑回归：每个输入特征的权重大小"),
              lambda lang: plots.lines_xy({NAMES[r].get(lang): (features, sizes[r]) for r in sizes},
                                          _("feature (x: informative, n: noise)", "特征（x：有用，n：噪声）"),
                                          same("‖W[:, j]‖"), lang),
              caption=_("L1 keeps x₁, x₂ and flattens the noise features to (near) zero; L2 shrinks everything.",
                        "L1 保留 x₁、x₂，把噪声特征压到（接近）0；L2 则整体收缩。")),
        Chart(_("MLP first-layer weights", "MLP 第一层权重"),
              lambda lang: plots.histograms({NAMES[r].get(lang): model[0].weight.detach().cpu().numpy()
                                             for r, (model, _res) in mlps.items()},
                                            _("weight value", "权重值"), _("count (log)", "数量（对数）"), lang,
                                            log_y=True),
              caption=_("With penalties on every layer an MLP can also switch off whole hidden units, which is why "
                        "the linear model shows the L1/L2 contrast more cleanly.",
                        "当每一层都受惩罚时，MLP 还可能整个关掉某些隐藏单元，所以 L1 与 L2 的差别在线性模型上更清楚。")),
    ]


def tables(m: Metrics) -> list[Table]:
    """One row per MLP run (accuracies, gap, val loss) and per logistic regression (its weights)."""
    mlp_table = Table(_("MLP runs", "MLP 各组"),
                      {"run": REGULARISER, "train": plots.TRAIN_ACCURACY, "val": plots.VAL_ACCURACY,
                       "gap": _("gap", "差距"), "loss": plots.VAL_LOSS},
                      [{"run": NAMES[r], "train": round(m[f"train_acc_{r}"], 3), "val": round(m[f"val_acc_{r}"], 3),
                        "gap": round(m[f"gap_{r}"], 3), "loss": round(m[f"val_loss_{r}"], 3)} for r in RUNS])
    linear_table = Table(_("Logistic regression", "逻辑回归"),
                         {"run": _("penalty", "惩罚项"),
                          "zeros": _("noise weights < {eps:g}", "噪声权重 < {eps:g} 的比例").format(eps=NEAR_ZERO),
                          "noise": _("mean noise weight", "噪声权重均值"),
                          "informative": _("mean informative weight", "有用特征权重均值"), "val": plots.VAL_ACCURACY},
                         [{"run": NAMES[r], "zeros": round(m[f"noise_near_zero_{r}"], 3),
                           "noise": round(m[f"noise_mean_{r}"], 4), "informative": round(m[f"informative_{r}"], 3),
                           "val": round(m[f"linear_val_acc_{r}"], 3)} for r in LINEAR_RUNS])
    return [mlp_table, linear_table]


DEMO = Demo(
    id="regularizers",
    title=_("L1, L2 and dropout compared", "L1、L2 与 dropout 对比"),
    summary=_("An MLP on 200 two-moons points padded with 20 noise features, with no regularisation, L2, L1 or "
              "dropout: the train–validation gap; and the sparsity L1 brings to a logistic regression.",
              "在 200 个双月牙数据点（外加 20 个噪声特征）上训练 MLP，分别不加正则化、加 L2、加 L1、加 dropout："
              "比较训练与验证的差距；并展示 L1 给逻辑回归带来的稀疏性。"),
    category="regularization",
    config=Config,
    run=run,
    smoke=dict(num_train=50, epochs=5, num_noise=5, linear_steps=20),
    key_metric="noise_near_zero_l1",
    key_label=_("share of noise-feature weights L1 drove to ~0", "L1 压到约 0 的噪声特征权重比例"),
    claim=CLAIM,
)
