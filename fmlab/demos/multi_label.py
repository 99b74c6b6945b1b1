"""Multi-label classification: one sigmoid per label with binary cross-entropy, not one softmax.

Each example may carry any subset of K labels, none included. Softmax makes the K probabilities share
one unit of mass, so a true label's probability shrinks to about 1/n with n true labels and at most one
can pass 0.5. K independent sigmoids trained with binary cross-entropy (BCE) answer K separate yes/no
questions. Tuning one threshold per label on validation data mostly helps the rare labels (macro-F1).
The losses, the metrics and the threshold tuning live in `fmlab.multilabel`.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .. import plots
from ..demo import Chart, Claim, Demo, Metrics, Report, Result, Table, part, silent
from ..fit import fit
from ..multilabel import (METRIC_NAMES, bce_with_logits, multilabel_metrics, per_label_f1, softmax_ce,
                          true_label_probability, tune_thresholds)
from ..nets import init_weights
from ..params import DemoConfig, epochs_param, lr_param, param, seed_param
from ..text import T, _, sentences

NUM_FEATURES = 20
NUM_TRAIN, NUM_HELD_OUT = 1800, 1600  # training rows; validation rows and as many test rows
TRAIN, VAL = slice(0, NUM_TRAIN), slice(NUM_TRAIN, NUM_TRAIN + NUM_HELD_OUT)  # i.i.d. rows: slices are random splits
TEST = slice(NUM_TRAIN + NUM_HELD_OUT, None)
METHOD_NAMES = {"softmax_argmax": _("softmax-CE, argmax", "softmax-CE，取 argmax"),
                "softmax_half": _("softmax-CE, p > 0.5", "softmax-CE，p > 0.5"),
                "softmax_tuned": _("softmax-CE, tuned thresholds", "softmax-CE，调优阈值"),
                "bce_half": _("sigmoid-BCE, p > 0.5", "sigmoid-BCE，p > 0.5"),
                "bce_tuned": _("sigmoid-BCE, tuned thresholds", "sigmoid-BCE，调优阈值")}
MODELS = ("softmax", "bce")
MODEL_NAMES = {"softmax": _("softmax-CE", "softmax-CE"), "bce": _("sigmoid-BCE", "sigmoid-BCE")}
TRUTH = _("truth", "真实标签")
LOSSES = {"softmax": softmax_ce, "bce": bce_with_logits}


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
    epochs: int = epochs_param(30, high=100, help=_("Passes over the 1,800 training examples, for both models",
                                                    "两个模型遍历 1800 个训练样本的次数"))
    lr: float = lr_param(5e-3, low=1e-4, high=3e-2, help=_("Adam's step size for both models", "两个模型共用的 Adam 步长"))
    seed: int = seed_param(_("Same seed, same data and run", "相同种子，相同数据和结果"))


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


def train(name: str, X: Tensor, Y: Tensor, cfg: Config, report: Report) -> tuple[Tensor, list[float]]:
    """The same MLP (same initial weights) trained with `name`'s loss: probabilities (N, K) on every row, loss curve."""
    model = init_weights(nn.Sequential(nn.Linear(NUM_FEATURES, 128), nn.ReLU(), nn.Linear(128, cfg.num_labels)),
                         cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    result = fit(model, opt, (X[TRAIN], Y[TRAIN]), epochs=cfg.epochs, batch_size=256, loss_fn=LOSSES[name],
                 seed=cfg.seed, report=report)
    with torch.no_grad():
        logits = model.eval()(X.to(next(model.parameters()).device)).cpu()  # (N, K)
    return logits.softmax(dim=1) if name == "softmax" else logits.sigmoid(), result.history["loss"]


def predict(test: dict[str, Tensor], thresholds: dict[str, Tensor]) -> dict[str, Tensor]:
    """Every method's 0/1 label sets (N, K) from the test probabilities."""
    softmax, bce = test["softmax"], test["bce"]
    return {"softmax_argmax": F.one_hot(softmax.argmax(dim=1), softmax.shape[1]),
            "softmax_half": softmax > 0.5, "softmax_tuned": softmax > thresholds["softmax"],
            "bce_half": bce > 0.5, "bce_tuned": bce > thresholds["bce"]}


def collect(scores: dict[str, dict[str, float]], p_true: dict[str, list[float]], per_label: dict[str, list[float]],
            Y_test: Tensor) -> Metrics:
    """Every method's test metrics, the true-label probabilities at 1 and 3 labels, and where tuning helped."""
    metrics = {f"{method}_{key}": value for method, s in scores.items() for key, value in s.items()}
    metrics |= {f"{name}_p_true_{c}": p_true[name][c - 1] for name in MODELS for c in (1, 3)}
    metrics["true_labels"] = Y_test.sum(1).mean().item()
    gain = np.array(per_label["bce_tuned"]) - np.array(per_label["bce_half"])  # (K,), labels from rarest to commonest
    third = max(1, len(gain) // 3)
    metrics["rare_f1_gain"], metrics["common_f1_gain"] = float(gain[:third].mean()), float(gain[-third:].mean())
    return metrics


def verdict(m: Metrics) -> T:
    """Label counts, true-label probabilities, micro-F1 of both models, and what tuned thresholds did."""
    return sentences(
        _("The test examples carry {truth:.2f} labels on average. Softmax with p > 0.5 kept {kept:.2f} labels per "
          "example (at most one probability can pass 0.5), argmax exactly 1.",
          "测试样本平均有 {truth:.2f} 个标签。softmax 用 p > 0.5 时每个样本只保留 {kept:.2f} 个（最多只有一个概率能超过 0.5），"
          "argmax 则恰好 1 个。").format(truth=m["true_labels"], kept=m["softmax_half_labels"]),
        _("A true label's softmax probability fell from {s1:.2f} on single-label examples to {s3:.2f} on three-label "
          "ones; the sigmoid's went from {b1:.2f} to {b3:.2f}.",
          "真实标签的 softmax 概率在单标签样本上为 {s1:.2f}，在三标签样本上降到 {s3:.2f}；sigmoid 则从 {b1:.2f} 变为 {b3:.2f}。")
        .format(s1=m["softmax_p_true_1"], s3=m["softmax_p_true_3"], b1=m["bce_p_true_1"], b3=m["bce_p_true_3"]),
        _("Micro-F1: sigmoid-BCE {bce:.3f} at 0.5, softmax {softmax:.3f} with tuned thresholds.",
          "micro-F1：sigmoid-BCE 在 0.5 阈值下为 {bce:.3f}，softmax 调优阈值后为 {softmax:.3f}。")
        .format(bce=m["bce_half_micro_f1"], softmax=m["softmax_tuned_micro_f1"]),
        _("Independent sigmoids fit independent labels.", "相互独立的 sigmoid 正好对应相互独立的标签。") if bce_wins(m) else
        _("Here sigmoid-BCE did not clearly win: train longer, or give examples more labels (a higher rarest "
          "frequency) or less noise.",
          "本次 sigmoid-BCE 没有明显胜出：可以多训练几轮，或让每个样本的标签更多（调高最稀有标签的频率）、减小噪声。"),
        _("Per-label thresholds tuned on validation moved BCE's macro-F1 from {half:.3f} to {tuned:.3f} ({rare:+.3f} "
          "F1 on the rarest third of labels, {common:+.3f} on the commonest third) and subset accuracy from "
          "{subset_half:.3f} to {subset_tuned:.3f}: tune for the metric you report.",
          "在验证集上逐标签调优阈值后，BCE 的 macro-F1 从 {half:.3f} 变为 {tuned:.3f}（最稀有的三分之一标签 F1 变化 {rare:+.3f}，"
          "最常见的三分之一 {common:+.3f}），子集准确率从 {subset_half:.3f} 变为 {subset_tuned:.3f}：要针对你最终报告的指标来调阈值。")
        .format(half=m["bce_half_macro_f1"], tuned=m["bce_tuned_macro_f1"], rare=m["rare_f1_gain"],
                common=m["common_f1_gain"], subset_half=m["bce_half_subset_accuracy"],
                subset_tuned=m["bce_tuned_subset_accuracy"]),
    )


def bce_wins(m: Metrics) -> bool:
    """BCE at 0.5 beats softmax with tuned thresholds by 0.02+ micro-F1."""
    return m["bce_half_micro_f1"] > m["softmax_tuned_micro_f1"] + 0.02


def lesson(m: Metrics) -> bool | None:
    """BCE wins, tested only where examples carry 1.5+ true labels (with about one, softmax is not wrong)."""
    return bce_wins(m) if m["true_labels"] >= 1.5 else None


CLAIM = Claim(
    _("when examples carry several labels, K sigmoids with BCE at p > 0.5 beat one softmax on micro-F1, even with "
      "the softmax's thresholds tuned",
      "当样本带有多个标签时，K 个 sigmoid 配 BCE 在 p > 0.5 下的 micro-F1 胜过单个 softmax，即使 softmax 的阈值经过调优"),
    lesson,
)


def run(cfg: Config, report: Report = silent) -> Result:
    """Train one MLP with softmax-CE and one with sigmoid-BCE; compare their label sets on test data."""
    X, Y, freq = independent_labels(cfg, num=NUM_TRAIN + 2 * NUM_HELD_OUT)
    probs, losses = {}, {}  # probs[name]: (N, K) on every row
    for i, name in enumerate(MODELS):
        probs[name], losses[name] = train(name, X, Y, cfg, part(report, MODEL_NAMES[name], i, len(MODELS)))
    thresholds = {name: tune_thresholds(p[VAL], Y[VAL]) for name, p in probs.items()}  # never on test data
    test, Y_test = {name: p[TEST] for name, p in probs.items()}, Y[TEST]
    predictions = predict(test, thresholds)
    scores = {method: multilabel_metrics(Y_test, P) for method, P in predictions.items()}
    p_true = {name: true_label_probability(p, Y_test) for name, p in test.items()}
    per_label = {k: per_label_f1(Y_test, predictions[k]).tolist() for k in ("bce_half", "bce_tuned")}
    metrics = collect(scores, p_true, per_label, Y_test)
    told = sentences(verdict(metrics), CLAIM.verdict(metrics))
    return Result(metrics, told, charts(Y_test, predictions, p_true, per_label, freq, losses),
                  tables(scores, per_label, thresholds["bce"], freq))


def set_sizes(Y_test: Tensor, predictions: dict[str, Tensor]) -> dict[T, tuple[list[int], list[float]]]:
    """Share of test examples with 0, 1, 2, ... labels: the truth and three methods."""
    sets = {TRUTH: Y_test.sum(1).long()} | {METHOD_NAMES[k]: predictions[k].float().sum(1).long()
                                            for k in ("softmax_half", "bce_half", "bce_tuned")}  # each (N,)
    sizes = list(range(int(max(n.max().item() for n in sets.values())) + 1))
    return {name: (sizes, [(n == s).float().mean().item() for s in sizes]) for name, n in sets.items()}


def charts(Y_test: Tensor, predictions: dict[str, Tensor], p_true: dict[str, list[float]],
           per_label: dict[str, list[float]], freq: np.ndarray, losses: dict[str, list[float]]) -> list[Chart]:
    """True-label probability by label count, predicted set sizes, per-label F1, training loss."""
    label_counts, sizes = list(range(1, len(p_true["bce"]) + 1)), set_sizes(Y_test, predictions)
    return [
        Chart(_("Probability given to a true label vs how many labels the example has",
                "真实标签得到的概率与样本标签数的关系"),
              lambda lang: plots.lines_xy({MODEL_NAMES[n].get(lang): (label_counts, p_true[n]) for n in MODELS},
                                          _("true labels in the example", "样本的真实标签数"),
                                          _("mean probability of a true label", "真实标签的平均概率"), lang),
              caption=_("Softmax splits one unit of mass among the present labels (about 1/n each); "
                        "each sigmoid answers for its own label.",
                        "softmax 把一份概率质量分给所有出现的标签（每个约 1/n）；每个 sigmoid 只对自己的标签负责。")),
        Chart(_("How many labels each method predicts (test set)", "各方法预测的标签数（测试集）"),
              lambda lang: plots.lines_xy({n.get(lang): xy for n, xy in sizes.items()},
                                          _("labels in the set", "集合中的标签数"),
                                          _("share of test examples", "测试样本占比"), lang,
                                          dashes={TRUTH.get(lang): "dot"})),
        Chart(_("Per-label F1 of sigmoid-BCE, rarest label first", "sigmoid-BCE 的逐标签 F1（从最稀有的标签开始）"),
              lambda lang: plots.lines_xy({METHOD_NAMES[k].get(lang): (list(np.round(freq, 3)), per_label[k])
                                           for k in per_label},
                                          _("label frequency (log)", "标签频率（对数）"), _("F1", "F1"), lang, log_x=True),
              caption=_("Tuned thresholds mostly lift the rare labels, where 0.5 is too strict.",
                        "调优阈值主要提升稀有标签：对它们来说 0.5 太严格了。")),
        Chart(_("Training loss", "训练损失"), lambda lang: plots.curves(
            {MODEL_NAMES[n].get(lang): losses[n] for n in MODELS}, plots.STEP, plots.LOSS, lang)),
    ]


def tables(scores: dict[str, dict[str, float]], per_label: dict[str, list[float]], thresholds: Tensor,
           freq: np.ndarray) -> list[Table]:
    """Test metrics per method; frequency, tuned threshold and F1 per label."""
    results = Table(_("Test-set metrics", "测试集指标"), {"method": plots.METHOD} | METRIC_NAMES,
                    [{"method": METHOD_NAMES[k]} | {key: round(v, 4) for key, v in s.items()}
                     for k, s in scores.items()])
    labels = Table(_("Per label", "逐标签"),
                   {"label": _("label", "标签"), "frequency": _("frequency", "频率"),
                    "threshold": _("tuned threshold (BCE)", "调优阈值（BCE）"),
                    "f1_half": _("F1 at 0.5", "0.5 阈值的 F1"), "f1_tuned": _("F1 tuned", "调优后的 F1")},
                   [{"label": k, "frequency": round(float(freq[k]), 3), "threshold": round(float(thresholds[k]), 2),
                     "f1_half": round(per_label["bce_half"][k], 3), "f1_tuned": round(per_label["bce_tuned"][k], 3)}
                    for k in range(len(freq))])
    return [results, labels]


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
    claim=CLAIM,
)
