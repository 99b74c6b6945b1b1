"""Multi-label classification: one sigmoid per label with binary cross-entropy, not one softmax.

Each example may carry any subset of K labels, none included. Softmax makes the K
probabilities share one unit of mass, so a label's probability shrinks as more labels are
present (about 1/n with n true labels) and at most one can pass 0.5. K independent sigmoids,
trained with binary cross-entropy (BCE), answer K separate yes/no questions instead. A
prediction keeps every label whose probability passes its threshold; tuning one threshold per
label on validation data mostly helps the rare labels (macro-F1), and can cost exact matches.
Metrics: subset accuracy (the whole set right), Hamming loss (share of wrong label decisions),
micro-F1 (all decisions pooled) and macro-F1 (the mean of per-label F1s).
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import plots
from ..demo import Chart, Demo, Report, Result, Table, part, silent
from ..fit import fit
from ..nets import init_weights
from ..params import DemoConfig, param
from ..text import T, _

NUM_FEATURES = 20
NUM_TRAIN, NUM_HELD_OUT = 1800, 1600  # training rows; validation rows and as many test rows
GRID = torch.linspace(0.02, 0.98, 49)  # candidate thresholds
METHODS = ("softmax_argmax", "softmax_half", "softmax_tuned", "bce_half", "bce_tuned")
METHOD_NAMES = {"softmax_argmax": _("softmax-CE, argmax", "softmax-CE，取 argmax"),
                "softmax_half": _("softmax-CE, p > 0.5", "softmax-CE，p > 0.5"),
                "softmax_tuned": _("softmax-CE, tuned thresholds", "softmax-CE，调优阈值"),
                "bce_half": _("sigmoid-BCE, p > 0.5", "sigmoid-BCE，p > 0.5"),
                "bce_tuned": _("sigmoid-BCE, tuned thresholds", "sigmoid-BCE，调优阈值")}
METRIC_NAMES = {"labels": _("labels per example", "每个样本的标签数"),
                "subset_accuracy": _("subset accuracy", "子集准确率"), "hamming": _("Hamming loss", "Hamming loss"),
                "micro_f1": _("micro-F1", "micro-F1"), "macro_f1": _("macro-F1", "macro-F1")}


@dataclass(frozen=True)
class Config(DemoConfig):
    num_labels: int = param(10, low=3, high=20, label=_("Labels (K)", "标签数（K）"),
                            help=_("How many yes/no labels each example has", "每个样本有多少个是/否标签"))
    rarest: float = param(0.04, low=0.01, high=0.5, log=True, label=_("Rarest label's frequency", "最稀有标签的出现频率"),
                          help=_("Label frequencies run geometrically from this up to 50%",
                                 "各标签的出现频率从该值按几何级数增加到 50%"))
    noise: float = param(0.5, low=0.0, high=3.0, label=_("Label noise", "标签噪声"),
                         help=_("Noise in each label's rule: more noise, less certain labels",
                                "每个标签规则中的噪声：噪声越大，标签越不确定"))
    epochs: int = param(30, low=1, high=100, label=_("Epochs", "训练轮数"),
                        help=_("Passes over the 1,800 training examples, for both models", "两个模型遍历 1800 个训练样本的次数"))
    lr: float = param(5e-3, low=1e-4, high=3e-2, log=True, label=_("Learning rate (Adam)", "学习率（Adam）"),
                      help=_("Adam's step size for both models", "两个模型共用的 Adam 步长"))
    seed: int = param(0, low=0, high=10_000, label=_("Seed", "随机种子"),
                      help=_("Same seed, same data and run", "相同种子，相同数据和结果"))


def independent_labels(cfg: Config, num: int) -> tuple[Tensor, Tensor, np.ndarray]:
    """X (N, 20) Gaussian features; Y (N, K) float 0/1, label k = [x·w_k + b_k + noise > 0] on its own.

    b_k sets label k's frequency (geometric from `rarest` to 0.5), so an example can have any
    number of labels, none included. Also returns the K target frequencies.
    """
    rng = np.random.default_rng(cfg.seed)
    X = rng.standard_normal((num, NUM_FEATURES))
    W = rng.standard_normal((NUM_FEATURES, cfg.num_labels)) * 2 / np.sqrt(NUM_FEATURES)  # (D, K)
    freq = np.geomspace(cfg.rarest, 0.5, cfg.num_labels)
    spread = np.sqrt((W ** 2).sum(0) + cfg.noise ** 2)  # std of x·w_k + noise
    offset = np.array([NormalDist().inv_cdf(f) for f in freq]) * spread  # P(score > 0) = freq
    score = X @ W + cfg.noise * rng.standard_normal((num, cfg.num_labels)) + offset  # (N, K)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(score > 0, dtype=torch.float32), freq


def bce_with_logits(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean binary cross-entropy of K independent sigmoids, computed stably from logits (B, K).

    -[y log σ(z) + (1 - y) log(1 - σ(z))] = max(z, 0) - z·y + log(1 + e^(-|z|)): never log(0).
    """
    return (logits.clamp_min(0) - logits * targets + torch.log1p(torch.exp(-logits.abs()))).mean()


def softmax_ce(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy of ONE softmax against the label set scaled to sum to 1 (the wrong model for this data)."""
    share = targets / targets.sum(1, keepdim=True).clamp_min(1)  # (B, K); an empty set gives an all-zero row
    return -(share * logits.log_softmax(dim=1)).sum(1).mean()


def train(loss_fn, X: Tensor, Y: Tensor, cfg: Config, report: Report) -> tuple[nn.Module, list[float]]:
    """The same MLP (same initial weights) with K output logits, trained under `loss_fn`."""
    model = init_weights(nn.Sequential(nn.Linear(NUM_FEATURES, 128), nn.ReLU(), nn.Linear(128, cfg.num_labels)),
                         cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (X, Y), epochs=cfg.epochs, batch_size=256, loss_fn=loss_fn, seed=cfg.seed, report=report)
    return model.eval(), result.history["loss"]


def counts(Y: Tensor, P: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Per-label true positives, false positives and false negatives (K,) of 0/1 predictions P (N, K)."""
    return (P * Y).sum(0), (P * (1 - Y)).sum(0), ((1 - P) * Y).sum(0)


def f1_from_counts(tp: Tensor, fp: Tensor, fn: Tensor) -> Tensor:
    """2TP / (2TP + FP + FN); 0 where a label is neither present nor predicted (scikit-learn's zero_division=0)."""
    denominator = 2 * tp + fp + fn
    return torch.where(denominator > 0, 2 * tp / denominator.clamp_min(1e-12), torch.zeros_like(tp))


def multilabel_metrics(Y: Tensor, P: Tensor) -> dict[str, float]:
    """Subset accuracy, Hamming loss, micro- and macro-F1 of 0/1 predictions P against labels Y, both (N, K)."""
    P = P.float()
    tp, fp, fn = counts(Y, P)
    return {"labels": P.sum(1).mean().item(),
            "subset_accuracy": (P == Y).all(dim=1).float().mean().item(),
            "hamming": (P != Y).float().mean().item(),
            "micro_f1": f1_from_counts(tp.sum(), fp.sum(), fn.sum()).item(),
            "macro_f1": f1_from_counts(tp, fp, fn).mean().item()}


def tune_thresholds(probs: Tensor, Y: Tensor, grid: Tensor = GRID) -> Tensor:
    """For each label, the grid threshold with the best F1 on (validation) data: (K,)."""
    P = (probs[:, None, :] > grid[None, :, None]).float()  # (N, T, K): predictions at every threshold
    tp, fp, fn = (P * Y[:, None]).sum(0), (P * (1 - Y[:, None])).sum(0), ((1 - P) * Y[:, None]).sum(0)  # (T, K)
    return grid[f1_from_counts(tp, fp, fn).argmax(dim=0)]


def true_label_probability(probs: Tensor, Y: Tensor, max_count: int = 5) -> list[float]:
    """Mean probability given to a true label, for examples with 1, 2, ... `max_count` true labels."""
    n = Y.sum(1)
    return [float((probs[n == c] * Y[n == c]).sum() / (Y[n == c]).sum()) if (n == c).any() else float("nan")
            for c in range(1, max_count + 1)]


def verdict(m: dict[str, float], truth: float) -> T:
    worked = m["bce_half_micro_f1"] > m["softmax_tuned_micro_f1"] + 0.02
    rare = m["bce_tuned_macro_f1"] - m["bce_half_macro_f1"]
    head_en = (f"The test examples carry {truth:.2f} labels on average. Softmax with p > 0.5 kept "
               f"{m['softmax_half_labels']:.2f} per example (at most one probability can pass 0.5), argmax exactly 1. "
               f"A true label's softmax probability fell from {m['softmax_p_true_1']:.2f} on single-label examples to "
               f"{m['softmax_p_true_3']:.2f} on three-label ones; the sigmoid's went from {m['bce_p_true_1']:.2f} to "
               f"{m['bce_p_true_3']:.2f}. Micro-F1: sigmoid-BCE {m['bce_half_micro_f1']:.3f} at 0.5, softmax "
               f"{m['softmax_tuned_micro_f1']:.3f} even with tuned thresholds. ")
    head_zh = (f"测试样本平均有 {truth:.2f} 个标签。softmax 用 p > 0.5 时每个样本只保留 {m['softmax_half_labels']:.2f} 个"
               f"（最多只有一个概率能超过 0.5），argmax 则恰好 1 个。真实标签的 softmax 概率在单标签样本上为 "
               f"{m['softmax_p_true_1']:.2f}，在三标签样本上降到 {m['softmax_p_true_3']:.2f}；sigmoid 则从 "
               f"{m['bce_p_true_1']:.2f} 变为 {m['bce_p_true_3']:.2f}。micro-F1：sigmoid-BCE 在 0.5 阈值下为 "
               f"{m['bce_half_micro_f1']:.3f}，softmax 即使调优阈值也只有 {m['softmax_tuned_micro_f1']:.3f}。")
    mid_en = ("Independent sigmoids fit independent labels. " if worked else
              "Here the gap is small: try more labels per example (a higher rarest frequency) or less noise. ")
    mid_zh = ("相互独立的 sigmoid 正好对应相互独立的标签。" if worked else
              "本次差距不大：可以让每个样本的标签更多（调高最稀有标签的频率）或减小噪声。")
    end_en = (f"Per-label thresholds tuned on validation moved BCE's macro-F1 from {m['bce_half_macro_f1']:.3f} "
              f"to {m['bce_tuned_macro_f1']:.3f} ({rare:+.3f}; the rarest third of labels gained "
              f"{m['rare_f1_gain']:+.3f} F1, the commonest third {m['common_f1_gain']:+.3f}) and subset accuracy "
              f"from {m['bce_half_subset_accuracy']:.3f} to {m['bce_tuned_subset_accuracy']:.3f}: "
              "tune for the metric you report.")
    end_zh = (f"在验证集上逐标签调优阈值后，BCE 的 macro-F1 从 {m['bce_half_macro_f1']:.3f} 变为 "
              f"{m['bce_tuned_macro_f1']:.3f}（{rare:+.3f}；最稀有的三分之一标签 F1 变化 {m['rare_f1_gain']:+.3f}，"
              f"最常见的三分之一 {m['common_f1_gain']:+.3f}），子集准确率从 {m['bce_half_subset_accuracy']:.3f} "
              f"变为 {m['bce_tuned_subset_accuracy']:.3f}：要针对你最终报告的指标来调阈值。")
    return _(head_en + mid_en + end_en, head_zh + mid_zh + end_zh)


def run(cfg: Config, report: Report = silent) -> Result:
    X, Y, freq = independent_labels(cfg, num=NUM_TRAIN + 2 * NUM_HELD_OUT)
    train_rows = slice(0, NUM_TRAIN)  # rows are i.i.d., so contiguous slices are random splits
    val_rows, test_rows = slice(NUM_TRAIN, NUM_TRAIN + NUM_HELD_OUT), slice(NUM_TRAIN + NUM_HELD_OUT, None)
    probs: dict[str, Tensor] = {}
    losses: dict[str, list[float]] = {}
    for i, (name, loss_fn) in enumerate((("softmax", softmax_ce), ("bce", bce_with_logits))):
        model, losses[name] = train(loss_fn, X[train_rows], Y[train_rows], cfg, part(report, name, i, 2))
        with torch.no_grad():
            logits = model(X.to(next(model.parameters()).device)).cpu()  # (N, K)
        probs[name] = logits.softmax(dim=1) if name == "softmax" else logits.sigmoid()

    Y_val, Y_test = Y[val_rows], Y[test_rows]
    thresholds = {name: tune_thresholds(p[val_rows], Y_val) for name, p in probs.items()}  # never on test data
    test = {name: p[test_rows] for name, p in probs.items()}
    predictions = {"softmax_argmax": F.one_hot(test["softmax"].argmax(dim=1), cfg.num_labels),
                   "softmax_half": test["softmax"] > 0.5, "softmax_tuned": test["softmax"] > thresholds["softmax"],
                   "bce_half": test["bce"] > 0.5, "bce_tuned": test["bce"] > thresholds["bce"]}
    scores = {method: multilabel_metrics(Y_test, P) for method, P in predictions.items()}
    metrics = {f"{method}_{key}": value for method, s in scores.items() for key, value in s.items()}
    p_true = {name: true_label_probability(p, Y_test) for name, p in test.items()}
    for name in probs:
        metrics |= {f"{name}_p_true_{c}": p_true[name][c - 1] for c in (1, 3)}
    truth = Y_test.sum(1).mean().item()
    metrics["true_labels"] = truth

    per_label = {key: f1_from_counts(*counts(Y_test, predictions[key].float())).tolist()
                 for key in ("bce_half", "bce_tuned")}
    gain = np.array(per_label["bce_tuned"]) - np.array(per_label["bce_half"])  # (K,), labels from rarest to commonest
    third = max(1, cfg.num_labels // 3)
    metrics["rare_f1_gain"], metrics["common_f1_gain"] = float(gain[:third].mean()), float(gain[-third:].mean())
    num_true = Y_test.sum(1).long()
    largest_set = max([num_true.max().item()] + [P.float().sum(1).max().item() for P in predictions.values()])
    sizes = list(range(int(largest_set) + 1))

    def size_share(n: Tensor) -> list[float]:
        return [(n == s).float().mean().item() for s in sizes]

    def size_plot(lang: str):
        series = {_("truth", "真实标签").get(lang): (sizes, size_share(num_true))}
        series |= {METHOD_NAMES[k].get(lang): (sizes, size_share(predictions[k].float().sum(1).long()))
                   for k in ("softmax_half", "bce_half", "bce_tuned")}
        return plots.lines_xy(series, _("labels in the set", "集合中的标签数"), _("share of test examples", "测试样本占比"),
                              lang, dashes={_("truth", "真实标签").get(lang): "dot"})

    charts = [
        Chart(_("Probability given to a true label vs how many labels the example has",
                "真实标签得到的概率与样本标签数的关系"),
              lambda lang: plots.lines_xy({_("softmax", "softmax").get(lang): (list(range(1, 6)), p_true["softmax"]),
                                           _("sigmoid", "sigmoid").get(lang): (list(range(1, 6)), p_true["bce"])},
                                          _("true labels in the example", "样本的真实标签数"),
                                          _("mean probability of a true label", "真实标签的平均概率"), lang),
              caption=_("Softmax splits one unit of mass among the present labels (about 1/n each); "
                        "each sigmoid answers for its own label.",
                        "softmax 把一份概率质量分给所有出现的标签（每个约 1/n）；每个 sigmoid 只对自己的标签负责。")),
        Chart(_("How many labels each method predicts (test set)", "各方法预测的标签数（测试集）"), size_plot),
        Chart(_("Per-label F1 of sigmoid-BCE, rarest label first", "sigmoid-BCE 的逐标签 F1（从最稀有的标签开始）"),
              lambda lang: plots.lines_xy({METHOD_NAMES[k].get(lang): (list(np.round(freq, 3)), per_label[k])
                                           for k in per_label},
                                          _("label frequency (log)", "标签频率（对数）"), _("F1", "F1"), lang, log_x=True),
              caption=_("Tuned thresholds mostly lift the rare labels, where 0.5 is too strict.",
                        "调优阈值主要提升稀有标签：对它们来说 0.5 太严格了。")),
        Chart(_("Training loss", "训练损失"),
              lambda lang: plots.curves({_("softmax-CE", "softmax-CE").get(lang): losses["softmax"],
                                         _("sigmoid-BCE", "sigmoid-BCE").get(lang): losses["bce"]},
                                        _("step", "步数"), _("loss", "损失"), lang)),
    ]
    results = Table(_("Test-set metrics", "测试集指标"), {"method": _("method", "方法")} | METRIC_NAMES,
                    [{"method": METHOD_NAMES[k].en} | {key: round(v, 4) for key, v in s.items()}
                     for k, s in scores.items()])
    labels = Table(_("Per label", "逐标签"),
                   {"label": _("label", "标签"), "frequency": _("frequency", "频率"),
                    "threshold": _("tuned threshold (BCE)", "调优阈值（BCE）"),
                    "f1_half": _("F1 at 0.5", "0.5 阈值的 F1"), "f1_tuned": _("F1 tuned", "调优后的 F1")},
                   [{"label": k, "frequency": round(float(freq[k]), 3),
                     "threshold": round(float(thresholds["bce"][k]), 2),
                     "f1_half": round(per_label["bce_half"][k], 3), "f1_tuned": round(per_label["bce_tuned"][k], 3)}
                    for k in range(cfg.num_labels)])
    history = {name: {"loss": h} for name, h in losses.items()}
    return Result(metrics, verdict(metrics, truth), history, charts, [results, labels])


DEMO = Demo(
    id="multi-label",
    title=_("Multi-label: sigmoid-BCE vs softmax-CE", "多标签分类：sigmoid-BCE 与 softmax-CE"),
    summary=_("The same MLP on data with independent labels, trained with one softmax or with K sigmoids: label "
              "counts, per-label thresholds, subset accuracy, Hamming loss and micro/macro-F1.",
              "在标签相互独立的数据上，用一个 softmax 或 K 个 sigmoid 训练同一个 MLP：预测的标签数、逐标签阈值、"
              "子集准确率、Hamming loss 与 micro/macro-F1。"),
    category="losses",
    config=Config,
    run=run,
    smoke=dict(epochs=1),
    key_metric="bce_half_micro_f1",
    key_label=_("micro-F1 of sigmoid-BCE at 0.5", "sigmoid-BCE 在 0.5 阈值下的 micro-F1"),
)
